"""The answer to an emailed Magic Link (MAGICLINK), posted by the page the
link opened: `POST /api/web/v1/magiclink/response`.

On the sign-in path: one read, then one hot transaction whose
compare-and-set (PENDING → CONFIRMED / CANCELLED, while live) answers a
link once. An unknown, expired or already answered token gets the same
404, so the endpoint tells nothing about links it can't use. The link's
URL itself is the relying party's page: nothing here answers a GET, so a
mail scanner fetching the link consumes nothing.
"""

from __future__ import annotations

from authcore.errors import InvalidArgument, NotFound
from authcore.flows import audit
from authcore.flows.authentication import Caller
from authcore.flows.context import Core
from authcore.flows.policy import MagicLinkPolicy
from authcore.store.hot import HotDb
from authcore.store.hot import queries as hq
from authcore.store.hot import statements as q
from authcore.v1 import magic_links_pb2 as pb
from authcore.verify.magic_link import (
    TOKEN_CHARS,
    MagicLinkVerificationError,
    hash_magic_link_token,
)

_ANSWERS = {pb.MAGIC_LINK_RESPONSE_CONFIRM: "CONFIRMED", pb.MAGIC_LINK_RESPONSE_CANCEL: "CANCELLED"}
# How long an expired link is kept (for an admin's look).
PRUNE_AFTER_SECONDS = 3600


def _invalid_link() -> NotFound:
    return NotFound("The sign-in link is invalid, has expired or was already used.",
                    reason="invalid_magic_link")


class MagicLinkFlow:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def respond(self, req: pb.RespondToMagicLinkRequest, caller: Caller
                      ) -> pb.RespondToMagicLinkResponse:
        token = req.magic_link_token.strip()
        problems = []
        token_hash = ""
        if not token:
            problems.append(("magicLinkToken", "is required"))
        else:
            try:
                token_hash = hash_magic_link_token(token=token, key=self.core.code_key)
            except MagicLinkVerificationError:
                problems.append(("magicLinkToken",
                                 f"must be the link's token ({TOKEN_CHARS} base64url characters)"))
        status = _ANSWERS.get(req.response)
        if status is None:
            problems.append(("response", "must be CONFIRM or CANCEL"))
        if problems:
            raise InvalidArgument("The Magic Link answer is malformed.", reason="invalid_field",
                                  field_violations=problems)
        assert status is not None
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        hot = self.core.hot
        found = await hq.magic_link_by_token_hash(hot, token_hash)
        link, settings = found if found is not None else (None, {})
        answered = False
        if link is not None and link.status == "PENDING" and link.expires_at > now:
            async with hot.transaction() as tx:
                answered = await tx.execute(q.ANSWER_MAGIC_LINK, {
                    "token_hash": token_hash, "status": status, "now": now}) == 1
                if answered:
                    await audit.hot_record(tx, event="magic_link_response",
                                           outcome=status.lower(), now=now,
                                           application_id=link.application_id,
                                           authenticator="MAGICLINK",
                                           client_ip=caller.client_ip)
        if not answered:
            async with hot.transaction() as tx:
                await audit.hot_record(tx, event="magic_link_response", outcome="failure",
                                       reason="invalid_magic_link", now=now,
                                       authenticator="MAGICLINK", client_ip=caller.client_ip)
            raise _invalid_link()
        assert link is not None
        out = pb.RespondToMagicLinkResponse()
        redirect = MagicLinkPolicy.from_settings(settings).redirect_url
        if redirect:
            out.redirect_url = redirect
        return out


async def prune(hot: HotDb, *, now: float) -> int:
    """Drop links expired over an hour ago."""
    async with hot.transaction() as tx:
        return await tx.execute(q.PRUNE_MAGIC_LINKS, {"before": now - PRUNE_AFTER_SECONDS})
