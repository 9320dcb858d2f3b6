"""MAGICLINK: a single-use sign-in link emailed to the user (Entrust's
authentication Magic Link).

The challenge writes one `magic_links` row (only the HMAC of the link's
token) and one EMAIL outbox message with the link, the application's
`magicLink.linkUrl` + `#magicLinkToken=<token>`. The page the link opens
posts the token with CONFIRM or CANCEL (flows/magic_links.py). Meanwhile
the relying party polls complete with the challenge token, exactly as for
a push (the same PushNotAnswered / PushEnded): NO_RESPONSE while the link
is unanswered, a sign-in once it is confirmed, a counted failure once it is
cancelled (a user refusing a login they did not start is a signal, like a
push CONCERN). A page that is itself the one that started the login may
complete with the token in `response` instead (the same browser).

Single use: the link's status leaves PENDING once (its page's answer) and a
confirmed link becomes USED in the transaction that signs in, both by
compare-and-set; each challenge has its own link, named by its state.
"""

from __future__ import annotations

import uuid
from typing import Any

from authcore.delivery.channels import EMAIL, KIND_MAGIC_LINK
from authcore.delivery.outbox import Message
from authcore.errors import Unauthenticated
from authcore.flows.factors.base import Answer, Effect, FactorContext, Started, StartInput
from authcore.flows.factors.push import PushEnded, PushNotAnswered
from authcore.flows.policy import MagicLinkPolicy
from authcore.store.hot import HotTx
from authcore.store.hot import queries as hq
from authcore.store.hot import statements as q
from authcore.v1 import authentication_pb2 as authn
from authcore.verify.magic_link import (
    MagicLinkVerificationError,
    generate_magic_link,
    verify_magic_link_token,
)

# AuthenticatedResponse.magicLinkType of a sign-in link.
MAGIC_LINK_TYPE = "AUTHENTICATION"


def magic_link_policy(ctx: FactorContext) -> MagicLinkPolicy:
    return MagicLinkPolicy.from_settings(ctx.app.settings)


class MagicLinkFactor:
    name = "MAGICLINK"

    async def available(self, ctx: FactorContext) -> bool:
        return bool(ctx.user.email) and bool(magic_link_policy(ctx).link_url)

    async def start(self, ctx: FactorContext, inp: StartInput) -> Started:
        policy = magic_link_policy(ctx)
        address, now, user_pk, app_id = ctx.user.email or "", ctx.now, ctx.user.pk, ctx.app.id
        # Before the challenge's transaction, which may await nothing else.
        await ctx.core.throttle_delivery("EMAIL", address=address, client_ip=inp.client_ip)
        # The link lives as long as its challenge at most (_issue takes the shorter).
        ttl = float(min(policy.lifetime_seconds, ctx.policy.challenge_seconds))
        link = generate_magic_link(link_url=policy.link_url, key=ctx.core.code_key)
        link_id = str(uuid.uuid4())
        minutes = str(max(1, int(ttl) // 60))
        message = Message(
            user_pk=user_pk, medium=EMAIL, address=address, kind=KIND_MAGIC_LINK,
            text=f"Open this link to sign in to {ctx.app.name}: {link.url} "
                 f"It works once and expires in {minutes} minutes.",
            values={"link": link.url, "minutes": minutes}, application_id=app_id,
            expires_at=now + ttl)
        outbox, token_hash = ctx.core.outbox, link.token_hash

        async def send(tx: HotTx) -> None:
            await tx.insert(q.INSERT_MAGIC_LINK, {
                "id": link_id, "token_hash": token_hash, "user_pk": user_pk,
                "application_id": app_id, "now": now, "expires_at": now + ttl})
            await outbox.queue(tx, message, now=now)

        # Neither the token nor the link: they go to the user's mailbox only.
        return Started(state={"magic_link_id": link_id, "token_hash": token_hash},
                       response=authn.AuthenticatedResponse(magic_link_type=MAGIC_LINK_TYPE),
                       ttl_seconds=ttl, effect=send)

    async def finish(
        self, ctx: FactorContext, state: dict[str, Any], answer: Answer
    ) -> Effect | None:
        link = await hq.magic_link(ctx.core.hot, str(state.get("magic_link_id", "")))
        if link is None or link.user_pk != ctx.user.pk or link.application_id != ctx.app.id:
            raise MagicLinkVerificationError("invalid_magic_link", "the link is gone")
        if answer.response:
            # The same browser: the page the link opened started this login.
            verify_magic_link_token(token=answer.response,
                                    token_hash=str(state.get("token_hash", "")),
                                    key=ctx.core.code_key)
        elif link.status == "PENDING":
            if link.expires_at > ctx.now:
                raise PushNotAnswered
            raise PushEnded(Unauthenticated("The sign-in link expired unanswered.",
                                            reason="magic_link_expired"))
        if link.status == "CANCELLED":
            raise MagicLinkVerificationError("magic_link_cancelled",
                                             "the user refused the sign-in")
        if link.status not in ("PENDING", "CONFIRMED"):
            raise MagicLinkVerificationError("magic_link_used", "the link was already used")
        link_id, from_status, now = link.id, link.status, ctx.now

        async def use(tx: HotTx) -> None:
            if await tx.execute(q.USE_MAGIC_LINK, {"id": link_id, "from_status": from_status,
                                                   "now": now}) != 1:
                raise MagicLinkVerificationError("magic_link_used",
                                                 "the link was used meanwhile")

        return use


MAGIC_LINK = MagicLinkFactor()
