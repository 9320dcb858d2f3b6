"""OCRA challenge-response (RFC 6287): Entrust's TOKENCR.

The server picks a random challenge; the user types it into the token; the
token answers HMAC(key, suite || 0x00 || C || Q || P || S || T), truncated
as HOTP does. This module parses OCRASuite strings, makes challenges,
computes responses and verifies them. The caller owns persistence: with a
counter (``C``) it must store ``next_counter`` with a compare-and-set on the
counter it read, with a time step (``T``) store ``time_step`` only forwards,
atomically with accepting the login, as for HOTP/TOTP (verify/otp.py).

Hand-written, not PyPI's ``oath`` (python-oath 1.4.5): it draws challenges
from ``random`` (not a CSPRNG), targets the pre-RFC draft, accepts suites the
RFC grammar doesn't (``T1H30M`` sums, ``Q`` without a format, a counter
equal to 2**64), has no type hints and wraps the computation in stateful
server/client objects that don't fit the one-call ``verify_*`` style here.
The construction itself is a few lines of HMAC.

Suite grammar accepted (RFC 6287 section 6, case-sensitive: the suite's
bytes are part of the HMAC input, so it is never normalised)::

    OCRA-1:HOTP-(SHA1|SHA256|SHA512)-(0|4..10):[C-]Q(A|N|H)(04..64)[-P(SHA1|SHA256|SHA512)][-Snnn][-T(1..59S|1..59M|1..48H)]

``generate_ocra_response`` computes every suite with a truncation of 4..10
(P and S included: the RFC's vectors use them); truncation 0 (the full HMAC)
is parsed but refused (``unsupported_suite``): no token displays it.
``check_enrollable`` refuses P and S as well, since authcore stores no PIN
hash and has no session information to feed.

Failure reasons (``OCRAVerificationError.reason``):

* ``invalid_suite`` - the OCRASuite string does not follow the grammar.
* ``unsupported_suite`` - valid, but not served (truncation 0; P/S at enrolment).
* ``invalid_challenge`` - the challenge does not fit the suite's Q format.
* ``invalid_parameters`` - a missing counter/time/PIN/session, a bad key.
* ``invalid_code`` - the response is malformed or does not match.
* ``replayed_code`` - it matched, but only at an already used time step.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from authcore.verify.errors import VerificationError

__all__ = [
    "OCRASuite",
    "OCRAVerification",
    "OCRAVerificationError",
    "check_enrollable",
    "compute",
    "generate_ocra_challenge",
    "generate_ocra_response",
    "parse_suite",
    "verify_ocra",
]


class OCRAVerificationError(VerificationError):
    """Raised by every failure in this module."""


QuestionFormat = Literal["A", "N", "H"]

_DIGESTS: Final[dict[str, Callable[..., Any]]] = {
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA512": hashlib.sha512,
}
_TIME_UNITS: Final[dict[str, tuple[int, int]]] = {
    # unit: (seconds, largest count the RFC allows)
    "S": (1, 59), "M": (60, 59), "H": (3600, 48),
}
_SUITE: Final = re.compile(
    r"OCRA-1:HOTP-(?P<hash>SHA1|SHA256|SHA512)-(?P<digits>0|[4-9]|10):"
    r"(?P<c>C-)?Q(?P<qf>[ANH])(?P<ql>\d\d)"
    r"(?:-P(?P<pin>SHA1|SHA256|SHA512))?"
    r"(?:-S(?P<session>\d\d\d))?"
    r"(?:-T(?P<tn>\d{1,2})(?P<tu>[SMH]))?"
)
# Q is always 128 bytes in the HMAC input (RFC 6287 section 5.1).
_QUESTION_BYTES: Final = 128
_MAX_COUNTER: Final = 2**64 - 1
_MAX_SUITE: Final = 64  # otp_tokens.ocra_suite
_MIN_KEY_BYTES: Final = 14  # as verify/otp.py: pyotp's 112-bit floor
_ALPHABETS: Final[dict[str, str]] = {
    "N": string.digits,
    "H": "0123456789ABCDEF",
    # Upper case and digits: what a token's keypad can enter.
    "A": string.digits + string.ascii_uppercase,
}


@dataclass(frozen=True, slots=True)
class OCRASuite:
    text: str
    hash: str
    digits: int
    counter: bool
    question_format: QuestionFormat
    question_length: int
    pin_hash: str | None
    session_length: int | None
    # Seconds per time step, None without T.
    time_step: int | None


@dataclass(frozen=True, slots=True)
class OCRAVerification:
    # With C: the counter that matched and the next one to expect.
    counter: int | None
    next_counter: int | None
    # With T: the time step that matched.
    time_step: int | None


def _invalid_suite(suite: str, why: str) -> OCRAVerificationError:
    return OCRAVerificationError("invalid_suite", f"OCRASuite {suite[:80]!r}: {why}")


def parse_suite(suite: str) -> OCRASuite:
    """Parse an OCRASuite string (raises ``invalid_suite``)."""
    if not isinstance(suite, str) or len(suite) > _MAX_SUITE:
        raise _invalid_suite(str(suite), f"must be a string of at most {_MAX_SUITE} characters")
    m = _SUITE.fullmatch(suite)
    if m is None:
        raise _invalid_suite(suite, "does not follow OCRA-1:HOTP-<hash>-<t>:<data input>")
    length = int(m["ql"])
    if not 4 <= length <= 64:
        raise _invalid_suite(suite, "the challenge length must be 04 to 64")
    session = int(m["session"]) if m["session"] else None
    if session is not None and not 1 <= session <= 512:
        raise _invalid_suite(suite, "the session length must be 001 to 512")
    step = None
    if m["tn"]:
        seconds, most = _TIME_UNITS[m["tu"]]
        count = int(m["tn"])
        if not 1 <= count <= most:
            raise _invalid_suite(suite, f"the time step must be 1 to {most}{m['tu']}")
        step = count * seconds
    qf: QuestionFormat = "A" if m["qf"] == "A" else "N" if m["qf"] == "N" else "H"
    return OCRASuite(text=suite, hash=m["hash"], digits=int(m["digits"]),
                     counter=bool(m["c"]), question_format=qf, question_length=length,
                     pin_hash=m["pin"], session_length=session, time_step=step)


def _suite(suite: str | OCRASuite) -> OCRASuite:
    return suite if isinstance(suite, OCRASuite) else parse_suite(suite)


def check_enrollable(suite: str) -> OCRASuite:
    """The suite, if authcore can serve a token with it: one-way
    challenge-response with an optional counter and time step."""
    parsed = parse_suite(suite)
    if parsed.digits == 0:
        raise OCRAVerificationError("unsupported_suite",
                                    "truncation 0 (the full HMAC) is not supported")
    if parsed.pin_hash is not None:
        raise OCRAVerificationError("unsupported_suite",
                                    "PIN hashes (P) are not supported: no PIN is stored")
    if parsed.session_length is not None:
        raise OCRAVerificationError("unsupported_suite",
                                    "session information (S) is not supported")
    return parsed


def generate_ocra_challenge(*, suite: str | OCRASuite | list[OCRASuite]) -> str:
    """A random challenge (``secrets``) of the suite's full length and format.
    Given several suites (a user's tokens), one challenge every one of them
    accepts: the shortest length, digits if any suite is QN, hex digits if
    any is QH, else upper-case alphanumerics."""
    suites = [_suite(s) for s in suite] if isinstance(suite, list) else [_suite(suite)]
    if not suites:
        raise OCRAVerificationError("invalid_parameters", "no suite")
    formats = {s.question_format for s in suites}
    fmt = "N" if "N" in formats else "H" if "H" in formats else "A"
    length = min(s.question_length for s in suites)
    alphabet = _ALPHABETS[fmt]
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _question(suite: OCRASuite, challenge: str, *, mutual: bool) -> bytes:
    # Mutual challenge-response hashes two challenges, one after the other.
    longest = suite.question_length * (2 if mutual else 1)
    if not isinstance(challenge, str) or not 1 <= len(challenge) <= longest:
        raise OCRAVerificationError(
            "invalid_challenge", f"the challenge must be 1 to {longest} characters")
    fmt = suite.question_format
    if fmt == "N":
        if not challenge.isascii() or not challenge.isdigit():
            raise OCRAVerificationError("invalid_challenge", "QN challenges are decimal digits")
        # RFC 6287 Appendix A: the decimal number in hex, left-aligned.
        hexed = format(int(challenge), "X")
    elif fmt == "H":
        if any(c not in string.hexdigits for c in challenge):
            raise OCRAVerificationError("invalid_challenge", "QH challenges are hex digits")
        hexed = challenge
    else:
        if not challenge.isascii() or not challenge.isalnum():
            raise OCRAVerificationError("invalid_challenge", "QA challenges are alphanumeric")
        hexed = challenge.encode("ascii").hex()
    if len(hexed) % 2:
        hexed += "0"  # the reference pads the hex string on the right
    return bytes.fromhex(hexed).ljust(_QUESTION_BYTES, b"\0")


def _truncate(mac: bytes, digits: int) -> str:
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset:offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def generate_ocra_response(
    *, secret: bytes, suite: str | OCRASuite, challenge: str, counter: int | None = None,
    timestamp: int | None = None, pin_hash: bytes | None = None, session: bytes | None = None,
    mutual: bool = False,
) -> str:
    """What the token shows. ``timestamp`` is the time step count (Unix time
    divided by the suite's step), not seconds; ``pin_hash`` the digest of the
    PIN with the suite's P hash. ``mutual``: ``challenge`` is the two
    challenges of a mutual challenge-response run together (RFC 6287
    section 7.3; not served by authcore, computed for the RFC's vectors)."""
    s = _suite(suite)
    if s.digits == 0:
        raise OCRAVerificationError("unsupported_suite",
                                    "truncation 0 (the full HMAC) is not supported")
    if not isinstance(secret, bytes) or len(secret) < _MIN_KEY_BYTES:
        raise OCRAVerificationError("invalid_parameters", "the key is too short")
    message = bytearray(s.text.encode("ascii"))
    message.append(0)
    if s.counter:
        if counter is None or not 0 <= counter <= _MAX_COUNTER:
            raise OCRAVerificationError("invalid_parameters", "the suite needs a 64-bit counter")
        message += counter.to_bytes(8, "big")
    message += _question(s, challenge, mutual=mutual)
    if s.pin_hash is not None:
        size = _DIGESTS[s.pin_hash]().digest_size
        if pin_hash is None or len(pin_hash) != size:
            raise OCRAVerificationError("invalid_parameters",
                                        f"the suite needs a {s.pin_hash} PIN hash")
        message += pin_hash
    if s.session_length is not None:
        if session is None or len(session) != s.session_length:
            raise OCRAVerificationError(
                "invalid_parameters", f"the suite needs {s.session_length} bytes of session")
        message += session
    if s.time_step is not None:
        if timestamp is None or not 0 <= timestamp <= _MAX_COUNTER:
            raise OCRAVerificationError("invalid_parameters", "the suite needs a time step")
        message += timestamp.to_bytes(8, "big")
    mac = hmac.new(secret, bytes(message), _DIGESTS[s.hash]).digest()
    return _truncate(mac, s.digits)


compute = generate_ocra_response


def verify_ocra(
    *, secret: bytes, suite: str | OCRASuite, challenge: str, response: str,
    counter: int | None = None, now: float | None = None, look_ahead: int = 0,
    drift_steps: int = 1, last_used_step: int | None = None,
    pin_hash: bytes | None = None, session: bytes | None = None,
) -> OCRAVerification:
    """Check the token's answer to ``challenge``. With C, counters from
    ``counter`` to ``counter + look_ahead`` are tried (the token may have
    been pressed without signing in); with T, the steps within
    ``drift_steps`` of ``now``, and a match at or before ``last_used_step``
    is a replay. Every candidate is computed and compared in constant time."""
    s = _suite(suite)
    if look_ahead < 0 or drift_steps < 0 or look_ahead > 1000 or drift_steps > 10:
        raise OCRAVerificationError("invalid_parameters", "window out of range")
    code = response.strip() if isinstance(response, str) else ""
    if len(code) != s.digits or not code.isascii() or not code.isdigit():
        raise OCRAVerificationError("invalid_code", f"the response must be {s.digits} digits")
    counters: list[int | None] = [None]
    if s.counter:
        if counter is None or not 0 <= counter <= _MAX_COUNTER:
            raise OCRAVerificationError("invalid_parameters", "the suite needs a counter")
        counters = list(range(counter, min(counter + look_ahead, _MAX_COUNTER) + 1))
    steps: list[int | None] = [None]
    if s.time_step is not None:
        if now is None:
            raise OCRAVerificationError("invalid_parameters", "the suite needs the time")
        current = int(now // s.time_step)
        steps = [current + d for d in range(-drift_steps, drift_steps + 1) if current + d >= 0]
    matched: tuple[int | None, int | None] | None = None
    replayed = False
    for c in counters:
        for t in steps:
            expected = generate_ocra_response(secret=secret, suite=s, challenge=challenge,
                                              counter=c, timestamp=t, pin_hash=pin_hash,
                                              session=session)
            if not hmac.compare_digest(expected.encode(), code.encode()):
                continue
            if t is not None and last_used_step is not None and t <= last_used_step:
                replayed = True
            elif matched is None:
                matched = (c, t)
    if matched is None:
        if replayed:
            raise OCRAVerificationError("replayed_code", "the response's time step was used")
        raise OCRAVerificationError("invalid_code", "the response does not match")
    c, t = matched
    return OCRAVerification(counter=c, next_counter=None if c is None else c + 1, time_step=t)
