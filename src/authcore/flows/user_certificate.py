"""USER_CERTIFICATE: the challenge, the mTLS endpoint's one-time code, and
the code's check at complete.

The challenge and the code are sealed (AES-GCM, crypto/seal) rather than
rows: the mTLS endpoint finds the application, the user and the challenge's
nonce in the challenge itself, and the complete finds the nonce, the user,
the certificate's fingerprint and the code challenge in the code. Nothing
about a code is stored, so nothing can leak from the store; a code is
single-use because it names its challenge's nonce, and the challenge is
used up by the first complete, right or wrong (flows/authentication.py).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any

from authcore.crypto.seal import Sealer, SealError
from authcore.errors import InvalidArgument, PermissionDenied, Unauthenticated
from authcore.flows import audit
from authcore.flows.context import Core
from authcore.flows.policy import app_policy
from authcore.flows.revocation import revocation_said
from authcore.store.hot import queries as hq
from authcore.verify.errors import VerificationError
from authcore.verify.revocation import RevocationError
from authcore.verify.user_certificate import (
    CodeVerifierError,
    UserCertificateVerificationError,
    check_code_challenge,
    load_certificate,
    verify_code_verifier,
    verify_user_certificate,
)

NAME = "USER_CERTIFICATE"
# A code is fetched and redeemed by one client in one sign-in.
CODE_SECONDS = 60.0
_CHALLENGE_AAD = b"user_certificate:challenge"
_MAX_TOKEN_CHARS = 2048

log = logging.getLogger("authcore.user_certificate")


def _code_aad(application_id: str) -> bytes:
    return b"user_certificate:code:" + application_id.encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _open(sealer: Sealer, value: str, *, aad: bytes) -> dict[str, Any] | None:
    if not value or len(value) > _MAX_TOKEN_CHARS:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        data = json.loads(sealer.open(raw, aad=aad))
    except (binascii.Error, ValueError, SealError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class SealedChallenge:
    nonce: str
    application_id: str
    user_id: str
    user_pk: str
    expires_at: float


def seal_challenge(sealer: Sealer, c: SealedChallenge) -> str:
    body = {"n": c.nonce, "a": c.application_id, "u": c.user_id, "p": c.user_pk,
            "e": c.expires_at}
    return _b64(sealer.seal(json.dumps(body).encode(), aad=_CHALLENGE_AAD))


def open_challenge(sealer: Sealer, value: str) -> SealedChallenge | None:
    data = _open(sealer, value, aad=_CHALLENGE_AAD)
    if data is None:
        return None
    try:
        return SealedChallenge(nonce=str(data["n"]), application_id=str(data["a"]),
                               user_id=str(data["u"]), user_pk=str(data["p"]),
                               expires_at=float(data["e"]))
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: float


class UserCertificateCodeError(VerificationError):
    """A code that is not this challenge's, or no longer valid."""


def check_code(sealer: Sealer, *, code: str, verifier: str, application_id: str,
               nonce: str, user_pk: str, now: float) -> str:
    """The certificate fingerprint of a code issued for this challenge and
    user, when `verifier` proves its code challenge; else a
    VerificationError (counted towards the lockout by the caller)."""
    data = _open(sealer, code, aad=_code_aad(application_id))
    if data is None or not isinstance(data.get("n"), str) or not isinstance(data.get("c"), str):
        raise UserCertificateCodeError("invalid_code", "the code is not valid")
    if not hmac.compare_digest(str(data["n"]).encode(), nonce.encode()) or data.get("p") != user_pk:
        raise UserCertificateCodeError("invalid_code", "the code belongs to another challenge")
    if float(data.get("e", 0)) <= now:
        raise UserCertificateCodeError("expired_code", "the code has expired")
    verify_code_verifier(verifier=verifier, code_challenge=str(data["c"]))
    return str(data.get("f", ""))


def _said(failure: VerificationError) -> str:
    # A CRL problem is the operator's: the log names the list (and its
    # file), the client only learns why it is refused.
    if isinstance(failure, RevocationError):
        return revocation_said(failure)
    return failure.message


class UserCertificateFlow:
    """What the mTLS endpoint (authcore/mtls.py) does with a verified client
    certificate: map it to the challenge's user and hand out a code."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def issue_code(self, *, certificate: bytes, challenge: str, code_challenge: str,
                         client_ip: str) -> IssuedCode:
        await self.core.rate_limit(client_ip=client_ip)
        if not challenge:
            raise InvalidArgument("challenge is required.", reason="missing_field",
                                  field_violations=[("challenge", "is required")])
        if not code_challenge:
            raise InvalidArgument("codeChallenge is required.", reason="missing_field",
                                  field_violations=[("codeChallenge", "is required")])
        try:
            check_code_challenge(code_challenge)
        except CodeVerifierError as exc:
            raise InvalidArgument(exc.message, reason=exc.reason,
                                  field_violations=[("codeChallenge", exc.message)]) from None
        now = self.core.clock()
        sealed = open_challenge(self.core.sealer, challenge)
        if sealed is None or sealed.expires_at <= now:
            raise Unauthenticated("The challenge is invalid or has expired.",
                                  reason="invalid_challenge")
        await self.core.rate_limit(user_key=sealed.user_id)
        found = await hq.load_application_and_user(
            self.core.hot, app_id=sealed.application_id, user_id=sealed.user_id)
        app, user = found if found is not None else (None, None)
        if app is None or user is None or user.pk != sealed.user_pk:
            raise Unauthenticated("The challenge is invalid or has expired.",
                                  reason="invalid_challenge")
        if not user.active:
            raise PermissionDenied("The user is disabled.", reason="user_disabled")
        mapping = app_policy(app.settings).user_certificate_mapping
        failure: VerificationError | None = None
        try:
            cert = verify_user_certificate(certificate=certificate, mapping=mapping,
                                           user_id=user.user_id, email=user.email, now=now)
            if self.core.mtls_crls is not None:
                # Here, not in the TLS handshake: see authcore/mtls.py.
                await self.core.mtls_crls.check(certificate=load_certificate(certificate),
                                                now=now, blocking=self.core.blocking)
        except (UserCertificateVerificationError, RevocationError) as exc:
            failure = exc
        async with self.core.hot.transaction() as tx:
            await audit.hot_record(
                tx, event="certificate_code", outcome="refused" if failure else "issued",
                reason=failure.reason if failure else None, now=now,
                application_id=app.id, user_id=user.user_id, authenticator=NAME,
                client_ip=client_ip)
        if failure is not None:
            raise PermissionDenied(f"The client certificate is refused: {_said(failure)}.",
                                   reason=failure.reason)
        # Which certificate signed the user in (not secret; the audit row
        # has no column for it).
        log.info("user certificate code issued: app=%s user=%s sha256=%s", app.id,
                 user.user_id, cert.fingerprint)
        expires_at = min(now + CODE_SECONDS, sealed.expires_at)
        body = {"n": sealed.nonce, "p": user.pk, "f": cert.fingerprint, "c": code_challenge,
                "e": expires_at}
        code = _b64(self.core.sealer.seal(json.dumps(body).encode(), aad=_code_aad(app.id)))
        return IssuedCode(code=code, expires_at=expires_at)
