"""Entrust self-service user values (/api/web/v1/self/values) over REST and
gRPC: read, set and delete what the application lets users edit, an email
change proved by the code from the real outbox, wrong and expired codes,
and bad input. Bodies are checked against the Entrust spec (its `Error` for
these paths)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.consumer import SandboxClock, sandbox_server
from authcore_testkit.entrust_fido import login, user_with_password
from authcore_testkit.schemas import ENTRUST
from authcore_testkit.self_api import VALUES, SelfApi
from authcore_testkit.server import RunningServer

Api = RestApi | GrpcApi


def validate_values(body: Any) -> None:
    assert isinstance(body, list)
    for item in body:
        ENTRUST.validate(item, "UserClientValue")


def check_error(reply: Any, status: int, code: str) -> None:
    assert reply.status == status, reply
    assert reply.error_code == code, reply
    if isinstance(reply.body, dict) and "code" in reply.body:
        ENTRUST.validate(reply.body, "Error")


@pytest.fixture
async def me(api: Api, server: RunningServer) -> AsyncIterator[SelfApi]:
    client = SelfApi(server, api.transport)
    yield client
    await client.close()


async def values_app(admin: Admin, editable: list[str]) -> str:
    app = await admin.req("POST", "/api/admin/v1/applications", {
        "name": f"values-{uuid.uuid4().hex[:8]}", "authenticators": ["PASSWORD"],
        "selfService": {"editableValues": {"names": editable}}})
    return str(app["applicationId"])


async def signed_in(api: Api, admin: Admin, app: str) -> tuple[str, str]:
    user_id = f"val-{uuid.uuid4().hex[:10]}"
    await user_with_password(admin, user_id, email=f"{user_id}@old.example",
                             firstName="Ada", lastName="Lovelace")
    return await login(api, app, user_id), user_id


def as_dict(body: list[dict[str, str]]) -> dict[str, str]:
    return {v["name"]: v["value"] for v in body}


async def code_for(admin: Admin, user_id: str, address: str) -> str:
    last = (await admin.outbox(user_id))[-1]
    assert last["address"] == address
    return re.search(r"\b(\d{6})\b", last["text"]).group(1)  # type: ignore[union-attr]


async def test_read_and_edit_allowed(api: Api, me: SelfApi, admin: Admin) -> None:
    app = await values_app(admin, ["firstName", "title"])
    jwt, user_id = await signed_in(api, admin, app)
    got = await me.get_values(jwt)
    assert got.status == 200, got
    validate_values(got.body)
    assert as_dict(got.body) == {"email": f"{user_id}@old.example", "firstName": "Ada",
                                 "lastName": "Lovelace"}

    done = await me.set_values(jwt, [{"name": "firstName", "value": " Augusta "},
                                     {"name": "title", "value": "Countess"}])
    assert done.status == 200 and done.body is None, done
    now = as_dict((await me.get_values(jwt)).body)
    assert now["firstName"] == "Augusta" and now["title"] == "Countess"

    left = await me.delete_values(jwt, ["title"])
    assert left.status == 200, left
    validate_values(left.body)
    assert "title" not in as_dict(left.body)
    # An empty array deletes every editable value.
    cleared = await me.delete_values(jwt, [])
    assert cleared.status == 200
    assert set(as_dict(cleared.body)) == {"email", "lastName"}


async def test_refused_attribute_changes_nothing(api: Api, me: SelfApi, admin: Admin) -> None:
    app = await values_app(admin, ["firstName"])
    jwt, _ = await signed_in(api, admin, app)
    before = (await me.get_values(jwt)).body
    # All or nothing: the editable firstName is not written either.
    refused = await me.set_values(jwt, [{"name": "firstName", "value": "X"},
                                        {"name": "lastName", "value": "Y"}])
    check_error(refused, 403, "value_not_editable")
    assert (await me.get_values(jwt)).body == before
    check_error(await me.delete_values(jwt, ["lastName"]), 403, "value_not_editable")


async def test_nothing_editable_by_default(api: Api, me: SelfApi, admin: Admin) -> None:
    created = await admin.req("POST", "/api/admin/v1/applications", {
        "name": f"plain-{uuid.uuid4().hex[:8]}", "authenticators": ["PASSWORD"]})
    assert created["application"]["selfService"]["editableValues"].get("names", []) == []
    jwt, _ = await signed_in(api, admin, created["applicationId"])
    check_error(await me.set_values(jwt, [{"name": "firstName", "value": "X"}]), 403,
                "value_not_editable")


async def test_email_change_needs_the_code(api: Api, me: SelfApi, admin: Admin) -> None:
    app = await values_app(admin, ["email"])
    jwt, user_id = await signed_in(api, admin, app)
    new = f"{user_id}@new.example"
    held = await me.set_values(jwt, [{"name": "email", "value": new}])
    assert held.status == 200, held
    # Held: the old address stays until the code is proved.
    assert as_dict((await me.get_values(jwt)).body)["email"] == f"{user_id}@old.example"
    code = await code_for(admin, user_id, new)
    wrong = "000000" if code != "000000" else "111111"
    check_error(await me.verify_value(jwt, {"name": "email", "code": wrong}), 400,
                "invalid_code")
    done = await me.verify_value(jwt, {"name": "email", "code": code})
    assert done.status == 200, done
    validate_values(done.body)
    assert as_dict(done.body)["email"] == new
    user = await admin.req("GET", f"/api/admin/v1/users/{user_id}")
    assert user["user"]["email"] == new
    # Single use.
    check_error(await me.verify_value(jwt, {"name": "email", "code": code}), 400,
                "invalid_code")


async def test_wrong_codes_lock(api: Api, me: SelfApi, admin: Admin) -> None:
    app = await values_app(admin, ["email"])
    jwt, user_id = await signed_in(api, admin, app)
    new = f"{user_id}@new.example"
    assert (await me.set_values(jwt, [{"name": "email", "value": new}])).ok
    code = await code_for(admin, user_id, new)
    wrong = "000000" if code != "000000" else "111111"
    last = None
    for _ in range(12):
        last = await me.verify_value(jwt, {"name": "email", "code": wrong})
        if last.error_code != "invalid_code":
            break
    assert last is not None
    check_error(last, 403, "authenticator_locked")
    # Even the right code is refused now.
    check_error(await me.verify_value(jwt, {"name": "email", "code": code}), 403,
                "authenticator_locked")


@pytest.mark.parametrize("values,code", [
    ([{"name": "shoeSize", "value": "9"}], "unknown_value_name"),
    ([{"name": "firstName", "value": ""}], "missing_field"),
    ([{"name": "firstName", "value": "a"}, {"name": "firstName", "value": "b"}],
     "duplicate_value_name"),
    ([{"name": "email", "value": "not-an-address"}], "invalid_value"),
    ([{"name": "phone", "value": "12"}], "invalid_value"),
    ([{"name": "firstName", "value": "x" * 256}], "invalid_value"),
    ([], "missing_field"),
])
async def test_bad_values(api: Api, me: SelfApi, admin: Admin, values: list[Any],
                          code: str) -> None:
    app = await values_app(admin, ["firstName", "email", "phone"])
    jwt, _ = await signed_in(api, admin, app)
    reply = await me.set_values(jwt, values)
    check_error(reply, 400, code)
    if api.transport == "rest" and values:
        assert reply.body["target"].startswith("[")


async def test_bad_verify_and_auth(api: Api, me: SelfApi, admin: Admin) -> None:
    app = await values_app(admin, ["email"])
    jwt, _ = await signed_in(api, admin, app)
    check_error(await me.verify_value(jwt, {"name": "firstName", "code": "123456"}), 400,
                "invalid_value")
    check_error(await me.verify_value(jwt, {"name": "email", "code": ""}), 400,
                "missing_field")
    check_error(await me.get_values(None), 401, "missing_token")
    check_error(await me.get_values("not-a-jwt"), 401, "invalid_token")


async def test_rest_shapes(server: RunningServer, admin: Admin) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        r = await http.post(VALUES, content=b"[{", headers={
            "Content-Type": "application/json", "Authorization": "Bearer x"})
        assert r.status_code == 400
        ENTRUST.validate(r.json(), "Error")
        r = await http.post(VALUES, json={"name": "x"}, headers={"Authorization": "Bearer x"})
        assert r.status_code == 400
        ENTRUST.validate(r.json(), "Error")
        r = await http.put(VALUES, json=[1, 2], headers={"Authorization": "Bearer x"})
        assert r.status_code == 400
        ENTRUST.validate(r.json(), "Error")
        r = await http.request("DELETE", VALUES, headers={"Authorization": "Bearer x"})
        assert r.status_code == 405
        ENTRUST.validate(r.json(), "Error")


async def test_rest_empty_body_is_refused(server: RunningServer, admin: Admin) -> None:
    """An empty PUT would otherwise mean "no names", which deletes every
    editable value (body_required)."""
    app = await values_app(admin, ["firstName"])
    api = RestApi(server)
    try:
        jwt, _ = await signed_in(api, admin, app)
    finally:
        await api.close()
    async with httpx.AsyncClient(base_url=server.http_url,
                                 headers={"Authorization": f"Bearer {jwt}"}) as http:
        for method, path in (("PUT", VALUES), ("POST", VALUES), ("POST", f"{VALUES}/verify")):
            r = await http.request(method, path)
            assert r.status_code == 400, (method, path, r.text)
            ENTRUST.validate(r.json(), "Error")
            assert r.json()["code"] == "missing_body"
        r = await http.get(VALUES)
        assert {"name": "firstName", "value": "Ada"} in r.json()


# -- an expired code, on a server whose clock the test moves ------------------

@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[RunningServer, SandboxClock]]:
    with sandbox_server() as sb:
        yield sb


async def test_expired_code(sandbox: tuple[RunningServer, SandboxClock]) -> None:
    server, clock = sandbox
    clock.reset()
    admin, api, me = Admin(server), RestApi(server), SelfApi(server, "rest")
    try:
        app = await values_app(admin, ["email"])
        jwt, user_id = await signed_in(api, admin, app)
        new = f"{user_id}@new.example"
        assert (await me.set_values(jwt, [{"name": "email", "value": new}])).ok
        code = await code_for(admin, user_id, new)
        clock.set(301)  # otpTtlSeconds is 300; the session lives an hour
        check_error(await me.verify_value(jwt, {"name": "email", "code": code}), 400,
                    "invalid_code")
        assert as_dict((await me.get_values(jwt)).body)["email"] == f"{user_id}@old.example"
    finally:
        clock.reset()
        await admin.close()
        await api.close()
        await me.close()


async def test_phone_change_by_sms_code(api: Api, me: SelfApi, admin: Admin) -> None:
    app = await values_app(admin, ["phone", "email"])
    jwt, user_id = await signed_in(api, admin, app)
    held = await me.set_values(jwt, [{"name": "phone", "value": "+1 (416) 555-0199"}])
    assert held.status == 200, held
    assert "phone" not in as_dict((await me.get_values(jwt)).body)
    last = (await admin.outbox(user_id))[-1]
    assert last["channel"] == "SMS"
    code = await code_for(admin, user_id, "+14165550199")
    # A code for the phone doesn't prove an email.
    check_error(await me.verify_value(jwt, {"name": "email", "code": code}), 400,
                "invalid_code")
    done = await me.verify_value(jwt, {"name": "phone", "code": code})
    assert done.status == 200, done
    assert as_dict(done.body)["phone"] == "+14165550199"


@pytest.mark.parametrize("settings,target", [
    ({"editableValues": {"names": ["email", "shoeSize"]}}, "selfService.editableValues"),
    ({"offlineIterations": 0}, "selfService.offlineIterations"),
    ({"offlinePrivateSaltLength": 7}, "selfService.offlinePrivateSaltLength"),
    ({"offlineMinorSize": 30, "offlineMaxSize": 20}, "selfService.offlineMinorSize"),
])
async def test_invalid_settings_refused(server: RunningServer, settings: dict[str, Any],
                                        target: str) -> None:
    async with httpx.AsyncClient(base_url=server.http_url, headers={
            "Authorization": f"Bearer {server.admin_key}"}) as http:
        r = await http.post("/api/admin/v1/applications", json={
            "name": "bad-settings", "selfService": settings})
        assert r.status_code == 400, r.text
        assert target in r.text
        r = await http.patch(f"/api/admin/v1/applications/{server.demo_application_id}",
                             json={"selfService": settings})
        assert r.status_code == 400, r.text


async def test_settings_round_trip(admin: Admin) -> None:
    app = await values_app(admin, ["email", "title"])
    got = await admin.req("GET", f"/api/admin/v1/applications/{app}")
    assert got["application"]["selfService"]["editableValues"]["names"] == ["email", "title"]
    # A PATCH without editableValues keeps them; one with an empty list clears.
    await admin.req("PATCH", f"/api/admin/v1/applications/{app}",
                    {"selfService": {"offlineTokensEnabled": True}})
    got = await admin.req("GET", f"/api/admin/v1/applications/{app}")
    assert got["application"]["selfService"]["editableValues"]["names"] == ["email", "title"]
    assert got["application"]["selfService"]["offlineTokensEnabled"] is True
    await admin.req("PATCH", f"/api/admin/v1/applications/{app}",
                    {"selfService": {"editableValues": {"names": []}}})
    got = await admin.req("GET", f"/api/admin/v1/applications/{app}")
    assert got["application"]["selfService"]["editableValues"].get("names", []) == []


async def test_grpc_set_tells_what_is_pending(server: RunningServer, admin: Admin) -> None:
    import grpc

    from authcore.v1 import self_service_pb2 as selfsvc
    from authcore.v1 import self_service_pb2_grpc

    app = await values_app(admin, ["email", "title"])
    api = RestApi(server)
    try:
        jwt, user_id = await signed_in(api, admin, app)
    finally:
        await api.close()
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        stub = self_service_pb2_grpc.SelfValuesServiceStub(channel)
        reply = await stub.SetSelfValues(selfsvc.SetSelfValuesRequest(values=[
            selfsvc.UserClientValue(name="email", value=f"{user_id}@new.example"),
            selfsvc.UserClientValue(name="title", value="Dr")]),
            metadata=(("authorization", f"Bearer {jwt}"),))
    assert list(reply.pending) == ["email"]
    values = {v.name: v.value for v in reply.values}
    assert values["title"] == "Dr" and values["email"] == f"{user_id}@old.example"
