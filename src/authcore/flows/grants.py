"""LoginID grant tokens: what an application's backend lets its frontend do
for one username (`POST /fido2/v2/mgmt/grant`).

A grant token is opaque (32 random bytes, as LoginID's are) and names a
challenge row (`authenticator` GRANT): the row holds the username and the
grants, only the token's SHA-256 is stored, and it expires. It is not a
session: `tokens.sessions.verify_session` refuses it (no JWT), so it opens
nothing outside LoginID's client API, and only for the grants it lists.

A session JWT from the user's own sign-in holds every grant (`ALL_GRANTS`):
the user may manage their own passkeys and profile. A grant token may name a
user who does not exist yet (`reg:write` for a first passkey, even where the
application does not allow self sign-up: the backend vouches for the name).

`auth:write` signs the user in (MFA `third-party/verify`): that use claims
the row, so a grant token authenticates at most once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from authcore.errors import InvalidArgument, PermissionDenied, Unauthenticated
from authcore.identifiers import username_key

if TYPE_CHECKING:
    from authcore.flows.context import Core

GRANT = "GRANT"
PASSKEY_READ = "passkey:read"
PASSKEY_WRITE = "passkey:write"
PROFILE_READ = "profile:read"
PROFILE_WRITE = "profile:write"
REG_WRITE = "reg:write"
AUTH_WRITE = "auth:write"
ALL_GRANTS = frozenset({PASSKEY_READ, PASSKEY_WRITE, PROFILE_READ, PROFILE_WRITE, REG_WRITE,
                        AUTH_WRITE})
# Long enough to hand to a browser and use, short enough that a leaked one
# is soon worthless: it cannot be revoked except by deleting the user.
GRANT_TTL_SECONDS = 300


@dataclass(frozen=True)
class Rights:
    """What the caller's token lets it do, for which username."""

    username: str
    grants: frozenset[str]
    application_id: str
    # The grant token's challenge row; None for a session JWT.
    grant_id: str | None = None
    # The session row of a session JWT; None for a grant token.
    session_id: str | None = None

    def require(self, needed: str) -> None:
        if needed not in self.grants:
            raise missing_grant(needed)

    def covers(self, username: str) -> bool:
        return username_key(username) == username_key(self.username)


def missing_grant(needed: str) -> PermissionDenied:
    return PermissionDenied(f"The token does not grant {needed}.", reason="missing_grant")


def valid_grants(names: Iterable[str]) -> frozenset[str]:
    out = frozenset(names)
    if not out:
        raise InvalidArgument("grants is required.", reason="missing_field",
                              field_violations=[("grants", "is required")])
    unknown = sorted(out - ALL_GRANTS)
    if unknown:
        raise InvalidArgument(f"Unknown grants: {', '.join(unknown)}.", reason="invalid_field",
                              field_violations=[("grants", f"must be among "
                                                 f"{', '.join(sorted(ALL_GRANTS))}")])
    return out


def looks_like_grant_token(token: str) -> bool:
    """A session JWT has three dot-separated parts; a grant token has none."""
    return "." not in token


async def mint_grant_token(core: Core, db: AsyncSession, *, application_id: str,
                           user_pk: str | None, username: str, grants: frozenset[str],
                           now: float, ttl_seconds: int = GRANT_TTL_SECONDS) -> tuple[str, float]:
    """A new grant token and its expiry, written in `db`'s transaction."""
    return await core.challenges.create(
        db, application_id=application_id, user_pk=user_pk, authenticator=GRANT,
        stage="grant", state={"username": username, "grants": sorted(grants)},
        ttl_seconds=ttl_seconds, now=now)


async def verify_grant_token(core: Core, db: AsyncSession, token: str, *,
                             application_id: str | None, now: float) -> Rights:
    """The rights a live grant token gives (401 when unknown, used or
    expired). `application_id` is the one the request is for, when it names
    one: a token of another application is as good as none."""
    record = await core.challenges.load(db, token=token, now=now)
    if record.authenticator != GRANT or (application_id is not None
                                         and record.application_id != application_id):
        raise Unauthenticated("The token is invalid or has expired.", reason="invalid_token")
    return Rights(username=str(record.state.get("username", "")),
                  grants=frozenset(record.state.get("grants") or ()),
                  application_id=record.application_id, grant_id=record.id)


async def consume_grant(core: Core, db: AsyncSession, rights: Rights, *, now: float) -> None:
    """Use the grant token up (once only: a second use gets 401)."""
    if rights.grant_id is None:
        raise Unauthenticated("A grant token is required.", reason="invalid_token")
    await core.challenges.claim(db, challenge_id=rights.grant_id, now=now)


def session_rights(*, username: str, application_id: str, session_id: str) -> Rights:
    """A session JWT's rights: all of them, over its own user."""
    return Rights(username=username, grants=ALL_GRANTS, application_id=application_id,
                  session_id=session_id)


__all__ = [
    "ALL_GRANTS",
    "AUTH_WRITE",
    "GRANT",
    "PASSKEY_READ",
    "PASSKEY_WRITE",
    "PROFILE_READ",
    "PROFILE_WRITE",
    "REG_WRITE",
    "Rights",
    "consume_grant",
    "looks_like_grant_token",
    "mint_grant_token",
    "missing_grant",
    "session_rights",
    "valid_grants",
    "verify_grant_token",
]
