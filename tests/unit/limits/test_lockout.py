from __future__ import annotations

import pytest

from authcore.limits.lockout import (
    LockoutPolicy,
    LockoutState,
    after_failure,
    is_locked,
    remaining_attempts,
)

POLICY = LockoutPolicy(max_failures=3, lockout_seconds=600)
T0 = 1_700_000_000.0


def fail_n(n: int, *, policy: LockoutPolicy = POLICY, now: float = T0) -> LockoutState:
    state = LockoutState.clear()
    for _ in range(n):
        state = after_failure(state=state, policy=policy, now=now)
    return state


def test_defaults() -> None:
    assert LockoutPolicy() == LockoutPolicy(max_failures=5, lockout_seconds=1800)


def test_locks_at_exactly_max_failures() -> None:
    before = fail_n(POLICY.max_failures - 1)
    assert not is_locked(state=before, now=T0)
    assert before.locked_at is None

    locked = after_failure(state=before, policy=POLICY, now=T0 + 1)
    assert is_locked(state=locked, now=T0 + 1)
    assert locked.failures == 3
    assert locked.locked_at == T0 + 1
    assert locked.lockout_expires_at == T0 + 1 + 600


def test_remaining_attempts_count_down() -> None:
    state = LockoutState.clear()
    seen = [remaining_attempts(state=state, policy=POLICY, now=T0)]
    for _ in range(POLICY.max_failures):
        state = after_failure(state=state, policy=POLICY, now=T0)
        seen.append(remaining_attempts(state=state, policy=POLICY, now=T0))
    assert seen == [3, 2, 1, 0]


def test_expiry_unlocks_and_restarts_count() -> None:
    locked = fail_n(POLICY.max_failures)
    expires = locked.lockout_expires_at
    assert expires == T0 + 600

    assert is_locked(state=locked, now=expires - 0.001)
    assert not is_locked(state=locked, now=expires)
    assert remaining_attempts(state=locked, policy=POLICY, now=expires) == 3

    after = after_failure(state=locked, policy=POLICY, now=expires + 5)
    assert after == LockoutState(failures=1, locked_at=None, lockout_expires_at=None)
    assert remaining_attempts(state=after, policy=POLICY, now=expires + 5) == 2


def test_relocks_after_expiry() -> None:
    state = fail_n(POLICY.max_failures)
    later = T0 + 10_000
    for _ in range(POLICY.max_failures):
        state = after_failure(state=state, policy=POLICY, now=later)
    assert is_locked(state=state, now=later)
    assert state.locked_at == later
    assert state.lockout_expires_at == later + 600


def test_failure_during_lockout_does_not_extend_it() -> None:
    locked = fail_n(POLICY.max_failures)
    again = after_failure(state=locked, policy=POLICY, now=T0 + 300)
    assert again.failures == locked.failures + 1
    assert again.locked_at == locked.locked_at
    assert again.lockout_expires_at == locked.lockout_expires_at
    assert remaining_attempts(state=again, policy=POLICY, now=T0 + 300) == 0


def test_zero_lockout_seconds_never_expires() -> None:
    policy = LockoutPolicy(max_failures=2, lockout_seconds=0)
    locked = fail_n(2, policy=policy)
    assert locked.locked_at == T0
    assert locked.lockout_expires_at is None
    far_future = T0 + 100 * 365 * 86400
    assert is_locked(state=locked, now=far_future)
    assert remaining_attempts(state=locked, policy=policy, now=far_future) == 0
    assert after_failure(state=locked, policy=policy, now=far_future).locked_at == T0


def test_clear_state_is_unlocked() -> None:
    assert not is_locked(state=LockoutState.clear(), now=T0)


@pytest.mark.parametrize("kwargs", [{"max_failures": 0}, {"lockout_seconds": -1}])
def test_policy_validation(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        LockoutPolicy(**kwargs)
