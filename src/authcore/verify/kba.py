"""Knowledge-based authentication (security questions).

Answers are normalised, then hashed with the same argon2id hasher as
passwords, so ``hash_answer`` and ``verify_kba_answers`` are blocking and
must be run in an executor by async callers.

Failure reasons (``KBAVerificationError.reason``):

* ``invalid_answer`` - an answer is empty, missing, unexpected or wrong.
* ``invalid_parameters`` - e.g. a negative question count.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from authcore.verify.errors import VerificationError
from authcore.verify.password import (
    DEFAULT_ARGON2_PARAMS,
    Argon2Params,
    PasswordVerificationError,
    hash_password,
    verify_password,
)

__all__ = [
    "KBAVerification",
    "KBAVerificationError",
    "choose_questions",
    "hash_answer",
    "normalize_answer",
    "verify_kba_answers",
]


class KBAVerificationError(VerificationError):
    """Raised by every failure in this module."""


@dataclass(frozen=True)
class KBAVerification:
    """All expected questions were answered correctly."""

    verified_ids: tuple[str, ...]


def normalize_answer(answer: str) -> str:
    """Canonicalise an answer so trivial typing differences still match.

    NFKC folds compatibility forms (full-width letters, ligatures), casefold
    handles case beyond ASCII (e.g. German sharp s). NFKC is applied again
    after casefolding because casefold output is not guaranteed to be
    normalised, and the function must be idempotent for stored hashes to stay
    comparable.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", answer).casefold())
    return " ".join(folded.split())


def hash_answer(*, answer: str, params: Argon2Params = DEFAULT_ARGON2_PARAMS) -> str:
    """Return the argon2id hash of the normalised ``answer``."""
    normalized = normalize_answer(answer)
    if not normalized:
        raise KBAVerificationError("invalid_answer", "answer must not be empty")
    return hash_password(password=normalized, params=params)


def choose_questions(*, question_ids: Sequence[str], count: int) -> list[str]:
    """Pick up to ``count`` distinct question ids at random."""
    if count < 0:
        raise KBAVerificationError("invalid_parameters", "count must be >= 0")
    # Duplicated ids would otherwise let the same question be asked twice.
    unique = list(dict.fromkeys(question_ids))
    return secrets.SystemRandom().sample(unique, min(count, len(unique)))


def verify_kba_answers(
    *,
    expected: Mapping[str, str],
    answers: Mapping[str, str],
) -> KBAVerification:
    """Check that every question in ``expected`` (id -> stored hash) is answered.

    ``answers`` maps question id -> the user's plaintext answer and must cover
    exactly the expected ids.
    """
    # Which ids were submitted is known to the client already, so rejecting a
    # structural mismatch before any hashing leaks nothing.
    if not expected or set(answers) != set(expected):
        raise KBAVerificationError("invalid_answer", "answers do not match the questions asked")
    all_ok = True
    # Every answer is checked even after a failure so response time does not
    # reveal which answer was wrong.
    for question_id, stored_hash in expected.items():
        try:
            verify_password(
                password=normalize_answer(answers[question_id]), encoded_hash=stored_hash
            )
        except PasswordVerificationError:
            all_ok = False
    if not all_ok:
        raise KBAVerificationError("invalid_answer", "one or more answers are wrong")
    return KBAVerification(verified_ids=tuple(expected))
