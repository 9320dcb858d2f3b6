from __future__ import annotations

import base64
import hashlib
import hmac
import json
import string
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest

from authcore.verify.otp import (
    HOTPVerification,
    OTPVerificationError,
    TOTPVerification,
    current_time_step,
    generate_code,
    generate_secret,
    hash_code,
    hotp_codes,
    otpauth_uri,
    secret_from_base32,
    secret_to_base32,
    verify_code,
    verify_hotp,
    verify_hotp_resync,
    verify_totp,
)

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = b"12345678901234567890"
# 2024-01-01T00:00:10Z: well inside a 30 s step, so +/- drift is unambiguous.
NOW = 1_704_067_210.0
KEY = b"k" * 32


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _hotp_at(counter: int, *, secret: bytes = SECRET, digits: int = 6) -> str:
    # Independent oracle: plain pyotp, already pinned to the RFC vectors.
    return str(pyotp.HOTP(base64.b32encode(secret).decode(), digits=digits).at(counter))


def _totp(code: str, *, now: float = NOW, drift: int = 1, last: int | None = None) -> int:
    return verify_totp(
        secret=SECRET,
        code=code,
        algorithm="SHA1",
        digits=6,
        period=30,
        now=now,
        drift_steps=drift,
        last_used_step=last,
    ).time_step


def _reason(excinfo: pytest.ExceptionInfo[OTPVerificationError]) -> str:
    return excinfo.value.reason


# --- RFC vectors -------------------------------------------------------------

RFC4226 = _load("rfc4226_appendix_d.json")
RFC6238 = _load("rfc6238_appendix_b.json")


def test_rfc4226_fixture_is_complete() -> None:
    assert [v["counter"] for v in RFC4226["vectors"]] == list(range(10))


@pytest.mark.parametrize("vector", RFC4226["vectors"], ids=lambda v: f"counter={v['counter']}")
def test_rfc4226_appendix_d(vector: dict[str, Any]) -> None:
    result = verify_hotp(
        secret=RFC4226["secret_ascii"].encode("ascii"),
        code=vector["hotp"],
        algorithm=RFC4226["algorithm"],
        digits=RFC4226["digits"],
        counter=vector["counter"],
        look_ahead=0,
    )
    assert result == HOTPVerification(next_counter=vector["counter"] + 1)


def test_rfc4226_code_rejected_at_other_counter() -> None:
    vector = RFC4226["vectors"][3]
    with pytest.raises(OTPVerificationError) as excinfo:
        verify_hotp(
            secret=SECRET,
            code=vector["hotp"],
            algorithm="SHA1",
            digits=6,
            counter=vector["counter"] + 1,
            look_ahead=5,
        )
    assert _reason(excinfo) == "invalid_code"


def test_rfc6238_fixture_is_complete() -> None:
    assert len(RFC6238["vectors"]) == 18
    assert {v["algorithm"] for v in RFC6238["vectors"]} == {"SHA1", "SHA256", "SHA512"}


@pytest.mark.parametrize(
    "vector", RFC6238["vectors"], ids=lambda v: f"{v['algorithm']}-T{v['time']}"
)
def test_rfc6238_appendix_b(vector: dict[str, Any]) -> None:
    seed = RFC6238["seeds_ascii"][vector["algorithm"]].encode("ascii")
    expected_step = int(vector["t_hex"], 16)
    assert current_time_step(now=vector["time"], period=RFC6238["period"]) == expected_step
    result = verify_totp(
        secret=seed,
        code=vector["totp"],
        algorithm=vector["algorithm"],
        digits=RFC6238["digits"],
        period=RFC6238["period"],
        now=vector["time"],
        drift_steps=0,
        last_used_step=None,
    )
    assert result == TOTPVerification(time_step=expected_step)


def test_rfc6238_seed_is_algorithm_specific() -> None:
    # The SHA256 vector must not verify with the SHA1 seed.
    vector = next(v for v in RFC6238["vectors"] if v["algorithm"] == "SHA256")
    with pytest.raises(OTPVerificationError) as excinfo:
        verify_totp(
            secret=SECRET,
            code=vector["totp"],
            algorithm="SHA256",
            digits=8,
            period=30,
            now=vector["time"],
            drift_steps=0,
            last_used_step=None,
        )
    assert _reason(excinfo) == "invalid_code"


# --- TOTP --------------------------------------------------------------------


def test_current_time_step() -> None:
    assert current_time_step(now=0, period=30) == 0
    assert current_time_step(now=29.999, period=30) == 0
    assert current_time_step(now=30, period=30) == 1
    assert current_time_step(now=NOW, period=60) == int(NOW // 60)


def test_totp_current_step_accepted() -> None:
    step = int(NOW // 30)
    assert _totp(_hotp_at(step)) == step


@pytest.mark.parametrize("offset", [-2, -1, 1, 2])
def test_totp_drift_edges_accepted(offset: int) -> None:
    step = int(NOW // 30) + offset
    assert _totp(_hotp_at(step), drift=2) == step


@pytest.mark.parametrize("offset", [-3, 3])
def test_totp_beyond_drift_rejected(offset: int) -> None:
    step = int(NOW // 30) + offset
    with pytest.raises(OTPVerificationError) as excinfo:
        _totp(_hotp_at(step), drift=2)
    assert _reason(excinfo) == "invalid_code"


def test_totp_zero_drift_rejects_neighbour() -> None:
    with pytest.raises(OTPVerificationError) as excinfo:
        _totp(_hotp_at(int(NOW // 30) - 1), drift=0)
    assert _reason(excinfo) == "invalid_code"


def test_totp_replayed_step_rejected() -> None:
    step = int(NOW // 30)
    code = _hotp_at(step)
    assert _totp(code, last=None) == step
    with pytest.raises(OTPVerificationError) as excinfo:
        _totp(code, last=step)
    assert _reason(excinfo) == "replayed_code"


def test_totp_older_than_last_used_rejected_as_replay() -> None:
    step = int(NOW // 30)
    with pytest.raises(OTPVerificationError) as excinfo:
        _totp(_hotp_at(step - 1), last=step)
    assert _reason(excinfo) == "replayed_code"


def test_totp_newer_than_last_used_accepted() -> None:
    step = int(NOW // 30)
    assert _totp(_hotp_at(step), last=step - 1) == step


def test_totp_wrong_code_rejected() -> None:
    good = _hotp_at(int(NOW // 30))
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    with pytest.raises(OTPVerificationError) as excinfo:
        _totp(wrong, drift=0)
    assert _reason(excinfo) == "invalid_code"


@pytest.mark.parametrize(
    "code",
    [
        "",
        "12345",
        "1234567",
        "12345a",
        " 123456",
        "\u0661\u0662\u0663\u0664\u0665\u0666",
        "123 456",
    ],
)
def test_totp_malformed_code_rejected(code: str) -> None:
    with pytest.raises(OTPVerificationError) as excinfo:
        _totp(code)
    assert _reason(excinfo) == "invalid_code"


def test_totp_wrong_digit_count_rejected() -> None:
    # A correct 6-digit prefix of the 8-digit code must not pass.
    step = int(NOW // 30)
    code8 = _hotp_at(step, digits=8)
    with pytest.raises(OTPVerificationError) as excinfo:
        verify_totp(
            secret=SECRET,
            code=code8[-6:],
            algorithm="SHA1",
            digits=8,
            period=30,
            now=NOW,
            drift_steps=1,
            last_used_step=None,
        )
    assert _reason(excinfo) == "invalid_code"


@pytest.mark.parametrize(
    ("field", "value"),
    [("digits", 7), ("algorithm", "MD5"), ("period", 0), ("drift_steps", -1), ("now", -1.0)],
)
def test_totp_invalid_parameters(field: str, value: Any) -> None:
    kwargs: dict[str, Any] = {
        "secret": SECRET,
        "code": "123456",
        "algorithm": "SHA1",
        "digits": 6,
        "period": 30,
        "now": NOW,
        "drift_steps": 1,
        "last_used_step": None,
    }
    kwargs[field] = value
    with pytest.raises(OTPVerificationError) as excinfo:
        verify_totp(**kwargs)
    assert _reason(excinfo) == "invalid_parameters"


def test_totp_short_secret_rejected() -> None:
    with pytest.raises(OTPVerificationError) as excinfo:
        verify_totp(
            secret=b"short",
            code="123456",
            algorithm="SHA1",
            digits=6,
            period=30,
            now=NOW,
            drift_steps=1,
            last_used_step=None,
        )
    assert _reason(excinfo) == "invalid_secret"


# --- HOTP --------------------------------------------------------------------


def _hotp(code: str, *, counter: int = 100, look_ahead: int = 5) -> int:
    return verify_hotp(
        secret=SECRET,
        code=code,
        algorithm="SHA1",
        digits=6,
        counter=counter,
        look_ahead=look_ahead,
    ).next_counter


def test_hotp_current_counter_accepted() -> None:
    assert _hotp(_hotp_at(100)) == 101


def test_hotp_look_ahead_edge_accepted() -> None:
    assert _hotp(_hotp_at(105)) == 106


def test_hotp_beyond_look_ahead_rejected() -> None:
    with pytest.raises(OTPVerificationError) as excinfo:
        _hotp(_hotp_at(106))
    assert _reason(excinfo) == "invalid_code"


def test_hotp_used_counter_rejected() -> None:
    with pytest.raises(OTPVerificationError) as excinfo:
        _hotp(_hotp_at(99))
    assert _reason(excinfo) == "invalid_code"


def test_hotp_malformed_code_rejected() -> None:
    with pytest.raises(OTPVerificationError) as excinfo:
        _hotp("12345")
    assert _reason(excinfo) == "invalid_code"


def test_hotp_negative_look_ahead_rejected() -> None:
    with pytest.raises(OTPVerificationError) as excinfo:
        _hotp(_hotp_at(100), look_ahead=-1)
    assert _reason(excinfo) == "invalid_parameters"


def test_hotp_resync_success() -> None:
    result = verify_hotp_resync(
        secret=SECRET,
        code1=_hotp_at(600),
        code2=_hotp_at(601),
        algorithm="SHA1",
        digits=6,
        counter=10,
    )
    assert result == HOTPVerification(next_counter=602)


def test_hotp_resync_window_edge() -> None:
    # i ranges over [counter, counter + window): the last start is accepted ...
    result = verify_hotp_resync(
        secret=SECRET,
        code1=_hotp_at(19),
        code2=_hotp_at(20),
        algorithm="SHA1",
        digits=6,
        counter=10,
        window=10,
    )
    assert result.next_counter == 21
    # ... and the first start past the window is not.
    with pytest.raises(OTPVerificationError) as excinfo:
        verify_hotp_resync(
            secret=SECRET,
            code1=_hotp_at(20),
            code2=_hotp_at(21),
            algorithm="SHA1",
            digits=6,
            counter=10,
            window=10,
        )
    assert _reason(excinfo) == "resync_failed"


@pytest.mark.parametrize(("first", "second"), [(600, 602), (601, 600), (600, 600)])
def test_hotp_resync_requires_consecutive_codes(first: int, second: int) -> None:
    with pytest.raises(OTPVerificationError) as excinfo:
        verify_hotp_resync(
            secret=SECRET,
            code1=_hotp_at(first),
            code2=_hotp_at(second),
            algorithm="SHA1",
            digits=6,
            counter=10,
        )
    assert _reason(excinfo) == "resync_failed"


def test_hotp_resync_before_counter_fails() -> None:
    with pytest.raises(OTPVerificationError) as excinfo:
        verify_hotp_resync(
            secret=SECRET,
            code1=_hotp_at(5),
            code2=_hotp_at(6),
            algorithm="SHA1",
            digits=6,
            counter=10,
        )
    assert _reason(excinfo) == "resync_failed"


# --- secrets and provisioning ------------------------------------------------


@pytest.mark.parametrize(("algorithm", "size"), [("SHA1", 20), ("SHA256", 32), ("SHA512", 64)])
def test_generate_secret_size(algorithm: str, size: int) -> None:
    secret = generate_secret(algorithm=algorithm)
    assert len(secret) == size
    assert secret != generate_secret(algorithm=algorithm)


def test_generate_secret_default_is_sha1_sized() -> None:
    assert len(generate_secret()) == 20


def test_generate_secret_unknown_algorithm() -> None:
    with pytest.raises(OTPVerificationError) as excinfo:
        generate_secret(algorithm="MD5")
    assert _reason(excinfo) == "invalid_parameters"


def test_base32_round_trip_without_padding() -> None:
    secret = bytes(range(32))
    encoded = secret_to_base32(secret)
    assert "=" not in encoded
    assert encoded == base64.b32encode(secret).decode().rstrip("=")
    assert secret_from_base32(encoded) == secret


def test_base32_tolerates_case_spaces_and_padding() -> None:
    secret = b"12345678901234567890"
    canonical = secret_to_base32(secret)
    grouped = " ".join(canonical[i : i + 4] for i in range(0, len(canonical), 4)).lower()
    assert secret_from_base32(grouped) == secret
    assert secret_from_base32(f"  {canonical}  ") == secret
    padded = base64.b32encode(bytes(range(16))).decode()
    assert padded.endswith("=")
    assert secret_from_base32(padded) == bytes(range(16))
    assert secret_from_base32(padded.rstrip("=")) == bytes(range(16))


@pytest.mark.parametrize("value", ["", "   ", "ABC1ABC1ABC1ABC1ABC1ABC1", "!!!!", "A"])
def test_base32_rejects_garbage(value: str) -> None:
    with pytest.raises(OTPVerificationError) as excinfo:
        secret_from_base32(value)
    assert _reason(excinfo) == "invalid_secret"


def test_base32_rejects_short_key() -> None:
    with pytest.raises(OTPVerificationError) as excinfo:
        secret_from_base32(secret_to_base32(b"0123456789"))
    assert _reason(excinfo) == "invalid_secret"


def _parse(uri: str) -> tuple[str, str, str, dict[str, str]]:
    parts = urlsplit(uri)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return parts.scheme, parts.netloc, unquote(parts.path), query


def test_otpauth_uri_totp() -> None:
    secret = generate_secret(algorithm="SHA256")
    uri = otpauth_uri(
        secret=secret,
        kind="TOTP",
        account_name="alice@example.com",
        issuer="Example Corp",
        algorithm="SHA256",
        digits=8,
        period=60,
    )
    scheme, kind, label, query = _parse(uri)
    assert (scheme, kind, label) == ("otpauth", "totp", "/Example Corp:alice@example.com")
    assert query["secret"] == secret_to_base32(secret)
    assert query["issuer"] == "Example Corp"
    assert query["algorithm"] == "SHA256"
    assert query["digits"] == "8"
    assert query["period"] == "60"
    assert "counter" not in query
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.byte_secret() == secret
    assert parsed.digest is hashlib.sha256


def test_otpauth_uri_hotp() -> None:
    uri = otpauth_uri(
        secret=SECRET,
        kind="HOTP",
        account_name="bob",
        issuer="Example",
        algorithm="SHA1",
        digits=6,
        counter=42,
    )
    scheme, kind, label, query = _parse(uri)
    assert (scheme, kind, label) == ("otpauth", "hotp", "/Example:bob")
    assert query["counter"] == "42"
    assert query["secret"] == secret_to_base32(SECRET)
    assert "period" not in query


@pytest.mark.parametrize(
    ("account_name", "issuer", "digits", "algorithm"),
    [
        ("", "Ex", 6, "SHA1"),
        ("a:b", "Ex", 6, "SHA1"),
        ("a", "E:x", 6, "SHA1"),
        ("a", "Ex", 7, "SHA1"),
        ("a", "Ex", 6, "MD5"),
    ],
)
def test_otpauth_uri_invalid(account_name: str, issuer: str, digits: int, algorithm: str) -> None:
    with pytest.raises(OTPVerificationError) as excinfo:
        otpauth_uri(
            secret=SECRET,
            kind="TOTP",
            account_name=account_name,
            issuer=issuer,
            algorithm=algorithm,
            digits=digits,
        )
    assert _reason(excinfo) == "invalid_parameters"


# --- server-sent codes -------------------------------------------------------


@pytest.mark.parametrize("digits", [6, 8, 10])
def test_generate_code_shape(digits: int) -> None:
    codes = {generate_code(digits=digits) for _ in range(50)}
    assert all(len(c) == digits and set(c) <= set(string.digits) for c in codes)
    assert len(codes) > 1


@pytest.mark.parametrize("digits", [0, 5, 11])
def test_generate_code_invalid_digits(digits: int) -> None:
    with pytest.raises(OTPVerificationError) as excinfo:
        generate_code(digits=digits)
    assert _reason(excinfo) == "invalid_parameters"


def test_hash_code_is_keyed_hmac() -> None:
    assert hash_code(code="012345", key=KEY) == hmac.new(KEY, b"012345", "sha256").hexdigest()
    assert hash_code(code="012345", key=KEY) != hash_code(code="012345", key=b"x" * 32)
    assert hash_code(code="012345", key=KEY) != hashlib.sha256(b"012345").hexdigest()


def test_verify_code_accepts_and_strips() -> None:
    stored = hash_code(code="012345", key=KEY)
    verify_code(code="012345", code_hash=stored, key=KEY)
    verify_code(code=" 012345\n", code_hash=stored, key=KEY)


@pytest.mark.parametrize(
    ("code", "key"),
    [("012346", KEY), ("12345", KEY), ("", KEY), ("0123 45", KEY), ("012345", b"y" * 32)],
)
def test_verify_code_rejects(code: str, key: bytes) -> None:
    stored = hash_code(code="012345", key=KEY)
    with pytest.raises(OTPVerificationError) as excinfo:
        verify_code(code=code, code_hash=stored, key=key)
    assert _reason(excinfo) == "invalid_code"


def test_hash_code_rejects_short_key() -> None:
    with pytest.raises(OTPVerificationError) as excinfo:
        hash_code(code="012345", key=b"")
    assert _reason(excinfo) == "invalid_parameters"


def test_hotp_codes_are_the_rfc_4226_vectors() -> None:
    expected = ["755224", "287082", "359152", "969429", "338314"]
    assert hotp_codes(secret=SECRET, algorithm="SHA1", digits=6, first=0, count=5) == expected
    assert hotp_codes(secret=SECRET, algorithm="SHA1", digits=6, first=3, count=2) == expected[3:]
    assert hotp_codes(secret=SECRET, algorithm="SHA1", digits=6, first=7, count=0) == []


@pytest.mark.parametrize("kwargs", [{"count": -1}, {"first": -1}, {"digits": 7},
                                    {"algorithm": "MD5"}])
def test_hotp_codes_refuse_bad_parameters(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"secret": SECRET, "algorithm": "SHA1", "digits": 6, "first": 0,
                            "count": 1, **kwargs}
    with pytest.raises(OTPVerificationError):
        hotp_codes(**args)
