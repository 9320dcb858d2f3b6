from __future__ import annotations

import pytest

from authcore.verify.offline_otp import (
    OfflineBatch,
    OfflineEntry,
    OfflineOTPError,
    decode_entries,
    derive_offline_hash,
    encode_entries,
    generate_offline_batch,
    verify_offline_otp,
)

# RFC 4226 appendix D: this seed's HOTP codes at counters 0 and 1.
RFC_SECRET = b"12345678901234567890"
SALT = bytes(range(8))
# PBKDF2-HMAC-SHA256(otp, SALT || "42" || m as 8 bytes big-endian, 10, 32),
# computed once with hashlib and kept as fixed vectors.
VECTOR_0 = "b3fa6d08664f211ef9b4ecdf28d2531a924e1fe1075963ce58d81af617a657a7"
VECTOR_1 = "fbe7eeaaf46d5f36d4b76600d24e0698fb4131fc686dac5d677414d1e990465d"


def _fixed_batch(first: int = 0, count: int = 2) -> OfflineBatch:
    return generate_offline_batch(
        secret=RFC_SECRET, algorithm="SHA1", digits=6, first_moving_factor=first, count=count,
        iterations=10, private_salt_length=2, public_salt=lambda: SALT,
        private_salt=lambda n: "42")


def test_derive_matches_the_fixed_vector() -> None:
    digest = derive_offline_hash(otp="755224", public_salt=SALT, private_salt="42",
                                 moving_factor=0, iterations=10)
    assert digest.hex() == VECTOR_0


def test_batch_entries_are_the_rfc_codes_hashed() -> None:
    batch = _fixed_batch()
    assert batch.first_moving_factor == 0
    assert [e.digest.hex() for e in batch.entries] == [VECTOR_0, VECTOR_1]
    assert encode_entries(batch.entries) == f"{SALT.hex()}:{VECTOR_0},{SALT.hex()}:{VECTOR_1}"


def test_round_trip_and_verify() -> None:
    batch = generate_offline_batch(secret=RFC_SECRET, algorithm="SHA1", digits=6,
                                   first_moving_factor=0, count=5, iterations=3,
                                   private_salt_length=2)
    decoded = OfflineBatch(0, decode_entries(encode_entries(batch.entries)))
    # RFC 4226 counter 3 is 969429.
    assert verify_offline_otp(code="969429", batch=decoded, moving_factors=range(2, 5),
                              iterations=3, private_salt_length=2).moving_factor == 3


def test_random_salts_differ_between_entries() -> None:
    batch = generate_offline_batch(secret=RFC_SECRET, algorithm="SHA1", digits=6,
                                   first_moving_factor=0, count=3, iterations=1,
                                   private_salt_length=1)
    assert len({e.public_salt for e in batch.entries}) == 3


@pytest.mark.parametrize("code,factors", [
    ("755224", range(1, 2)),   # right code, wrong position
    ("287083", range(0, 2)),   # wrong code
    ("755224", range(5, 9)),   # outside the batch
])
def test_wrong_code_refused(code: str, factors: range) -> None:
    with pytest.raises(OfflineOTPError) as err:
        verify_offline_otp(code=code, batch=_fixed_batch(), moving_factors=factors,
                           iterations=10, private_salt_length=2)
    assert err.value.reason == "invalid_code"


def test_wrong_iterations_do_not_match() -> None:
    with pytest.raises(OfflineOTPError):
        verify_offline_otp(code="755224", batch=_fixed_batch(), moving_factors=range(0, 1),
                           iterations=11, private_salt_length=2)


@pytest.mark.parametrize("kwargs", [
    {"iterations": 0}, {"iterations": 100_001}, {"private_salt_length": 7},
    {"private_salt_length": -1}, {"count": -1}, {"count": 20_001},
    {"first_moving_factor": -1}, {"digits": 7}, {"secret": b"short"},
    {"algorithm": "MD5"},
])
def test_bad_parameters(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {
        "secret": RFC_SECRET, "algorithm": "SHA1", "digits": 6, "first_moving_factor": 0,
        "count": 1, "iterations": 1, "private_salt_length": 0}
    args.update(kwargs)
    with pytest.raises(OfflineOTPError) as err:
        generate_offline_batch(**args)  # type: ignore[arg-type]
    assert err.value.reason == "invalid_parameters"


@pytest.mark.parametrize("text", ["zz:00", "0011", "00:" + "ab" * 31])
def test_decode_refuses_malformed(text: str) -> None:
    with pytest.raises(OfflineOTPError) as err:
        decode_entries(text)
    assert err.value.reason == "invalid_batch"


def test_non_digit_code_refused() -> None:
    batch = OfflineBatch(0, (OfflineEntry(SALT, bytes.fromhex(VECTOR_0)),))
    with pytest.raises(OfflineOTPError):
        verify_offline_otp(code="75522a", batch=batch, moving_factors=range(0, 1),
                           iterations=10, private_salt_length=2)
