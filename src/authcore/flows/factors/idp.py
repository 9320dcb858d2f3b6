"""IDP: sign in at the application's external OpenID provider.

The challenge answers `redirectUrl`, the provider's authorization URL with a
fresh state, nonce and PKCE S256 challenge (verify/oidc); the challenge row
keeps the state's digest, the nonce and the verifier sealed under the state,
so it is single-use and expires like every challenge. The application's page
at the provider's `entrust_redirect_uri` gets the browser back and completes
with `response` = that callback URL (or its query). `finish` checks the
state, exchanges the code (flows/oidc.RelyingParty, async HTTP), validates
the ID token (signature by the provider's JWKS, iss, aud, nonce, expiry) and
accepts it only for the user who started the challenge: a stored link of
(provider, sub) to that user, else the user's own email when both the
provider (`email_verified`) and authcore (`email_verified_at`) vouch for it,
as LoginID's OIDC login decided (flows/oidc_login.py); that match is then
linked. Anyone else's identity is a failure, counted on IDP.

The provider being unreachable is 503 and leaves the challenge as it was:
no answer was judged.
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
from typing import Any

from authcore.crypto.seal import SealError
from authcore.errors import FailedPrecondition, InvalidArgument, Unauthenticated, Unavailable
from authcore.flows.context import Core
from authcore.flows.factors.base import Answer, Effect, FactorContext, Started, StartInput
from authcore.flows.oidc import MAX_EMAIL, RelyingParty, secret_aad
from authcore.identifiers import email_key
from authcore.store.hot import HotTx
from authcore.store.hot import queries as hq
from authcore.store.hot import statements as q
from authcore.store.hot.queries import AppRow, OidcProviderRow
from authcore.v1 import authentication_pb2 as authn
from authcore.verify.oidc import (
    OidcVerificationError,
    VerifiedIdToken,
    generate_authorization_request,
    state_digest,
    verify_authorization_response,
)

log = logging.getLogger(__name__)

_IDP_TYPES = frozenset({"IDP", "IDP_AND_SECONDFACTOR"})


def _verifier_aad(state_hash: str) -> bytes:
    # Bound to this challenge's state: a sealed verifier copied into another
    # challenge's record does not open there.
    return b"entrust_idp:" + state_hash.encode()


def _unavailable() -> Unavailable:
    return Unavailable("The OpenID provider could not be used.", reason="provider_unavailable")


async def entrust_provider(ctx: FactorContext) -> OidcProviderRow | None:
    app_id = ctx.app.id
    return await ctx.once("idp_provider", lambda: hq.entrust_idp_provider(ctx.core.hot, app_id))


async def offered(core: Core, app: AppRow) -> bool:
    """Whether the application offers IDP to anyone (a ghost too)."""
    return "IDP" in app.authenticators and await hq.entrust_idp_provider(
        core.hot, app.id) is not None


class IdpFactor:
    name = "IDP"

    def __init__(self, rp: RelyingParty | None = None) -> None:
        # One per process: discovery and JWKS caches (flows/oidc.py).
        self.rp = rp or RelyingParty()

    async def available(self, ctx: FactorContext) -> bool:
        # Nothing to enrol: whoever the provider vouches for as this user
        # (link or verified email) can sign in; `finish` decides that. Every
        # query asks every factor: no read for applications without IDP.
        if not _IDP_TYPES.intersection(ctx.app.authenticators):
            return False
        return await entrust_provider(ctx) is not None

    async def start(self, ctx: FactorContext, inp: StartInput) -> Started:
        return await self.start_for(ctx.core, await entrust_provider(ctx))

    async def start_for(self, core: Core, provider: OidcProviderRow | None) -> Started:
        """The challenge for whoever it is, a ghost included (the user plays
        no part until the callback)."""
        if provider is None or not provider.entrust_redirect_uri:
            raise FailedPrecondition("The application offers no OpenID provider.",
                                     reason="authenticator_not_enrolled")
        meta = await self.rp.metadata(provider.issuer)
        state = secrets.token_urlsafe(32)
        request = generate_authorization_request(
            authorization_endpoint=meta.authorization_endpoint, client_id=provider.client_id,
            redirect_uri=provider.entrust_redirect_uri, scopes=provider.scopes, state=state)
        digest = state_digest(state)
        sealed = core.sealer.seal(request.code_verifier.encode(), aad=_verifier_aad(digest))
        return Started(
            state={"provider_id": provider.id, "state_hash": digest, "nonce": request.nonce,
                   "redirect_uri": provider.entrust_redirect_uri,
                   "verifier": base64.b64encode(sealed).decode()},
            response=authn.AuthenticatedResponse(redirect_url=request.url),
        )

    async def finish(
        self, ctx: FactorContext, state: dict[str, Any], answer: Answer
    ) -> Effect | None:
        provider, verified = await self.verify_callback(ctx.core, ctx.app, ctx.now, state,
                                                        answer)
        return await self._match(ctx, provider, verified)

    async def verify_callback(
        self, core: Core, app: AppRow, now: float, state: dict[str, Any], answer: Answer
    ) -> tuple[OidcProviderRow, VerifiedIdToken]:
        """The provider's word on who signed in, from the callback in
        `answer.response`; whose identity that is, is the caller's question."""
        if not answer.response:
            raise InvalidArgument("response must carry the provider's callback URL or query.",
                                  reason="missing_field",
                                  field_violations=[("response", "is required")])
        provider = await hq.oidc_provider_of_app(
            core.hot, provider_id=str(state.get("provider_id", "")), app_id=app.id)
        if provider is None:
            # Deleted since the challenge: nobody can vouch for the answer.
            raise OidcVerificationError("provider_not_found", "the provider was deleted")
        try:
            code = verify_authorization_response(
                response=answer.response, state_digest_expected=str(state.get("state_hash")),
                issuer=provider.issuer).code
        except OidcVerificationError as exc:
            if exc.reason == "malformed_response":
                raise InvalidArgument(
                    "response must be the callback URL or query with one code and one state.",
                    reason="invalid_field",
                    field_violations=[("response", exc.message)]) from None
            raise
        try:
            verifier = core.sealer.open(base64.b64decode(str(state["verifier"])),
                                        aad=_verifier_aad(str(state["state_hash"]))).decode()
        except (SealError, KeyError, ValueError, binascii.Error):
            raise OidcVerificationError("invalid_state", "the verifier does not open") from None
        secret = self._secret(core, provider)
        meta = await self.rp.metadata(provider.issuer)
        try:
            tokens = await self.rp.exchange_code(
                meta, client_id=provider.client_id, client_secret=secret, code=code,
                redirect_uri=str(state.get("redirect_uri")), code_verifier=verifier)
        except Unauthenticated as exc:
            # A code that is wrong, used already (a replay) or not ours.
            raise OidcVerificationError(exc.reason, exc.message) from None
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise OidcVerificationError("missing_id_token", "the provider sent no ID token")
        try:
            verified = await self.rp.verify(meta, id_token=id_token,
                                            client_id=provider.client_id,
                                            nonce=str(state.get("nonce")), now=now)
        except OidcVerificationError as exc:
            raise OidcVerificationError(f"id_token_{exc.reason}"[:64], exc.message) from None
        return provider, verified

    @staticmethod
    def _secret(core: Core, provider: OidcProviderRow) -> str | None:
        if provider.client_secret is None:
            return None
        try:
            return core.sealer.open(provider.client_secret,
                                        aad=secret_aad(provider.id)).decode()
        except (SealError, UnicodeDecodeError):
            # The operator's to fix (set the secret again): 503, not a 500.
            log.error("oidc provider %s: the stored client secret does not open", provider.id)
            raise _unavailable() from None

    @staticmethod
    async def _match(ctx: FactorContext, provider: OidcProviderRow,
                     verified: VerifiedIdToken) -> Effect | None:
        """None when the identity is linked to this user; the link's insert
        when it is this user by a doubly verified email; else a failure."""
        hot, user_pk = ctx.core.hot, ctx.user.pk
        linked = await hq.oidc_link_user(hot, provider_id=provider.id,
                                         subject=verified.subject)
        if linked is not None:
            if linked != user_pk:
                raise OidcVerificationError("identity_mismatch",
                                            "the identity is linked to another user")
            return None
        email = verified.email
        key, proved_at = await hq.user_email_proof(hot, user_pk)
        if (not email or not verified.email_verified or len(email) > MAX_EMAIL
                or "\0" in email or proved_at is None or key is None
                or email_key(email) != key):
            raise OidcVerificationError("identity_mismatch",
                                        "the identity is not this user's")
        link = {"provider_id": provider.id, "subject": verified.subject, "user_pk": user_pk,
                "now": ctx.now}

        async def add_link(tx: HotTx) -> None:
            await tx.execute(q.INSERT_OIDC_LINK, link)

        return add_link
