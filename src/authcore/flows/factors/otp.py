"""OTP: a server-generated code delivered by EMAIL, SMS or VOICE."""

from __future__ import annotations

from typing import Any

from authcore.delivery.channels import KIND_OTP
from authcore.delivery.outbox import Message, mask_email, mask_phone
from authcore.errors import InvalidArgument
from authcore.flows.factors.base import Answer, Effect, FactorContext, Started, StartInput
from authcore.store.hot import HotTx
from authcore.store.hot.queries import UserRow
from authcore.store.models import User
from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import authenticators_pb2 as common
from authcore.verify.otp import OTPVerificationError, generate_code, hash_code, verify_code

# Which user attribute feeds which channel; the attribute name is what
# otpDeliveryAttribute names.
_CHANNEL_ATTRIBUTE = {"EMAIL": "email", "SMS": "phone", "VOICE": "phone"}
_ENUM = {
    "EMAIL": common.OTP_DELIVERY_TYPE_EMAIL,
    "SMS": common.OTP_DELIVERY_TYPE_SMS,
    "VOICE": common.OTP_DELIVERY_TYPE_VOICE,
}


def _address(user: User | UserRow, attribute: str) -> str | None:
    return user.email if attribute == "email" else user.phone


def channels(user: User | UserRow) -> list[str]:
    return [c for c, attr in _CHANNEL_ATTRIBUTE.items() if _address(user, attr)]


def delivery_info(user: User | UserRow) -> common.OTPDetails:
    """The query response's otpDeliveryInfo, with masked addresses."""
    available = channels(user)
    info = common.OTPDetails(available_otp_delivery=[_ENUM[c] for c in available])
    for channel in available:
        attribute = _CHANNEL_ATTRIBUTE[channel]
        address = _address(user, attribute) or ""
        masked = mask_email(address) if attribute == "email" else mask_phone(address)
        info.otp_contact_values.add(name=attribute, type=_ENUM[channel], value=masked)
    if available:
        info.otp_default_delivery = _ENUM[available[0]]
        info.otp_delivery_attribute = _CHANNEL_ATTRIBUTE[available[0]]
    return info


class OtpFactor:
    name = "OTP"

    async def available(self, ctx: FactorContext) -> bool:
        return bool(channels(ctx.user))

    async def start(self, ctx: FactorContext, inp: StartInput) -> Started:
        available = channels(ctx.user)
        channel = inp.otp_delivery_type or (available[0] if available else None)
        if channel not in available:
            raise InvalidArgument(
                "The user has no address for that OTP delivery type.",
                reason="otp_delivery_unavailable",
                field_violations=[("otpDeliveryType", "not available for this user")],
            )
        assert channel is not None
        attribute = _CHANNEL_ATTRIBUTE[channel]
        if inp.otp_delivery_attribute and inp.otp_delivery_attribute != attribute:
            raise InvalidArgument(
                f"otpDeliveryAttribute must be {attribute!r} for {channel}.",
                reason="otp_delivery_unavailable",
                field_violations=[("otpDeliveryAttribute", f"must be {attribute!r}")],
            )
        user_pk, address, now = ctx.user.pk, _address(ctx.user, attribute) or "", ctx.now
        # Before the challenge's transaction, which may await nothing else.
        await ctx.core.throttle_delivery(channel, address=address, client_ip=inp.client_ip)
        code = generate_code(digits=ctx.policy.otp_digits)
        minutes = max(1, ctx.policy.otp_ttl_seconds // 60)
        # The message lives as long as the challenge (_issue takes the shorter).
        ttl = min(ctx.policy.otp_ttl_seconds, ctx.policy.challenge_seconds)
        message = Message(
            user_pk=user_pk, medium=channel, address=address, kind=KIND_OTP,
            text=f"Your verification code is {code}. It expires in {minutes} minutes.",
            values={"code": code, "minutes": str(minutes)}, application_id=ctx.app.id,
            expires_at=now + ttl)
        outbox = ctx.core.outbox

        async def queue(tx: HotTx) -> None:
            await outbox.queue(tx, message, now=now)

        return Started(
            state={"code_hash": hash_code(code=code, key=ctx.core.code_key)},
            response=authn.AuthenticatedResponse(otpdelivery_type=_ENUM[channel]),
            ttl_seconds=ctx.policy.otp_ttl_seconds,
            effect=queue,
        )

    async def finish(
        self, ctx: FactorContext, state: dict[str, Any], answer: Answer
    ) -> Effect | None:
        if not answer.response:
            raise OTPVerificationError("invalid_code", "no code given")
        verify_code(code=answer.response, code_hash=state["code_hash"], key=ctx.core.code_key)
        return None
