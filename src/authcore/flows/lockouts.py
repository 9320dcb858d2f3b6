"""Failure counters per user and authenticator, kept in the database so that
they hold across replicas. The arithmetic is limits.lockout's."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.limits.lockout import (
    LockoutPolicy,
    LockoutState,
    after_failure,
)
from authcore.store.models import Lockout


def _state(row: Lockout | None) -> LockoutState:
    if row is None:
        return LockoutState.clear()
    return LockoutState(
        failures=row.failures, locked_at=row.locked_at, lockout_expires_at=row.lockout_expires_at
    )


async def lockout_states(db: AsyncSession, *, user_pk: str) -> dict[str, LockoutState]:
    rows = (await db.execute(select(Lockout).where(Lockout.user_pk == user_pk))).scalars()
    return {row.authenticator: _state(row) for row in rows}


async def record_failure(
    db: AsyncSession, *, user_pk: str, authenticator: str, policy: LockoutPolicy, now: float
) -> LockoutState:
    """Count one failure atomically.

    The insert comes first because it takes the write lock (SQLite) before the
    read; on PostgreSQL the row lock of SELECT ... FOR UPDATE serialises
    concurrent failures so none is lost.
    """
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await db.execute(
        insert(Lockout)
        .values(user_pk=user_pk, authenticator=authenticator, failures=0)
        .on_conflict_do_nothing()
    )
    stmt = select(Lockout).where(
        Lockout.user_pk == user_pk, Lockout.authenticator == authenticator
    )
    if dialect == "postgresql":
        stmt = stmt.with_for_update()
    row = (await db.execute(stmt)).scalar_one()
    new = after_failure(state=_state(row), policy=policy, now=now)
    await db.execute(
        update(Lockout)
        .where(Lockout.user_pk == user_pk, Lockout.authenticator == authenticator)
        .values(
            failures=new.failures,
            locked_at=new.locked_at,
            lockout_expires_at=new.lockout_expires_at,
        )
    )
    return new


async def record_success(db: AsyncSession, *, user_pk: str, authenticator: str) -> None:
    await db.execute(
        delete(Lockout).where(Lockout.user_pk == user_pk, Lockout.authenticator == authenticator)
    )


async def clear_all(db: AsyncSession, *, user_pk: str) -> None:
    await db.execute(delete(Lockout).where(Lockout.user_pk == user_pk))
