"""Administrator-issued temporary access codes.

A help-desk operator reads or sends the code to a locked-out user, so codes
use the grid card's unambiguous upper-case alphabet and tolerate the usual
transcription noise (case, spaces, dashes). Only a keyed hash is stored; the
caller increments ``uses`` atomically after a successful verification.

Failure reasons (``TempCodeVerificationError.reason``):

* ``invalid_code`` - the code matches no stored candidate.
* ``expired_code`` - the code matches, but ``now >= expires_at``.
* ``exhausted_code`` - the code matches, but ``uses >= max_uses``.
* ``invalid_parameters`` - unusable length or hashing key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from authcore.verify.errors import VerificationError
from authcore.verify.grid import DEFAULT_ALPHABET

__all__ = [
    "StoredTempCode",
    "TempCodeVerification",
    "TempCodeVerificationError",
    "generate_temp_code",
    "hash_temp_code",
    "verify_temp_code",
]


class TempCodeVerificationError(VerificationError):
    """Raised by every failure in this module."""


# 6 symbols of a 32-symbol alphabet is 30 bits, the least we accept for a
# code that may be valid for hours.
_MIN_LENGTH: Final = 6
_MAX_LENGTH: Final = 64
# A short HMAC key degrades to an unkeyed digest, which is brute-forceable
# for codes this short if the hash store leaks.
_MIN_HMAC_KEY_BYTES: Final = 16
_STRIP_CHARS: Final = str.maketrans("", "", "-")


@dataclass(frozen=True)
class StoredTempCode:
    """A persisted code; ``expires_at`` is a Unix timestamp."""

    id: str
    code_hash: str
    expires_at: float
    uses: int
    max_uses: int


@dataclass(frozen=True)
class TempCodeVerification:
    """Accepted code; the caller must record a use of ``code_id``."""

    code_id: str


def _normalize(code: str) -> str:
    return "".join(code.split()).translate(_STRIP_CHARS).upper()


def generate_temp_code(*, length: int = 8) -> str:
    """Return a random code from the unambiguous grid alphabet (5 bits/char)."""
    if not _MIN_LENGTH <= length <= _MAX_LENGTH:
        raise TempCodeVerificationError(
            "invalid_parameters", f"length must be between {_MIN_LENGTH} and {_MAX_LENGTH}"
        )
    return "".join(secrets.choice(DEFAULT_ALPHABET) for _ in range(length))


def hash_temp_code(*, code: str, key: bytes) -> str:
    """Return the hex HMAC-SHA256 of the normalised ``code`` under ``key``."""
    if len(key) < _MIN_HMAC_KEY_BYTES:
        raise TempCodeVerificationError(
            "invalid_parameters", f"hashing key must be at least {_MIN_HMAC_KEY_BYTES} bytes"
        )
    return hmac.new(key, _normalize(code).encode(), hashlib.sha256).hexdigest()


def verify_temp_code(
    *,
    code: str,
    candidates: Sequence[StoredTempCode],
    key: bytes,
    now: float,
) -> TempCodeVerification:
    """Find the candidate whose hash matches ``code`` and check it is usable.

    ``candidates`` are the codes the caller considers for this user (usually
    all unrevoked ones). If several match, a usable one wins.
    """
    submitted = hash_temp_code(code=code, key=key).encode()
    if not _normalize(code):
        raise TempCodeVerificationError("invalid_code", "code is empty")
    usable: StoredTempCode | None = None
    unusable: StoredTempCode | None = None
    # Every candidate is compared, without an early exit, so timing does not
    # reveal which stored code was hit.
    for candidate in candidates:
        if not hmac.compare_digest(submitted, candidate.code_hash.encode()):
            continue
        if now < candidate.expires_at and candidate.uses < candidate.max_uses:
            usable = usable or candidate
        else:
            unusable = unusable or candidate

    if usable is not None:
        return TempCodeVerification(code_id=usable.id)
    if unusable is None:
        raise TempCodeVerificationError("invalid_code", "code does not match")
    if now >= unusable.expires_at:
        raise TempCodeVerificationError("expired_code", "code has expired")
    raise TempCodeVerificationError("exhausted_code", "code has no uses left")
