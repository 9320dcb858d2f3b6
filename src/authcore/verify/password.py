"""Password hashing and verification with argon2id.

``hash_password`` and ``verify_password`` are deliberately slow and block the
calling thread for the whole argon2 computation (tens of milliseconds at the
default cost). Async callers must run them in an executor
(``loop.run_in_executor`` / ``asyncio.to_thread``) rather than on the event
loop.

Failure reasons (``PasswordVerificationError.reason``):

* ``invalid_password`` - wrong password *or* unusable stored hash; the two are
  deliberately indistinguishable to the caller's client.
* ``password_policy`` - a candidate password violates the length policy.
* ``invalid_parameters`` - the server configuration is unusable.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError as Argon2VerificationError

from authcore.verify.errors import VerificationError

__all__ = [
    "DEFAULT_ARGON2_PARAMS",
    "Argon2Params",
    "PasswordVerification",
    "PasswordVerificationError",
    "check_password_policy",
    "hash_password",
    "verify_password",
]


class PasswordVerificationError(VerificationError):
    """Raised by every failure in this module."""


@dataclass(frozen=True)
class Argon2Params:
    """argon2id cost parameters.

    The defaults match Keycloak's argon2 provider so hashes migrated from it
    are not flagged for rehash on first login.
    """

    time_cost: int = 5
    memory_cost_kib: int = 7168
    parallelism: int = 1


DEFAULT_ARGON2_PARAMS = Argon2Params()


@dataclass(frozen=True)
class PasswordVerification:
    """Successful verification.

    ``needs_rehash`` tells the caller to re-hash the (now known good) password
    with the current parameters and persist it, so cost upgrades roll out on
    login without a forced reset.
    """

    needs_rehash: bool


@functools.lru_cache(maxsize=8)
def _hasher(params: Argon2Params) -> PasswordHasher:
    # argon2 rejects these combinations with its own exception types; checking
    # here keeps this module's single-exception contract.
    if params.time_cost < 1 or params.parallelism < 1:
        raise PasswordVerificationError(
            "invalid_parameters", "argon2 time_cost and parallelism must be >= 1"
        )
    if params.memory_cost_kib < 8 * params.parallelism:
        raise PasswordVerificationError(
            "invalid_parameters", "argon2 memory_cost_kib must be >= 8 * parallelism"
        )
    return PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_cost_kib,
        parallelism=params.parallelism,
        type=Type.ID,
    )


def hash_password(*, password: str, params: Argon2Params = DEFAULT_ARGON2_PARAMS) -> str:
    """Return an encoded argon2id hash (PHC string) of ``password``.

    Policy is not enforced here; call ``check_password_policy`` first when the
    password is user-chosen.
    """
    return _hasher(params).hash(password)


def verify_password(
    *,
    password: str,
    encoded_hash: str,
    params: Argon2Params = DEFAULT_ARGON2_PARAMS,
) -> PasswordVerification:
    """Check ``password`` against ``encoded_hash``.

    The cost used for verification is read from ``encoded_hash`` itself;
    ``params`` is only the *current* target cost used to decide
    ``needs_rehash``.
    """
    hasher = _hasher(params)
    try:
        hasher.verify(encoded_hash, password)
    except (Argon2VerificationError, InvalidHashError):
        # A corrupt hash gets the same reason as a wrong password so clients
        # cannot probe which accounts have broken credentials.
        raise PasswordVerificationError("invalid_password", "password does not match") from None
    return PasswordVerification(needs_rehash=hasher.check_needs_rehash(encoded_hash))


def check_password_policy(*, password: str, min_length: int = 8, max_length: int = 256) -> None:
    """Enforce length bounds on a user-chosen password.

    Lengths count Unicode code points, not bytes, so non-Latin passwords are
    not penalised. The upper bound caps the work an attacker can make the
    server do per hash.
    """
    if min_length < 1 or max_length < min_length:
        raise PasswordVerificationError(
            "invalid_parameters", "require 1 <= min_length <= max_length"
        )
    if not password:
        raise PasswordVerificationError("password_policy", "password must not be empty")
    if len(password) < min_length:
        raise PasswordVerificationError(
            "password_policy", f"password must be at least {min_length} characters"
        )
    if len(password) > max_length:
        raise PasswordVerificationError(
            "password_policy", f"password must be at most {max_length} characters"
        )
