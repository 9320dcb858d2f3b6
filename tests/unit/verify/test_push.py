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


# -- v2: TOKENPUSH / SMARTCREDENTIALPUSH answers --------------------------------

from authcore.verify.push import (  # noqa: E402
    TRANSACTION_PUSH_PREFIX,
    generate_mutual_challenge,
    transaction_details_hash,
    transaction_push_message,
    verify_transaction_push_response,
)

V2 = {"push_id": "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", "challenge": "c" * 43,
      "details_hash": transaction_details_hash(summary="Pay", details=[("Amount", "$1")])}


def sign_v2(key: ec.EllipticCurvePrivateKey, status: str, counter: int, mutual: str = "",
            **over: str) -> str:
    fields = {**V2, **over}
    message = transaction_push_message(
        push_id=fields["push_id"], challenge=fields["challenge"], status=status,
        counter=counter, details_hash=fields["details_hash"], mutual_challenge=mutual)
    return b64url(key.sign(message, ec.ECDSA(hashes.SHA256())))


def verify_v2(key: ec.EllipticCurvePrivateKey, *, status: str, counter: int, signature: str,
              last_counter: int = 0, mutual: str = "", **over: str):  # type: ignore[no-untyped-def]
    fields = {**V2, **over}
    return verify_transaction_push_response(
        public_key_der=spki(key), push_id=fields["push_id"], challenge=fields["challenge"],
        status=status, counter=counter, last_counter=last_counter,
        details_hash=fields["details_hash"], mutual_challenge=mutual, signature=signature)


def test_v2_message_layout() -> None:
    message = transaction_push_message(push_id="p", challenge="c", status="CONFIRM",
                                       counter=7, details_hash="h", mutual_challenge="42")
    assert message == f"{TRANSACTION_PUSH_PREFIX}\np\nc\nCONFIRM\n7\nh\n42".encode()


@pytest.mark.parametrize("status", ["CONFIRM", "CONCERN", "CANCEL"])
def test_v2_answers_verify(key: ec.EllipticCurvePrivateKey, status: str) -> None:
    result = verify_v2(key, status=status, counter=3, last_counter=2,
                       signature=sign_v2(key, status, 3, mutual="57"), mutual="57")
    assert result.status == status and result.counter == 3


def test_v2_raw_signature_verifies(key: ec.EllipticCurvePrivateKey) -> None:
    message = transaction_push_message(push_id=V2["push_id"], challenge=V2["challenge"],
                                       status="CONFIRM", counter=1,
                                       details_hash=V2["details_hash"], mutual_challenge="")
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert verify_v2(key, status="CONFIRM", counter=1, signature=b64url(raw)).counter == 1


@pytest.mark.parametrize("change", [
    {"status": "CONCERN"}, {"counter": 2}, {"mutual": "11"}, {"push_id": "other"},
    {"challenge": "d" * 43},
    {"details_hash": transaction_details_hash(summary="Pay", details=[("Amount", "$2")])},
])
def test_v2_signature_binds_every_field(key: ec.EllipticCurvePrivateKey,
                                        change: dict[str, Any]) -> None:
    signature = sign_v2(key, "CONFIRM", 1, mutual="42")
    args: dict[str, Any] = {"status": "CONFIRM", "counter": 1, "mutual": "42", **change}
    with pytest.raises(PushVerificationError) as exc:
        verify_v2(key, signature=signature, **args)
    assert exc.value.reason == "invalid_signature"


@pytest.mark.parametrize("counter,last", [(5, 5), (4, 5), (0, 0)])
def test_v2_old_counter_is_a_replay(key: ec.EllipticCurvePrivateKey, counter: int,
                                    last: int) -> None:
    with pytest.raises(PushVerificationError) as exc:
        verify_v2(key, status="CONFIRM", counter=counter, last_counter=last,
                  signature=sign_v2(key, "CONFIRM", counter))
    assert exc.value.reason == "invalid_counter"


@pytest.mark.parametrize("status", ["APPROVED", "confirm", "NO_RESPONSE", ""])
def test_v2_unknown_status(key: ec.EllipticCurvePrivateKey, status: str) -> None:
    with pytest.raises(PushVerificationError) as exc:
        verify_v2(key, status=status, counter=1, signature=sign_v2(key, status, 1))
    assert exc.value.reason == "invalid_outcome"


def test_details_hash_is_unambiguous() -> None:
    # A separator inside a value can't move text between fields.
    a = transaction_details_hash(summary="s", details=[("a", "b\nc"), ("d", "e")])
    b = transaction_details_hash(summary="s", details=[("a", "b"), ("c", "d\ne")])
    assert a != b
    assert a == transaction_details_hash(summary="s", details=[("a", "b\nc"), ("d", "e")])
    assert transaction_details_hash(summary="s", details=[]) != transaction_details_hash(
        summary="t", details=[])


def test_mutual_challenge_is_two_digits() -> None:
    seen = {generate_mutual_challenge() for _ in range(500)}
    assert all(len(v) == 2 and v.isdigit() and v[0] != "0" for v in seen)
    assert len(seen) > 50
