"""TOKEN: TOTP and HOTP tokens with serial numbers, seeds sealed at rest."""

from __future__ import annotations

from typing import Any, Protocol

from authcore.crypto.seal import Sealer
from authcore.flows.factors.base import Answer, Effect, FactorContext, Started, StartInput
from authcore.store.hot import HotTx
from authcore.store.hot import queries as hq
from authcore.store.hot import statements as q
from authcore.store.hot.queries import TokenRow
from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import authenticators_pb2 as common
from authcore.verify.otp import OTPVerificationError, verify_hotp, verify_totp


class _SealedSeed(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def sealed_secret(self) -> bytes: ...


def seed_aad(token_id: str) -> bytes:
    # Binds a sealed seed to its row, so seeds can't be swapped between tokens.
    return f"otp_token:{token_id}".encode()


def open_seed(sealer: Sealer, token: _SealedSeed) -> bytes:
    return sealer.open(token.sealed_secret, aad=seed_aad(token.id))


async def all_tokens(ctx: FactorContext) -> list[TokenRow]:
    """Every `otp_tokens` row of the user, TOTP/HOTP and OCRA (one read)."""
    pk = ctx.user.pk
    return await ctx.once("tokens", lambda: hq.user_tokens(ctx.core.hot, pk))


async def user_tokens(ctx: FactorContext) -> list[TokenRow]:
    """The user's TOTP/HOTP tokens: an OCRA token (TOKENCR) answers only
    challenges, and its counter/step columns are the suite's."""
    return [t for t in await all_tokens(ctx) if t.ocra_suite is None]


class TokenFactor:
    name = "TOKEN"

    async def available(self, ctx: FactorContext) -> bool:
        return bool(await user_tokens(ctx))

    async def start(self, ctx: FactorContext, inp: StartInput) -> Started:
        tokens = await user_tokens(ctx)
        response = authn.AuthenticatedResponse(
            token_details=[t.serial_number for t in tokens],
            token_challenge=common.TokenChallenge(
                token=[common.TokenInfo(serial_number=t.serial_number, label=t.label)
                       if t.label else common.TokenInfo(serial_number=t.serial_number)
                       for t in tokens]
            ),
        )
        return Started(state={}, response=response)

    async def finish(
        self, ctx: FactorContext, state: dict[str, Any], answer: Answer
    ) -> Effect | None:
        code = (answer.response or "").strip()
        replayed = False
        for token in await user_tokens(ctx):
            try:
                return _verify(ctx, token, code)
            except OTPVerificationError as exc:
                replayed = replayed or exc.reason == "replayed_code"
        if replayed:
            raise OTPVerificationError("replayed_code", "code was already used")
        raise OTPVerificationError("invalid_code", "code does not match")


def _verify(ctx: FactorContext, token: TokenRow, code: str) -> Effect:
    """Verify against one token; the effect records the use with a
    compare-and-set, so two concurrent requests can't both spend one code."""
    secret = open_seed(ctx.core.sealer, token)
    if token.kind == "TOTP":
        step = verify_totp(
            secret=secret, code=code, algorithm=token.algorithm, digits=token.digits,
            period=token.period, now=ctx.now, drift_steps=ctx.policy.totp_drift_steps,
            last_used_step=token.last_used_step,
        ).time_step
        stmt, params = q.RECORD_TOTP_STEP, {"id": token.id, "step": step}
    else:
        next_counter = verify_hotp(
            secret=secret, code=code, algorithm=token.algorithm, digits=token.digits,
            counter=token.counter, look_ahead=ctx.policy.hotp_look_ahead,
        ).next_counter
        stmt, params = q.RECORD_HOTP_COUNTER, {"id": token.id, "counter": token.counter,
                                              "next_counter": next_counter}

    async def record_use(tx: HotTx) -> None:
        if await tx.execute(stmt, params) != 1:
            raise OTPVerificationError("replayed_code", "code was already used")

    return record_use
