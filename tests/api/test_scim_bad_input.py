"""Bad SCIM input gets RFC 7644 section 3.12 errors: the right status and
scimType, a SCIM error body, application/scim+json, and never a 5xx.
Also authentication: 401 with a SCIM body and a Bearer challenge, 403 for
a key without the "scim" scope."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest

from authcore_testkit.scim import (
    ENTERPRISE,
    ERROR_SCHEMA,
    SCIM_JSON,
    Scim,
    ScimGrpc,
    ScimRest,
    assert_error,
    group_doc,
    must,
    patch_op,
    scim_client,
    unique,
    user_doc,
)
from authcore_testkit.server import RunningServer

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(params=["rest", "grpc"])
async def scim(request: pytest.FixtureRequest, server: RunningServer) -> AsyncIterator[Scim]:
    client = scim_client(request.param, server)
    yield client
    await client.close()


@pytest.fixture
async def rest(server: RunningServer) -> AsyncIterator[ScimRest]:
    client = ScimRest(server)
    yield client
    await client.close()


@pytest.fixture(scope="module")
async def targets(server: RunningServer) -> dict[str, str]:
    """A user and a group to aim bad requests at."""
    client = ScimRest(server)
    user = await must(client.create("Users", user_doc(unique("target-"), emails=[
        {"value": "t@example.org", "type": "work"}])))
    group = await must(client.create("Groups", group_doc(unique("target-"), [user["id"]])))
    await client.close()
    return {"Users": user["id"], "Groups": group["id"]}


def assert_scim_error_response(r: httpx.Response, status: int,
                               scim_type: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == SCIM_JSON
    body = r.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    assert isinstance(body["detail"], str) and body["detail"]
    assert body.get("scimType") == scim_type, body
    return body  # type: ignore[no-any-return]


# ------------------------------------------------------------ syntax


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/Users"),
    ("PUT", "/Users/{Users}"),
    ("PATCH", "/Users/{Users}"),
    ("POST", "/Users/.search"),
    ("POST", "/Groups"),
    ("PUT", "/Groups/{Groups}"),
    ("PATCH", "/Groups/{Groups}"),
    ("POST", "/Groups/.search"),
])
async def test_malformed_json_is_invalid_syntax_everywhere(
    rest: ScimRest, targets: dict[str, str], method: str, path: str
) -> None:
    r = await rest.request(method, path.format(**targets), content=b'{"userName": "x",}')
    assert_error(r, 400, "invalidSyntax")


@pytest.mark.parametrize("content", [b"{bad", b'{"userName": "x",}', b"{'a': 1}",
                                     b'{"userName": "x"', b"\xff\xfe{}", b"NaN",
                                     b'{"userName": "x"} trailing',
                                     b"[" * 5000 + b"]" * 5000])
async def test_malformed_json_is_invalid_syntax(rest: ScimRest, content: bytes) -> None:
    r = await rest.request("POST", "/Users", content=content)
    assert_error(r, 400, "invalidSyntax")


@pytest.mark.parametrize(("kind", "doc"), [
    ("Users", {"userName": 5}),
    ("Users", {"userName": ["a"]}),
    ("Users", {"userName": "x", "emails": "x"}),
    ("Users", {"userName": "x", "emails": [{"value": 5}]}),
    ("Users", {"userName": "x", "emails": [{"value": "a@b.example", "primary": "yes"}]}),
    ("Users", {"userName": "x", "active": "yes"}),
    ("Users", {"userName": "x", "active": 1}),
    ("Users", {"userName": "x", "name": "Barbara"}),
    ("Users", {"userName": "x", "name": {"givenName": 7}}),
    ("Users", {"userName": "x", "displayName": {"a": 1}}),
    ("Users", {"userName": "x", "password": 12345678}),
    ("Users", {"userName": "x", ENTERPRISE: {"manager": "boss"}}),
    ("Users", {"userName": "x", ENTERPRISE: "x"}),
    ("Users", {"userName": "x", "addresses": [{"postalCode": 91608}]}),
    ("Users", {"userName": "x", "schemas": "urn:ietf:params:scim:schemas:core:2.0:User"}),
    ("Groups", {"displayName": 5}),
    ("Groups", {"displayName": "g", "members": "x"}),
    ("Groups", {"displayName": "g", "members": [{"value": 5}]}),
    ("Groups", {"displayName": "g", "members": [5]}),
])
async def test_wrong_types_are_invalid_value(rest: ScimRest, kind: str, doc: dict[str, Any]
                                             ) -> None:
    r = await rest.create(kind, doc)
    assert_error(r, 400, "invalidValue")


@pytest.mark.parametrize("body", [[], "x", 5, None])
async def test_a_resource_must_be_an_object(rest: ScimRest, body: Any) -> None:
    r = await rest.request("POST", "/Users", content=json.dumps(body).encode())
    assert r.status == 400 and r.scim_type in ("invalidSyntax", "invalidValue"), str(r)
    assert_error(r, 400, r.scim_type)


@pytest.mark.parametrize(("kind", "doc"), [
    ("Users", {}),
    ("Users", {"displayName": "no userName"}),
    ("Users", {"userName": ""}),
    ("Users", {"userName": "   "}),
    ("Users", {"userName": None}),
    ("Users", {"userName": "x" * 256}),
    ("Users", {"schemas": ["urn:example:not-a-user"], "userName": "x"}),
    ("Groups", {}),
    ("Groups", {"displayName": ""}),
    ("Groups", {"displayName": "x" * 256}),
    ("Groups", {"displayName": "g", "members": [{"value": MISSING}]}),
    ("Groups", {"displayName": "g", "members": [{"display": "no value"}]}),
])
async def test_missing_or_unacceptable_values_are_invalid_value(
    scim: Scim, kind: str, doc: dict[str, Any]
) -> None:
    r = await scim.create(kind, doc)
    assert_error(r, 400, "invalidValue")


# ------------------------------------------------------------ filters


@pytest.mark.parametrize("flt", [
    'userName eq',
    'userName eq "unterminated',
    'userName "x"',
    'eq "x"',
    'userName eq "a" and',
    'userName eq "a" or or userName eq "b"',
    '(userName eq "a"',
    'emails[type eq "work"',
    'emails[type eq "work"].value eq "x"',
    'userName eq x',
    'userName ~= "a"',
    '"a" eq userName',
    ')',
])
async def test_malformed_filter_is_invalid_filter(scim: Scim, flt: str) -> None:
    assert_error(await scim.list("Users", filter=flt), 400, "invalidFilter")
    assert_error(await scim.search("Users", {"filter": flt}), 400, "invalidFilter")
    assert_error(await scim.list("Groups", filter=flt), 400, "invalidFilter")


@pytest.mark.parametrize(("kind", "flt"), [
    ("Users", 'favoriteColor eq "blue"'),
    ("Users", 'name.nickname eq "x"'),
    ("Users", 'emails.color eq "x"'),
    ("Users", f'{ENTERPRISE}:shoeSize eq "9"'),
    ("Users", 'urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x"'),
    ("Users", 'members.value eq "x"'),
    ("Groups", 'userName eq "x"'),
    ("Groups", 'members.display eq "x"'),
    ("Groups", 'favoriteColor pr'),
])
async def test_unknown_attribute_in_filter_is_invalid_filter(scim: Scim, kind: str,
                                                             flt: str) -> None:
    assert_error(await scim.list(kind, filter=flt), 400, "invalidFilter")


# -------------------------------------------------------------- patch


@pytest.mark.parametrize(("kind", "op"), [
    ("Users", {"op": "replace", "path": "bogus..x", "value": "x"}),
    ("Users", {"op": "replace", "path": "nosuchattribute", "value": "x"}),
    ("Users", {"op": "remove", "path": "nosuchattribute"}),
    ("Users", {"op": "add", "path": "name.nosuch", "value": "x"}),
    ("Users", {"op": "replace", "path": 'emails[type eq "work"', "value": "x"}),
    ("Users", {"op": "replace", "path": 'emails[type eq "work"].nosuch', "value": "x"}),
    ("Users", {"op": "replace", "path": f"{ENTERPRISE}:nosuch", "value": "x"}),
    ("Users", {"op": "replace", "path": "urn:example:unknown:attr", "value": "x"}),
    ("Users", {"op": "replace", "path": "[]", "value": "x"}),
    ("Groups", {"op": "replace", "path": "nosuchattribute", "value": "x"}),
    ("Groups", {"op": "replace", "path": "members.display", "value": "x"}),
    ("Groups", {"op": "add", "path": 'members[value eq "x"]', "value": [{"value": "x"}]}),
])
async def test_bad_patch_path_is_invalid_path(scim: Scim, targets: dict[str, str], kind: str,
                                              op: dict[str, Any]) -> None:
    assert_error(await scim.patch(kind, targets[kind], patch_op(op)), 400, "invalidPath")


@pytest.mark.parametrize(("kind", "op"), [
    ("Users", {"op": "replace", "path": "id", "value": "other"}),
    ("Users", {"op": "remove", "path": "id"}),
    ("Users", {"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}),
    ("Users", {"op": "add", "path": "groups", "value": [{"value": MISSING}]}),
    ("Users", {"op": "remove", "path": "userName"}),
    ("Users", {"op": "replace", "value": {"id": "other"}}),
    ("Groups", {"op": "replace", "path": "id", "value": "other"}),
    ("Groups", {"op": "replace", "path": "meta.lastModified", "value": "2020-01-01T00:00:00Z"}),
])
async def test_patch_of_read_only_or_required_is_mutability(
    scim: Scim, targets: dict[str, str], kind: str, op: dict[str, Any]
) -> None:
    before = await must(scim.get(kind, targets[kind]))
    assert_error(await scim.patch(kind, targets[kind], patch_op(op)), 400, "mutability")
    assert await must(scim.get(kind, targets[kind])) == before


@pytest.mark.parametrize("kind", ["Users", "Groups"])
async def test_remove_without_path_is_no_target(scim: Scim, targets: dict[str, str],
                                                kind: str) -> None:
    assert_error(await scim.patch(kind, targets[kind], patch_op({"op": "remove"})),
                 400, "noTarget")
    assert_error(await scim.patch(kind, targets[kind], patch_op(
        {"op": "Remove", "value": {"title": "x"}})), 400, "noTarget")


BAD_PATCHES: list[tuple[str, str, dict[str, Any]]] = [
    ("Users", "op move", patch_op({"op": "move", "path": "title", "value": "x"})),
    ("Users", "no op", patch_op({"path": "title", "value": "x"})),
    ("Users", "active yes", patch_op({"op": "replace", "path": "active", "value": "yes"})),
    ("Users", "active 1", patch_op({"op": "replace", "path": "active", "value": 1})),
    ("Users", "active yes no path", patch_op({"op": "replace", "value": {"active": "yes"}})),
    ("Users", "title 5", patch_op({"op": "replace", "path": "title", "value": 5})),
    ("Users", "empty userName", patch_op({"op": "replace", "path": "userName", "value": ""})),
    ("Users", "emails string", patch_op({"op": "replace", "path": "emails", "value": "x"})),
    ("Users", "email value 5", patch_op({"op": "add", "path": "emails", "value": [{"value": 5}]})),
    ("Users", "name string", patch_op({"op": "replace", "path": "name", "value": "x"})),
    ("Users", "short password", patch_op({"op": "replace", "path": "password", "value": "short"})),
    ("Users", "add without value", patch_op({"op": "add", "path": "title"})),
    ("Users", "no Operations", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}),
    ("Users", "empty Operations", patch_op()),
    ("Groups", "unknown member",
     patch_op({"op": "add", "path": "members", "value": [{"value": MISSING}]})),
    ("Groups", "members string", patch_op({"op": "add", "path": "members", "value": "x"})),
    ("Groups", "empty displayName",
     patch_op({"op": "replace", "path": "displayName", "value": ""})),
    ("Groups", "displayName 5", patch_op({"op": "replace", "path": "displayName", "value": 5})),
]


@pytest.mark.parametrize(("kind", "label", "body"), BAD_PATCHES,
                         ids=[label for _, label, _ in BAD_PATCHES])
async def test_bad_patch_values_are_invalid_value(scim: Scim, targets: dict[str, str],
                                                  kind: str, label: str,
                                                  body: dict[str, Any]) -> None:
    before = await must(scim.get(kind, targets[kind]))
    assert_error(await scim.patch(kind, targets[kind], body), 400, "invalidValue")
    assert await must(scim.get(kind, targets[kind])) == before


@pytest.mark.parametrize("body", [{"Operations": {"op": "add"}}, {"Operations": "x"},
                                  {"Operations": [5]}])
async def test_patch_structure_must_be_a_list_of_operations(
    rest: ScimRest, targets: dict[str, str], body: dict[str, Any]
) -> None:
    r = await rest.patch("Users", targets["Users"], body)
    assert r.status == 400 and r.scim_type in ("invalidSyntax", "invalidValue"), str(r)
    assert_error(r, 400, r.scim_type)


# ----------------------------------------------------------- not found


@pytest.mark.parametrize("kind", ["Users", "Groups"])
@pytest.mark.parametrize("rid", [MISSING, "nope", "x" * 2000, "%00", "..%2F..%2Fetc"])
async def test_unknown_id_is_404(scim: Scim, kind: str, rid: str) -> None:
    doc = user_doc(unique("nf-")) if kind == "Users" else group_doc(unique("nf-"))
    for r in (await scim.get(kind, rid),
              await scim.replace(kind, rid, doc),
              await scim.patch(kind, rid, patch_op({"op": "replace", "path": "externalId",
                                                    "value": "x"})),
              await scim.delete(kind, rid)):
        assert_error(r, 404)


async def test_unknown_endpoint_and_method(rest: ScimRest) -> None:
    assert_error(await rest.request("GET", "/Nope"), 404)
    assert_error(await rest.request("GET", "/Users/a/b"), 404)
    r = await rest.request("PATCH", "/Users", {"Operations": []})
    assert_error(r, 405)
    r = await rest.request("DELETE", "/Users")
    assert_error(r, 405)
    assert_error(await rest.request("GET", "/ResourceTypes/Nope"), 404)
    assert_error(await rest.request("GET", "/Schemas/urn:nope"), 404)


# --------------------------------------------------------- body size


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/Users"), ("PUT", "/Users/{Users}"), ("PATCH", "/Users/{Users}"),
    ("POST", "/Groups"), ("POST", "/Users/.search"),
])
async def test_oversized_body_is_413(rest: ScimRest, targets: dict[str, str], method: str,
                                     path: str) -> None:
    big = json.dumps({"userName": "big", "displayName": "x" * (1 << 20)}).encode()
    assert len(big) > 1 << 20
    r = await rest.request(method, path.format(**targets), content=big)
    assert_error(r, 413)


async def test_body_just_under_the_limit_is_read(rest: ScimRest) -> None:
    doc = user_doc(unique("almost-"), displayName="x" * 200)
    doc["filler"] = "y" * ((1 << 20) - 1000)
    content = json.dumps(doc).encode()
    assert len(content) < 1 << 20
    r = await rest.request("POST", "/Users", content=content)
    assert r.status == 201, str(r)


# ------------------------------------------------------ authentication


async def unauthenticated(server: RunningServer, method: str, path: str,
                          authorization: str | None) -> httpx.Response:
    headers = {"Content-Type": SCIM_JSON}
    if authorization is not None:
        headers["Authorization"] = authorization
    async with httpx.AsyncClient(base_url=server.http_url + "/scim/v2") as http:
        return await http.request(method, path, headers=headers,
                                  content=json.dumps(user_doc("never-made")).encode())


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/Users"), ("POST", "/Users"), ("GET", f"/Users/{MISSING}"),
    ("PATCH", f"/Users/{MISSING}"), ("DELETE", f"/Groups/{MISSING}"),
    ("POST", "/Groups/.search"), ("GET", "/ServiceProviderConfig"), ("GET", "/Schemas"),
])
async def test_no_key_is_401_with_scim_body_everywhere(server: RunningServer, method: str,
                                                       path: str) -> None:
    r = await unauthenticated(server, method, path, None)
    assert_scim_error_response(r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("authorization", ["Bearer wrong-key", "Basic dXNlcjpwYXNz", "Bearer",
                                           "test-admin-key-" + "x" * 32,
                                           "Bearer test-admin-key-" + "x" * 31])
async def test_wrong_key_is_401_with_scim_body(server: RunningServer,
                                               authorization: str) -> None:
    for method, path in (("GET", "/Users"), ("POST", "/Users")):
        r = await unauthenticated(server, method, path, authorization)
        assert_scim_error_response(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("metadata", [(), (("authorization", "Bearer wrong-key"),)])
async def test_grpc_unauthenticated(server: RunningServer,
                                    metadata: tuple[tuple[str, str], ...]) -> None:
    client = ScimGrpc(server)
    client.metadata = metadata
    try:
        r = await client.list("Users")
        assert r.status == 401 and r.grpc_code == grpc.StatusCode.UNAUTHENTICATED, str(r)
        r = await client.create("Users", user_doc(unique("never-")))
        assert r.grpc_code == grpc.StatusCode.UNAUTHENTICATED, str(r)
    finally:
        await client.close()


def create_key(server: RunningServer, *scopes: str) -> str:
    env = {**os.environ, "AUTHCORE_DATA_DIR": str(server.data_dir)}
    args = [sys.executable, "-m", "authcore.cli", "admin", "create-key", "--name", "test"]
    for scope in scopes:
        args += ["--scope", scope]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60,
                          check=True)
    return done.stdout.strip().splitlines()[-1]


async def test_key_scopes_over_rest_and_grpc(server: RunningServer) -> None:
    if server.backend != "sqlite":
        pytest.skip("keys are made with the CLI against the SQLite data dir")
    admin_only = create_key(server, "admin")
    scim_only = create_key(server, "scim")
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        r = await http.get("/scim/v2/Users",
                           headers={"Authorization": f"Bearer {admin_only}"})
        assert_scim_error_response(r, 403)
        r = await http.post("/scim/v2/Users", json=user_doc(unique("scoped-")),
                            headers={"Authorization": f"Bearer {scim_only}"})
        assert r.status_code == 201, r.text
        r = await http.get("/api/admin/v1/users/x",
                           headers={"Authorization": f"Bearer {scim_only}"})
        assert r.status_code == 403
    client = ScimGrpc(server, admin_only)
    try:
        r2 = await client.list("Users")
        assert r2.grpc_code == grpc.StatusCode.PERMISSION_DENIED, str(r2)
    finally:
        await client.close()


# ------------------------------------------------------- never a 5xx


NASTY_FILTERS = [
    "(" * 3000 + 'userName eq "x"' + ")" * 3000,
    "not (" * 1500 + 'userName eq "x"' + ")" * 1500,
    " or ".join(['userName eq "x"'] * 3000),
    'userName eq "\u0000"',
    'userName eq "\ud83d\ude00 \u202e"',
    'userName co "' + "%" * 5000 + '"',
    'meta.lastModified gt "99999-01-01T00:00:00Z"',
    'meta.lastModified gt "2020-13-45T00:00:00Z"',
    'meta.created eq "2020-01-01"',
    'title eq 1.5',
    'title eq 1e400',
    "x" * 100_000,
    'emails[type eq "work" and value[type eq "x"]]',
    'userName eq "x" and ' * 500 + 'userName eq "x"',
]


@pytest.mark.parametrize("flt", NASTY_FILTERS, ids=range(len(NASTY_FILTERS)))
async def test_nasty_filters_never_5xx(rest: ScimRest, flt: str) -> None:
    for r in (await rest.search("Users", {"filter": flt}),
              await rest.search("Groups", {"filter": flt})):
        assert r.status < 500, str(r)
        if r.status >= 400:
            assert_error(r, r.status, r.scim_type)


async def test_odd_requests_never_5xx(rest: ScimRest, targets: dict[str, str]) -> None:
    uid, gid = targets["Users"], targets["Groups"]
    odd: list[tuple[str, str, Any, dict[str, Any]]] = [
        ("POST", "/Users", user_doc(unique("nul-") + "\u0000x"), {}),
        ("POST", "/Users", user_doc(unique("ctl-"), displayName="\u0000\u0001\u007f"), {}),
        ("POST", "/Users", user_doc(unique("emoji-") + "\ud83d\ude00"), {}),
        ("POST", "/Users", user_doc(unique("lone-") + "\udc00"), {}),
        ("POST", "/Groups", group_doc("nul\u0000group"), {}),
        ("POST", "/Users", user_doc(unique("big-"), emails=[
            {"value": f"e{i}@example.org"} for i in range(1000)]), {}),
        ("PATCH", f"/Users/{uid}", patch_op(*[
            {"op": "replace", "path": "title", "value": str(i)} for i in range(500)]), {}),
        ("PATCH", f"/Users/{uid}", patch_op({"op": "add", "path": "emails", "value": [
            {"value": "x", "display": "\u0000"}]}), {}),
        ("PATCH", f"/Groups/{gid}", patch_op({"op": "remove",
                                             "path": "members[value eq \"\u0000\"]"}), {}),
        ("GET", "/Users", None, {"startIndex": str(2**63 - 1), "count": "1"}),
        ("GET", "/Users", None, {"startIndex": str(-(2**63)), "count": str(2**63 - 1)}),
        ("GET", "/Users", None, {"sortBy": "userName; DROP TABLE users"}),
        ("GET", "/Users", None, {"sortBy": "emails[type eq \"x\"]"}),
        ("GET", "/Users", None, {"attributes": ",".join(["userName"] * 50)}),
        ("GET", "/Users", None, {"excludedAttributes": "\u0000"}),
        ("GET", "/Users", None, {"attributes": "userName", "excludedAttributes": "title"}),
        ("GET", f"/Users/{uid}", None, {"attributes": "urn:nope:x"}),
        ("GET", "/Groups", None, {"sortBy": "members"}),
        ("GET", "/Groups", None, {"sortBy": "members.value"}),
        ("POST", "/Users/.search", {"startIndex": -5, "count": -5, "sortOrder": "x"}, {}),
        ("POST", "/Users/.search", {"attributes": "userName"}, {}),
        ("POST", "/Users/.search", {"filter": 5}, {}),
        ("PUT", f"/Users/{uid}", {"userName": None}, {}),
        ("PUT", f"/Groups/{gid}", {"displayName": "g", "members": [{"value": gid}]}, {}),
        ("POST", "/Users", {"userName": "x", ENTERPRISE: {"manager": {"value": 5}}}, {}),
        ("POST", "/Users", {"userName": unique("mgr-"), ENTERPRISE: {
            "manager": {"value": "x" * 5000}}}, {}),
        ("POST", "/Users", {"userName": unique("ref-"), ENTERPRISE: {
            "manager": {"value": MISSING, "$ref": "not a uri"}}}, {}),
        ("POST", "/Users", {"userName": unique("long-"), "title": "t" * 100_000}, {}),
        ("POST", "/Users", {"userName": unique("locale-"), "locale": "x" * 1000,
                            "timezone": "y" * 1000, "preferredLanguage": "z" * 1000}, {}),
        ("POST", "/Users", {"userName": unique("ph-"), "phoneNumbers": [{"value": "9" * 500}]},
         {}),
        ("POST", "/Users", {"userName": unique("mail-"), "emails": [{"value": "m" * 1000}]}, {}),
    ]
    failures = []
    for method, path, body, params in odd:
        r = await rest.request(method, path, body, params=params)
        if r.status >= 500:
            failures.append((method, path, str(body)[:80], params, str(r)[:200]))
        elif r.status >= 400:
            assert_error(r, r.status, r.scim_type)
    assert failures == []


async def test_long_attribute_lists_cost_little(rest: ScimRest) -> None:
    """3,000 (repeated) attribute names in ~27 kB of query string: the
    server must answer quickly (or refuse), not spend a second per resource."""
    for _ in range(3):
        await must(rest.create("Users", user_doc(unique("attrs-"))))
    started = time.monotonic()
    r = await rest.list("Users", count=5, attributes=",".join(["userName"] * 3000))
    elapsed = time.monotonic() - started
    assert r.status < 500, str(r)
    assert elapsed < 1.0, f"took {elapsed:.1f} s"


async def test_json_and_scim_json_content_types_are_both_accepted(rest: ScimRest) -> None:
    for content_type in (SCIM_JSON, "application/json", "application/scim+json; charset=utf-8"):
        r = await rest.request("POST", "/Users", content=json.dumps(
            user_doc(unique("ct-"))).encode(), headers={"Content-Type": content_type})
        assert r.status == 201, (content_type, str(r))
        assert r.headers["content-type"] == SCIM_JSON
