"""PASSWORD: argon2id, with the expired-password change on complete."""

from __future__ import annotations

from typing import Any

from authcore.errors import FailedPrecondition, InvalidArgument
from authcore.flows.challenges import KeepChallenge
from authcore.flows.factors.base import Answer, Effect, FactorContext, Started, StartInput
from authcore.store.hot import HotTx
from authcore.store.hot import queries as hq
from authcore.store.hot import statements as q
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
        return await _password(ctx) is not None

    async def start(self, ctx: FactorContext, inp: StartInput) -> Started:
        return Started(state={}, response=authn.AuthenticatedResponse())

    async def finish(
        self, ctx: FactorContext, state: dict[str, Any], answer: Answer
    ) -> Effect | None:
        row = await _password(ctx)
        if row is None or not answer.response:
            raise PasswordVerificationError("invalid_password", "password does not match")
        params = ctx.core.settings.argon2
        result = await ctx.core.blocking(
            verify_password, password=answer.response, encoded_hash=row.hash, params=params,
        )
        expired = row.expires_at is not None and row.expires_at <= ctx.now
        if answer.new_password:
            _check_new(old=answer.response, new=answer.new_password)
            new_hash, expires_at = answer.new_password, None
        elif expired:
            raise KeepChallenge(FailedPrecondition(
                "The password has expired. A new password is required: complete again with "
                "the current password as response and the new one as newPassword.",
                reason="password_expired",
            ))
        elif result.needs_rehash:
            new_hash, expires_at = answer.response, row.expires_at
        else:
            return None
        encoded = await ctx.core.blocking(hash_password, password=new_hash, params=params)
        user_pk, now, old_hash = ctx.user.pk, ctx.now, row.hash

        async def store(tx: HotTx) -> None:
            await tx.execute(q.STORE_PASSWORD_HASH, {
                "hash": encoded, "expires_at": expires_at, "now": now, "user_pk": user_pk,
                "old_hash": old_hash})

        return store


async def _password(ctx: FactorContext) -> hq.PasswordRow | None:
    pk = ctx.user.pk
    return await ctx.once("password", lambda: hq.user_password(ctx.core.hot, pk))


def _check_new(*, old: str, new: str) -> None:
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
