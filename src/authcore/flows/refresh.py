"""Refresh tokens: LoginID's `Mfa.refreshToken`, and its redemption at
`POST /fido2/v2/mfa/token/refresh` (LoginID's published API issues refresh
tokens but documents no way to redeem them).

A refresh token is a JWT (typ refresh+jwt) that names its session row
(`sid`) and one rotation (`jti`). The row keeps the jti of the one refresh
token that may still be redeemed (`sessions.refresh_id`, migration 0010).
Redeeming swaps it for a new one by compare-and-set and signs a new access
token for the same session (same jti, same sign-in time), so revoking the
session ends the whole family. A refresh token whose jti is no longer the
row's has been redeemed before: two parties hold it, and the session is
revoked (rotation with reuse detection, RFC 9700 section 4.14.2).

The family lives `refresh_seconds` from the sign-in, fixed when it starts:
rotation never extends it, and no access token outlives it.

The redemption is a hot path: one read of the session and its user, the
groups for the new access token, and one write transaction (the rotation
and the audit row), on the raw driver.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from authcore.errors import InvalidArgument, Unauthenticated
from authcore.flows import audit
from authcore.flows.authentication import Caller
from authcore.flows.context import Core
from authcore.flows.policy import app_policy
from authcore.store.hot import queries as hq
from authcore.tokens.jwt import TokenSigner
from authcore.tokens.sessions import resign_session, verify_session_token

REFRESH_TYP = "refresh+jwt"
ID_TYP = "id+jwt"
# A refresh token is a JWT of a few hundred bytes; anything much longer is
# not one of ours and is refused before it is parsed.
MAX_REFRESH_TOKEN_CHARS = 4096


@dataclass(frozen=True)
class Family:
    """What a new refresh family needs before its session row is written:
    the row's refresh_id and the expiry the row must live to."""

    refresh_id: str
    expires_at: int


def start_family(*, session_ttl: int, refresh_ttl: int, now: float) -> Family:
    return Family(refresh_id=str(uuid.uuid4()),
                  expires_at=int(now) + max(session_ttl, refresh_ttl))


def sign_refresh_token(signer: TokenSigner, family: Family | str, *, user_id: str,
                       application_id: str, session_id: str, amr: Sequence[str],
                       auth_time: int, expires_at: int, now: float,
                       extra_claims: dict[str, Any] | None = None) -> str:
    """The refresh token for `family`'s current refresh_id."""
    jti = family.refresh_id if isinstance(family, Family) else family
    token, _ = signer.sign({
        "sub": user_id, "aud": application_id, "jti": jti, "sid": session_id,
        "amr": list(amr), "auth_time": auth_time, "token_use": "refresh",
        "ext": dict(extra_claims or {}),
    }, ttl_seconds=max(expires_at - int(now), 1), now=now, token_type=REFRESH_TYP)
    return token


def sign_id_token(signer: TokenSigner, *, user_id: str, application_id: str,
                  session_id: str, amr: Sequence[str], auth_time: int, ttl_seconds: int,
                  now: float, extra_claims: dict[str, Any] | None = None) -> str:
    """An ID token: it names no session row (random jti), so it never works
    where verify_session checks the jti."""
    token, _ = signer.sign({
        "sub": user_id, "aud": application_id, "jti": str(uuid.uuid4()), "amr": list(amr),
        "auth_time": auth_time, "sid": session_id, **(extra_claims or {}),
    }, ttl_seconds=ttl_seconds, now=now, token_type=ID_TYP)
    return token


@dataclass(frozen=True)
class Refreshed:
    access_token: str
    id_token: str
    refresh_token: str


def _invalid() -> Unauthenticated:
    return Unauthenticated("The refresh token is invalid or has expired.",
                           reason="invalid_token")


def _claims(signer: TokenSigner, token: str, now: float) -> dict[str, Any]:
    if not token:
        raise InvalidArgument("refreshToken is required.", reason="missing_field",
                              field_violations=[("refreshToken", "is required")])
    if len(token) > MAX_REFRESH_TOKEN_CHARS:
        raise _invalid()
    try:
        claims = verify_session_token(signer, token, now=now, token_type=REFRESH_TYP)
    except Unauthenticated:
        raise _invalid() from None
    for name in ("sub", "aud", "jti", "sid"):
        if not isinstance(claims.get(name), str) or not claims[name]:
            raise _invalid()
    if not isinstance(claims.get("auth_time"), int) or not isinstance(claims.get("amr"), list):
        raise _invalid()
    return claims


class RefreshFlow:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def refresh(self, token: str, *, application_id: str, caller: Caller) -> Refreshed:
        """New tokens for a live refresh token; `application_id`, when the
        request names one (its host), must be the token's."""
        core, now = self.core, self.core.clock()
        claims = _claims(core.signer, token, now)
        app_id, session_id, old_id = claims["aud"], claims["sid"], claims["jti"]
        if application_id and application_id != app_id:
            raise _invalid()
        state = await hq.session_for_refresh(core.hot, session_id)
        if state is None or state.application.id != app_id or \
                state.user.user_id != claims["sub"] or state.revoked_at is not None:
            raise _invalid()
        if state.refresh_id != old_id:
            await self._reused(session_id, app_id, state.user.user_id, caller, now)
        if not state.user.active:
            raise Unauthenticated("The user is disabled.", reason="user_disabled")
        app = state.application
        family_exp = int(claims["exp"])
        ttl = min(app_policy(app.settings).session_seconds, family_exp - int(now))
        if ttl <= 0:
            raise _invalid()
        amr, auth_time = [str(a) for a in claims["amr"]], claims["auth_time"]
        ext = claims.get("ext") if isinstance(claims.get("ext"), dict) else {}
        user = state.user
        access, _ = await resign_session(
            core.hot, core.signer, session_id=session_id, user_pk=user.pk,
            user_id=user.user_id, application_id=app_id, amr=amr, auth_time=auth_time,
            ttl_seconds=ttl, now=now, extra_claims=ext)
        new_id = str(uuid.uuid4())
        refresh = sign_refresh_token(core.signer, new_id, user_id=user.user_id,
                                     application_id=app_id, session_id=session_id, amr=amr,
                                     auth_time=auth_time, expires_at=family_exp, now=now,
                                     extra_claims=ext)
        id_token = sign_id_token(core.signer, user_id=user.user_id, application_id=app_id,
                                 session_id=session_id, amr=amr, auth_time=auth_time,
                                 ttl_seconds=ttl, now=now, extra_claims=ext)
        async with core.hot.transaction() as tx:
            rotated = await hq.rotate_refresh(tx, session_id=session_id, old_id=old_id,
                                              new_id=new_id, expires_at=float(family_exp))
            if rotated:
                await audit.hot_record(tx, event="token_refresh", outcome="success", now=now,
                                       application_id=app_id, user_id=user.user_id,
                                       authenticator=None, client_ip=caller.client_ip)
        if not rotated:
            # A concurrent redemption of the same token won the row: this
            # one is the second use.
            await self._reused(session_id, app_id, user.user_id, caller, now)
        return Refreshed(access_token=access, id_token=id_token, refresh_token=refresh)

    async def _reused(self, session_id: str, app_id: str, user_id: str, caller: Caller,
                      now: float) -> None:
        async with self.core.hot.transaction() as tx:
            await hq.revoke_session(tx, session_id=session_id, now=now)
            await audit.hot_record(tx, event="token_refresh", outcome="failure",
                                   reason="refresh_token_reused", now=now,
                                   application_id=app_id, user_id=user_id,
                                   authenticator=None, client_ip=caller.client_ip)
        raise Unauthenticated("The refresh token was already used; the session is revoked.",
                              reason="refresh_token_reused")


__all__ = ["REFRESH_TYP", "Family", "RefreshFlow", "Refreshed", "sign_id_token",
           "sign_refresh_token", "start_family"]
