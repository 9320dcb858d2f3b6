from __future__ import annotations

import hashlib
import hmac

import pytest

from authcore.verify.grid import DEFAULT_ALPHABET
from authcore.verify.temp_code import (
    StoredTempCode,
    TempCodeVerification,
    TempCodeVerificationError,
    generate_temp_code,
    hash_temp_code,
    verify_temp_code,
)

KEY = b"temp-code-test-key-0123456789abc"
NOW = 1_700_000_000.0
CODE = "K7QM4X2P"


def _stored(
    code: str = CODE,
    *,
    id: str = "tc-1",
    expires_at: float = NOW + 3600,
    uses: int = 0,
    max_uses: int = 1,
) -> StoredTempCode:
    return StoredTempCode(
        id=id,
        code_hash=hash_temp_code(code=code, key=KEY),
        expires_at=expires_at,
        uses=uses,
        max_uses=max_uses,
    )


def _reason(code: str, candidates: list[StoredTempCode], now: float = NOW) -> str:
    with pytest.raises(TempCodeVerificationError) as excinfo:
        verify_temp_code(code=code, candidates=candidates, key=KEY, now=now)
    return excinfo.value.reason


def test_generate_default_shape() -> None:
    code = generate_temp_code()
    assert len(code) == 8
    assert set(code) <= set(DEFAULT_ALPHABET)


def test_generate_custom_length_and_randomness() -> None:
    codes = {generate_temp_code(length=12) for _ in range(20)}
    assert all(len(c) == 12 for c in codes)
    assert len(codes) == 20


@pytest.mark.parametrize("length", [0, 5, 65])
def test_generate_rejects_bad_length(length: int) -> None:
    with pytest.raises(TempCodeVerificationError) as excinfo:
        generate_temp_code(length=length)
    assert excinfo.value.reason == "invalid_parameters"


def test_hash_is_hmac_sha256_of_normalized_code() -> None:
    expected = hmac.new(KEY, b"K7QM4X2P", hashlib.sha256).hexdigest()
    assert hash_temp_code(code=CODE, key=KEY) == expected


@pytest.mark.parametrize(
    "variant", ["k7qm4x2p", "K7QM-4X2P", " k7qm-4x2p ", "K7QM 4X2P", "k7-qm-4x-2p"]
)
def test_hash_normalises_case_spaces_and_dashes(variant: str) -> None:
    assert hash_temp_code(code=variant, key=KEY) == hash_temp_code(code=CODE, key=KEY)


def test_hash_depends_on_key() -> None:
    assert hash_temp_code(code=CODE, key=KEY) != hash_temp_code(code=CODE, key=b"z" * 32)


def test_hash_rejects_short_key() -> None:
    with pytest.raises(TempCodeVerificationError) as excinfo:
        hash_temp_code(code=CODE, key=b"short")
    assert excinfo.value.reason == "invalid_parameters"


@pytest.mark.parametrize("submitted", [CODE, "k7qm-4x2p", "  K7QM 4X2P\n"])
def test_verify_accepts(submitted: str) -> None:
    result = verify_temp_code(code=submitted, candidates=[_stored()], key=KEY, now=NOW)
    assert result == TempCodeVerification(code_id="tc-1")


def test_generated_code_verifies() -> None:
    code = generate_temp_code()
    stored = _stored(code, id="fresh")
    assert verify_temp_code(code=code, candidates=[stored], key=KEY, now=NOW).code_id == "fresh"


def test_verify_picks_matching_candidate() -> None:
    candidates = [_stored("AAAA1111", id="a"), _stored(id="b"), _stored("BBBB2222", id="c")]
    assert verify_temp_code(code=CODE, candidates=candidates, key=KEY, now=NOW).code_id == "b"


@pytest.mark.parametrize("submitted", ["K7QM4X2Q", "K7QM4X2", "", "  -- ", "K7QM4X2PP"])
def test_wrong_code(submitted: str) -> None:
    assert _reason(submitted, [_stored()]) == "invalid_code"


def test_no_candidates() -> None:
    assert _reason(CODE, []) == "invalid_code"


def test_wrong_key_does_not_match() -> None:
    with pytest.raises(TempCodeVerificationError) as excinfo:
        verify_temp_code(code=CODE, candidates=[_stored()], key=b"q" * 32, now=NOW)
    assert excinfo.value.reason == "invalid_code"


def test_expired() -> None:
    assert _reason(CODE, [_stored(expires_at=NOW - 1)]) == "expired_code"


def test_expiry_boundary() -> None:
    stored = _stored(expires_at=NOW)
    assert _reason(CODE, [stored], now=NOW) == "expired_code"
    assert verify_temp_code(code=CODE, candidates=[stored], key=KEY, now=NOW - 0.001).code_id


def test_exhausted() -> None:
    assert _reason(CODE, [_stored(uses=1, max_uses=1)]) == "exhausted_code"
    assert _reason(CODE, [_stored(uses=5, max_uses=3)]) == "exhausted_code"


def test_multi_use_code_until_exhausted() -> None:
    assert (
        verify_temp_code(
            code=CODE, candidates=[_stored(uses=2, max_uses=3)], key=KEY, now=NOW
        ).code_id
        == "tc-1"
    )


def test_expired_reported_before_exhausted() -> None:
    assert _reason(CODE, [_stored(expires_at=NOW - 1, uses=1, max_uses=1)]) == "expired_code"


def test_usable_duplicate_wins_over_spent_one() -> None:
    candidates = [_stored(id="old", expires_at=NOW - 1), _stored(id="new")]
    assert verify_temp_code(code=CODE, candidates=candidates, key=KEY, now=NOW).code_id == "new"
