"""Codes sent to a user (LoginID's sign-in codes, profile verification
codes): finding the one a user typed among their open code challenges, and
spending it. Each kind keeps its own lockout counter (`authenticator`); the
callers decide what a spent code then does."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from authcore.errors import Unauthenticated
from authcore.flows.challenges import ChallengeRecord
from authcore.flows.context import Core
from authcore.limits.lockout import LockoutState
from authcore.verify.otp import OTPVerificationError, verify_code


def matching_code(records: Iterable[ChallengeRecord], *, code: str, key: bytes,
                  accept: Callable[[dict[str, Any]], bool]) -> ChallengeRecord | None:
    """The first of `records` that `accept`s and whose stored hash `code`
    matches (verify_code compares in constant time)."""
    for record in records:
        if not accept(record.state):
            continue
        try:
            verify_code(code=code, code_hash=str(record.state.get("code_hash", "")), key=key)
        except OTPVerificationError:
            continue
        return record
    return None


async def spend_code(core: Core, db: AsyncSession, record: ChallengeRecord, *, user_pk: str,
                     authenticator: str, states: dict[str, LockoutState], now: float
                     ) -> bool | None:
    """Use a matched code up in `db`'s transaction and clear its counter.
    False when a concurrent request used it first; None when a lock taken
    meanwhile wins over the right code (the caller refuses as locked)."""
    try:
        await core.challenges.claim(db, challenge_id=record.id, now=now)
    except Unauthenticated:
        return False
    if authenticator in states and await core.lockouts.record_success(
            db, user_pk=user_pk, authenticator=authenticator, now=now):
        return None
    return True


async def count_wrong_code(core: Core, db: AsyncSession, *, user_pk: str, authenticator: str,
                           now: float) -> bool:
    """Count a wrong code; whether the counter now refuses (locked)."""
    return (await core.lockouts.record_failure(db, user_pk=user_pk, authenticator=authenticator,
                                               policy=core.settings.lockout, now=now)).refused


__all__ = ["count_wrong_code", "matching_code", "spend_code"]
