"""KBA: a few of the user's enrolled questions, answers compared as hashes."""

from __future__ import annotations

from typing import Any

from authcore.flows.factors.base import Answer, Effect, FactorContext, Started, StartInput
from authcore.store.hot import queries as hq
from authcore.store.hot.queries import KbaRow
from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import authenticators_pb2 as common
from authcore.verify.kba import choose_questions, verify_kba_answers


async def user_questions(ctx: FactorContext) -> list[KbaRow]:
    pk = ctx.user.pk
    return await ctx.once("kba", lambda: hq.user_kba_questions(ctx.core.hot, pk))


class KbaFactor:
    name = "KBA"

    async def available(self, ctx: FactorContext) -> bool:
        return bool(await user_questions(ctx))

    async def start(self, ctx: FactorContext, inp: StartInput) -> Started:
        questions = {q.id: q for q in await user_questions(ctx)}
        chosen = choose_questions(
            question_ids=list(questions), count=ctx.policy.kba_challenge_questions
        )
        challenge = common.KbaChallenge(
            user_questions=[
                common.UserQuestion(id=qid, question=questions[qid].question) for qid in chosen
            ]
        )
        return Started(state={"question_ids": chosen},
                       response=authn.AuthenticatedResponse(kba_challenge=challenge))

    async def finish(
        self, ctx: FactorContext, state: dict[str, Any], answer: Answer
    ) -> Effect | None:
        stored = {q.id: q.answer_hash for q in await user_questions(ctx)}
        expected = {qid: stored.get(qid, "") for qid in state["question_ids"]}
        await ctx.core.blocking(verify_kba_answers, expected=expected,
                                answers=answer.kba_answers)
        return None
