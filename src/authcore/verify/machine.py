"""Machine (device) authentication: a machine nonce and a rotating sequence nonce.

A registered machine holds two random values: the machine nonce, its
long-lived secret, and the sequence nonce, which is replaced on every
successful use. Only keyed hashes (HMAC-SHA256 under the server's code key)
are stored. A machine nonce that is right with a sequence nonce that is not
the current one means a copy of the machine's values is in use somewhere
(the same reasoning as refresh-token reuse detection): the caller revokes
the machine.

Failure reasons (``MachineVerificationError.reason``):

* ``invalid_machine`` - the machine nonce matches no registered machine.
* ``machine_revoked`` - the machine was revoked (by an admin, or a replay).
* ``machine_expired`` - the machine's lifetime is over.
* ``stale_sequence_nonce`` - the sequence nonce is not the current one.
* ``invalid_fingerprint`` - the fingerprint differs from the registered one,
  or is missing where one is required.
* ``malformed_fingerprint`` - the fingerprint is not a JSON object.
* ``invalid_parameters`` - unusable hashing key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Final

from authcore.verify.errors import VerificationError

__all__ = [
    "MachineRegistration",
    "MachineVerification",
    "MachineVerificationError",
    "StoredMachine",
    "canonical_fingerprint",
    "generate_machine_registration",
    "generate_sequence_nonce",
    "hash_fingerprint",
    "hash_machine_nonce",
    "hash_sequence_nonce",
    "verify_machine",
]


class MachineVerificationError(VerificationError):
    """Raised by every failure in this module."""


_NONCE_BYTES: Final = 32
_MIN_HMAC_KEY_BYTES: Final = 16
MAX_FINGERPRINT_CHARS: Final = 8192


@dataclass(frozen=True)
class StoredMachine:
    """A persisted machine; times are Unix timestamps."""

    id: str
    sequence_hash: str
    fingerprint_hash: str | None
    expires_at: float
    revoked_at: float | None


@dataclass(frozen=True)
class MachineRegistration:
    """What registration returns: the values for the client (shown once) and
    their hashes for the store."""

    machine_nonce: str
    sequence_nonce: str
    nonce_hash: str
    sequence_hash: str
    fingerprint_hash: str | None


@dataclass(frozen=True)
class MachineVerification:
    machine_id: str
    # The machine's next sequence nonce, for the client, and its hash, for
    # the compare-and-set that replaces the current one.
    next_sequence_nonce: str
    next_sequence_hash: str


def _mac(key: bytes, label: str, *parts: str) -> str:
    if len(key) < _MIN_HMAC_KEY_BYTES:
        raise MachineVerificationError(
            "invalid_parameters", f"hashing key must be at least {_MIN_HMAC_KEY_BYTES} bytes")
    # Length-prefixed parts: no two different inputs give the same message.
    message = label.encode() + b"".join(
        len(p.encode()).to_bytes(4, "big") + p.encode() for p in parts)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _nonce() -> str:
    return base64.b64encode(secrets.token_bytes(_NONCE_BYTES)).decode()


def hash_machine_nonce(*, key: bytes, machine_nonce: str) -> str:
    return _mac(key, "machine-nonce", machine_nonce)


def hash_sequence_nonce(*, key: bytes, machine_id: str, sequence_nonce: str) -> str:
    """Bound to the machine, so one machine's sequence nonce means nothing
    for another."""
    return _mac(key, "machine-sequence", machine_id, sequence_nonce)


def canonical_fingerprint(fingerprint: str) -> str:
    """The fingerprint as compared: a JSON object with its keys sorted, so
    the same attributes serialised in another order still match."""
    if len(fingerprint) > MAX_FINGERPRINT_CHARS:
        raise MachineVerificationError("malformed_fingerprint", "fingerprint is too long")
    try:
        value = json.loads(fingerprint)
    except ValueError:
        raise MachineVerificationError("malformed_fingerprint",
                                       "fingerprint is not JSON") from None
    if not isinstance(value, dict) or not value:
        raise MachineVerificationError("malformed_fingerprint",
                                       "fingerprint is not a non-empty JSON object")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def hash_fingerprint(*, key: bytes, fingerprint: str) -> str:
    return _mac(key, "machine-fingerprint", canonical_fingerprint(fingerprint))


def generate_sequence_nonce(*, key: bytes, machine_id: str) -> tuple[str, str]:
    """A new sequence nonce and its hash."""
    nonce = _nonce()
    return nonce, hash_sequence_nonce(key=key, machine_id=machine_id, sequence_nonce=nonce)


def generate_machine_registration(
    *, key: bytes, machine_id: str, fingerprint: str | None
) -> MachineRegistration:
    machine_nonce = _nonce()
    sequence_nonce, sequence_hash = generate_sequence_nonce(key=key, machine_id=machine_id)
    return MachineRegistration(
        machine_nonce=machine_nonce,
        sequence_nonce=sequence_nonce,
        nonce_hash=hash_machine_nonce(key=key, machine_nonce=machine_nonce),
        sequence_hash=sequence_hash,
        fingerprint_hash=(hash_fingerprint(key=key, fingerprint=fingerprint)
                          if fingerprint is not None else None),
    )


def verify_machine(
    *,
    key: bytes,
    machine: StoredMachine | None,
    sequence_nonce: str,
    fingerprint: str | None,
    fingerprint_required: bool,
    now: float,
) -> MachineVerification:
    """Check a machine found by its nonce's hash (None: none was found).

    The sequence nonce is checked before the fingerprint, so that a copy
    of a machine's values is detected (and the machine revoked by the
    caller) whatever fingerprint the copy presents."""
    if machine is None:
        raise MachineVerificationError("invalid_machine", "no machine has this nonce")
    if machine.revoked_at is not None:
        raise MachineVerificationError("machine_revoked", "the machine was revoked")
    if now >= machine.expires_at:
        raise MachineVerificationError("machine_expired", "the machine's lifetime is over")
    presented = hash_sequence_nonce(key=key, machine_id=machine.id,
                                    sequence_nonce=sequence_nonce)
    if not hmac.compare_digest(presented, machine.sequence_hash):
        raise MachineVerificationError("stale_sequence_nonce",
                                       "the sequence nonce is not the current one")
    if fingerprint is not None:
        given = hash_fingerprint(key=key, fingerprint=fingerprint)
        if machine.fingerprint_hash is None or not hmac.compare_digest(
                given, machine.fingerprint_hash):
            raise MachineVerificationError("invalid_fingerprint",
                                           "the fingerprint differs from the registered one")
    elif fingerprint_required or machine.fingerprint_hash is not None:
        # A machine registered with a fingerprint always needs it: leaving
        # it out must not be easier than sending a wrong one.
        raise MachineVerificationError("invalid_fingerprint", "a fingerprint is required")
    next_nonce, next_hash = generate_sequence_nonce(key=key, machine_id=machine.id)
    return MachineVerification(machine_id=machine.id, next_sequence_nonce=next_nonce,
                               next_sequence_hash=next_hash)
