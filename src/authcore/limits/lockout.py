"""Account lockout policy arithmetic.

Pure functions over an immutable state; the counters themselves live in the
database, so the store reads a LockoutState, applies these, and writes it back.
Times are epoch seconds, since they are persisted and compared across processes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "LockoutPolicy",
    "LockoutState",
    "after_failure",
    "is_locked",
    "remaining_attempts",
]


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5
    # 0 means a lockout never expires and needs an explicit unlock.
    lockout_seconds: int = 1800

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        if self.lockout_seconds < 0:
            raise ValueError("lockout_seconds must not be negative")


@dataclass(frozen=True)
class LockoutState:
    failures: int
    locked_at: float | None
    # None while locked means the lockout never expires.
    lockout_expires_at: float | None

    @classmethod
    def clear(cls) -> LockoutState:
        return cls(failures=0, locked_at=None, lockout_expires_at=None)


def _lockout_expired(state: LockoutState, now: float) -> bool:
    return (
        state.locked_at is not None
        and state.lockout_expires_at is not None
        and now >= state.lockout_expires_at
    )


def is_locked(*, state: LockoutState, now: float) -> bool:
    return state.locked_at is not None and not _lockout_expired(state, now)


def after_failure(*, state: LockoutState, policy: LockoutPolicy, now: float) -> LockoutState:
    """Record one failed attempt.

    Failures during an active lockout are counted but do not extend it: the
    lockout is a fixed penalty, and extending it on every attempt would let
    one request per window keep the account owner locked out indefinitely.
    """
    if is_locked(state=state, now=now):
        return LockoutState(
            failures=state.failures + 1,
            locked_at=state.locked_at,
            lockout_expires_at=state.lockout_expires_at,
        )
    if _lockout_expired(state, now):
        state = LockoutState.clear()
    failures = state.failures + 1
    if failures < policy.max_failures:
        return LockoutState(failures=failures, locked_at=None, lockout_expires_at=None)
    expires = now + policy.lockout_seconds if policy.lockout_seconds > 0 else None
    return LockoutState(failures=failures, locked_at=now, lockout_expires_at=expires)


def remaining_attempts(*, state: LockoutState, policy: LockoutPolicy, now: float) -> int:
    if is_locked(state=state, now=now):
        return 0
    if _lockout_expired(state, now):
        return policy.max_failures
    return max(0, policy.max_failures - state.failures)
