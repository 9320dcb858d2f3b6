"""TOKENCR: a token's challenge-response mode (OCRA, RFC 6287).

The challenge carries a random string for the user to type into the token
(`tokenChallenge.challenge`), kept in the challenge state, so it is single
use and expires with the challenge like every Entrust challenge; the
complete's `response` is the number the token shows. The tokens are the
user's `otp_tokens` rows with an `ocra_suite` (enrolled with `ocraSuite`,
kind OCRA); TOKEN never offers them. Wrong answers count on TOKENCR's own
lockout counter, as each Entrust type has its own.
"""

from __future__ import annotations

from typing import Any

from authcore.errors import InvalidArgument
from authcore.flows.factors.base import Answer, Effect, FactorContext, Started, StartInput
from authcore.flows.factors.token import all_tokens, open_seed
from authcore.store.hot import HotTx
from authcore.store.hot import statements as q
from authcore.store.hot.queries import TokenRow
from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import authenticators_pb2 as common
from authcore.verify.ocra import (
    OCRASuite,
    OCRAVerificationError,
    check_enrollable,
    generate_ocra_challenge,
    verify_ocra,
)


async def ocra_tokens(ctx: FactorContext) -> list[tuple[TokenRow, OCRASuite]]:
    """The user's OCRA tokens with their parsed suites (a suite authcore no
    longer serves is skipped, never an error)."""
    out = []
    for token in await all_tokens(ctx):
        if token.ocra_suite is None:
            continue
        try:
            out.append((token, check_enrollable(token.ocra_suite)))
        except OCRAVerificationError:
            continue
    return out


def token_info(token: TokenRow) -> common.TokenInfo:
    if token.label:
        return common.TokenInfo(serial_number=token.serial_number, label=token.label)
    return common.TokenInfo(serial_number=token.serial_number)


class TokenCrFactor:
    name = "TOKENCR"

    async def available(self, ctx: FactorContext) -> bool:
        return bool(await ocra_tokens(ctx))

    async def start(self, ctx: FactorContext, inp: StartInput) -> Started:
        tokens = await ocra_tokens(ctx)
        # One challenge that every one of the user's tokens accepts.
        challenge = generate_ocra_challenge(suite=[suite for _, suite in tokens])
        response = authn.AuthenticatedResponse(
            token_details=[t.serial_number for t, _ in tokens],
            token_challenge=common.TokenChallenge(
                challenge=challenge, token=[token_info(t) for t, _ in tokens]),
        )
        return Started(state={"challenge": challenge}, response=response)

    async def finish(
        self, ctx: FactorContext, state: dict[str, Any], answer: Answer
    ) -> Effect | None:
        if not (answer.response or "").strip():
            raise InvalidArgument("response (the token's answer to the challenge) is required.",
                                  reason="missing_field",
                                  field_violations=[("response", "is required")])
        challenge = str(state.get("challenge", ""))
        replayed = False
        for token, suite in await ocra_tokens(ctx):
            try:
                return _verify(ctx, token, suite, challenge, answer.response or "")
            except OCRAVerificationError as exc:
                replayed = replayed or exc.reason == "replayed_code"
        if replayed:
            raise OCRAVerificationError("replayed_code", "the response was already used")
        raise OCRAVerificationError("invalid_code", "the response does not match")


def _verify(ctx: FactorContext, token: TokenRow, suite: OCRASuite, challenge: str,
            response: str) -> Effect | None:
    """Verify against one token; the effect moves its counter / time step
    with a compare-and-set, so two concurrent completes can't both spend
    one counter value or step."""
    result = verify_ocra(
        secret=open_seed(ctx.core.sealer, token), suite=suite, challenge=challenge,
        response=response, counter=token.counter, now=ctx.now,
        look_ahead=ctx.policy.hotp_look_ahead, drift_steps=ctx.policy.totp_drift_steps,
        last_used_step=token.last_used_step,
    )
    if result.next_counter is not None and result.time_step is not None:
        stmt, params = q.RECORD_OCRA_COUNTER_AND_STEP, {
            "id": token.id, "counter": token.counter, "next_counter": result.next_counter,
            "step": result.time_step}
    elif result.next_counter is not None:
        stmt, params = q.RECORD_HOTP_COUNTER, {"id": token.id, "counter": token.counter,
                                              "next_counter": result.next_counter}
    elif result.time_step is not None:
        stmt, params = q.RECORD_TOTP_STEP, {"id": token.id, "step": result.time_step}
    else:
        # No moving factor: the random, single-use challenge is the nonce.
        return None

    async def record_use(tx: HotTx) -> None:
        if await tx.execute(stmt, params) != 1:
            raise OCRAVerificationError("replayed_code", "the response was already used")

    return record_use
