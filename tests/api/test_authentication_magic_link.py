"""MAGICLINK end to end, over REST and gRPC (SQLite, and PostgreSQL + Redis
when configured): the relying party's challenge and polled complete, the
link read from the real outbox (the held EMAIL message: no SMTP server on
this test server), and the link's page answering at
POST /api/web/v1/magiclink/response over the same transport."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest

from authcore.v1 import magic_links_pb2 as pb
from authcore.v1 import magic_links_pb2_grpc
from authcore_testkit.api import HTTP_FOR_GRPC, Admin, GrpcApi, Reply, RestApi, error_reason
from authcore_testkit.schemas import validate
from authcore_testkit.server import RunningServer
from rest_bridge.codec import json_to_message, message_to_json

Api = RestApi | GrpcApi
PAGE = "https://rp.example/magic"
AFTER = "https://rp.example/signed-in"
_TOKEN = re.compile(r"#magicLinkToken=([A-Za-z0-9_-]{43})")


class LinkPage:
    """The relying party's page the link opens: it posts the token."""

    def __init__(self, server: RunningServer, transport: str) -> None:
        self.transport = transport
        self.http = httpx.AsyncClient(base_url=server.http_url, timeout=30)
        self.channel = grpc.aio.insecure_channel(server.grpc_target)
        self.stub = magic_links_pb2_grpc.MagicLinkServiceStub(self.channel)

    async def close(self) -> None:
        await self.http.aclose()
        await self.channel.close()

    async def respond(self, body: dict[str, Any]) -> Reply:
        if self.transport == "rest":
            r = await self.http.post("/api/web/v1/magiclink/response", json=body)
            data = r.json() if r.content else None
            code = data.get("errorCode") if isinstance(data, dict) else None
            if r.status_code >= 400:
                validate(data, "ErrorInfo")
            return Reply(r.status_code, data, code if r.status_code >= 400 else None)
        try:
            out = await self.stub.RespondToMagicLink(
                json_to_message(body, pb.RespondToMagicLinkRequest))
        except grpc.aio.AioRpcError as exc:
            return Reply(HTTP_FOR_GRPC.get(exc.code(), 500), {"message": exc.details()},
                         error_reason(exc))
        return Reply(200, message_to_json(out))

    async def confirm(self, token: str) -> Reply:
        return await self.respond({"magicLinkToken": token, "response": "CONFIRM"})

    async def cancel(self, token: str) -> Reply:
        return await self.respond({"magicLinkToken": token, "response": "CANCEL"})


@pytest.fixture
async def page(api: Api, server: RunningServer) -> AsyncIterator[LinkPage]:
    client = LinkPage(server, api.transport)
    yield client
    await client.close()


async def magic_app(admin: Admin, *, authenticators: tuple[str, ...] = ("MAGICLINK",),
                    redirect: bool = True, **settings: Any) -> str:
    magic: dict[str, Any] = {"linkUrl": PAGE}
    if redirect:
        magic["redirectUrl"] = AFTER
    body = {"name": f"magic-{uuid.uuid4().hex[:6]}", "authenticators": list(authenticators),
            "webauthn": {"origins": ["https://rp.example"]}, "magicLink": magic, **settings}
    made = await admin.req("POST", "/api/admin/v1/applications", body)
    return str(made["applicationId"])


async def links_in_outbox(admin: Admin, user_id: str) -> list[str]:
    """The tokens of the sign-in links emailed to the user, oldest first."""
    out = []
    for m in await admin.outbox(user_id):
        if m.get("medium") == "EMAIL" and m.get("kind") == "magic_link":
            text = m.get("text") or ""
            assert PAGE + "#magicLinkToken=" in text, text
            found = _TOKEN.search(text)
            assert found, text
            out.append(found.group(1))
    return out


async def start(api: Api, admin: Admin, app_id: str, user_id: str) -> tuple[dict[str, Any], str]:
    """A MAGICLINK challenge and the token of the link it emailed."""
    ch = await api.challenge("MAGICLINK", {"applicationId": app_id, "userId": user_id})
    assert ch.status == 200, ch
    validate(ch.body, "AuthenticatedResponse")
    assert ch.body["magicLinkType"] == "AUTHENTICATION"
    assert ch.body["authenticationCompleted"] is False
    token = (await links_in_outbox(admin, user_id))[-1]
    # Neither the token nor the link reaches the relying party's backend.
    assert token not in str(ch.body) and "redirectUrl" not in ch.body
    return ch.body, token


async def complete(api: Api, ch: dict[str, Any], body: dict[str, Any] | None = None) -> Reply:
    r = await api.complete("MAGICLINK", body or {}, ch["token"])
    if api.transport == "rest":
        validate(r.body, "AuthenticatedResponse" if r.status == 200 else "ErrorInfo")
    elif r.status == 200:
        validate(r.body, "AuthenticatedResponse")
    return r


async def test_confirm_signs_in_after_polling(api: Api, admin: Admin, page: LinkPage,
                                              user_id: str) -> None:
    app_id = await magic_app(admin)
    await admin.user(user_id, email=user_id, firstName="Ada")
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert q.status == 200, q
    validate(q.body, "UserAuthenticateQueryResponse")
    assert q.body["authenticationTypes"] == ["MAGICLINK"]

    ch, token = await start(api, admin, app_id, user_id)
    mail = (await admin.outbox(user_id))[-1]
    assert mail["address"] == user_id and mail["medium"] == "EMAIL"
    for _ in range(2):
        poll = await complete(api, ch)
        assert poll.status == 200, poll
        assert poll.body["status"] == "NO_RESPONSE"
        assert poll.body["authenticationCompleted"] is False

    answered = await page.confirm(token)
    assert answered.status == 200, answered
    assert answered.body == {"redirectUrl": AFTER}
    # A link is answered once.
    again = await page.confirm(token)
    assert again.status == 404 and again.error_code == "invalid_magic_link"
    assert (await page.cancel(token)).error_code == "invalid_magic_link"

    done = await complete(api, ch)
    assert done.status == 200, done
    assert done.body["authenticationCompleted"] is True and done.body["userId"] == user_id
    assert done.body["firstName"] == "Ada"
    q = await api.query({"applicationId": app_id, "userId": user_id,
                         "authToken": done.body["token"]})
    assert q.status == 200 and q.body["authenticationCompleted"] is True
    # Completing twice: the challenge is used up.
    twice = await complete(api, ch)
    assert twice.status == 401


async def test_cancel_is_counted_until_locked(api: Api, admin: Admin, page: LinkPage,
                                              user_id: str) -> None:
    app_id = await magic_app(admin)
    await admin.user(user_id, email=user_id)
    ch, token = await start(api, admin, app_id, user_id)
    cancelled = await page.cancel(token)
    assert cancelled.status == 200 and cancelled.body == {"redirectUrl": AFTER}
    refused = await complete(api, ch)
    assert refused.status == 401 and refused.error_code == "magic_link_cancelled"
    q = await api.query({"applicationId": app_id, "userId": user_id})
    status = q.body["authenticatorLockoutStatus"][0]
    assert status["type"] == "MAGICLINK" and status["remainingAuthenticationAttempts"] == 4
    # Used up: neither polling nor the token completes it now.
    assert (await complete(api, ch)).status == 401
    assert (await complete(api, ch, {"response": token})).status == 401
    for _ in range(4):
        ch, token = await start(api, admin, app_id, user_id)
        assert (await page.cancel(token)).ok
        assert (await complete(api, ch)).status == 401
    q = await api.query({"applicationId": app_id, "userId": user_id})
    validate(q.body, "UserAuthenticateQueryResponse")
    assert q.body["authenticatorLockoutStatus"][0]["locked"] is True
    locked = await api.challenge("MAGICLINK", {"applicationId": app_id, "userId": user_id})
    assert locked.status == 403 and locked.error_code == "authenticator_locked"


async def test_confirmed_but_locked_meanwhile_is_refused(api: Api, admin: Admin,
                                                         page: LinkPage, user_id: str) -> None:
    app_id = await magic_app(admin)
    await admin.user(user_id, email=user_id)
    waiting, waiting_token = await start(api, admin, app_id, user_id)
    for _ in range(5):
        ch, token = await start(api, admin, app_id, user_id)
        assert (await page.cancel(token)).ok
        assert (await complete(api, ch)).status == 401
    assert (await page.confirm(waiting_token)).ok
    refused = await complete(api, waiting)
    assert refused.status == 403 and refused.error_code == "authenticator_locked"


async def test_same_browser_completes_with_the_token(api: Api, admin: Admin, page: LinkPage,
                                                     user_id: str) -> None:
    app_id = await magic_app(admin)
    await admin.user(user_id, email=user_id)
    ch, token = await start(api, admin, app_id, user_id)
    done = await complete(api, ch, {"response": token})
    assert done.status == 200 and done.body["authenticationCompleted"] is True
    # The link was used by that sign-in: its page can't answer it any more.
    assert (await page.confirm(token)).error_code == "invalid_magic_link"

    # Another challenge's (or a made-up) token is a wrong answer, counted.
    first, first_token = await start(api, admin, app_id, user_id)
    second, _ = await start(api, admin, app_id, user_id)
    wrong = await complete(api, second, {"response": first_token})
    assert wrong.status == 401 and wrong.error_code == "invalid_magic_link_token"
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert q.body["authenticatorLockoutStatus"][0]["remainingAuthenticationAttempts"] == 4
    # ...and uses that challenge up, not the other one.
    assert (await complete(api, second)).status == 401
    assert (await complete(api, first, {"response": first_token})).ok


async def test_replays_fail(api: Api, admin: Admin, page: LinkPage, user_id: str) -> None:
    app_id = await magic_app(admin)
    await admin.user(user_id, email=user_id)
    ch, token = await start(api, admin, app_id, user_id)
    assert (await page.confirm(token)).ok
    assert (await complete(api, ch)).body["authenticationCompleted"] is True
    # A confirmed, used link doesn't sign another challenge in, neither
    # answered again nor given as the other challenge's response.
    other, other_token = await start(api, admin, app_id, user_id)
    assert (await page.confirm(token)).error_code == "invalid_magic_link"
    poll = await complete(api, other)
    assert poll.status == 200 and poll.body["status"] == "NO_RESPONSE"
    replay = await complete(api, other, {"response": token})
    assert replay.status == 401 and replay.error_code == "invalid_magic_link_token"
    # The other link confirmed now is too late: its challenge is spent.
    assert (await page.confirm(other_token)).ok
    assert (await complete(api, other)).status == 401


async def test_expired_link(api: Api, admin: Admin, page: LinkPage, user_id: str) -> None:
    app_id = await magic_app(admin, tokenLifetimes={"challengeSeconds": 1})
    await admin.user(user_id, email=user_id)
    ch, token = await start(api, admin, app_id, user_id)
    await asyncio.sleep(1.3)
    late = await page.confirm(token)
    assert late.status == 404 and late.error_code == "invalid_magic_link"
    gone = await complete(api, ch)
    assert gone.status == 401 and gone.error_code in {"expired_token", "invalid_token",
                                                      "magic_link_expired"}
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert "authenticatorLockoutStatus" not in q.body or \
        q.body["authenticatorLockoutStatus"][0]["remainingAuthenticationAttempts"] == 5


async def test_bad_input(api: Api, admin: Admin, page: LinkPage, user_id: str,
                         server: RunningServer) -> None:
    app_id = await magic_app(admin)
    await admin.user(user_id, email=user_id)
    ch, token = await start(api, admin, app_id, user_id)
    for body, field in (({"response": "CONFIRM"}, "magicLinkToken"),
                        ({"magicLinkToken": "short", "response": "CONFIRM"}, "magicLinkToken"),
                        ({"magicLinkToken": token + "x", "response": "CONFIRM"},
                         "magicLinkToken"),
                        ({"magicLinkToken": token}, "response")):
        r = await page.respond(body)
        assert r.status == 400, (body, r)
        if api.transport == "rest":
            assert r.body["parameters"][0]["field"] == field
    if api.transport == "rest":
        wrong = await page.respond({"magicLinkToken": token, "response": "MAYBE"})
        assert wrong.status == 400
    else:
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await page.stub.RespondToMagicLink(
                pb.RespondToMagicLinkRequest(magic_link_token=token, response=7))
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_reason(exc.value) == "invalid_field"
    unknown = await page.confirm("A" * 43)
    assert unknown.status == 404 and unknown.error_code == "invalid_magic_link"
    if api.transport == "rest":
        raw = await page.http.post("/api/web/v1/magiclink/response", content=b"{not json",
                                   headers={"Content-Type": "application/json"})
        assert raw.status_code == 400
        validate(raw.json(), "ErrorInfo")
        # A GET (a mail scanner following links) is no answer and uses nothing up.
        got = await page.http.get("/api/web/v1/magiclink/response",
                                  params={"magicLinkToken": token, "response": "CONFIRM"})
        assert got.status_code in {404, 405}
    # None of that answered the link.
    poll = await complete(api, ch)
    assert poll.status == 200 and poll.body["status"] == "NO_RESPONSE"
    assert (await page.confirm(token)).ok
    assert (await complete(api, ch)).body["authenticationCompleted"] is True

    # No email: MAGICLINK is not the user's.
    bare = f"bare-{uuid.uuid4().hex[:8]}"
    await admin.user(bare)
    q = await api.query({"applicationId": app_id, "userId": bare})
    assert "MAGICLINK" not in q.body.get("authenticationTypes", [])
    r = await api.challenge("MAGICLINK", {"applicationId": app_id, "userId": bare})
    assert r.status == 400 and r.error_code == "authenticator_not_enrolled"
    # An application without a link page doesn't offer it.
    plain = await admin.req("POST", "/api/admin/v1/applications",
                            {"name": "no-link", "authenticators": ["MAGICLINK", "PASSWORD"]})
    r = await api.challenge("MAGICLINK", {"applicationId": plain["applicationId"],
                                          "userId": user_id})
    assert r.status == 400 and r.error_code == "authenticator_not_enrolled"
    # Not allowed by the demo application.
    r = await api.challenge("MAGICLINK", {"applicationId": server.demo_application_id,
                                          "userId": user_id})
    assert r.status == 403 and r.error_code == "authenticator_not_allowed"


async def test_no_default_challenge_and_no_redirect(api: Api, admin: Admin, page: LinkPage,
                                                    user_id: str) -> None:
    app_id = await magic_app(admin, redirect=False)
    await admin.user(user_id, email=user_id)
    q = await api.query({"applicationId": app_id, "userId": user_id,
                         "returnDefaultChallenge": True})
    assert q.status == 200, q
    validate(q.body, "UserAuthenticateQueryResponse")
    # The query response can't say a link was sent: it sends none.
    assert "token" not in q.body
    assert await links_in_outbox(admin, user_id) == []
    ch, token = await start(api, admin, app_id, user_id)
    answered = await page.confirm(token)
    assert answered.status == 200 and answered.body == {}
    assert (await complete(api, ch)).body["authenticationCompleted"] is True


async def test_magic_link_as_second_factor(api: Api, admin: Admin, page: LinkPage,
                                           user_id: str) -> None:
    app_id = await magic_app(admin, authenticators=("MAGICLINK", "PASSWORD_AND_SECONDFACTOR"))
    await admin.user(user_id, email=user_id)
    await admin.password(user_id, "Correct-Horse-9")
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert q.body["authenticationTypes"] == ["PASSWORD_AND_SECONDFACTOR", "MAGICLINK"]
    assert "MAGICLINK" in q.body["availableSecondFactor"]
    first = await api.challenge("PASSWORD_AND_SECONDFACTOR",
                                {"applicationId": app_id, "userId": user_id})
    step = await api.complete("PASSWORD_AND_SECONDFACTOR", {"response": "Correct-Horse-9"},
                              first.body["token"])
    assert step.status == 200 and step.body["authenticationCompleted"] is False
    second = await api.challenge("PASSWORD_AND_SECONDFACTOR", {
        "applicationId": app_id, "userId": user_id, "secondFactorAuthenticator": "MAGICLINK",
        "authToken": step.body["token"]})
    assert second.status == 200, second
    validate(second.body, "AuthenticatedResponse")
    assert second.body["magicLinkType"] == "AUTHENTICATION"
    token = (await links_in_outbox(admin, user_id))[-1]
    poll = await api.complete("PASSWORD_AND_SECONDFACTOR", {}, second.body["token"])
    assert poll.status == 200 and poll.body["status"] == "NO_RESPONSE"
    assert (await page.confirm(token)).ok
    done = await api.complete("PASSWORD_AND_SECONDFACTOR", {}, second.body["token"])
    assert done.status == 200 and done.body["authenticationCompleted"] is True
    validate(done.body, "AuthenticatedResponse")


async def test_concurrent_answers_one_wins(api: Api, admin: Admin, page: LinkPage,
                                           user_id: str) -> None:
    app_id = await magic_app(admin)
    await admin.user(user_id, email=user_id)
    ch, token = await start(api, admin, app_id, user_id)
    replies = await asyncio.gather(*(page.confirm(token) if i % 2 else page.cancel(token)
                                     for i in range(8)))
    assert sum(r.status == 200 for r in replies) == 1, replies
    assert all(r.error_code == "invalid_magic_link" for r in replies if r.status != 200)
    winner = next(i for i, r in enumerate(replies) if r.status == 200)
    done = await complete(api, ch)
    if winner % 2:
        assert done.status == 200 and done.body["authenticationCompleted"] is True
    else:
        assert done.status == 401 and done.error_code == "magic_link_cancelled"


@pytest.mark.parametrize("magic, problem_field", [
    ({"linkUrl": "http://rp.example/magic"}, "magicLink.linkUrl"),  # http off loopback
    ({"linkUrl": "https://evil.example/magic"}, "magicLink.linkUrl"),  # off the origins
    ({"linkUrl": "https://rp.example/magic#x"}, "magicLink.linkUrl"),
    ({"linkUrl": "https://user@rp.example/magic"}, "magicLink.linkUrl"),
    ({"linkUrl": "/magic"}, "magicLink.linkUrl"),
    ({"linkUrl": PAGE, "redirectUrl": "https://evil.example/"}, "magicLink.redirectUrl"),
    ({"linkUrl": PAGE, "lifetimeSeconds": 3601}, "magicLink.lifetimeSeconds"),
    ({"linkUrl": PAGE, "lifetimeSeconds": 0}, "magicLink.lifetimeSeconds"),
])
async def test_admin_settings_are_validated(admin: Admin, magic: dict[str, Any],
                                            problem_field: str) -> None:
    r = await admin.http.post("/api/admin/v1/applications", json={
        "name": "bad-magic", "authenticators": ["MAGICLINK"],
        "webauthn": {"origins": ["https://rp.example"]}, "magicLink": magic})
    assert r.status_code == 400, r.text
    assert r.json()["parameters"][0]["field"] == problem_field


async def test_admin_settings_round_trip(admin: Admin) -> None:
    app_id = await magic_app(admin, authenticators=("MAGICLINK", "PASSWORD"))
    got = await admin.req("GET", f"/api/admin/v1/applications/{app_id}")
    assert got["application"]["magicLink"] == {"linkUrl": PAGE, "redirectUrl": AFTER,
                                               "lifetimeSeconds": 600}
    path = f"/api/admin/v1/applications/{app_id}"
    # Changing the origins so that the link's page is off them is refused.
    r = await admin.http.patch(path, json={"webauthn": {"origins": ["https://other.example"]}})
    assert r.status_code == 400 and r.json()["parameters"][0]["field"] == "magicLink.linkUrl"
    r = await admin.http.patch(path, json={"magicLink": {"lifetimeSeconds": 120}})
    assert r.status_code == 200, r.text
    assert r.json()["application"]["magicLink"]["lifetimeSeconds"] == 120
    assert r.json()["application"]["magicLink"]["linkUrl"] == PAGE
    # Loopback http is fine where it is an origin.
    r = await admin.http.patch(path, json={
        "webauthn": {"origins": ["http://127.0.0.1:9"]},
        "magicLink": {"linkUrl": "http://127.0.0.1:9/m", "redirectUrl": ""}})
    assert r.status_code == 200, r.text
    assert r.json()["application"]["magicLink"]["redirectUrl"] == ""
