"""TEMP_ACCESS_CODE: admin-issued codes with an expiry and a use limit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.flows.factors.base import Answer, Effect, FactorContext, Started, StartInput
from authcore.store.models import TempAccessCode
from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import authenticators_pb2 as common
from authcore.verify.temp_code import StoredTempCode, TempCodeVerificationError, verify_temp_code


async def user_codes(ctx: FactorContext, *, usable_only: bool) -> Sequence[TempAccessCode]:
    stmt = select(TempAccessCode).where(TempAccessCode.user_pk == ctx.user.pk)
    if usable_only:
        stmt = stmt.where(TempAccessCode.expires_at > ctx.now,
                          TempAccessCode.uses < TempAccessCode.max_uses)
    return (await ctx.db.execute(stmt)).scalars().all()


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

        async def count_use(db: AsyncSession) -> None:
            # Only if a use is left, atomically: concurrent logins can't
            # exceed maxUses.
            spent = await db.execute(
                update(TempAccessCode)
                .where(TempAccessCode.id == code_id,
                       TempAccessCode.uses < TempAccessCode.max_uses)
                .values(uses=TempAccessCode.uses + 1)
            )
            if spent.rowcount != 1:  # type: ignore[attr-defined]
                raise TempCodeVerificationError("exhausted_code", "code has no uses left")

        return count_use
