"""Message bombing (issue 15, item 3b): every message a request makes
authcore send (LoginID's /auth/otp/email|sms, Entrust OTP challenges,
Axidian OTP sessions, consumer enrollment and step-up SMS) waits 30 s
between two to one address and is capped per address and per client IP
per hour. Over a limit the caller gets the API's own 429 with Retry-After,
and LoginID's always-204 sends answer the same for an unknown username as
for a known one.

These tests run their own servers: `limited` with the production defaults
(the shared test server relaxes the limits, as it does the rate limits),
`capped` with no interval and small hourly caps. Each test talks from its
own loopback source address, so the per-IP caps of one test never touch
another's."""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2

from authcore.v1 import fido2_pb2 as fido2
from authcore.v1 import fido2_pb2_grpc
from authcore_testkit.api import Admin, RestApi
from authcore_testkit.axidian import OTP_SMS_MODE, AxidianClient
from authcore_testkit.consumer import ConsumerClient, Setup, expect_error
from authcore_testkit.loginid import LoginIdClient
from authcore_testkit.server import (
    RunningServer,
    fresh_postgres_database,
    postgres_base_url,
    redis_base_url,
    redis_namespace,
    run_server,
)

BACKENDS = ["sqlite"] + (["postgres"] if postgres_base_url() else [])

# An empty value means "the default" to config.py: undoes the relaxation
# run_server applies to every other test server.
DEFAULTS = {"AUTHCORE_DELIVERY_RESEND_SECONDS": "",
            "AUTHCORE_DELIVERY_ADDRESS_PER_HOUR": "",
            "AUTHCORE_DELIVERY_IP_PER_HOUR": ""}
CAPPED = {"AUTHCORE_DELIVERY_RESEND_SECONDS": "0",
          "AUTHCORE_DELIVERY_ADDRESS_PER_HOUR": "2",
          "AUTHCORE_DELIVERY_IP_PER_HOUR": "3"}


@dataclass
class Servers:
    limited: RunningServer
    capped: RunningServer


@pytest.fixture(scope="module", params=BACKENDS)
def servers(request: pytest.FixtureRequest) -> Iterator[Servers]:
    with ExitStack() as stack:
        started = []
        for env in (DEFAULTS, CAPPED):
            url = None
            full = dict(env)
            if request.param == "postgres":
                url = stack.enter_context(fresh_postgres_database())
                if redis_base_url():
                    full |= stack.enter_context(redis_namespace())
            started.append(stack.enter_context(
                run_server(backend=request.param, database_url=url, env=full)))
        yield Servers(*started)


def source_ip() -> str:
    """A loopback address no other test uses (Linux routes all of 127/8 to lo)."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


def http_from(server: RunningServer, ip: str, **kw: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.http_url, timeout=30,
                             transport=httpx.AsyncHTTPTransport(local_address=ip), **kw)


def origin(server: RunningServer) -> str:
    return "http://localhost:" + server.http_url.rsplit(":", 1)[1]


async def loginid_from(server: RunningServer, ip: str) -> LoginIdClient:
    client = LoginIdClient(server, "rest")
    await client.http.aclose()
    client.http = http_from(server, ip)
    return client


def code_in(message: dict[str, Any]) -> str:
    found = re.search(r"\b(\d{6,8})\b", message["text"])
    assert found, message
    return found.group(1)


def unique_phone() -> str:
    return "+1555" + "".join(random.choices("0123456789", k=7))


def retry_after(reply: Any) -> int:
    return int(reply.headers["retry-after"])


# -- the 30 s resend interval (production defaults) ---------------------------

@pytest.mark.parametrize("op,channel", [("send_sms", "SMS"), ("send_email", "EMAIL")])
async def test_loginid_resend_interval_reveals_no_account(servers: Servers, op: str,
                                                          channel: str) -> None:
    server = servers.limited
    name = f"bomb-{uuid.uuid4().hex[:10]}"
    admin = Admin(server)
    loginid = await loginid_from(server, source_ip())
    try:
        await admin.user(name, email=f"{name}@example.com", phone=unique_phone())
        app = {"appId": server.demo_application_id}
        answers = {}
        for username in (name, "nobody-" + name):
            body = {"user": {"username": username}, **app}
            first = await loginid.call(op, body, origin=origin(server))
            assert first.status == 204, first
            again = await loginid.call(op, body, origin=origin(server))
            # The client kit checks LoginID's {msg, msgCode} error body.
            assert again.status == 429, again
            assert 1 <= retry_after(again) <= 30, again.headers
            answers[username] = again
        known, unknown = answers[name], answers["nobody-" + name]
        assert known.body == unknown.body
        sent = await admin.outbox(name)
        assert [m["channel"] for m in sent] == [channel]
        # The other channel is another address: not held back.
        other = "send_email" if op == "send_sms" else "send_sms"
        assert (await loginid.call(other, {"user": {"username": name}, **app},
                                   origin=origin(server))).status == 204
        assert len(await admin.outbox(name)) == 2
    finally:
        await loginid.close()
        await admin.close()


async def test_loginid_interval_over_grpc(servers: Servers) -> None:
    server = servers.limited
    name = f"bomb-{uuid.uuid4().hex[:10]}"
    admin = Admin(server)
    try:
        await admin.user(name, phone=unique_phone())
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            stub = fido2_pb2_grpc.Fido2ServiceStub(channel)
            request = fido2.SendAuthCodeSmsRequest(
                app_id=server.demo_application_id, origin=origin(server))
            request.user.username = name
            await stub.SendAuthCodeSms(request)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.SendAuthCodeSms(request)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        details = dict(refused.value.trailing_metadata() or ())
        status = status_pb2.Status.FromString(details["grpc-status-details-bin"])
        retry = error_details_pb2.RetryInfo()
        assert any(d.Unpack(retry) for d in status.details)
        assert 1 <= retry.retry_delay.seconds <= 30
        assert len(await admin.outbox(name)) == 1
    finally:
        await admin.close()


async def test_entrust_otp_challenge_interval(servers: Servers) -> None:
    server = servers.limited
    user_id = f"bomb-{uuid.uuid4().hex[:10]}"
    phone = unique_phone()
    admin = Admin(server)
    api = RestApi(server)
    await api.http.aclose()
    api.http = http_from(server, source_ip())
    try:
        await admin.user(user_id, email=f"{user_id}@example.com", phone=phone)
        body = {"applicationId": server.demo_application_id, "userId": user_id}
        first = await api.challenge("OTP", {**body, "otpDeliveryType": "SMS"})
        assert first.status == 200, first
        for channel in ("SMS", "VOICE"):  # one phone, whichever way it rings
            again = await api.challenge("OTP", {**body, "otpDeliveryType": channel})
            assert again.status == 429, again
            assert again.error_code == "delivery_rate_limited", again.body
            assert 1 <= retry_after(again) <= 30
            assert phone not in str(again.body) and user_id not in str(again.body)
        mailed = await api.challenge("OTP", {**body, "otpDeliveryType": "EMAIL"})
        assert mailed.status == 200, mailed
        sent = await admin.outbox(user_id)
        assert [(m["channel"], m["address"]) for m in sent] == [
            ("SMS", phone), ("EMAIL", f"{user_id}@example.com")]
        # The first code still works: the refusal left the challenge alone.
        done = await api.complete("OTP", {"response": code_in(sent[0])}, first.body["token"])
        assert done.status == 200, done
    finally:
        await api.close()
        await admin.close()


async def test_axidian_otp_session_interval(servers: Servers) -> None:
    server = servers.limited
    user_id = f"bomb-{uuid.uuid4().hex[:10]}"
    admin = Admin(server)
    axidian = AxidianClient(server, "rest")
    await axidian.http.aclose()
    axidian.http = http_from(server, source_ip())
    try:
        await admin.user(user_id, phone=unique_phone())
        app_id = server.demo_application_id
        assert (await axidian.open(app_id, user_id, OTP_SMS_MODE)).status == 200
        again = await axidian.open(app_id, user_id, OTP_SMS_MODE)
        # The client kit checks Axidian's {Message, ErrorCode} body.
        assert again.status == 429, again
        assert 1 <= int(again.headers["retry-after"]) <= 30
        assert len(await admin.outbox(user_id)) == 1
    finally:
        await axidian.close()
        await admin.close()


async def test_consumer_sms_interval(servers: Servers) -> None:
    server = servers.limited
    phone = unique_phone()
    async with Setup(server) as setup, ConsumerClient(server, "rest") as consumer:
        await consumer.http.aclose()
        consumer.http = http_from(server, source_ip())
        user = await setup.user()
        token = await consumer.login_ok(user.email)
        assert (await consumer.enroll_otp(token, phone)).status == 204
        # The kit checks the consumer API's {message} error body.
        again = await consumer.enroll_otp(token, phone)
        expect_error(again, 429)
        assert again.retry_after is not None and 1 <= again.retry_after <= 30
        assert len(await setup.sms(user.user_id)) == 1
        # The refused request changed nothing: the first code enrolls.
        code = await setup.last_sms_code(user.user_id)
        assert (await consumer.verify_otp_factor(token, code)).status == 204
        expect_error(await consumer.start_otp_stepup(token), 429)
        assert len(await setup.sms(user.user_id)) == 1


# -- hourly caps (no interval, 2 per address, 3 per IP) ----------------------

async def test_hourly_cap_per_address(servers: Servers) -> None:
    server = servers.capped
    phone = unique_phone()
    first, second = (f"cap-{uuid.uuid4().hex[:10]}" for _ in range(2))
    admin = Admin(server)
    api = RestApi(server)
    await api.http.aclose()
    api.http = http_from(server, source_ip())
    loginid = await loginid_from(server, source_ip())
    try:
        for user_id in (first, second):
            await admin.user(user_id, phone=phone)
        body = {"applicationId": server.demo_application_id, "userId": first,
                "otpDeliveryType": "SMS"}
        for _ in range(2):
            assert (await api.challenge("OTP", body)).status == 200
        refused = await api.challenge("OTP", body)
        assert refused.status == 429 and refused.error_code == "delivery_rate_limited"
        # GCRA: two per hour, so the next one is half an hour away.
        assert 60 < retry_after(refused) <= 1800
        # Another account with the same phone can't get past the cap; its
        # always-204 LoginID send says nothing and sends nothing.
        other = await loginid.call("send_sms", {"user": {"username": second},
                                                "appId": server.demo_application_id},
                                   origin=origin(server))
        assert other.status == 204, other
        assert await admin.outbox(second) == []
        assert len(await admin.outbox(first)) == 2
    finally:
        await loginid.close()
        await api.close()
        await admin.close()


async def test_hourly_cap_per_ip(servers: Servers) -> None:
    server = servers.capped
    ip = source_ip()
    admin = Admin(server)
    loginid = await loginid_from(server, ip)
    api = RestApi(server)
    await api.http.aclose()
    api.http = http_from(server, ip)
    elsewhere = await loginid_from(server, source_ip())
    try:
        users = [f"cap-{uuid.uuid4().hex[:10]}" for _ in range(3)]
        for user_id in users:
            await admin.user(user_id, phone=unique_phone())
        app = {"appId": server.demo_application_id}

        def send(username: str) -> dict[str, Any]:
            return {"user": {"username": username}, **app}

        # Unknown usernames count as much as known ones.
        for username in (users[0], "nobody-" + users[1], users[2]):
            assert (await loginid.call("send_sms", send(username),
                                       origin=origin(server))).status == 204
        refused = await loginid.call("send_sms", send(users[1]), origin=origin(server))
        assert refused.status == 429 and retry_after(refused) > 60, refused
        entrust = await api.challenge("OTP", {"applicationId": server.demo_application_id,
                                              "userId": users[1], "otpDeliveryType": "SMS"})
        assert entrust.status == 429 and entrust.error_code == "delivery_rate_limited"
        assert await admin.outbox(users[1]) == []
        # Another client is not held back.
        assert (await elsewhere.call("send_sms", send(users[1]),
                                     origin=origin(server))).status == 204
        assert len(await admin.outbox(users[1])) == 1
    finally:
        await elsewhere.close()
        await api.close()
        await loginid.close()
        await admin.close()
