"""SCIM versioning (RFC 7644 section 3.14): ETag and meta.version,
If-Match on PUT, PATCH and DELETE (412 when stale), If-None-Match on GET
(304 when fresh), weak and strong tags, and gRPC's FAILED_PRECONDITION."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from authcore_testkit.scim import (
    Scim,
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

KINDS = ["Users", "Groups"]


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


def new_doc(kind: str) -> dict[str, Any]:
    return user_doc(unique("etag-")) if kind == "Users" else group_doc(unique("etag-"))


def change(kind: str) -> dict[str, Any]:
    path = "title" if kind == "Users" else "externalId"
    return patch_op({"op": "replace", "path": path, "value": unique("v-")})


def replacement(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    if kind == "Users":
        return user_doc(body["userName"], title="replaced")
    return group_doc(body["displayName"], externalId="replaced")


def weak(version: int) -> str:
    return f'W/"{version}"'


def assert_precondition_failed(r: Any) -> None:
    assert_error(r, 412)
    if r.grpc_code is not None:
        assert r.grpc_code == grpc.StatusCode.FAILED_PRECONDITION
        assert r.reason == "version_mismatch"


def assert_not_modified(r: Any) -> None:
    assert r.status == 304, str(r)
    if r.grpc_code is not None:
        assert r.grpc_code == grpc.StatusCode.FAILED_PRECONDITION
        assert r.reason == "not_modified"
    else:
        assert r.body is None


@pytest.mark.parametrize("kind", KINDS)
async def test_every_write_bumps_the_version(scim: Scim, kind: str) -> None:
    body = await must(scim.create(kind, new_doc(kind)))
    assert body["meta"]["version"] == weak(1)
    body = await must(scim.patch(kind, body["id"], change(kind)))
    assert body["meta"]["version"] == weak(2)
    body = await must(scim.replace(kind, body["id"], replacement(kind, body)))
    assert body["meta"]["version"] == weak(3)
    assert (await must(scim.get(kind, body["id"])))["meta"]["version"] == weak(3)


@pytest.mark.parametrize("kind", KINDS)
async def test_etag_header_is_meta_version(rest: ScimRest, kind: str) -> None:
    created = await rest.create(kind, new_doc(kind))
    assert created.headers["etag"] == created.body["meta"]["version"] == weak(1)
    rid = created.body["id"]
    patched = await rest.patch(kind, rid, change(kind))
    assert patched.headers["etag"] == patched.body["meta"]["version"] == weak(2)
    replaced = await rest.replace(kind, rid, replacement(kind, patched.body))
    assert replaced.headers["etag"] == replaced.body["meta"]["version"] == weak(3)
    got = await rest.get(kind, rid)
    assert got.headers["etag"] == weak(3)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("form", ["weak", "strong", "star", "list"])
async def test_if_match_current_version_succeeds(scim: Scim, kind: str, form: str) -> None:
    body = await must(scim.create(kind, new_doc(kind)))
    rid = body["id"]

    def tag(version: int) -> str:
        return {"weak": weak(version), "strong": f'"{version}"', "star": "*",
                "list": f'W/"{version + 40}", {weak(version)}'}[form]

    body = await must(scim.patch(kind, rid, change(kind), if_match=tag(1)))
    assert body["meta"]["version"] == weak(2)
    body = await must(scim.replace(kind, rid, replacement(kind, body), if_match=tag(2)))
    assert body["meta"]["version"] == weak(3)
    r = await scim.delete(kind, rid, if_match=tag(3))
    assert r.status == 204, str(r)
    assert_error(await scim.get(kind, rid), 404)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stale", ['W/"1"', '"1"', 'W/"3"', 'W/"99"', "garbage"])
async def test_stale_if_match_is_412(scim: Scim, kind: str, stale: str) -> None:
    body = await must(scim.create(kind, new_doc(kind)))
    rid = body["id"]
    body = await must(scim.patch(kind, rid, change(kind)))  # now version 2
    assert_precondition_failed(await scim.patch(kind, rid, change(kind), if_match=stale))
    assert_precondition_failed(await scim.replace(kind, rid, replacement(kind, body),
                                                  if_match=stale))
    assert_precondition_failed(await scim.delete(kind, rid, if_match=stale))
    # Nothing changed.
    assert await must(scim.get(kind, rid)) == body


@pytest.mark.parametrize("kind", KINDS)
async def test_if_match_on_unknown_resource_is_404(scim: Scim, kind: str) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert_error(await scim.patch(kind, missing, change(kind), if_match=weak(1)), 404)
    assert_error(await scim.delete(kind, missing, if_match=weak(1)), 404)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("form", ["weak", "strong", "star", "list"])
async def test_if_none_match_current_version_is_304(scim: Scim, kind: str, form: str
                                                    ) -> None:
    body = await must(scim.create(kind, new_doc(kind)))
    rid = body["id"]
    tag = {"weak": weak(1), "strong": '"1"', "star": "*",
           "list": f'W/"17", {weak(1)}'}[form]
    assert_not_modified(await scim.get(kind, rid, if_none_match=tag))
    # After a change the old tag is stale: the resource comes back.
    changed = await must(scim.patch(kind, rid, change(kind)))
    if form != "star":
        got = await scim.get(kind, rid, if_none_match=tag)
        assert got.status == 200 and got.body == changed
    assert_not_modified(await scim.get(kind, rid, if_none_match=weak(2)))


@pytest.mark.parametrize("kind", KINDS)
async def test_304_has_no_body_and_names_the_version(rest: ScimRest, kind: str) -> None:
    created = await rest.create(kind, new_doc(kind))
    r = await rest.http.get(f"/{kind}/{created.body['id']}",
                            headers={"If-None-Match": weak(1)})
    assert r.status_code == 304
    assert r.content == b""
    # RFC 9110 section 15.4.5: a 304 carries the ETag a 200 would have.
    assert r.headers.get("etag") == weak(1)


@pytest.mark.parametrize("kind", KINDS)
async def test_if_none_match_on_unknown_resource_is_404(scim: Scim, kind: str) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert_error(await scim.get(kind, missing, if_none_match="*"), 404)


@pytest.mark.parametrize("kind", KINDS)
async def test_concurrent_writes_with_one_version_succeed_once(scim: Scim, kind: str) -> None:
    body = await must(scim.create(kind, new_doc(kind)))
    replies = await asyncio.gather(*(
        scim.patch(kind, body["id"], change(kind), if_match=weak(1)) for _ in range(6)))
    assert sorted(r.status for r in replies) == [200] + [412] * 5
    [winner] = [r for r in replies if r.status == 200]
    assert winner.body["meta"]["version"] == weak(2)
    assert (await must(scim.get(kind, body["id"])))["meta"]["version"] == weak(2)


async def test_concurrent_patches_lose_no_update(scim: Scim) -> None:
    user = await must(scim.create("Users", user_doc(unique("race-"))))
    addresses = [f"r{i}@example.org" for i in range(8)]
    replies = await asyncio.gather(*(
        scim.patch("Users", user["id"], patch_op(
            {"op": "add", "path": "emails", "value": [{"value": a}]}))
        for a in addresses))
    assert all(r.status == 200 for r in replies), [str(r) for r in replies]
    got = await must(scim.get("Users", user["id"]))
    assert sorted(e["value"] for e in got["emails"]) == addresses
    assert got["meta"]["version"] == weak(1 + len(addresses))


async def test_concurrent_group_member_adds_lose_no_update(scim: Scim) -> None:
    users = [await must(scim.create("Users", user_doc(unique("racer-")))) for _ in range(6)]
    group = await must(scim.create("Groups", group_doc(unique("race-"))))
    replies = await asyncio.gather(*(
        scim.patch("Groups", group["id"], patch_op(
            {"op": "add", "path": "members", "value": [{"value": u["id"]}]}))
        for u in users))
    assert all(r.status == 200 for r in replies), [str(r) for r in replies]
    got = await must(scim.get("Groups", group["id"]))
    assert sorted(m["value"] for m in got["members"]) == sorted(u["id"] for u in users)
    assert got["meta"]["version"] == weak(1 + len(users))
