"""Push step-up: a device holding a P-256 key approves or denies a transaction
by signing it.

The server sends the device a transaction id and a random challenge; the device
signs ``"authcore-push-v1\\n{id}\\n{challenge}\\n{outcome}"`` (UTF-8) with ECDSA
P-256 SHA-256. Binding the outcome into the signed text means a captured
approval can't be replayed as a denial or the other way round, and binding the
id and challenge means it can't be replayed on another transaction.

Entrust's TOKENPUSH / SMARTCREDENTIALPUSH use the second format,
``"authcore-push-v2\n{id}\n{challenge}\n{status}\n{counter}\n{details hash}\n{mutual}"``
(`transaction_push_message`): it also binds the device's answer counter (so an
old answer can't be replayed once a newer one was accepted), the SHA-256 of
the transaction details the user was shown (`transaction_details_hash`) and
the mutual challenge the user picked (empty when none was asked).

Failure reasons (``PushVerificationError.reason``):

* ``invalid_public_key`` - the enrolled key is not a P-256 public key.
* ``invalid_signature`` - the signature is malformed or does not verify.
* ``invalid_outcome`` - the outcome is neither APPROVED nor DENIED (v2: not
  CONFIRM, CONCERN or CANCEL).
* ``invalid_counter`` - the v2 counter is not above the last one accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from authcore.verify.errors import VerificationError

__all__ = [
    "PUSH_MESSAGE_PREFIX",
    "TRANSACTION_PUSH_PREFIX",
    "PushVerification",
    "PushVerificationError",
    "TransactionPushVerification",
    "generate_mutual_challenge",
    "generate_push_challenge",
    "load_device_public_key",
    "push_message",
    "transaction_details_hash",
    "transaction_push_message",
    "verify_push_response",
    "verify_transaction_push_response",
]

PUSH_MESSAGE_PREFIX: Final = "authcore-push-v1"
Outcome = Literal["APPROVED", "DENIED"]
_OUTCOMES: Final = frozenset({"APPROVED", "DENIED"})
TRANSACTION_PUSH_PREFIX: Final = "authcore-push-v2"
PushStatus = Literal["CONFIRM", "CONCERN", "CANCEL"]
_STATUSES: Final = frozenset({"CONFIRM", "CONCERN", "CANCEL"})
# A DER ECDSA P-256 signature is at most 72 bytes; raw r||s is 64.
_MAX_SIGNATURE_BYTES: Final = 80


class PushVerificationError(VerificationError):
    """Raised by every failure in this module."""


@dataclass(frozen=True)
class PushVerification:
    outcome: Outcome


@dataclass(frozen=True)
class TransactionPushVerification:
    status: PushStatus
    counter: int


def _b64decode(value: str) -> bytes:
    """base64 or base64url, padded or not."""
    text = value.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    return base64.b64decode(text, validate=True)


def generate_push_challenge() -> str:
    """32 random bytes, base64url without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


def generate_mutual_challenge() -> str:
    """Two digits, 10-99: the number the user picks on the device among
    decoys, so an approval given blindly to a push the user didn't start
    fails (push fatigue)."""
    return str(10 + secrets.randbelow(90))


def transaction_details_hash(*, summary: str, details: Iterable[tuple[str, str]]) -> str:
    """SHA-256 (hex) of what the device shows: the summary and the
    (detail, value) pairs in order, as canonical JSON so no separator in a
    value can shift text from one field to another."""
    canonical = json.dumps({"summary": summary, "details": [[d, v] for d, v in details]},
                           separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_device_public_key(*, public_key: str) -> bytes:
    """Check an enrolled key and return it as SubjectPublicKeyInfo DER.

    Accepts the SPKI DER (Android KeyStore, WebCrypto "spki") or the 65-byte
    uncompressed point (iOS SecKeyCopyExternalRepresentation), base64 or
    base64url.
    """
    try:
        raw = _b64decode(public_key)
    except (binascii.Error, ValueError):
        raise PushVerificationError("invalid_public_key", "not base64") from None
    try:
        if len(raw) == 65 and raw[0] == 4:
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        else:
            loaded = serialization.load_der_public_key(raw)
            if not isinstance(loaded, ec.EllipticCurvePublicKey):
                raise ValueError("not an EC key")
            key = loaded
    except (ValueError, TypeError):
        raise PushVerificationError("invalid_public_key", "not a P-256 public key") from None
    if not isinstance(key.curve, ec.SECP256R1):
        raise PushVerificationError("invalid_public_key", "not a P-256 public key")
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def push_message(*, transaction_id: str, challenge: str, outcome: str) -> bytes:
    return "\n".join((PUSH_MESSAGE_PREFIX, transaction_id, challenge, outcome)).encode("utf-8")


def verify_push_response(
    *, public_key_der: bytes, transaction_id: str, challenge: str, outcome: str, signature: str,
) -> PushVerification:
    """Verify the device's signed answer (DER or raw r||s signature, base64url)."""
    if outcome not in _OUTCOMES:
        raise PushVerificationError("invalid_outcome", "outcome must be APPROVED or DENIED")
    message = push_message(transaction_id=transaction_id, challenge=challenge, outcome=outcome)
    _verify_signature(public_key_der, message, signature)
    return PushVerification(outcome="APPROVED" if outcome == "APPROVED" else "DENIED")


def transaction_push_message(*, push_id: str, challenge: str, status: str, counter: int,
                             details_hash: str, mutual_challenge: str) -> bytes:
    return "\n".join((TRANSACTION_PUSH_PREFIX, push_id, challenge, status, str(counter),
                      details_hash, mutual_challenge)).encode("utf-8")


def verify_transaction_push_response(
    *, public_key_der: bytes, push_id: str, challenge: str, status: str, counter: int,
    last_counter: int, details_hash: str, mutual_challenge: str, signature: str,
) -> TransactionPushVerification:
    """Verify a TOKENPUSH / SMARTCREDENTIALPUSH answer (v2 message).
    `mutual_challenge` is what the device says the user picked ("" if none)."""
    if status not in _STATUSES:
        raise PushVerificationError("invalid_outcome",
                                    "status must be CONFIRM, CONCERN or CANCEL")
    if counter <= last_counter:
        raise PushVerificationError("invalid_counter",
                                    "counter is not above the last one accepted")
    message = transaction_push_message(push_id=push_id, challenge=challenge, status=status,
                                       counter=counter, details_hash=details_hash,
                                       mutual_challenge=mutual_challenge)
    _verify_signature(public_key_der, message, signature)
    checked: PushStatus = ("CONFIRM" if status == "CONFIRM"
                           else "CONCERN" if status == "CONCERN" else "CANCEL")
    return TransactionPushVerification(status=checked, counter=counter)


def _verify_signature(public_key_der: bytes, message: bytes, signature: str) -> None:
    try:
        sig = _b64decode(signature)
    except (binascii.Error, ValueError):
        raise PushVerificationError("invalid_signature", "signature is not base64") from None
    if not sig or len(sig) > _MAX_SIGNATURE_BYTES:
        raise PushVerificationError("invalid_signature", "signature has a wrong length")
    # Raw r||s is 64 bytes; a DER signature can be too (rarely), so both.
    candidates = [sig]
    if len(sig) == 64:
        candidates.insert(0, encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                                  int.from_bytes(sig[32:], "big")))
    try:
        key = serialization.load_der_public_key(public_key_der)
    except ValueError:
        raise PushVerificationError("invalid_public_key", "stored key is unreadable") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise PushVerificationError("invalid_public_key", "stored key is not EC")
    for candidate in candidates:
        try:
            key.verify(candidate, message, ec.ECDSA(hashes.SHA256()))
            return
        except (InvalidSignature, ValueError):
            continue
    raise PushVerificationError("invalid_signature", "signature does not verify")
