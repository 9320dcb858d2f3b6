"""verify/push.py: device keys and signed push answers."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from authcore.verify.push import (
    PushVerificationError,
    generate_push_challenge,
    load_device_public_key,
    push_message,
    verify_push_response,
)

VECTOR: dict[str, Any] = json.loads(
    (Path(__file__).parent / "fixtures" / "push_device_p256.json").read_text())


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def spki(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def sign(key: ec.EllipticCurvePrivateKey, tid: str, challenge: str, outcome: str) -> bytes:
    return key.sign(push_message(transaction_id=tid, challenge=challenge, outcome=outcome),
                    ec.ECDSA(hashes.SHA256()))


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def test_stored_vector_verifies() -> None:
    der = load_device_public_key(public_key=VECTOR["public_key_spki_b64url"])
    result = verify_push_response(
        public_key_der=der, transaction_id=VECTOR["transaction_id"],
        challenge=VECTOR["challenge"], outcome=VECTOR["outcome"],
        signature=VECTOR["signature_der_b64url"])
    assert result.outcome == "APPROVED"


def test_stored_vector_refused_as_the_other_outcome() -> None:
    der = load_device_public_key(public_key=VECTOR["public_key_spki_b64url"])
    with pytest.raises(PushVerificationError) as exc:
        verify_push_response(public_key_der=der, transaction_id=VECTOR["transaction_id"],
                             challenge=VECTOR["challenge"], outcome="DENIED",
                             signature=VECTOR["signature_der_b64url"])
    assert exc.value.reason == "invalid_signature"


def test_uncompressed_point_and_spki_load_the_same_key() -> None:
    assert (load_device_public_key(public_key=VECTOR["public_key_point_b64"])
            == load_device_public_key(public_key=VECTOR["public_key_spki_b64url"]))


@pytest.mark.parametrize("bad", ["", "not base64!", b64url(b"\x04" + b"\x01" * 64),
                                 b64url(b"garbage der")])
def test_malformed_keys_refused(bad: str) -> None:
    with pytest.raises(PushVerificationError) as exc:
        load_device_public_key(public_key=bad)
    assert exc.value.reason == "invalid_public_key"


@pytest.mark.parametrize("other", [
    lambda: ec.generate_private_key(ec.SECP384R1()).public_key(),
    lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key(),
])
def test_other_key_types_refused(other: Any) -> None:
    der = other().public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(PushVerificationError):
        load_device_public_key(public_key=b64url(der))


def test_raw_r_s_signature_accepted(key: ec.EllipticCurvePrivateKey) -> None:
    r, s = decode_dss_signature(sign(key, "t", "c", "DENIED"))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert verify_push_response(public_key_der=spki(key), transaction_id="t", challenge="c",
                                outcome="DENIED", signature=b64url(raw)).outcome == "DENIED"


@pytest.mark.parametrize(("tid", "challenge", "outcome"), [
    ("other-id", "c", "APPROVED"), ("t", "other-challenge", "APPROVED"), ("t", "c", "DENIED")])
def test_signature_binds_id_challenge_and_outcome(key: ec.EllipticCurvePrivateKey, tid: str,
                                                  challenge: str, outcome: str) -> None:
    signature = b64url(sign(key, "t", "c", "APPROVED"))
    with pytest.raises(PushVerificationError) as exc:
        verify_push_response(public_key_der=spki(key), transaction_id=tid,
                             challenge=challenge, outcome=outcome, signature=signature)
    assert exc.value.reason == "invalid_signature"


def test_another_devices_signature_refused(key: ec.EllipticCurvePrivateKey) -> None:
    forger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(PushVerificationError):
        verify_push_response(public_key_der=spki(key), transaction_id="t", challenge="c",
                             outcome="APPROVED", signature=b64url(sign(forger, "t", "c",
                                                                       "APPROVED")))


@pytest.mark.parametrize("signature", ["", "%%%", b64url(b"\x30" * 81), b64url(b"\x00" * 64)])
def test_malformed_signatures_refused(key: ec.EllipticCurvePrivateKey, signature: str) -> None:
    with pytest.raises(PushVerificationError) as exc:
        verify_push_response(public_key_der=spki(key), transaction_id="t", challenge="c",
                             outcome="APPROVED", signature=signature)
    assert exc.value.reason == "invalid_signature"


def test_unknown_outcome_refused(key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(PushVerificationError) as exc:
        verify_push_response(public_key_der=spki(key), transaction_id="t", challenge="c",
                             outcome="MAYBE", signature=b64url(sign(key, "t", "c", "MAYBE")))
    assert exc.value.reason == "invalid_outcome"


def test_challenges_are_random_and_url_safe() -> None:
    seen = {generate_push_challenge() for _ in range(100)}
    assert len(seen) == 100
    assert all(len(c) == 43 and "=" not in c and "+" not in c and "/" not in c for c in seen)
