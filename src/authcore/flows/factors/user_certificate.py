"""USER_CERTIFICATE: a client certificate over mutual TLS, then a PKCE-bound
one-time code (flows/user_certificate.py has the why)."""

from __future__ import annotations

from typing import Any

from authcore.errors import InvalidArgument
from authcore.flows.factors.base import Answer, Effect, FactorContext, Started, StartInput
from authcore.flows.user_certificate import SealedChallenge, check_code, seal_challenge
from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import authenticators_pb2 as common
from authcore.verify.user_certificate import generate_user_certificate_challenge


class UserCertificateFactor:
    name = "USER_CERTIFICATE"

    async def available(self, ctx: FactorContext) -> bool:
        # No certificate can arrive without the mTLS listener or a trusted
        # proxy; EMAIL needs an address to compare with.
        mapping = ctx.policy.user_certificate_mapping
        if not ctx.core.settings.user_certificates_enabled or not mapping:
            return False
        return mapping != "EMAIL" or bool(ctx.user.email)

    async def start(self, ctx: FactorContext, inp: StartInput) -> Started:
        nonce = generate_user_certificate_challenge()
        challenge = seal_challenge(ctx.core.sealer, SealedChallenge(
            nonce=nonce, application_id=ctx.app.id, user_id=ctx.user.user_id,
            user_pk=ctx.user.pk, expires_at=ctx.now + ctx.policy.challenge_seconds))
        return Started(
            state={"nonce": nonce},
            response=authn.AuthenticatedResponse(
                user_certificate_challenge=common.UserCertificateChallenge(
                    challenge=challenge)),
        )

    async def finish(
        self, ctx: FactorContext, state: dict[str, Any], answer: Answer
    ) -> Effect | None:
        code, verifier = answer.certificate_code, answer.certificate_verifier
        missing = [(f"userCertificateResponse.{name}", "is required")
                   for name, value in (("code", code), ("verifier", verifier)) if not value]
        if missing:
            raise InvalidArgument("userCertificateResponse needs the code and the verifier.",
                                  reason="missing_field", field_violations=missing)
        assert code is not None and verifier is not None
        check_code(ctx.core.sealer, code=code, verifier=verifier, application_id=ctx.app.id,
                   nonce=str(state.get("nonce", "")), user_pk=ctx.user.pk, now=ctx.now)
        return None
