"""Bad input to the Axidian logon API gets a 4xx in Axidian's {Message,
ErrorCode} style: never a 5xx, never a traceback. Wire-level faults (broken
JSON, wrong types) are REST only; the rest runs over REST and gRPC."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from authcore_testkit.api import Admin
from authcore_testkit.axidian import (
    PASSWORD_MODE,
    PATHS,
    AxidianClient,
    check_error_body,
)
from authcore_testkit.server import RunningServer

PASSWORD = "correct horse battery staple"
NOT_A_GUID = ["nope", "cf189af5-01c5-469d-a859", "cf189af5-01c5-469d-a859-a8f2f41ed15z",
              "{cf189af5-01c5-469d-a859-a8f2f41ed153", "cf189af5-01c5469d-a859-a8f2f41ed153"]


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.http_url, timeout=30) as client:
        yield client


@pytest.fixture(params=["rest", "grpc"])
async def axidian(request: pytest.FixtureRequest, server: RunningServer
                  ) -> AsyncIterator[AxidianClient]:
    client = AxidianClient(server, request.param)
    yield client
    await client.close()


def error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    check_error_body(r.status_code, body, r.text)
    if code is not None:
        assert body["ErrorCode"] == code, body
    return body  # type: ignore[no-any-return]


# -- REST only: the wire ---------------------------------------------------------------

@pytest.mark.parametrize("op", sorted(PATHS))
def test_malformed_json(http: httpx.Client, op: str) -> None:
    r = http.post(PATHS[op], content=b'{"ApplicationId": ',
                  headers={"Content-Type": "application/json"})
    error(r, 400, "malformed_json")


@pytest.mark.parametrize("op", sorted(PATHS))
@pytest.mark.parametrize("content", [b"[]", b'"text"', b"5", b"null"])
def test_body_must_be_an_object(http: httpx.Client, op: str, content: bytes) -> None:
    r = http.post(PATHS[op], content=content, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    check_error_body(r.status_code, r.json(), r.text)


@pytest.mark.parametrize("op,body", [
    ("is_available", {"ApplicationId": "a", "UserId": 5}),
    ("is_available", {"ApplicationId": ["a"], "UserId": "u"}),
    ("is_available", {"ApplicationId": "a", "UserId": "u", "ExcludeWindowsPassword": "yes"}),
    ("get_available_methods", {"ApplicationId": "a", "UserId": "u", "IncludeModeIds": "x"}),
    ("get_available_methods", {"ApplicationId": "a", "UserId": "u", "ExcludeModeIds": [5]}),
    ("open_verify_session", {"UserSearchParams": "someone", "ModeId": PASSWORD_MODE,
                             "ApplicationId": "a"}),
    ("open_verify_session", {"UserSearchParams": {"UserId": 7}, "ModeId": PASSWORD_MODE,
                             "ApplicationId": "a"}),
    ("prepare_template_data", {"SessionId": str(uuid.uuid4()), "Data": 123456}),
    ("create_template", {"SessionId": {"id": 1}}),
    ("authenticate", {"TemplateId": 42}),
])
def test_wrong_types(http: httpx.Client, op: str, body: dict[str, Any]) -> None:
    error(http.post(PATHS[op], json=body), 400)


def test_empty_body_is_missing_fields(http: httpx.Client) -> None:
    for op in PATHS:
        r = http.post(PATHS[op], json={})
        error(r, 400, "missing_field")


def test_unknown_fields_are_ignored_and_keys_match_without_case(
    http: httpx.Client, app_id: str
) -> None:
    r = http.post(PATHS["get_available_methods"],
                  json={"applicationid": app_id, "USERID": "nobody@example.com", "Extra": 1})
    assert r.status_code == 200, r.text
    # An unknown user, on an application that hides that: a password user.
    assert r.json() == {"ValidPropertiesMask": 1, "AutheticationMethods": [PASSWORD_MODE]}


def test_too_large_body(http: httpx.Client) -> None:
    r = http.post(PATHS["prepare_template_data"],
                  json={"SessionId": str(uuid.uuid4()), "Data": "x" * (4 << 20)})
    assert r.status_code == 413, r.status_code
    check_error_body(413, r.json(), r.text)


# -- both transports -----------------------------------------------------------------

@pytest.mark.parametrize("op,body,field", [
    ("is_available", {"UserId": "u"}, "ApplicationId"),
    ("is_available", {"ApplicationId": "a"}, "UserId"),
    ("get_available_methods", {"UserId": "u"}, "ApplicationId"),
    ("get_available_methods", {"ApplicationId": "a", "UserId": ""}, "UserId"),
    ("open_verify_session", {"ModeId": PASSWORD_MODE, "ApplicationId": "a"},
     "UserSearchParams.UserId"),
    ("open_verify_session", {"UserSearchParams": {"UserId": "u"}, "ApplicationId": "a"},
     "ModeId"),
    ("open_verify_session", {"UserSearchParams": {"UserId": "u"}, "ModeId": PASSWORD_MODE},
     "ApplicationId"),
    ("prepare_template_data", {"Data": "x"}, "SessionId"),
    ("prepare_template_data", {"SessionId": str(uuid.uuid4())}, "Data"),
    ("create_template", {}, "SessionId"),
    ("authenticate", {"BusinessApplication": "b"}, "TemplateId"),
])
async def test_missing_fields(axidian: AxidianClient, op: str, body: dict[str, Any],
                              field: str) -> None:
    reply = await axidian.call(op, body)
    assert reply.status == 400 and reply.error_code == "missing_field", reply
    if axidian.transport == "rest":
        assert field in reply.body["Message"], reply.body


@pytest.mark.parametrize("bad", NOT_A_GUID)
async def test_malformed_guids(axidian: AxidianClient, app_id: str, user_id: str,
                               bad: str) -> None:
    calls: list[tuple[str, dict[str, Any]]] = [
        ("get_available_methods", {"ApplicationId": app_id, "UserId": user_id,
                                   "IncludeModeIds": [PASSWORD_MODE, bad]}),
        ("get_available_methods", {"ApplicationId": app_id, "UserId": user_id,
                                   "ExcludeModeIds": [bad]}),
        ("open_verify_session", {"UserSearchParams": {"UserId": user_id}, "ModeId": bad,
                                 "ApplicationId": app_id}),
        ("prepare_template_data", {"SessionId": bad, "Data": "x"}),
        ("create_template", {"SessionId": bad}),
        ("authenticate", {"TemplateId": bad}),
    ]
    for op, body in calls:
        reply = await axidian.call(op, body)
        assert reply.status == 400 and reply.error_code == "invalid_guid", (op, reply)


async def test_unknown_mode(axidian: AxidianClient, admin: Admin, app_id: str,
                            user_id: str) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    for mode in (str(uuid.uuid4()), "00000000-0000-0000-0000-000000000000"):
        reply = await axidian.open(app_id, user_id, mode)
        assert reply.status == 400 and reply.error_code == "unknown_mode", reply


async def test_data_longer_than_1024_characters(axidian: AxidianClient, admin: Admin,
                                                app_id: str, user_id: str) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    session_id = await axidian.session(app_id, user_id, PASSWORD_MODE)
    long = await axidian.prepare(session_id, "x" * 1025)
    assert long.status == 400 and long.error_code == "data_too_long", long
    assert (await axidian.prepare(session_id, "é" * 1024)).status == 200


async def test_unknown_ids_are_401(axidian: AxidianClient) -> None:
    unknown = str(uuid.uuid4())
    for reply in (await axidian.prepare(unknown, "x"),
                  await axidian.create_template(unknown)):
        assert reply.status == 401 and reply.error_code == "invalid_session", reply
    reply = await axidian.authenticate(unknown)
    assert reply.status == 401 and reply.error_code == "invalid_template", reply


async def test_ids_are_not_interchangeable(axidian: AxidianClient, admin: Admin, app_id: str,
                                           user_id: str) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    session_id = await axidian.session(app_id, user_id, PASSWORD_MODE)
    as_template = await axidian.authenticate(session_id)
    assert as_template.status == 401 and as_template.error_code == "invalid_template"
    await axidian.prepare(session_id, PASSWORD)
    created = await axidian.create_template(session_id)
    template_id = created.body["TemplateId"]
    for reply in (await axidian.prepare(template_id, PASSWORD),
                  await axidian.create_template(template_id)):
        assert reply.status == 401 and reply.error_code == "invalid_session", reply
    # The template is still good after those attempts.
    assert (await axidian.authenticate(template_id)).status == 200


async def test_reused_ids_are_401(axidian: AxidianClient, admin: Admin, app_id: str,
                                  user_id: str) -> None:
    await admin.user(user_id)
    await admin.password(user_id, PASSWORD)
    session_id = await axidian.session(app_id, user_id, PASSWORD_MODE)
    await axidian.prepare(session_id, PASSWORD)
    template_id = (await axidian.create_template(session_id)).body["TemplateId"]
    assert (await axidian.authenticate(template_id)).status == 200
    for op, body, code in (
        ("prepare_template_data", {"SessionId": session_id, "Data": PASSWORD},
         "invalid_session"),
        ("create_template", {"SessionId": session_id}, "invalid_session"),
        ("authenticate", {"TemplateId": template_id}, "invalid_template"),
    ):
        reply = await axidian.call(op, body)
        assert reply.status == 401 and reply.error_code == code, (op, reply)
