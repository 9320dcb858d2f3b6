"""TEMP_ACCESS_CODE: admin-issued codes with an expiry and a use limit."""

from __future__ import annotations

from typing import Any

from authcore.flows.factors.base import Answer, Effect, FactorContext, Started, StartInput
from authcore.store.hot import HotTx
from authcore.store.hot import queries as hq
from authcore.store.hot import statements as q
from authcore.store.hot.queries import TempCodeRow
from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import authenticators_pb2 as common
from authcore.verify.temp_code import StoredTempCode, TempCodeVerificationError, verify_temp_code


async def user_codes(ctx: FactorContext, *, usable_only: bool) -> list[TempCodeRow]:
    pk = ctx.user.pk
    codes = await ctx.once("temp_codes", lambda: hq.user_temp_codes(ctx.core.hot, pk))
    if usable_only:
        return [c for c in codes if c.expires_at > ctx.now and c.uses < c.max_uses]
    return codes


class TempCodeFactor:
    name = "TEMP_ACCESS_CODE"

    async def available(self, ctx: FactorContext) -> bool:
        return bool(await user_codes(ctx, usable_only=True))

    async def start(self, ctx: FactorContext, inp: StartInput) -> Started:
        return Started(
            state={},
            response=authn.AuthenticatedResponse(
                temp_access_code_challenge=common.TempAccessCodeChallenge(
                    enable_admin_contact=False)
            ),
        )

    async def finish(
        self, ctx: FactorContext, state: dict[str, Any], answer: Answer
    ) -> Effect | None:
        candidates = [
            StoredTempCode(id=c.id, code_hash=c.code_hash, expires_at=c.expires_at,
                           uses=c.uses, max_uses=c.max_uses)
            for c in await user_codes(ctx, usable_only=False)
        ]
        code_id = verify_temp_code(code=answer.response or "", candidates=candidates,
                                   key=ctx.core.code_key, now=ctx.now).code_id

        async def count_use(tx: HotTx) -> None:
            if await tx.execute(q.COUNT_TEMP_CODE_USE, {"id": code_id}) != 1:
                raise TempCodeVerificationError("exhausted_code", "code has no uses left")

        return count_use
