"""Sessions behind the issued JWTs: persisted so that logout can revoke them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt as pyjwt
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.errors import Unauthenticated
from authcore.store.hot import Fetcher, HotTx
from authcore.store.hot import queries as hq
from authcore.store.models import Group, GroupMember, Session
from authcore.tokens.jwt import TokenError, TokenSigner

if TYPE_CHECKING:
    from authcore.flows.policy import Grant


@dataclass(frozen=True)
class IssuedSession:
    token: str
    expires_at: int
    session_id: str


def _claims(*, user_id: str, application_id: str, session_id: str, amr: Sequence[str],
            now: float, groups: list[str], extra_claims: dict[str, Any] | None,
            auth_time: int | None = None) -> dict[str, Any]:
    return {
        "sub": user_id,
        "aud": application_id,
        "jti": session_id,
        "amr": list(amr),
        "auth_time": int(now) if auth_time is None else auth_time,
        # Display names of the user's (SCIM) groups, for the relying party's
        # authorization; always present so consumers need no special case.
        "groups": groups,
        **(extra_claims or {}),
    }


async def issue_session(
    db: AsyncSession,
    signer: TokenSigner,
    *,
    user_pk: str,
    user_id: str,
    grant: Grant,
    amr: Sequence[str],
    ttl_seconds: int,
    now: float,
    extra_claims: dict[str, Any] | None = None,
    refresh_id: str | None = None,
    row_expires_at: float | None = None,
) -> IssuedSession:
    """A session JWT and its row, for what `grant` (the application's policy
    decision, flows/policy.grant) allows. A session with a refresh token
    (flows/refresh.py) names its jti, and its row outlives the first JWT."""
    application_id = grant.application_id
    session_id = str(uuid.uuid4())
    claims = _claims(user_id=user_id, application_id=application_id, session_id=session_id,
                     amr=amr, now=now, groups=await group_names(db, user_pk),
                     extra_claims=extra_claims)
    token, exp = signer.sign(claims, ttl_seconds=ttl_seconds, now=now)
    db.add(Session(id=session_id, user_pk=user_pk, application_id=application_id,
                   created_at=now, expires_at=max(float(exp), row_expires_at or 0.0),
                   revoked_at=None, refresh_id=refresh_id))
    return IssuedSession(token=token, expires_at=exp, session_id=session_id)


@dataclass(frozen=True)
class SignedSession:
    """A session JWT signed before its row is written: signing stays out of
    the write transaction, and `store` writes the row inside it."""

    token: str
    expires_at: int
    session_id: str
    user_pk: str
    application_id: str
    now: float

    async def store(self, tx: HotTx) -> None:
        await hq.insert_session(tx, session_id=self.session_id, user_pk=self.user_pk,
                                application_id=self.application_id, now=self.now,
                                expires_at=float(self.expires_at))


async def sign_session(
    hot: Fetcher,
    signer: TokenSigner,
    *,
    user_pk: str,
    user_id: str,
    grant: Grant,
    amr: Sequence[str],
    ttl_seconds: int,
    now: float,
    extra_claims: dict[str, Any] | None = None,
) -> SignedSession:
    """`issue_session` for the hot paths: the groups read on the raw driver,
    the row left to `SignedSession.store`."""
    application_id = grant.application_id
    session_id = str(uuid.uuid4())
    claims = _claims(user_id=user_id, application_id=application_id, session_id=session_id,
                     amr=amr, now=now, groups=await hq.group_names(hot, user_pk),
                     extra_claims=extra_claims)
    token, exp = signer.sign(claims, ttl_seconds=ttl_seconds, now=now)
    return SignedSession(token=token, expires_at=exp, session_id=session_id, user_pk=user_pk,
                         application_id=application_id, now=now)


async def resign_session(hot: Fetcher, signer: TokenSigner, *, session_id: str, user_pk: str,
                         user_id: str, application_id: str, amr: Sequence[str],
                         auth_time: int, ttl_seconds: int, now: float,
                         extra_claims: dict[str, Any] | None = None) -> tuple[str, int]:
    """A new JWT for an existing session (a refresh): same jti and sign-in
    time, the groups read again, a new expiry."""
    claims = _claims(user_id=user_id, application_id=application_id, session_id=session_id,
                     amr=amr, now=now, groups=await hq.group_names(hot, user_pk),
                     extra_claims=extra_claims, auth_time=auth_time)
    return signer.sign(claims, ttl_seconds=ttl_seconds, now=now)


async def group_names(db: AsyncSession, user_pk: str) -> list[str]:
    rows = await db.execute(select(Group.display_name)
                            .join(GroupMember, GroupMember.group_id == Group.id)
                            .where(GroupMember.member_id == user_pk)
                            .order_by(Group.display_name))
    return [name for (name,) in rows]


async def verify_session(
    db: AsyncSession, signer: TokenSigner, token: str, *, now: float
) -> tuple[dict[str, Any], Session]:
    """Check signature, expiry and that the session was not revoked."""
    claims = verify_session_token(signer, token, now=now)
    session = await db.get(Session, str(claims.get("jti", "")))
    if session is None or session.revoked_at is not None:
        raise Unauthenticated("The session was revoked.", reason="session_revoked")
    return claims, session


def verify_session_token(signer: TokenSigner, token: str, *, now: float,
                         token_type: str | None = None) -> dict[str, Any]:
    """The claims of a session JWT (or of another of the server's JWTs, by
    its `typ`) whose signature, audience and expiry hold."""
    try:
        # The audience is the application the token was issued for; read it
        # first so the signature check can pin it.
        unverified = pyjwt.decode(token, options={"verify_signature": False})
        audience = unverified.get("aud")
        return signer.verify(token, audience=audience if isinstance(audience, str) else None,
                             now=now, token_type=token_type)
    except (TokenError, pyjwt.PyJWTError) as exc:
        reason = exc.reason if isinstance(exc, TokenError) else "invalid_token"
        raise Unauthenticated("The token is invalid or expired.", reason=reason) from None


async def verify_session_hot(hot: Fetcher, signer: TokenSigner, token: str, *, now: float
                             ) -> tuple[dict[str, Any], str]:
    """`verify_session` on the raw driver: the claims and the session's user pk."""
    claims = verify_session_token(signer, token, now=now)
    found, revoked_at, user_pk = await hq.session_state(hot, str(claims.get("jti", "")))
    if not found or revoked_at is not None:
        raise Unauthenticated("The session was revoked.", reason="session_revoked")
    return claims, str(user_pk)


async def revoke_session(db: AsyncSession, *, session_id: str, now: float) -> None:
    await db.execute(
        update(Session).where(Session.id == session_id, Session.revoked_at.is_(None))
        .values(revoked_at=now)
    )
