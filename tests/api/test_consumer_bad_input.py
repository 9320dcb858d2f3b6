"""Bad input to every consumer API path: validation errors in the consumer
shape ({message, syntaxErrors: {invalidFields: [{params, fieldName, error}]}}),
malformed JSON, wrong JSON types, oversized bodies, unknown and odd ids,
wrong methods. Always 4xx, never 5xx (ConsumerClient asserts that on every
call)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from authcore_testkit.consumer import (
    OPS,
    PASSWORD,
    PHONE,
    ConsumerClient,
    Setup,
    SoftPushDevice,
    expect_error,
    unique_email,
)
from authcore_testkit.server import RunningServer

LONG_EMAIL = "x" * 64 + "@" + ".".join(["d" * 60] * 5) + ".com"   # 373 chars
assert len(LONG_EMAIL) > 320


@pytest.fixture(params=["rest", "grpc"])
async def consumer(request: pytest.FixtureRequest, server: RunningServer
                   ) -> AsyncIterator[ConsumerClient]:
    async with ConsumerClient(server, request.param) as client:
        yield client


@pytest.fixture
async def rest(server: RunningServer) -> AsyncIterator[ConsumerClient]:
    async with ConsumerClient(server, "rest") as client:
        yield client


@pytest.fixture
async def setup(server: RunningServer) -> AsyncIterator[Setup]:
    async with Setup(server) as s:
        yield s


@pytest.fixture
async def token(server: RunningServer, setup: Setup) -> str:
    user = await setup.user()
    async with ConsumerClient(server, "rest") as client:
        return await client.login_ok(user.email)


def url(op_name: str, **path: str) -> str:
    defaults = {"channel": "SMS" if "otp" in OPS[op_name].path else "BIOMETRIC",
                "id": str(uuid.uuid4())}
    return OPS[op_name].path.format(**{**defaults, **path})


POST_OPS = [name for name, op in OPS.items() if op.http_method == "POST"]


# --------------------------------------------------------- login validation

@pytest.mark.parametrize(("body", "fields"), [
    ({"password": {"value": PASSWORD}}, {"email": "REQUIRED"}),
    ({"email": "", "password": {"value": PASSWORD}}, {"email": "REQUIRED"}),
    ({"email": "not-an-email", "password": {"value": PASSWORD}}, {"email": "REGEX"}),
    ({"email": "a@", "password": {"value": PASSWORD}}, {"email": "REGEX"}),
    ({"email": "@example.com", "password": {"value": PASSWORD}}, {"email": "REGEX"}),
    ({"email": "a b@example.com", "password": {"value": PASSWORD}}, {"email": "REGEX"}),
    ({"email": LONG_EMAIL, "password": {"value": PASSWORD}}, {"email": "SIZE"}),
    ({"email": "a@example.com"}, {"password.value": "REQUIRED"}),
    ({"email": "a@example.com", "password": {}}, {"password.value": "REQUIRED"}),
    ({"email": "a@example.com", "password": {"value": ""}}, {"password.value": "REQUIRED"}),
    ({}, {"email": "REQUIRED", "password.value": "REQUIRED"}),
], ids=["no-email", "empty-email", "no-at", "no-domain", "no-local", "space", "too-long",
        "no-password", "no-value", "empty-value", "empty-body"])
async def test_login_validation(consumer: ConsumerClient, body: dict[str, Any],
                                fields: dict[str, str]) -> None:
    reply = await consumer.call("login", body)
    expect_error(reply, 400, fields=fields)


async def test_login_validation_lists_every_field_with_params(rest: ConsumerClient) -> None:
    reply = await rest.call("login", {"email": LONG_EMAIL})
    expect_error(reply, 400, fields={"email": "SIZE", "password.value": "REQUIRED"})
    for item in reply.body["syntaxErrors"]["invalidFields"]:
        assert isinstance(item["params"], list)


async def test_login_validation_comes_before_any_password_check(
        consumer: ConsumerClient, setup: Setup) -> None:
    # Validation failures are no login failures: they never lock the account.
    user = await setup.user()
    for _ in range(6):
        expect_error(await consumer.call("login", {"email": user.email}), 400)
    assert (await consumer.login(user.email, PASSWORD)).status == 200


async def test_login_wrong_json_types(rest: ConsumerClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"email": 5, "password": {"value": PASSWORD}}, "email"),
        ({"email": ["a@example.com"], "password": {"value": PASSWORD}}, "email"),
        ({"email": "a@example.com", "password": "secret"}, "password"),
        ({"email": "a@example.com", "password": {"value": 5}}, "password.value"),
        ({"email": "a@example.com", "password": {"value": {"x": 1}}}, "password.value"),
    ]
    for body, name in cases:
        reply = await rest.call("login", body)
        expect_error(reply, 400)
        assert name in reply.invalid_fields, (body, str(reply))
        if body.get("email") == 5:
            assert reply.invalid_fields == {"email": "INVALID_TYPE"}, str(reply)


@pytest.mark.parametrize("content", [
    b"{", b"{\"email\": ", b"not json", b"{\"email\": \"a@example.com\",}", b"\xff\xfe",
    b"{\"email\": NaN}",
], ids=["open", "truncated", "text", "trailing-comma", "bad-utf8", "nan"])
async def test_login_malformed_json(rest: ConsumerClient, content: bytes) -> None:
    reply = await rest.raw("POST", "/consumer/v1/login", content=content)
    expect_error(reply, 400)
    assert set(reply.body) == {"message"}, reply.body


@pytest.mark.parametrize("content", [b"[]", b"\"email\"", b"5", b"null", b""],
                         ids=["array", "string", "number", "null", "empty"])
async def test_login_body_that_is_not_an_object(rest: ConsumerClient, content: bytes) -> None:
    reply = await rest.raw("POST", "/consumer/v1/login", content=content)
    expect_error(reply, 400)


async def test_login_unknown_keys_are_ignored(rest: ConsumerClient, setup: Setup) -> None:
    user = await setup.user()
    reply = await rest.call("login", {"email": user.email, "password": {"value": PASSWORD},
                                      "rememberMe": True})
    assert reply.status == 200, str(reply)


# --------------------------------------------------------- every POST path

@pytest.mark.parametrize("op_name", POST_OPS)
async def test_malformed_json_everywhere(rest: ConsumerClient, token: str, op_name: str
                                         ) -> None:
    reply = await rest.raw("POST", url(op_name), content=b"{\"x\": ",
                           headers={"Authorization": f"Bearer {token}"})
    expect_error(reply, 400)
    assert set(reply.body) == {"message"}, reply.body


@pytest.mark.parametrize("op_name", POST_OPS)
async def test_array_body_everywhere(rest: ConsumerClient, token: str, op_name: str) -> None:
    reply = await rest.raw("POST", url(op_name), content=b"[{}]",
                           headers={"Authorization": f"Bearer {token}"})
    expect_error(reply, 400)


@pytest.mark.parametrize("op_name", POST_OPS)
async def test_oversized_body_everywhere(rest: ConsumerClient, token: str, op_name: str
                                         ) -> None:
    big = json.dumps({"email": "a@example.com", "padding": "x" * (1 << 20)}).encode()
    reply = await rest.raw("POST", url(op_name), content=big,
                           headers={"Authorization": f"Bearer {token}"})
    expect_error(reply, 413)


WRONG_TYPES: list[tuple[str, dict[str, Any], str]] = [
    ("update_password", {"newPassword": 5}, "newPassword"),
    ("update_password", {"newPassword": {"value": PASSWORD}, "oldPassword": []}, "oldPassword"),
    ("access_token", {"identity": "CONSUMER"}, "identity"),
    ("access_token", {"identity": {"type": "PERSON", "id": "x"}}, "identity.type"),
    ("access_token", {"identity": {"type": "CONSUMER", "id": 5}}, "identity.id"),
    ("enroll_otp", {"mobileNumber": 447700900123}, "mobileNumber"),
    ("verify_otp_factor", {"verificationCode": 123456}, "verificationCode"),
    ("enroll_push", {"publicKey": {"kty": "EC"}, "deviceName": "x"}, "publicKey"),
    ("enroll_push", {"publicKey": "x", "deviceName": 5}, "deviceName"),
    ("verify_otp_stepup", {"verificationCode": True}, "verificationCode"),
    ("respond_push", {"outcome": "MAYBE", "signature": "x"}, "outcome"),
    ("respond_push", {"outcome": "APPROVED", "signature": 5}, "signature"),
    ("logout", {"authorization": 5}, "authorization"),
]


@pytest.mark.parametrize(("op_name", "body", "field_name"), WRONG_TYPES,
                         ids=[f"{op}-{name}" for op, _, name in WRONG_TYPES])
async def test_wrong_json_types_everywhere(rest: ConsumerClient, token: str, op_name: str,
                                           body: dict[str, Any], field_name: str) -> None:
    reply = await rest.raw("POST", url(op_name), content=json.dumps(body).encode(),
                           headers={"Authorization": f"Bearer {token}"})
    expect_error(reply, 400)
    assert field_name in reply.invalid_fields, str(reply)


# ------------------------------------------------------------ missing fields

async def test_missing_fields(consumer: ConsumerClient, token: str) -> None:
    cases: list[tuple[str, dict[str, Any], dict[str, str], str]] = [
        ("verify_otp_factor", {}, {"channel": "SMS"}, "verificationCode"),
        ("verify_otp_stepup", {}, {}, "verificationCode"),
        ("enroll_push", {"deviceName": "x"}, {"channel": "BIOMETRIC"}, "publicKey"),
        ("access_token", {}, {}, "identity"),
        ("respond_push", {"outcome": "APPROVED"}, {"id": str(uuid.uuid4())}, "signature"),
    ]
    for op_name, body, path, name in cases:
        reply = await consumer.call(op_name, body, path=path, token=token)
        expect_error(reply, 400)
        assert reply.invalid_fields.get(name) == "REQUIRED", (op_name, str(reply))


async def test_access_token_identity_parts(consumer: ConsumerClient, token: str) -> None:
    for identity in ({"type": "CONSUMER"}, {"id": str(uuid.uuid4())}):
        reply = await consumer.call("access_token", {"identity": identity}, token=token)
        expect_error(reply, 400)
        assert reply.invalid_fields, str(reply)


# ------------------------------------------------------- ids and path values

ODD_IDS = ["not-a-uuid", "x" * 2000, "%00", "..", "'; DROP TABLE step_ups; --",
           str(uuid.uuid4()).upper(), "\u00e9\u00e8"]


async def test_odd_step_up_ids(consumer: ConsumerClient, token: str) -> None:
    device = SoftPushDevice()
    for step_up_id in ODD_IDS:
        got = await consumer.get_push(token, step_up_id)
        assert got.status in (400, 404), (step_up_id, str(got))
        expect_error(got, got.status)
        answered = await consumer.respond_push(
            *device.answer({"id": step_up_id, "challenge": "c"}, "APPROVED"))
        assert answered.status in (400, 404), (step_up_id, str(answered))
        expect_error(answered, answered.status)


async def test_odd_channels(consumer: ConsumerClient, token: str) -> None:
    key = SoftPushDevice().public_key()
    for channel in ("sms", "Sms", "x" * 300, "SMS%20", "EMAIL"):
        reply = await consumer.enroll_otp(token, PHONE, channel=channel)
        expect_error(reply, reply.status)
        assert reply.status in (400, 404), (channel, str(reply))
    for channel in ("biometric", "x" * 300, "PUSH"):
        reply = await consumer.enroll_push(token, key, channel=channel)
        expect_error(reply, reply.status)
        assert reply.status in (400, 404), (channel, str(reply))


async def test_long_values_are_refused_not_crashed(consumer: ConsumerClient, token: str
                                                   ) -> None:
    long = "x" * 100_000
    # Lengths the API doesn't limit need only not crash (ConsumerClient
    # checks every reply is below 500).
    named = await consumer.enroll_push(token, SoftPushDevice().public_key(), device_name=long)
    assert named.status in (200, 400), str(named)
    replies = [
        await consumer.login(unique_email(), long),
        await consumer.login(long, PASSWORD),
        await consumer.update_password(token, long, old=long),
        await consumer.enroll_push(token, long),
        await consumer.access_token(token, "CONSUMER", long),
        await consumer.verify_otp_stepup(token, long),
        await consumer.enroll_otp(token, "+" + "4" * 5000),
    ]
    for reply in replies:
        assert 400 <= reply.status < 500, str(reply)
        expect_error(reply, reply.status)


# --------------------------------------------------------- methods and paths

async def test_wrong_methods_and_unknown_paths(rest: ConsumerClient, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    for method, path in (("GET", "/consumer/v1/login"), ("DELETE", "/consumer/v1/identities"),
                         ("PUT", "/consumer/v1/logout")):
        r = await rest.http.request(method, path, headers=auth)
        assert r.status_code == 405, (method, path, r.status_code, r.text)
    for path in ("/consumer/v1/nothing", "/consumer/v2/login",
                 "/consumer/v1/stepup/push/x/y/z"):
        r = await rest.http.post(path, json={}, headers=auth)
        assert r.status_code == 404, (path, r.status_code, r.text)


async def test_get_with_a_body_is_harmless(rest: ConsumerClient, token: str) -> None:
    r = await rest.http.request("GET", "/consumer/v1/identities", content=b"{not json",
                                headers={"Authorization": f"Bearer {token}"})
    assert r.status_code in (200, 400), r.text
