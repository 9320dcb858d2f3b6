"""SPNEGO/Kerberos logon for Axidian's authenticateByWindowsToken.

The client sends `Authorization: Negotiate <base64 token>` (RFC 4559). The
token is accepted with python-gssapi (MIT Kerberos) using acceptor
credentials read from the configured keytab through the credential store
extension, so nothing process-wide (KRB5_KTNAME) is involved. One step must
complete the context, as Kerberos through SPNEGO does: the server keeps no
state between requests. MIT's replay cache refuses a token seen before.

The initiator principal `name@REALM` becomes the UserId `name` (matched
without regard to case) when REALM is accepted: one of
AUTHCORE_KERBEROS_REALMS, or, when that is empty, the realm of the acceptor's
own principal (realms compare exactly, as Kerberos does). Principals with an instance (`a/b@R`) or
escaped characters (enterprise names `a\\@b@R`) are refused.

gssapi is an optional extra (`pip install 'authcore[kerberos]'`, built
against MIT Kerberos' libkrb5-dev: no Linux wheels are published), imported
on first use. Without it this call answers 501 `kerberos_not_installed`
("Kerberos support is not installed on this server") and nothing else
changes.
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from authcore.axidian.v5 import logon_pb2 as pb
from authcore.config import Settings
from authcore.errors import AuthcoreError, Unauthenticated, Unimplemented
from authcore.flows import audit
from authcore.flows.authentication import Caller
from authcore.flows.context import Core
from authcore.flows.directory import get_active_user, get_application
from authcore.flows.policy import AppPolicy, grant, require_allowed
from authcore.store.models import User
from authcore.tokens.sessions import issue_session

if TYPE_CHECKING:
    import gssapi

log = logging.getLogger("authcore.kerberos")

SCHEME = "Negotiate"
CHALLENGE = {"http_header:WWW-Authenticate": SCHEME}
AMR = "kerberos"
# The application must allow EXTERNAL (authentication by another system, the
# Windows domain's KDC) for a Windows logon to yield its token.
FACTOR = "EXTERNAL"
# Windows caps a Kerberos token at 48,000 bytes (MaxTokenSize), 64,000 in base64.
MAX_HEADER_CHARS = 65_536
# The Kerberos 5 mechanism, and the OID Microsoft's SPNEGO uses for it.
KRB5_MECHS = frozenset({"1.2.840.113554.1.2.2", "1.2.840.48018.1.2.2"})
NTLMSSP = b"NTLMSSP\0"
NOT_CONFIGURED = "windows_auth_not_configured"
NOT_INSTALLED = "kerberos_not_installed"
INSTALL_HINT = "pip install 'authcore[kerberos]', which builds gssapi against libkrb5-dev"


@dataclass(frozen=True)
class Accepted:
    """A completed acceptor context: who, as whom, and the reply token."""

    initiator: str
    acceptor: str
    reply: bytes | None


class _BadToken(Exception):
    """The token was not accepted; the text is GSSAPI's (never the token)."""


class _NotConfigured(Exception):
    """The acceptor credentials could not be had; the text is for the log."""


# ------------------------------------------------------------------ parsing


def negotiate_token(authorization: str) -> bytes:
    """The SPNEGO token of `Negotiate <base64>`; 401 with the Negotiate
    challenge for anything else."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != SCHEME.lower() or not value.strip(" \t"):
        raise Unauthenticated("Windows authentication is required: send "
                              "'Authorization: Negotiate <token>'.",
                              reason="negotiate_required", metadata=CHALLENGE)
    value = value.strip(" \t")
    if len(value) > MAX_HEADER_CHARS:
        raise _invalid_token()
    try:
        token = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid_token() from None
    if not token:
        raise _invalid_token()
    if token.startswith(NTLMSSP):
        raise Unauthenticated("NTLM is not supported; use Kerberos.",
                              reason="ntlm_not_supported", metadata=CHALLENGE)
    return token


def split_principal(principal: str) -> tuple[str, str] | None:
    """`name@REALM` → (name, REALM); None for principals with an instance
    or escaped characters, or without a name or realm."""
    if "\\" in principal:
        return None
    name, at, realm = principal.rpartition("@")
    if not at or not name or not realm or "/" in name or "@" in name:
        return None
    return name, realm


def principal_realm(principal: str) -> str:
    _, at, realm = principal.rpartition("@")
    return realm if at else ""


def accepted_realms(settings: Settings, acceptor: str) -> frozenset[str]:
    """AUTHCORE_KERBEROS_REALMS, or else the acceptor principal's realm."""
    if settings.kerberos_realms:
        return frozenset(settings.kerberos_realms)
    realm = principal_realm(acceptor)
    return frozenset({realm} if realm else ())


def map_principal(initiator: str, realms: frozenset[str]) -> str:
    """The UserId of a client principal, or 401."""
    parts = split_principal(initiator)
    if parts is None:
        raise Unauthenticated("The Kerberos principal can't be mapped to a user.",
                              reason="principal_not_accepted", metadata=CHALLENGE)
    name, realm = parts
    if realm not in realms:
        raise Unauthenticated("The Kerberos realm is not accepted.",
                              reason="realm_not_accepted", metadata=CHALLENGE)
    return name


def _invalid_token() -> Unauthenticated:
    return Unauthenticated("The Kerberos token is invalid.", reason="invalid_kerberos_token",
                           metadata=CHALLENGE)


def _not_configured(message: str) -> Unimplemented:
    return Unimplemented(message, reason=NOT_CONFIGURED)


# ------------------------------------------------------------------ gssapi


_missing_logged = False


def _require_gssapi() -> None:
    global _missing_logged
    try:
        import gssapi  # noqa: F401
    except ImportError:
        if not _missing_logged:  # once per process: it won't change while running
            _missing_logged = True
            log.warning("authenticateByWindowsToken refused: python-gssapi is not "
                        "installed (%s)", INSTALL_HINT)
        raise Unimplemented("Kerberos support is not installed on this server.",
                            reason=NOT_INSTALLED) from None


def startup_warning(settings: Settings) -> str | None:
    """A keytab configured for a server without gssapi: said at start,
    without importing the library (find_spec only locates it)."""
    if settings.kerberos_keytab is None:
        return None
    try:
        if importlib.util.find_spec("gssapi") is not None:
            return None
    except ImportError:
        pass
    return ("AUTHCORE_KERBEROS_KEYTAB is set but Kerberos support is not installed: "
            f"authenticateByWindowsToken answers 501 until it is ({INSTALL_HINT})")


def _keytab(settings: Settings) -> Path:
    keytab = settings.kerberos_keytab
    if keytab is None:
        raise _not_configured("Windows authentication is not configured on this server "
                              "(no Kerberos keytab).")
    if not keytab.is_file() or not os.access(keytab, os.R_OK):
        log.warning("the Kerberos keytab %s is missing or not readable", keytab)
        raise _not_configured("Windows authentication is not available on this server "
                              "(its Kerberos keytab can't be read).")
    return keytab


def accept(keytab: Path, principal: str | None, token: bytes) -> Accepted:
    """Accept one SPNEGO (or bare Kerberos) token; blocking (file I/O, crypto)."""
    import gssapi
    from gssapi.exceptions import GeneralError
    from gssapi.raw.misc import GSSError

    try:
        name = (gssapi.Name(principal, gssapi.NameType.kerberos_principal)
                if principal else None)
        creds = gssapi.Credentials(usage="accept", name=name,
                                   store={"keytab": f"FILE:{keytab}"})
    except (GSSError, GeneralError) as exc:
        raise _NotConfigured(str(exc)) from None
    ctx = gssapi.SecurityContext(creds=creds, usage="accept")
    try:
        reply = ctx.step(token)
        if not ctx.complete:
            raise _BadToken("the context needs more than one step")
        if ctx.mech is None or ctx.mech.dotted_form not in KRB5_MECHS:
            raise _BadToken(f"mechanism {ctx.mech} is not Kerberos")
        return Accepted(initiator=str(ctx.initiator_name),
                        acceptor=_acceptor_name(ctx, creds), reply=reply or None)
    except (GSSError, GeneralError) as exc:
        raise _BadToken(str(exc)) from None


def _acceptor_name(ctx: gssapi.SecurityContext, creds: gssapi.Credentials) -> str:
    from gssapi.raw.misc import GSSError

    try:
        if ctx.target_name is not None:
            return str(ctx.target_name)
    except GSSError:
        pass
    return str(creds.name) if creds.name is not None else ""


# ------------------------------------------------------------------ the flow


async def directory_user(db: AsyncSession, name: str) -> User:
    """The active user named `name`, without regard to case: Windows names
    are case-insensitive, a ticket carries the name as the user typed it,
    and get_active_user matches the folded key (users.user_key)."""
    return await get_active_user(db, name)


async def windows_logon(core: Core, req: pb.AuthenticateByWindowsTokenRequest,
                        authorization: str, caller: Caller
                        ) -> pb.AuthenticateByWindowsTokenResponse:
    async with core.read() as db:
        app = await get_application(db, req.application_id)
    require_allowed(app.authenticators, FACTOR)
    token = negotiate_token(authorization or "")
    # Before the keytab: without the library no configuration would help.
    _require_gssapi()
    settings = core.settings
    keytab = _keytab(settings)
    await core.rate_limit(client_ip=caller.client_ip)
    try:
        accepted = await core.blocking(accept, keytab, settings.kerberos_principal, token)
    except _NotConfigured as exc:
        log.warning("Kerberos acceptor credentials from %s are unavailable: %s", keytab, exc)
        raise _not_configured("Windows authentication is not available on this server "
                              "(its Kerberos keytab has no usable key).") from None
    except _BadToken as exc:
        log.info("Kerberos token refused from %s: %s", caller.client_ip, exc)
        raise _invalid_token() from None

    now = core.clock()
    log_event = functools.partial(audit.record, event="logon", now=now,
                                  application_id=app.id, authenticator=AMR,
                                  client_ip=caller.client_ip)
    try:
        user_id = map_principal(accepted.initiator,
                                accepted_realms(settings, accepted.acceptor))
    except Unauthenticated as exc:
        log.info("Kerberos principal %s refused: %s", accepted.initiator, exc.reason)
        raise
    await core.rate_limit(user_key=user_id)
    refusal: AuthcoreError | None = None
    async with core.write() as db:
        try:
            user = await directory_user(db, user_id)
        except AuthcoreError as exc:
            log_event(db, outcome="refused", reason=exc.reason, user_id=user_id)
            refusal = exc
        else:
            policy = AppPolicy.from_json(app.settings)
            extra = ({"business_application": req.business_application}
                     if req.business_application else None)
            issued = await issue_session(
                db, core.signer, user_pk=user.pk, user_id=user.user_id,
                grant=grant(application_id=app.id, allowed=app.authenticators,
                            factors=(FACTOR,)),
                amr=[AMR], ttl_seconds=policy.session_seconds,
                now=now, extra_claims=extra,
            )
            log_event(db, outcome="success", user_id=user.user_id)
    if refusal is not None:
        raise refusal
    return pb.AuthenticateByWindowsTokenResponse(
        valid_properties_mask=5, token=issued.token, user_id=user.user_id,
        www_authenticate=(f"{SCHEME} {base64.b64encode(accepted.reply).decode()}"
                          if accepted.reply else ""),
    )
