"""Server-side challenge state: created with a random token, single-use, expiring.

The client only ever holds the token; the row is keyed by its SHA-256, so a
database read does not reveal live tokens. Consuming is a conditional UPDATE
(`consumed_at IS NULL`), which makes a token good for exactly one complete
even when many arrive at once, on one replica or several.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.errors import AuthcoreError, Unauthenticated
from authcore.store.models import Application, Challenge, User


class KeepChallenge(Exception):
    """Raised by a factor when the attempt must not use up the challenge, such as
    a correct but expired password awaiting `newPassword`."""

    def __init__(self, error: AuthcoreError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True)
class ChallengeRecord:
    id: str
    application_id: str
    user_pk: str | None
    authenticator: str
    stage: str
    state: dict[str, Any]
    expires_at: float


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bare_token(authorization: str) -> str:
    """Accept the token raw or as `Bearer <token>`, as Entrust's clients send it."""
    value = authorization.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    return value


async def create_challenge(
    db: AsyncSession,
    *,
    application_id: str,
    user_pk: str | None,
    authenticator: str,
    stage: str,
    state: dict[str, Any],
    ttl_seconds: float,
    now: float,
) -> tuple[str, float]:
    token = secrets.token_urlsafe(32)
    expires_at = now + ttl_seconds
    db.add(
        Challenge(
            id=str(uuid.uuid4()),
            token_hash=token_hash(token),
            application_id=application_id,
            user_pk=user_pk,
            authenticator=authenticator,
            stage=stage,
            state=state,
            expires_at=expires_at,
            consumed_at=None,
            created_at=now,
        )
    )
    return token, expires_at


def _usable(row: Challenge | None, now: float) -> Challenge:
    if row is None or row.consumed_at is not None:
        raise Unauthenticated("The challenge token is invalid or was already used.",
                              reason="invalid_token")
    if row.expires_at <= now:
        raise Unauthenticated("The challenge has expired.", reason="expired_token")
    return row


def _record(row: Challenge) -> ChallengeRecord:
    return ChallengeRecord(
        id=row.id,
        application_id=row.application_id,
        user_pk=row.user_pk,
        authenticator=row.authenticator,
        stage=row.stage,
        state=dict(row.state),
        expires_at=row.expires_at,
    )


async def load_challenge(db: AsyncSession, *, token: str, now: float) -> ChallengeRecord:
    if not token:
        raise Unauthenticated("A challenge token is required.", reason="missing_token")
    row = (
        await db.execute(select(Challenge).where(Challenge.token_hash == token_hash(token)))
    ).scalar_one_or_none()
    return _record(_usable(row, now))


async def load_bound_challenge(
    db: AsyncSession, *, token: str, now: float
) -> tuple[ChallengeRecord, User, Application]:
    """The challenge with the user and application it is bound to, in one query
    (this is on every complete)."""
    record, user, app = await load_challenge_with_app(db, token=token, now=now)
    if user is None:
        raise Unauthenticated("The challenge token is invalid or was already used.",
                              reason="invalid_token")
    return record, user, app


async def load_challenge_with_app(
    db: AsyncSession, *, token: str, now: float
) -> tuple[ChallengeRecord, User | None, Application]:
    """Like load_bound_challenge, but a challenge issued before its user was
    known (a discoverable passkey sign-in) comes back with user None."""
    if not token:
        raise Unauthenticated("A challenge token is required.", reason="missing_token")
    found = (
        await db.execute(
            select(Challenge, User, Application)
            .outerjoin(User, User.pk == Challenge.user_pk)
            .join(Application, Application.id == Challenge.application_id)
            .where(Challenge.token_hash == token_hash(token))
        )
    ).first()
    if found is None:
        raise Unauthenticated("The challenge token is invalid or was already used.",
                              reason="invalid_token")
    row, user, app = found
    record = _record(_usable(row, now))
    return record, user, app


async def claim_challenge(db: AsyncSession, *, challenge_id: str, now: float) -> None:
    """Use up the challenge; only one caller can win."""
    result = await db.execute(
        update(Challenge)
        .where(
            Challenge.id == challenge_id,
            Challenge.consumed_at.is_(None),
            Challenge.expires_at > now,
        )
        .values(consumed_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Unauthenticated("The challenge token is invalid or was already used.",
                              reason="invalid_token")
