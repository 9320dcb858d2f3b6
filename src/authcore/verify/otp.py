"""One-time passwords: HOTP (RFC 4226), TOTP (RFC 6238) and server-sent codes.

Token arithmetic is delegated to pyotp; this module adds input validation,
constant-time comparison over the whole acceptance window and replay
bookkeeping hooks. The caller owns persistence: it must store the returned
``time_step`` / ``next_counter`` atomically (compare-and-set) with accepting
the login, otherwise two concurrent requests can both spend the same code.

Failure reasons (``OTPVerificationError.reason``):

* ``invalid_secret`` - the shared key is malformed or too short.
* ``invalid_code`` - the submitted code is malformed or does not match.
* ``replayed_code`` - a TOTP code matched, but only at an already used step.
* ``resync_failed`` - no consecutive pair of HOTP codes found in the window.
* ``invalid_parameters`` - unsupported algorithm, digits, period or window.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

import pyotp

from authcore.verify.errors import VerificationError

__all__ = [
    "MIN_SECRET_BYTES",
    "Algorithm",
    "HOTPVerification",
    "OTPVerificationError",
    "TOTPVerification",
    "current_time_step",
    "generate_code",
    "generate_secret",
    "hash_code",
    "hotp_codes",
    "otpauth_uri",
    "secret_from_base32",
    "secret_to_base32",
    "verify_code",
    "verify_hotp",
    "verify_hotp_resync",
    "verify_totp",
]


class OTPVerificationError(VerificationError):
    """Raised by every failure in this module."""


Algorithm = Literal["SHA1", "SHA256", "SHA512"]

_DIGESTS: Final[dict[str, Callable[..., Any]]] = {
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA512": hashlib.sha512,
}
# RFC 6238 Appendix A uses a key as long as the HMAC output for each hash.
_SECRET_BYTES: Final[dict[str, int]] = {"SHA1": 20, "SHA256": 32, "SHA512": 64}
# pyotp refuses keys under 112 bits (NIST SP 800-63B-4), so anything shorter
# could be imported but never verified.
MIN_SECRET_BYTES: Final = 14
_TOKEN_DIGITS: Final = frozenset({6, 8})
# pyotp's TOTP caps the period at two minutes (NIST SP 800-63B-4 3.1.4.1).
_MAX_PERIOD: Final = 120
# The HOTP counter is an 8-byte big-endian integer (RFC 4226 5.2).
_MAX_COUNTER: Final = 2**64 - 1
# Server-sent codes below 6 digits fall under NIST's 20-bit minimum for
# out-of-band secrets; above 10, pyotp-style zero padding stops being typable.
_CODE_DIGITS_RANGE: Final = range(6, 11)
# A short HMAC key degrades to an unkeyed digest, which a 10**6 code space
# cannot survive if the hash store leaks.
_MIN_HMAC_KEY_BYTES: Final = 16


@dataclass(frozen=True)
class TOTPVerification:
    """Accepted TOTP code; persist ``time_step`` as the new last used step."""

    time_step: int


@dataclass(frozen=True)
class HOTPVerification:
    """Accepted HOTP code(s); persist ``next_counter`` as the new counter."""

    next_counter: int


def _digest(algorithm: str) -> Callable[..., Any]:
    digest = _DIGESTS.get(algorithm.upper())
    if digest is None:
        raise OTPVerificationError("invalid_parameters", f"unsupported OTP algorithm {algorithm!r}")
    return digest


def _check_token_digits(digits: int) -> None:
    if digits not in _TOKEN_DIGITS:
        raise OTPVerificationError("invalid_parameters", "OTP digits must be 6 or 8")


def _check_secret(secret: bytes) -> None:
    if len(secret) < MIN_SECRET_BYTES:
        raise OTPVerificationError(
            "invalid_secret", f"OTP secret must be at least {MIN_SECRET_BYTES} bytes"
        )


def _check_period(period: int) -> None:
    if not 1 <= period <= _MAX_PERIOD:
        raise OTPVerificationError(
            "invalid_parameters", f"TOTP period must be between 1 and {_MAX_PERIOD} seconds"
        )


def _check_counter_range(first: int, last: int) -> None:
    if first < 0 or last > _MAX_COUNTER:
        raise OTPVerificationError("invalid_parameters", "HOTP counter out of range")


def _check_code_format(code: str, digits: int) -> None:
    # str.isdigit alone would accept e.g. Arabic-Indic or superscript digits.
    if len(code) != digits or not (code.isascii() and code.isdigit()):
        raise OTPVerificationError("invalid_code", f"code must be exactly {digits} digits")


def _codes_equal(expected: str, submitted: str) -> bool:
    return hmac.compare_digest(expected.encode(), submitted.encode())


def generate_secret(*, algorithm: str = "SHA1") -> bytes:
    """Return a fresh random key sized to the HMAC output of ``algorithm``."""
    _digest(algorithm)
    return secrets.token_bytes(_SECRET_BYTES[algorithm.upper()])


def secret_to_base32(secret: bytes) -> str:
    """Encode ``secret`` as unpadded RFC 4648 base32, as otpauth URIs expect."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def secret_from_base32(value: str) -> bytes:
    """Decode a user- or admin-supplied base32 key.

    Authenticator apps and vendor seed files print keys in lower case, in
    groups separated by spaces and without padding, so all of that is
    accepted.
    """
    cleaned = "".join(value.split()).upper().rstrip("=")
    if not cleaned:
        raise OTPVerificationError("invalid_secret", "OTP secret is empty")
    padded = cleaned + "=" * (-len(cleaned) % 8)
    try:
        secret = base64.b32decode(padded)
    except (binascii.Error, ValueError):
        raise OTPVerificationError("invalid_secret", "OTP secret is not valid base32") from None
    _check_secret(secret)
    return secret


def otpauth_uri(
    *,
    secret: bytes,
    kind: Literal["TOTP", "HOTP"],
    account_name: str,
    issuer: str,
    algorithm: str,
    digits: int,
    period: int = 30,
    counter: int = 0,
) -> str:
    """Build the Key URI Format provisioning URI (for a QR code).

    ``period`` is used for TOTP only and ``counter`` for HOTP only.
    """
    _check_secret(secret)
    digest = _digest(algorithm)
    _check_token_digits(digits)
    # The label is "issuer:account"; a colon in either part makes it ambiguous
    # and authenticator apps split it differently.
    if not account_name or ":" in account_name or ":" in issuer:
        raise OTPVerificationError(
            "invalid_parameters", "account_name must be non-empty and neither part may contain ':'"
        )
    b32 = secret_to_base32(secret)
    if kind == "TOTP":
        _check_period(period)
        totp = pyotp.TOTP(b32, digits=digits, digest=digest, interval=period)
        return str(totp.provisioning_uri(name=account_name, issuer_name=issuer or None))
    if kind == "HOTP":
        _check_counter_range(counter, counter)
        hotp = pyotp.HOTP(b32, digits=digits, digest=digest)
        return str(
            hotp.provisioning_uri(
                name=account_name, initial_count=counter, issuer_name=issuer or None
            )
        )
    raise OTPVerificationError("invalid_parameters", f"unsupported OTP kind {kind!r}")


def current_time_step(*, now: float, period: int) -> int:
    """Return the RFC 6238 time step ``T = floor(now / period)``."""
    _check_period(period)
    if now < 0:
        raise OTPVerificationError("invalid_parameters", "time must not be before the epoch")
    return int(now // period)


def verify_totp(
    *,
    secret: bytes,
    code: str,
    algorithm: str,
    digits: int,
    period: int,
    now: float,
    drift_steps: int,
    last_used_step: int | None,
) -> TOTPVerification:
    """Verify a TOTP code within ``drift_steps`` steps either side of ``now``.

    ``last_used_step`` is the step of the last accepted code for this
    credential (``None`` if never used); codes at or before it are rejected
    as replays, which also stops a code being reused within its own window.
    """
    _check_secret(secret)
    digest = _digest(algorithm)
    _check_token_digits(digits)
    if drift_steps < 0:
        raise OTPVerificationError("invalid_parameters", "drift_steps must be >= 0")
    current = current_time_step(now=now, period=period)
    _check_code_format(code, digits)

    totp = _RawKeyTOTP(secret, digits=digits, digest=digest, interval=period)
    matched: list[int] = []
    # Every candidate is computed and compared so the response time does not
    # reveal how far from "now" the correct step is.
    for step in range(max(0, current - drift_steps), current + drift_steps + 1):
        if _codes_equal(str(totp.generate_otp(step)), code):
            matched.append(step)
    if not matched:
        raise OTPVerificationError("invalid_code", "code does not match")

    fresh = [step for step in matched if last_used_step is None or step > last_used_step]
    if not fresh:
        raise OTPVerificationError("replayed_code", "code was already used")
    # On a (rare) collision take the latest step: recording an earlier one
    # would let the same code be replayed against the later step.
    return TOTPVerification(time_step=max(fresh))


class _RawKeyTOTP(pyotp.TOTP):
    """pyotp's TOTP over a key we already hold as bytes: pyotp decodes its
    base32 secret again for every code it computes (four times per verify
    with one step of drift), which cost more than the HMACs themselves."""

    def __init__(self, secret: bytes, **kwargs: Any) -> None:
        # Before super(): pyotp's constructor already calls byte_secret().
        self._raw_secret = secret
        super().__init__(secret_to_base32(secret), **kwargs)

    def byte_secret(self) -> bytes:
        return self._raw_secret


class _RawKeyHOTP(pyotp.HOTP):
    """As _RawKeyTOTP, for HOTP."""

    def __init__(self, secret: bytes, **kwargs: Any) -> None:
        # Before super(): pyotp's constructor already calls byte_secret().
        self._raw_secret = secret
        super().__init__(secret_to_base32(secret), **kwargs)

    def byte_secret(self) -> bytes:
        return self._raw_secret


def _hotp(secret: bytes, algorithm: str, digits: int) -> pyotp.HOTP:
    _check_secret(secret)
    digest = _digest(algorithm)
    _check_token_digits(digits)
    return _RawKeyHOTP(secret, digits=digits, digest=digest)


def hotp_codes(*, secret: bytes, algorithm: str, digits: int, first: int, count: int
               ) -> list[str]:
    """The codes at counters ``first`` .. ``first + count - 1`` (a TOTP time
    step is the HOTP counter, RFC 6238), for offline batches."""
    hotp = _hotp(secret, algorithm, digits)
    if count < 0:
        raise OTPVerificationError("invalid_parameters", "count must be >= 0")
    _check_counter_range(first, first + count)
    return [str(hotp.at(value)).zfill(digits) for value in range(first, first + count)]


def verify_hotp(
    *,
    secret: bytes,
    code: str,
    algorithm: str,
    digits: int,
    counter: int,
    look_ahead: int,
) -> HOTPVerification:
    """Verify an HOTP code at ``counter`` .. ``counter + look_ahead``.

    ``counter`` is the next unused counter value as persisted by the caller.
    """
    hotp = _hotp(secret, algorithm, digits)
    if look_ahead < 0:
        raise OTPVerificationError("invalid_parameters", "look_ahead must be >= 0")
    _check_counter_range(counter, counter + look_ahead + 1)
    _check_code_format(code, digits)

    matched: int | None = None
    for value in range(counter, counter + look_ahead + 1):
        if _codes_equal(str(hotp.at(value)), code):
            # Keep scanning (constant time) and keep the highest match, so a
            # collision cannot leave a later counter open for replaying this
            # same code.
            matched = value
    if matched is None:
        raise OTPVerificationError("invalid_code", "code does not match")
    return HOTPVerification(next_counter=matched + 1)


def verify_hotp_resync(
    *,
    secret: bytes,
    code1: str,
    code2: str,
    algorithm: str,
    digits: int,
    counter: int,
    window: int = 1000,
) -> HOTPVerification:
    """Resynchronise a drifted HOTP token from two consecutive codes.

    Two consecutive codes are required (RFC 4226 7.4) because a single code
    over a 1000-counter window would be guessable with ~1/1000 odds.
    """
    hotp = _hotp(secret, algorithm, digits)
    if window < 1:
        raise OTPVerificationError("invalid_parameters", "window must be >= 1")
    _check_counter_range(counter, counter + window + 1)
    _check_code_format(code1, digits)
    _check_code_format(code2, digits)

    codes = [str(hotp.at(value)) for value in range(counter, counter + window + 1)]
    matched: int | None = None
    for offset in range(window):
        first_ok = _codes_equal(codes[offset], code1)
        second_ok = _codes_equal(codes[offset + 1], code2)
        if first_ok and second_ok:
            matched = counter + offset
    if matched is None:
        raise OTPVerificationError("resync_failed", "codes do not match consecutive counters")
    return HOTPVerification(next_counter=matched + 2)


def _check_hmac_key(key: bytes) -> None:
    if len(key) < _MIN_HMAC_KEY_BYTES:
        raise OTPVerificationError(
            "invalid_parameters", f"code hashing key must be at least {_MIN_HMAC_KEY_BYTES} bytes"
        )


def generate_code(*, digits: int = 6) -> str:
    """Return a uniformly random numeric code for e-mail/SMS delivery."""
    if digits not in _CODE_DIGITS_RANGE:
        raise OTPVerificationError(
            "invalid_parameters",
            f"code digits must be between {_CODE_DIGITS_RANGE.start} and "
            f"{_CODE_DIGITS_RANGE.stop - 1}",
        )
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def hash_code(*, code: str, key: bytes) -> str:
    """Return the hex HMAC-SHA256 of ``code`` under the server key ``key``.

    A keyed hash rather than a bare digest: a 6-digit code space is
    enumerable in microseconds, so only the key protects stored codes.
    """
    _check_hmac_key(key)
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()


def verify_code(*, code: str, code_hash: str, key: bytes) -> None:
    """Check a submitted server-sent code against its stored hash."""
    submitted = hash_code(code=code.strip(), key=key)
    if not hmac.compare_digest(submitted.encode(), code_hash.encode()):
        raise OTPVerificationError("invalid_code", "code does not match")
