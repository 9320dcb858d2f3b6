"""Administration of an application's OpenID providers (OidcProviderService)."""

from __future__ import annotations

import re
import secrets
import string

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from authcore.errors import AlreadyExists, InvalidArgument, NotFound
from authcore.flows.context import Core
from authcore.flows.directory import get_application
from authcore.flows.oidc import issuer_violation, secret_aad
from authcore.store.models import OidcProvider
from authcore.v1 import oidc_providers_pb2 as pb

DEFAULT_SCOPES = ("openid", "email", "profile")
# LoginID's providerIds look like BSFVV3JL84FROR80LOLQ9RA1.
_ID_ALPHABET = string.ascii_uppercase + string.digits
_ID_LENGTH = 24
_GIVEN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")  # RFC 6749 3.3 scope-token
MAX_SCOPES = 32


def _invalid(field: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f"{field} {problem}.", reason="invalid_field",
                           field_violations=[(field, problem)])


def new_provider_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


def provider_message(p: OidcProvider) -> pb.OidcProvider:
    created = Timestamp()
    created.FromNanoseconds(int(p.created_at * 1e9))
    return pb.OidcProvider(provider_id=p.id, application_id=p.application_id, issuer=p.issuer,
                           client_id=p.client_id, has_client_secret=p.client_secret is not None,
                           scopes=list(p.scopes), name=p.name, created_at=created,
                           entrust_redirect_uri=p.entrust_redirect_uri or "")


class OidcProviderAdmin:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def create(self, req: pb.CreateOidcProviderRequest) -> pb.CreateOidcProviderResponse:
        provider_id = req.provider_id.strip()
        if provider_id and not _GIVEN_ID.fullmatch(provider_id):
            raise _invalid("providerId", "must be 1-64 letters, digits, '-' or '_'")
        issuer = req.issuer.strip()
        problem = issuer_violation(issuer) if issuer else "is required"
        if problem or len(issuer) > 2048:
            raise _invalid("issuer", problem or "is too long")
        client_id = req.client_id.strip()
        if not client_id or len(client_id) > 255:
            raise _invalid("clientId", "is required (at most 255 characters)")
        if len(req.client_secret) > 4096:
            raise _invalid("clientSecret", "is too long")
        scopes = list(dict.fromkeys(req.scopes)) or list(DEFAULT_SCOPES)
        if "openid" not in scopes or len(scopes) > MAX_SCOPES \
                or not all(_SCOPE.fullmatch(s) for s in scopes):
            raise _invalid("scopes", "must include openid and be valid scope names")
        if len(req.name) > 255:
            raise _invalid("name", "is too long")
        entrust_redirect_uri = req.entrust_redirect_uri.strip() or None
        if entrust_redirect_uri is not None:
            # The code goes there: an absolute URL the provider has
            # registered, never a fragment (RFC 6749 3.1.2).
            problem = issuer_violation(entrust_redirect_uri.split("?", 1)[0])
            if problem or "#" in entrust_redirect_uri or len(entrust_redirect_uri) > 2048:
                raise _invalid("entrustRedirectUri", problem or "must be a URL without a "
                               "fragment, at most 2048 characters")
        provider_id = provider_id or new_provider_id()
        now = self.core.clock()
        row = OidcProvider(
            id=provider_id, application_id="", issuer=issuer, client_id=client_id,
            # Sealed under the row's id: a secret copied to another provider
            # row does not open there. Never logged, never returned.
            client_secret=self.core.sealer.seal(req.client_secret.encode(),
                                                aad=secret_aad(provider_id))
            if req.client_secret else None,
            scopes=scopes, name=req.name or issuer, created_at=now,
            entrust_redirect_uri=entrust_redirect_uri)
        try:
            async with self.core.write() as db:
                app = await get_application(db, req.application_id)
                row.application_id = app.id
                if await db.get(OidcProvider, provider_id) is not None:
                    raise _exists()
                if entrust_redirect_uri is not None and await db.scalar(
                        select(OidcProvider.id).where(
                            OidcProvider.application_id == app.id,
                            OidcProvider.entrust_redirect_uri.is_not(None)).limit(1)):
                    # Entrust's challenge names no provider: one per application.
                    raise AlreadyExists("The application offers another provider to Entrust "
                                        "IDP; delete it first.",
                                        reason="entrust_idp_provider_exists")
                db.add(row)
        except IntegrityError:
            raise _exists() from None
        return pb.CreateOidcProviderResponse(provider=provider_message(row))

    async def list(self, req: pb.ListOidcProvidersRequest) -> pb.ListOidcProvidersResponse:
        async with self.core.read() as db:
            app = await get_application(db, req.application_id)
            rows = (await db.execute(select(OidcProvider).where(
                OidcProvider.application_id == app.id).order_by(
                OidcProvider.created_at, OidcProvider.id))).scalars().all()
        return pb.ListOidcProvidersResponse(providers=[provider_message(r) for r in rows])

    async def delete(self, req: pb.DeleteOidcProviderRequest) -> pb.DeleteOidcProviderResponse:
        async with self.core.write() as db:
            app = await get_application(db, req.application_id)
            result = await db.execute(delete(OidcProvider).where(
                OidcProvider.id == req.provider_id[:64], OidcProvider.application_id == app.id))
            if not getattr(result, "rowcount", 0):
                raise NotFound("The OIDC provider was not found.", reason="provider_not_found")
        return pb.DeleteOidcProviderResponse()


def _exists() -> AlreadyExists:
    return AlreadyExists("An OIDC provider with that providerId exists.",
                         reason="provider_exists")
