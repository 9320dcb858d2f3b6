"""PASSWORD: argon2id, with the expired-password change on complete."""

from __future__ import annotations

from typing import Any

from authcore.errors import FailedPrecondition, InvalidArgument
from authcore.flows.challenges import KeepChallenge
from authcore.flows.factors.base import Answer, FactorContext, Started, StartInput
from authcore.store.models import Password
from authcore.v1 import authentication_pb2 as authn
from authcore.verify.password import (
    PasswordVerificationError,
    check_password_policy,
    hash_password,
    verify_password,
)


class PasswordFactor:
    name = "PASSWORD"

    async def available(self, ctx: FactorContext) -> bool:
        return await ctx.db.get(Password, ctx.user.pk) is not None

    async def start(self, ctx: FactorContext, inp: StartInput) -> Started:
        return Started(state={}, response=authn.AuthenticatedResponse())

    async def finish(self, ctx: FactorContext, state: dict[str, Any], answer: Answer) -> None:
        row = await ctx.db.get(Password, ctx.user.pk)
        if row is None or not answer.response:
            raise PasswordVerificationError("invalid_password", "password does not match")
        params = ctx.core.settings.argon2
        result = await ctx.core.blocking(
            verify_password, password=answer.response, encoded_hash=row.hash, params=params
        )
        expired = row.expires_at is not None and row.expires_at <= ctx.now
        if expired and not answer.new_password:
            raise KeepChallenge(FailedPrecondition(
                "The password has expired. A new password is required: complete again with "
                "the current password as response and the new one as newPassword.",
                reason="password_expired",
            ))
        if answer.new_password:
            await _change(ctx, row, old=answer.response, new=answer.new_password)
        elif result.needs_rehash:
            row.hash = await ctx.core.blocking(
                hash_password, password=answer.response, params=params
            )
            row.updated_at = ctx.now


async def _change(ctx: FactorContext, row: Password, *, old: str, new: str) -> None:
    try:
        check_password_policy(password=new)
    except PasswordVerificationError as exc:
        raise KeepChallenge(InvalidArgument(
            f"newPassword does not meet the password policy: {exc.message}",
            reason="password_policy",
            field_violations=[("newPassword", exc.message)],
        )) from None
    if new == old:
        raise KeepChallenge(InvalidArgument(
            "newPassword must differ from the current password.",
            reason="password_reused",
            field_violations=[("newPassword", "must differ from the current password")],
        ))
    row.hash = await ctx.core.blocking(
        hash_password, password=new, params=ctx.core.settings.argon2
    )
    row.expires_at = None
    row.updated_at = ctx.now
