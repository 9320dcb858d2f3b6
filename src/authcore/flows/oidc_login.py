"""LoginID's OIDC login (/fido2/v2/oidc/{providerId}/login and /callback).

The start checks where the browser is to go back to (one of the
application's WebAuthn origins: no open redirect), writes a single-use,
expiring challenge (authenticator IDP, stage `oidc_login`) whose token is
the OAuth `state`, and redirects to the provider with a nonce and a PKCE
S256 challenge. The PKCE verifier is stored sealed, bound to the state.

The callback uses the state up before anything else (a failed or replayed
callback cannot try again), exchanges the code, validates the ID token
(flows/oidc.RelyingParty, verify/oidc), then finds the user: a stored link
(provider, sub); else the one existing user whose email or username is the
token's email, only when both sides vouch for the address (the provider
says `email_verified` and the account's own address was proved here,
`users.email_verified_at`); else a new user when the application allows
self sign-up. An account that holds the address unproved is neither linked
nor duplicated: the login is refused (403 `email_not_verified`) until its
owner proves the address. It issues the LoginID session JWT (factor IDP,
with the `username` claim) and redirects to the redirectUri with
`#jwtAccess=...&userId=...`. Every failure is a LoginID error body, never a
redirect: the redirectUri is only trusted once the state that carries it is.

Two first logins of one new subject at once (a double-clicked button, two
tabs) both find no link; the one whose insert loses the unique key rolls
back whole and runs the lookup again, which now finds the winner's user and
link, so both sign in as the same user.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.crypto.seal import SealError
from authcore.errors import (
    AlreadyExists,
    AuthcoreError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from authcore.flows import audit, signup
from authcore.flows.authentication import Caller
from authcore.flows.challenges import token_hash
from authcore.flows.context import Core
from authcore.flows.directory import get_application
from authcore.flows.loginid_common import app_id_from_host, session_grant, username_claim
from authcore.flows.oidc import MAX_EMAIL, RelyingParty, secret_aad
from authcore.flows.policy import AppPolicy, WebAuthnPolicy, require_allowed
from authcore.identifiers import IdentifierError, email_key, enforce_username, username_key
from authcore.store.models import Application, OidcLink, OidcProvider, User
from authcore.tokens.sessions import issue_session
from authcore.v1 import fido2_oidc_pb2 as pb
from authcore.verify.oidc import (
    OidcVerificationError,
    VerifiedIdToken,
    generate_authorization_request,
)

log = logging.getLogger(__name__)

IDP = "IDP"
IDP_FACTORS = (IDP,)
# The session's amr: RFC 8176 has no value for "a federated login"; "fed"
# is what several providers (and Zitadel's docs) use.
IDP_AMR = ("fed",)
STAGE = "oidc_login"
MAX_REDIRECT_URI = 2048
MAX_PARAM = 2048
# Tries of the sign-in transaction when a concurrent login wrote the same
# user or link first: the second try finds them. More than two only when
# logins of several subjects with one new email race as well.
SIGN_IN_ATTEMPTS = 3
_ERROR_CODE = re.compile(r"[a-z_]{1,64}")


def _vouched_email(verified: VerifiedIdToken) -> str | None:
    """The token's email when the provider says it is verified and it fits
    an account; else None (as if the token had none)."""
    email = verified.email
    if not email or not verified.email_verified or len(email) > MAX_EMAIL or "\0" in email:
        return None
    return email


def _verifier_aad(state: str) -> bytes:
    # Bound to this state only: a sealed verifier copied into another
    # challenge fails to open there.
    return b"oidc_login:" + token_hash(state).encode()


def callback_url(base_url: str, provider_id: str) -> str:
    return f"{base_url.rstrip('/')}/fido2/v2/oidc/{provider_id}/callback"


def _missing(field: str) -> InvalidArgument:
    return InvalidArgument(f"{field} is required.", reason="missing_field",
                           field_violations=[(field, "is required")])


def _required(value: str, field: str, limit: int = MAX_PARAM) -> str:
    if not value:
        raise _missing(field)
    if len(value) > limit:
        raise InvalidArgument(f"{field} is too long.", reason="invalid_field",
                              field_violations=[(field, f"at most {limit} characters")])
    return value


def _provider_not_found() -> NotFound:
    return NotFound("The OIDC provider was not found.", reason="provider_not_found")


def _invalid_state() -> Unauthenticated:
    return Unauthenticated("The state is invalid, expired or was already used.",
                           reason="invalid_state")


def _origin(scheme: str, host: str, port: int | None) -> str:
    default = {"https": 443, "http": 80}.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def _normal_origin(origin: str) -> str | None:
    parts = urlsplit(origin.strip())
    try:
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    return _origin(parts.scheme.lower(), parts.hostname.lower(), port)


def check_redirect_uri(redirect_uri: str, origins: tuple[str, ...]) -> str:
    """The redirectUri, when it is an absolute URL on one of the origins and
    carries no fragment (the token goes there) or user info; 400 otherwise."""
    value = _required(redirect_uri.strip(), "redirectUri", MAX_REDIRECT_URI)
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        port = -1
    bad = (parts.scheme.lower() not in ("https", "http") or not parts.hostname or port == -1
           or parts.fragment or "#" in value or parts.username is not None
           or parts.password is not None or any(c in value for c in "\r\n\t\\ "))
    allowed = {o for o in map(_normal_origin, origins) if o}
    if bad or _origin(parts.scheme.lower(), (parts.hostname or "").lower(),
                      None if port == -1 else port) not in allowed:
        raise InvalidArgument("redirectUri is not on an origin of the application.",
                              reason="redirect_uri_not_allowed",
                              field_violations=[("redirectUri", "not an allowed origin")])
    return value


class OidcLoginFlow:
    def __init__(self, core: Core, rp: RelyingParty | None = None) -> None:
        self.core = core
        self.rp = rp or RelyingParty()

    async def _provider(self, db: AsyncSession, provider_id: str, caller: Caller
                        ) -> tuple[OidcProvider, Application]:
        provider = await db.get(OidcProvider, provider_id[:64])
        if provider is None:
            raise _provider_not_found()
        # A call to an application's own host (LoginID's SDK style) can only
        # reach that application's providers.
        from_host = app_id_from_host(caller.host)
        if from_host and from_host != provider.application_id.lower():
            raise _provider_not_found()
        return provider, await get_application(db, provider.application_id)

    async def _failed(self, error: AuthcoreError, *, caller: Caller, now: float,
                      application_id: str | None, event: str = "oidc_login") -> None:
        async with self.core.write() as db:
            audit.record(db, event=event, outcome="failure", reason=error.reason[:64],
                         now=now, application_id=application_id, authenticator=IDP,
                         client_ip=caller.client_ip)

    # -- start ---------------------------------------------------------------

    async def start(self, req: pb.StartOidcLoginRequest, caller: Caller
                    ) -> pb.StartOidcLoginResponse:
        provider_id = _required(req.provider_id, "providerId", 64)
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        async with self.core.read() as db:
            provider, app = await self._provider(db, provider_id, caller)
        try:
            redirect_uri = check_redirect_uri(
                req.redirect_uri, WebAuthnPolicy.from_settings(app.settings).origins)
            require_allowed(app.authenticators, IDP)
        except AuthcoreError as err:
            await self._failed(err, caller=caller, now=now, application_id=app.id,
                               event="oidc_login_start")
            raise
        meta = await self.rp.metadata(provider.issuer)
        state = secrets.token_urlsafe(32)
        callback = callback_url(self.core.settings.base_url, provider.id)
        request = generate_authorization_request(
            authorization_endpoint=meta.authorization_endpoint, client_id=provider.client_id,
            redirect_uri=callback, scopes=provider.scopes, state=state)
        sealed = self.core.sealer.seal(request.code_verifier.encode(), aad=_verifier_aad(state))
        policy = AppPolicy.from_json(app.settings)
        async with self.core.write() as db:
            await self.core.challenges.create(
                db, application_id=app.id, user_pk=None, authenticator=IDP, stage=STAGE,
                state={"provider_id": provider.id, "redirect_uri": redirect_uri,
                       "nonce": request.nonce, "callback": callback,
                       "verifier": base64.b64encode(sealed).decode()},
                ttl_seconds=policy.challenge_seconds, now=now, token=state)
            audit.record(db, event="oidc_login_start", outcome="issued", now=now,
                         application_id=app.id, authenticator=IDP,
                         client_ip=caller.client_ip)
        return pb.StartOidcLoginResponse(location=request.url, state=state)

    # -- callback ------------------------------------------------------------

    async def finish(self, req: pb.FinishOidcLoginRequest, caller: Caller
                     ) -> pb.FinishOidcLoginResponse:
        provider_id = _required(req.provider_id, "providerId", 64)
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        async with self.core.read() as db:
            provider, app = await self._provider(db, provider_id, caller)
        try:
            return await self._finish(req, provider, app, caller, now)
        except AuthcoreError as err:
            await self._failed(err, caller=caller, now=now, application_id=app.id)
            raise

    async def _finish(self, req: pb.FinishOidcLoginRequest, provider: OidcProvider,
                      app: Application, caller: Caller, now: float
                      ) -> pb.FinishOidcLoginResponse:
        state_token = req.state
        if req.error:
            # The provider's answer (RFC 6749 4.1.2.1). The state, if it is
            # ours, is used up too; the error code is echoed only when it
            # looks like one (it is attacker-controlled text).
            if state_token and len(state_token) <= MAX_PARAM:
                await self._claim(state_token, provider, now, quiet=True)
            code = req.error if _ERROR_CODE.fullmatch(req.error) else "error"
            raise Unauthenticated(f"The OpenID provider refused the login: {code}.",
                                  reason=f"provider_{code}"[:64])
        _required(state_token, "state")
        code = _required(req.code, "code")
        state = await self._claim(state_token, provider, now)
        if req.iss and req.iss != provider.issuer:
            # RFC 9207: the response came from another provider (mix-up).
            raise Unauthenticated("The authorization response names another issuer.",
                                  reason="issuer_mismatch")
        try:
            verifier = self.core.sealer.open(base64.b64decode(state["verifier"]),
                                             aad=_verifier_aad(state_token)).decode()
        except (SealError, KeyError, ValueError):
            raise _invalid_state() from None
        secret = None
        if provider.client_secret is not None:
            try:
                secret = self.core.sealer.open(provider.client_secret,
                                               aad=secret_aad(provider.id)).decode()
            except (SealError, UnicodeDecodeError):
                # Sealed under another master key, or damaged: the operator's
                # to fix (set the secret again), so 503 like any unusable
                # provider, not a 500.
                log.error("oidc provider %s: the stored client secret does not open",
                          provider.id)
                raise Unavailable("The OpenID provider could not be used.",
                                  reason="provider_unavailable") from None
        meta = await self.rp.metadata(provider.issuer)
        tokens = await self.rp.exchange_code(
            meta, client_id=provider.client_id, client_secret=secret, code=code,
            redirect_uri=str(state["callback"]), code_verifier=verifier)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise Unauthenticated("The OpenID provider sent no ID token.",
                                  reason="missing_id_token")
        try:
            verified = await self.rp.verify(meta, id_token=id_token,
                                            client_id=provider.client_id,
                                            nonce=str(state["nonce"]), now=now)
        except OidcVerificationError as exc:
            raise Unauthenticated("The ID token is invalid.",
                                  reason=f"id_token_{exc.reason}"[:64]) from None
        # Asked again at issue time, before anything is written.
        granted = session_grant(app, IDP_FACTORS)
        policy = AppPolicy.from_json(app.settings)
        for _ in range(SIGN_IN_ATTEMPTS):
            try:
                async with self.core.write() as db:
                    user = await self._user(db, provider, verified, policy, now)
                    issued = await issue_session(
                        db, self.core.signer, user_pk=user.pk, user_id=user.user_id,
                        grant=granted, amr=IDP_AMR, ttl_seconds=policy.session_seconds,
                        now=now, extra_claims=username_claim(user.user_id))
                    audit.record(db, event="oidc_login", outcome="success", now=now,
                                 application_id=app.id, user_id=user.user_id,
                                 authenticator=IDP, client_ip=caller.client_ip)
            except IntegrityError:
                # A concurrent first login of this subject (or of this new
                # email) inserted the same user or link first; this
                # transaction rolled back whole, so nothing of it is left.
                # The next try reads again and finds what the other wrote.
                # (PostgreSQL only: SQLite's writers queue on one lock, so
                # the second already sees the first's rows.)
                log.info("oidc login: lost a race to link provider %s; reading again",
                         provider.id)
                continue
            fragment = urlencode({"jwtAccess": issued.token, "userId": user.user_id})
            return pb.FinishOidcLoginResponse(
                location=f"{state['redirect_uri']}#{fragment}", jwt_access=issued.token,
                user_id=user.user_id)
        raise AlreadyExists("The account is being created by another login; retry.",
                            reason="concurrent_link")

    async def _claim(self, token: str, provider: OidcProvider, now: float, *,
                     quiet: bool = False) -> dict[str, Any]:
        """Use the state up, first of all: whatever happens next, it cannot
        be presented again."""
        try:
            async with self.core.write() as db:
                record = await self.core.challenges.load(db, token=token, now=now)
                if (record.authenticator != IDP or record.stage != STAGE
                        or record.state.get("provider_id") != provider.id
                        or record.application_id != provider.application_id):
                    raise _invalid_state()
                await self.core.challenges.claim(db, challenge_id=record.id, now=now)
                return record.state
        except Unauthenticated:
            if quiet:
                return {}
            raise _invalid_state() from None

    async def _user(self, db: AsyncSession, provider: OidcProvider,
                    verified: VerifiedIdToken, policy: AppPolicy, now: float) -> User:
        link = await db.get(OidcLink, (provider.id, verified.subject))
        if link is not None:
            user = await db.get(User, link.user_pk)
            if user is None or not user.active:
                raise PermissionDenied("The user is disabled.", reason="user_disabled")
            link.last_login_at = now
            return user
        user = await self._by_verified_email(db, verified)
        if user is None:
            user = await self._sign_up(db, provider, verified, policy, now)
        elif not user.active:
            raise PermissionDenied("The user is disabled.", reason="user_disabled")
        db.add(OidcLink(provider_id=provider.id, subject=verified.subject, user_pk=user.pk,
                        created_at=now, last_login_at=now))
        return user

    @staticmethod
    async def _by_verified_email(db: AsyncSession, verified: VerifiedIdToken) -> User | None:
        """The one user whose email (or email-shaped username) is the
        token's, when both sides vouch for the address: the provider
        (`email_verified`) and authcore (the account's own email, proved by
        a code: `email_verified_at`). Either alone is not enough. Without
        the provider's word, whoever registers the address there would get
        the account. Without authcore's, whoever registered the account
        here with someone else's address (never proved) would keep it once
        the address's owner signs in at the provider and is linked to it;
        and an owner who never proved the address would lose it to whoever
        controls it at the provider."""
        email = _vouched_email(verified)
        if email is None:
            return None
        key = email_key(email)
        rows = (await db.execute(select(User).where(
            or_(User.email_key == key, User.user_key == username_key(email)),
            User.pending_since.is_(None)).limit(3))).scalars().all()
        found = {u.pk: u for u in rows}
        if len(found) > 1:
            raise PermissionDenied("Several accounts have this email address.",
                                   reason="ambiguous_email")
        user = next(iter(found.values()), None)
        if user is not None and (user.email_key != key or user.email_verified_at is None):
            # Neither linked nor signed up beside it (a second account with
            # the address would make it ambiguous for every later login).
            # The caller proved the address at the provider, so telling
            # them an account holds it reveals nothing about a stranger.
            raise PermissionDenied(
                "An account with this email address has not verified it. Sign in to that "
                "account and verify the address, then sign in with the provider again.",
                reason="email_not_verified")
        return user

    async def _sign_up(self, db: AsyncSession, provider: OidcProvider,
                       verified: VerifiedIdToken, policy: AppPolicy, now: float) -> User:
        if not policy.self_sign_up:
            raise PermissionDenied("No account is linked to this login, and the application "
                                   "does not allow sign-up.", reason="signup_not_allowed")
        email = _vouched_email(verified)
        username = self._new_username(provider, verified)
        # The provider proved the address: a sign-up that never did gives
        # the name up, as on a provisioning (flows/signup.py).
        await signup.drop_unproved(db, user_id=username)
        user = User(pk=str(uuid.uuid4()), user_id=username, email=email, active=True,
                    created_at=now, updated_at=now,
                    email_verified_at=now if email else None)
        db.add(user)
        await db.flush()
        return user

    @staticmethod
    def _new_username(provider: OidcProvider, verified: VerifiedIdToken) -> str:
        """The verified email (LoginID usernames are emails), else a name
        made of the provider and subject, which nobody else can claim."""
        candidates = []
        email = _vouched_email(verified)
        if email is not None:
            candidates.append(email)
        candidates.append(f"{provider.id}:{verified.subject}")
        candidates.append(f"{provider.id}:{token_hash(verified.subject)[:40]}")
        for name in candidates:
            try:
                value = enforce_username(name)
            except IdentifierError:
                continue
            if len(value) <= 255:
                return value
        raise PermissionDenied("No username can be made for this login.",
                               reason="invalid_username")
