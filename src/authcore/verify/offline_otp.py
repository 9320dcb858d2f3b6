"""Protected offline OTP batches (Entrust's /self/tokens/offline).

A batch holds the OTPs of a token's coming moving factors (TOTP time steps
or HOTP counters), each only as a hash a client can check a typed code
against without the network:

    entry(m) = PBKDF2-HMAC-SHA256(password = otp(m) as ASCII digits,
                                  salt = public_salt || private_salt || m,
                                  iterations, dklen = 32)

where `public_salt` is 8 random bytes sent with the entry, `private_salt`
is `private_salt_length` random decimal digits (ASCII) that are *not* sent,
and `m` is the moving factor as 8 bytes big-endian (binding an entry to its
position). A client that has a code tries every private salt (10**length
candidates) per entry it considers; so does someone who stole the batch, for
every one of the 10**digits codes, which is the point of the private part.

Encoding (`encode_entries`): entries joined by ",", each
"<public salt hex>:<hash hex>", in moving factor order.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from authcore.verify.errors import VerificationError
from authcore.verify.otp import OTPVerificationError, hotp_codes

__all__ = [
    "MAX_ITERATIONS",
    "MAX_PRIVATE_SALT_LENGTH",
    "PUBLIC_SALT_BYTES",
    "OfflineBatch",
    "OfflineEntry",
    "OfflineOTPError",
    "OfflineVerification",
    "decode_entries",
    "derive_offline_hash",
    "encode_entries",
    "generate_offline_batch",
    "verify_offline_otp",
]

PUBLIC_SALT_BYTES: Final = 8
MAX_ITERATIONS: Final = 100_000
MAX_PRIVATE_SALT_LENGTH: Final = 6
# A batch's entries; also keeps one request's CPU bounded.
MAX_ENTRIES: Final = 20_000
_HASH_BYTES: Final = 32


class OfflineOTPError(VerificationError):
    """Reasons: ``invalid_parameters`` (bad token, count, iterations or salt
    length), ``invalid_batch`` (an encoded batch that does not parse),
    ``invalid_code`` (no entry in the window matches)."""


@dataclass(frozen=True, slots=True)
class OfflineEntry:
    public_salt: bytes
    digest: bytes


@dataclass(frozen=True, slots=True)
class OfflineBatch:
    first_moving_factor: int
    entries: tuple[OfflineEntry, ...]


@dataclass(frozen=True, slots=True)
class OfflineVerification:
    moving_factor: int


def _check(iterations: int, private_salt_length: int) -> None:
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise OfflineOTPError("invalid_parameters",
                              f"iterations must be between 1 and {MAX_ITERATIONS}")
    if not 0 <= private_salt_length <= MAX_PRIVATE_SALT_LENGTH:
        raise OfflineOTPError("invalid_parameters", "private salt length must be between 0 "
                                                    f"and {MAX_PRIVATE_SALT_LENGTH}")


def derive_offline_hash(*, otp: str, public_salt: bytes, private_salt: str, moving_factor: int,
                        iterations: int) -> bytes:
    """The hash of one entry (see the module docstring)."""
    if not 0 <= moving_factor < 2**63:
        raise OfflineOTPError("invalid_parameters", "moving factor out of range")
    salt = public_salt + private_salt.encode("ascii") + moving_factor.to_bytes(8, "big")
    return hashlib.pbkdf2_hmac("sha256", otp.encode("ascii"), salt, iterations, _HASH_BYTES)


def _random_private_salt(length: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


def generate_offline_batch(
    *,
    secret: bytes,
    algorithm: str,
    digits: int,
    first_moving_factor: int,
    count: int,
    iterations: int,
    private_salt_length: int,
    public_salt: Callable[[], bytes] = lambda: secrets.token_bytes(PUBLIC_SALT_BYTES),
    private_salt: Callable[[int], str] = _random_private_salt,
) -> OfflineBatch:
    """The entries for `first_moving_factor` .. `first_moving_factor + count - 1`
    of an HOTP/TOTP seed (a TOTP time step is the HOTP counter, RFC 6238).
    CPU-bound (count * iterations HMACs): run it off the event loop.
    `public_salt`/`private_salt` are for fixed test vectors."""
    _check(iterations, private_salt_length)
    if not 0 <= count <= MAX_ENTRIES:
        raise OfflineOTPError("invalid_parameters", f"count must be between 0 and {MAX_ENTRIES}")
    try:
        codes = hotp_codes(secret=secret, algorithm=algorithm, digits=digits,
                           first=first_moving_factor, count=count)
    except OTPVerificationError as exc:
        raise OfflineOTPError("invalid_parameters", exc.message) from None
    entries = []
    for m, otp in enumerate(codes, start=first_moving_factor):
        salt = public_salt()
        entries.append(OfflineEntry(salt, derive_offline_hash(
            otp=otp, public_salt=salt, private_salt=private_salt(private_salt_length),
            moving_factor=m, iterations=iterations)))
    return OfflineBatch(first_moving_factor=first_moving_factor, entries=tuple(entries))


def encode_entries(entries: Sequence[OfflineEntry]) -> str:
    return ",".join(f"{e.public_salt.hex()}:{e.digest.hex()}" for e in entries)


def decode_entries(text: str) -> tuple[OfflineEntry, ...]:
    if not text:
        return ()
    out = []
    for part in text.split(","):
        salt, sep, digest = part.partition(":")
        try:
            entry = OfflineEntry(bytes.fromhex(salt), bytes.fromhex(digest))
        except ValueError:
            raise OfflineOTPError("invalid_batch", "entry is not hex") from None
        if not sep or len(entry.digest) != _HASH_BYTES:
            raise OfflineOTPError("invalid_batch", "entry is not <salt>:<hash>")
        out.append(entry)
    return tuple(out)


def verify_offline_otp(
    *,
    code: str,
    batch: OfflineBatch,
    moving_factors: range,
    iterations: int,
    private_salt_length: int,
) -> OfflineVerification:
    """Check a typed code against the entries for `moving_factors` (a TOTP
    client: now's step +- the drift; an HOTP client: its next counters),
    trying every private salt. Every candidate is computed, so the time does
    not tell which entry matched; the lowest matching factor is returned."""
    _check(iterations, private_salt_length)
    if not (code.isascii() and code.isdigit()):
        raise OfflineOTPError("invalid_code", "code must be digits")
    matched: int | None = None
    for m in moving_factors:
        index = m - batch.first_moving_factor
        if not 0 <= index < len(batch.entries):
            continue
        entry = batch.entries[index]
        for guess in range(10**private_salt_length):
            digest = derive_offline_hash(
                otp=code, public_salt=entry.public_salt,
                private_salt=str(guess).zfill(private_salt_length) if private_salt_length
                else "", moving_factor=m, iterations=iterations)
            if hmac.compare_digest(digest, entry.digest) and matched is None:
                matched = m
    if matched is None:
        raise OfflineOTPError("invalid_code", "code does not match")
    return OfflineVerification(moving_factor=matched)
