from __future__ import annotations

import pickle

import pytest

from authcore.verify.errors import VerificationError
from authcore.verify.password import (
    Argon2Params,
    PasswordVerification,
    PasswordVerificationError,
    check_password_policy,
    hash_password,
    verify_password,
)

# Cheap parameters keep the unit suite fast; production cost is covered by
# the default-values test below.
FAST = Argon2Params(time_cost=1, memory_cost_kib=1024)


def test_default_params_match_keycloak_cost() -> None:
    assert Argon2Params() == Argon2Params(time_cost=5, memory_cost_kib=7168, parallelism=1)


def test_hash_is_argon2id_with_requested_cost() -> None:
    encoded = hash_password(password="correct horse", params=FAST)
    assert encoded.startswith("$argon2id$v=19$m=1024,t=1,p=1$")


def test_hash_is_salted() -> None:
    assert hash_password(password="same", params=FAST) != hash_password(
        password="same", params=FAST
    )


def test_round_trip() -> None:
    encoded = hash_password(password="correct horse battery staple", params=FAST)
    result = verify_password(
        password="correct horse battery staple", encoded_hash=encoded, params=FAST
    )
    assert result == PasswordVerification(needs_rehash=False)


def test_unicode_round_trip() -> None:
    encoded = hash_password(password="pässwörd-密码", params=FAST)
    assert not verify_password(
        password="pässwörd-密码", encoded_hash=encoded, params=FAST
    ).needs_rehash


def test_wrong_password() -> None:
    encoded = hash_password(password="correct horse", params=FAST)
    with pytest.raises(PasswordVerificationError) as excinfo:
        verify_password(password="Correct horse", encoded_hash=encoded, params=FAST)
    assert excinfo.value.reason == "invalid_password"


@pytest.mark.parametrize(
    "encoded_hash",
    [
        "",
        "not-a-hash",
        "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$",
        "$argon2id$v=19$m=1024,t=1,p=1$!!!!$!!!!",
        "$2b$12$abcdefghijklmnopqrstuuJ0G6h9bTGNzD0x5z4bQmC0ZzVbJfyqe",
    ],
)
def test_malformed_hash_has_same_reason_as_mismatch(encoded_hash: str) -> None:
    with pytest.raises(PasswordVerificationError) as excinfo:
        verify_password(password="whatever", encoded_hash=encoded_hash, params=FAST)
    assert excinfo.value.reason == "invalid_password"


@pytest.mark.parametrize(
    "new_params",
    [
        Argon2Params(time_cost=2, memory_cost_kib=1024),
        Argon2Params(time_cost=1, memory_cost_kib=2048),
        Argon2Params(time_cost=1, memory_cost_kib=1024, parallelism=2),
    ],
)
def test_needs_rehash_when_params_change(new_params: Argon2Params) -> None:
    encoded = hash_password(password="pw-to-upgrade", params=FAST)
    result = verify_password(password="pw-to-upgrade", encoded_hash=encoded, params=new_params)
    assert result.needs_rehash is True


def test_invalid_params_rejected() -> None:
    with pytest.raises(PasswordVerificationError) as excinfo:
        hash_password(password="x", params=Argon2Params(time_cost=0, memory_cost_kib=1024))
    assert excinfo.value.reason == "invalid_parameters"


@pytest.mark.parametrize("password", ["12345678", "a" * 256, "pässwörd"])
def test_policy_accepts(password: str) -> None:
    check_password_policy(password=password)


@pytest.mark.parametrize("password", ["", "1234567", "a" * 257])
def test_policy_rejects(password: str) -> None:
    with pytest.raises(PasswordVerificationError) as excinfo:
        check_password_policy(password=password)
    assert excinfo.value.reason == "password_policy"


def test_policy_custom_bounds() -> None:
    check_password_policy(password="abcd", min_length=4, max_length=4)
    with pytest.raises(PasswordVerificationError) as excinfo:
        check_password_policy(password="abcde", min_length=4, max_length=4)
    assert excinfo.value.reason == "password_policy"


def test_policy_rejects_inconsistent_bounds() -> None:
    with pytest.raises(PasswordVerificationError) as excinfo:
        check_password_policy(password="abcdefgh", min_length=10, max_length=5)
    assert excinfo.value.reason == "invalid_parameters"


def test_error_is_verification_error_and_survives_pickling() -> None:
    err = PasswordVerificationError("invalid_password", "password does not match")
    assert isinstance(err, VerificationError)
    assert str(err) == "password does not match"
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is PasswordVerificationError
    assert (clone.reason, clone.message) == ("invalid_password", "password does not match")
