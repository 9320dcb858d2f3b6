"""SCIM /Groups (RFC 7643 section 4.2) over REST and gRPC: members with their
display, $ref and type, member PATCHes in the RFC's and Entra ID's
spellings, a group of thousands, a user's `groups`, and what deleting a
user or a group does to membership."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from authcore_testkit.scim import (
    GROUP_SCHEMA,
    SCIM_JSON,
    Scim,
    ScimRest,
    assert_error,
    group_doc,
    load_fixture,
    must,
    patch_op,
    scim_client,
    seed_users,
    unique,
    user_doc,
)
from authcore_testkit.server import RunningServer


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


def user_url(server: RunningServer, uid: str) -> str:
    return f"{server.http_url}/scim/v2/Users/{uid}"


def group_url(server: RunningServer, gid: str) -> str:
    return f"{server.http_url}/scim/v2/Groups/{gid}"


def member(server: RunningServer, resource: dict[str, Any],
           display: str | None = None) -> dict[str, Any]:
    """How a group lists `resource` (a user or a group) among its members:
    the display the client gave when adding it (display is immutable, RFC
    7643 section 2.4), else the member's own name."""
    if "userName" in resource:
        return {"value": resource["id"], "$ref": user_url(server, resource["id"]),
                "display": display or resource.get("displayName") or resource["userName"],
                "type": "User"}
    return {"value": resource["id"], "$ref": group_url(server, resource["id"]),
            "display": display or resource["displayName"], "type": "Group"}


def members_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(body.get("members", []), key=lambda m: m["value"])


def expect_members(server: RunningServer, *resources: dict[str, Any],
                   displays: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return sorted((member(server, r, (displays or {}).get(r["id"])) for r in resources),
                  key=lambda m: m["value"])


async def new_user(scim: Scim, **attrs: Any) -> dict[str, Any]:
    return await must(scim.create("Users", user_doc(unique("member-"), **attrs)))


async def new_group(scim: Scim, members: list[dict[str, Any]] | None = None,
                    **attrs: Any) -> dict[str, Any]:
    return await must(scim.create("Groups", group_doc(
        unique("grp-"), [m["id"] for m in members or []], **attrs)))


def ids_sub(doc: Any, mapping: dict[str, str]) -> Any:
    """`doc` with the RFC example's ids replaced by this server's."""
    text = json.dumps(doc)
    for old, new in mapping.items():
        text = text.replace(old, new)
    return json.loads(text)


BABS = "2819c223-7f76-453a-919d-413861904646"
MANDY = "902c246b-6245-4190-8e05-00816be7344a"
JAMES = "08e1d05d-121c-4561-8b96-473d93df9210"


# ---------------------------------------------------------------- create


async def test_create_group_rfc7643_8_4(scim: Scim, server: RunningServer) -> None:
    babs = await new_user(scim, displayName="Babs Jensen")
    mandy = await new_user(scim, displayName="Mandy Pepperidge")
    fixture = load_fixture("rfc7643_8_4_group")
    doc = ids_sub(fixture, {BABS: babs["id"], MANDY: mandy["id"]})
    name = unique("Tour Guides ")
    doc["displayName"] = name
    r = await scim.create("Groups", doc)
    assert r.status == 201, str(r)
    body = r.body
    assert body["id"] != fixture["id"]
    assert body["schemas"] == [GROUP_SCHEMA]
    assert body["displayName"] == name
    assert body["meta"]["resourceType"] == "Group"
    assert body["meta"]["location"] == group_url(server, body["id"])
    assert body["meta"]["version"] == 'W/"1"'
    assert body["meta"]["created"] != fixture["meta"]["created"]
    assert members_of(body) == expect_members(server, babs, mandy)
    # The RFC's display names are the users' own.
    assert {m["display"] for m in body["members"]} == {"Babs Jensen", "Mandy Pepperidge"}
    assert set(body) == {"schemas", "id", "meta", "displayName", "members"}
    assert await must(scim.get("Groups", body["id"])) == body


async def test_create_group_rest_headers(rest: ScimRest, server: RunningServer) -> None:
    r = await rest.create("Groups", group_doc(unique("hdr-")))
    assert r.status == 201 and r.headers["content-type"] == SCIM_JSON
    assert r.headers["location"] == group_url(server, r.body["id"]) == r.body["meta"]["location"]
    assert r.headers["etag"] == r.body["meta"]["version"] == 'W/"1"'
    # No members: the attribute is unassigned, not an empty list.
    assert "members" not in r.body
    got = await rest.get("Groups", r.body["id"])
    assert got.headers["etag"] == 'W/"1"' and got.body == r.body


async def test_members_display_ref_and_type(scim: Scim, server: RunningServer) -> None:
    named = await new_user(scim, displayName="Named Member")
    bare = await new_user(scim)  # display falls back to userName
    inner = await new_group(scim)
    group = await new_group(scim, [named, bare, inner], externalId="ext-1")
    assert group["externalId"] == "ext-1"
    assert members_of(group) == expect_members(server, named, bare, inner)
    # A member's display follows the member.
    await must(scim.patch("Users", named["id"], patch_op(
        {"op": "replace", "path": "displayName", "value": "Renamed Member"})))
    got = await must(scim.get("Groups", group["id"]))
    assert members_of(got) == expect_members(
        server, {**named, "displayName": "Renamed Member"}, bare, inner)


async def test_member_display_given_by_the_client_is_kept(scim: Scim,
                                                          server: RunningServer) -> None:
    user = await new_user(scim, displayName="Real Name")
    group = await must(scim.create("Groups", {
        **group_doc(unique("lbl-")), "members": [{"value": user["id"], "display": "Label"}]}))
    assert members_of(group) == expect_members(server, user, displays={user["id"]: "Label"})
    other = await new_user(scim)
    body = await must(scim.patch("Groups", group["id"], patch_op(
        {"op": "add", "path": "members",
         "value": [{"value": other["id"], "display": "Other Label"}]})))
    assert members_of(body) == expect_members(
        server, user, other, displays={user["id"]: "Label", other["id"]: "Other Label"})
    if scim.transport == "rest":  # gRPC clients cannot send a number there
        r = await scim.create("Groups", {**group_doc(unique("lbl-")),
                                         "members": [{"value": user["id"], "display": 5}]})
        assert_error(r, 400, "invalidValue")


async def test_create_with_unknown_member_is_400(scim: Scim) -> None:
    r = await scim.create("Groups", group_doc(unique("bad-"),
                                              ["00000000-0000-4000-8000-000000000000"]))
    assert_error(r, 400, "invalidValue")


async def test_group_cannot_contain_itself(scim: Scim) -> None:
    group = await new_group(scim)
    r = await scim.patch("Groups", group["id"], patch_op(
        {"op": "add", "path": "members", "value": [{"value": group["id"]}]}))
    assert_error(r, 400, "invalidValue")


# ------------------------------------------------------------------ patch


async def test_patch_add_member_rfc7644_3_5_2_1(scim: Scim, server: RunningServer) -> None:
    babs = await new_user(scim, displayName="Babs Jensen")
    other = await new_user(scim)
    group = await new_group(scim, [other])
    body = await must(scim.patch("Groups", group["id"], ids_sub(
        load_fixture("rfc7644_3_5_2_1_add_member"), {BABS: babs["id"]})))
    assert members_of(body) == expect_members(server, other, babs)
    assert body["meta"]["version"] == 'W/"2"'
    # Adding a present member again changes nothing.
    body = await must(scim.patch("Groups", group["id"], patch_op(
        {"op": "add", "path": "members", "value": [{"value": babs["id"]},
                                                   {"value": babs["id"]}]})))
    assert members_of(body) == expect_members(server, other, babs)


async def test_patch_remove_member_by_filter_rfc7644_3_5_2_2(scim: Scim,
                                                             server: RunningServer) -> None:
    babs, mandy, james = [await new_user(scim) for _ in range(3)]
    group = await new_group(scim, [babs, mandy, james])
    body = await must(scim.patch("Groups", group["id"], ids_sub(
        load_fixture("rfc7644_3_5_2_2_remove_member"), {BABS: babs["id"]})))
    assert members_of(body) == expect_members(server, mandy, james)
    body = await must(scim.patch("Groups", group["id"], patch_op(
        {"op": "remove",
         "path": f'members[value eq "{mandy["id"]}" or value eq "{james["id"]}"]'})))
    assert "members" not in body
    assert members_of(await must(scim.get("Groups", group["id"]))) == []


async def test_patch_remove_members_by_value_list_entra(scim: Scim,
                                                        server: RunningServer) -> None:
    a, b, c = [await new_user(scim) for _ in range(3)]
    group = await new_group(scim, [a, b, c])
    body = await must(scim.patch("Groups", group["id"], {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Remove", "path": "members",
                        "value": [{"value": a["id"]}, {"value": c["id"]}]}]}))
    assert members_of(body) == expect_members(server, b)
    # Removing someone who is not a member is no error.
    body = await must(scim.patch("Groups", group["id"], patch_op(
        {"op": "Remove", "path": "members", "value": [{"value": a["id"]}]})))
    assert members_of(body) == expect_members(server, b)
    # Entra ID's add: "Add", path members, one value.
    body = await must(scim.patch("Groups", group["id"], patch_op(
        {"op": "Add", "path": "members", "value": [{"value": c["id"]}]})))
    assert members_of(body) == expect_members(server, b, c)


async def test_patch_replace_members(scim: Scim, server: RunningServer) -> None:
    a, b, babs, james = [await new_user(scim) for _ in range(4)]
    group = await new_group(scim, [a, b])
    # RFC 7644 section 3.5.2.3: remove all, then add the new list.
    body = await must(scim.patch("Groups", group["id"], ids_sub(
        load_fixture("rfc7644_3_5_2_3_replace_all_members"),
        {BABS: babs["id"], JAMES: james["id"]})))
    # The RFC's members carry their display, which the group keeps.
    labels = {babs["id"]: "Babs Jensen", james["id"]: "James Smith"}
    assert members_of(body) == expect_members(server, babs, james, displays=labels)
    body = await must(scim.patch("Groups", group["id"], patch_op(
        {"op": "replace", "path": "members", "value": [{"value": a["id"]},
                                                       {"value": james["id"]}]})))
    assert members_of(body) == expect_members(server, a, james, displays=labels)
    # Without a path: the value's members replace the list, other keys apply too.
    name = unique("renamed-")
    body = await must(scim.patch("Groups", group["id"], patch_op(
        {"op": "replace", "value": {"displayName": name, "members": [{"value": b["id"]}]}})))
    assert body["displayName"] == name
    assert members_of(body) == expect_members(server, b)
    body = await must(scim.patch("Groups", group["id"], patch_op(
        {"op": "add", "value": {"members": [{"value": a["id"]}]}})))
    assert members_of(body) == expect_members(server, a, b)


async def test_patch_remove_all_members_rfc7644_3_5_2_2(scim: Scim) -> None:
    a, b = [await new_user(scim) for _ in range(2)]
    group = await new_group(scim, [a, b])
    body = await must(scim.patch("Groups", group["id"],
                                 load_fixture("rfc7644_3_5_2_2_remove_all_members")))
    assert "members" not in body
    assert body["displayName"] == group["displayName"]
    # The users are untouched.
    assert (await must(scim.get("Users", a["id"])))["userName"] == a["userName"]


async def test_patch_group_attributes(scim: Scim, server: RunningServer) -> None:
    a = await new_user(scim)
    group = await new_group(scim, [a], externalId="before")
    name = unique("patched-")
    body = await must(scim.patch("Groups", group["id"], patch_op(
        {"op": "Replace", "path": "displayName", "value": name},
        {"op": "replace", "path": "externalId", "value": "after"})))
    assert (body["displayName"], body["externalId"]) == (name, "after")
    assert members_of(body) == expect_members(server, a)
    body = await must(scim.patch("Groups", group["id"], {
        "operations": [{"op": "remove", "path": "externalId"}]}))
    assert "externalId" not in body
    assert body["meta"]["version"] == 'W/"3"'


async def test_put_replaces_group(scim: Scim, server: RunningServer) -> None:
    a, b = [await new_user(scim) for _ in range(2)]
    group = await new_group(scim, [a], externalId="gone-after-put")
    name = unique("put-")
    body = await must(scim.replace("Groups", group["id"], {
        "schemas": [GROUP_SCHEMA], "id": "not-this", "displayName": name,
        "members": [{"value": b["id"]}]}))
    assert body["id"] == group["id"]
    assert body["displayName"] == name and "externalId" not in body
    assert members_of(body) == expect_members(server, b)
    assert body["meta"]["version"] == 'W/"2"'
    body = await must(scim.replace("Groups", group["id"], group_doc(name)))
    assert "members" not in body


# ---------------------------------------------------------- a big group


@pytest.fixture(scope="module")
async def crowd(server: RunningServer) -> list[str]:
    """3,000 user ids, made once per server: written straight into its
    database, because what is under test is the group operations, not 3,000
    user creations (about a minute through the API)."""
    prefix = unique("crowd-")
    return await seed_users(server, [f"{prefix}-{i:05d}" for i in range(3000)])


async def test_large_group_patch_add_and_excluded_members(scim: Scim, crowd: list[str]
                                                          ) -> None:
    first, more = crowd[:2000], crowd[2000:]
    created = await must(scim.create("Groups", group_doc(unique("big-"), first),
                                     excludedAttributes="members"))
    assert "members" not in created
    gid = created["id"]
    full = await must(scim.get("Groups", gid))
    assert sorted(m["value"] for m in full["members"]) == sorted(first)

    started = time.monotonic()
    patched = await must(scim.patch("Groups", gid, patch_op(
        {"op": "add", "path": "members", "value": [{"value": m} for m in more]}),
        excludedAttributes="members"))
    assert time.monotonic() - started < 10
    assert "members" not in patched
    assert patched["meta"]["version"] == 'W/"2"'

    lean = await must(scim.get("Groups", gid, excludedAttributes="members"))
    assert "members" not in lean
    assert lean == {k: v for k, v in patched.items()}
    full = await must(scim.get("Groups", gid))
    assert len(full["members"]) == 3000
    assert sorted(m["value"] for m in full["members"]) == sorted(crowd)
    assert all(m["type"] == "User" for m in full["members"])

    listing = await must(scim.list("Groups", filter=f'id eq "{gid}"',
                                   excludedAttributes="members"))
    assert listing["totalResults"] == 1 and "members" not in listing["Resources"][0]
    found = await must(scim.list(
        "Groups", attributes="displayName",
        filter=f'members.value eq "{crowd[2999]}" and displayName eq "{created["displayName"]}"'))
    assert [g["id"] for g in found["Resources"]] == [gid]
    only_name = await must(scim.get("Groups", gid, attributes="displayName"))
    assert only_name == {"schemas": [GROUP_SCHEMA], "id": gid,
                         "displayName": created["displayName"]}

    # One member out by filter: the rest stay.
    body = await must(scim.patch("Groups", gid, patch_op(
        {"op": "remove", "path": f'members[value eq "{first[0]}"]'}),
        excludedAttributes="members"))
    assert "members" not in body and body["meta"]["version"] == 'W/"3"'
    full = await must(scim.get("Groups", gid))
    assert sorted(m["value"] for m in full["members"]) == sorted(first[1:] + more)


async def test_large_group_remove_by_value_list(scim: Scim, crowd: list[str]) -> None:
    created = await must(scim.create("Groups", group_doc(unique("big-rm-"), crowd[:2500]),
                                     excludedAttributes="members"))
    gid = created["id"]
    body = await must(scim.patch("Groups", gid, patch_op(
        {"op": "remove", "path": "members", "value": [{"value": m} for m in crowd[:1000]]}),
        excludedAttributes="members"))
    assert "members" not in body
    full = await must(scim.get("Groups", gid))
    assert sorted(m["value"] for m in full["members"]) == sorted(crowd[1000:2500])


# ------------------------------------------------- a user's groups


async def test_user_groups_attribute(scim: Scim, server: RunningServer) -> None:
    user = await new_user(scim)
    assert "groups" not in user
    tag = unique()
    beta = await must(scim.create("Groups", group_doc(f"{tag} beta", [user["id"]])))
    alpha = await must(scim.create("Groups", group_doc(f"{tag} alpha", [user["id"]])))
    outer = await must(scim.create("Groups", group_doc(f"{tag} outer", [alpha["id"]])))
    got = await must(scim.get("Users", user["id"]))
    # Direct memberships only, by display name.
    assert got["groups"] == [
        {"value": g["id"], "$ref": group_url(server, g["id"]), "display": g["displayName"],
         "type": "direct"}
        for g in (alpha, beta)]
    assert outer["id"] not in {g["value"] for g in got["groups"]}
    only = await must(scim.get("Users", user["id"], attributes="groups"))
    assert only == {"schemas": got["schemas"], "id": user["id"], "groups": got["groups"]}
    lean = await must(scim.get("Users", user["id"], excludedAttributes="groups"))
    assert "groups" not in lean

    await must(scim.patch("Groups", beta["id"], patch_op(
        {"op": "remove", "path": f'members[value eq "{user["id"]}"]'})))
    got = await must(scim.get("Users", user["id"]))
    assert [g["value"] for g in got["groups"]] == [alpha["id"]]
    assert (await scim.delete("Groups", alpha["id"])).status == 204
    got = await must(scim.get("Users", user["id"]))
    assert "groups" not in got


async def test_user_groups_is_read_only(scim: Scim) -> None:
    group = await new_group(scim)
    user = await must(scim.create("Users", user_doc(
        unique("ro-"), groups=[{"value": group["id"], "display": "x"}])))
    assert "groups" not in user
    got = await must(scim.get("Groups", group["id"]))
    assert "members" not in got


async def test_deleting_a_user_removes_it_from_groups(scim: Scim, server: RunningServer
                                                      ) -> None:
    stays, goes = await new_user(scim), await new_user(scim)
    g1 = await new_group(scim, [stays, goes])
    g2 = await new_group(scim, [goes])
    assert (await scim.delete("Users", goes["id"])).status == 204
    after1 = await must(scim.get("Groups", g1["id"]))
    after2 = await must(scim.get("Groups", g2["id"]))
    assert members_of(after1) == expect_members(server, stays)
    assert "members" not in after2
    # Membership changed, so the groups have new versions.
    assert after1["meta"]["version"] == 'W/"2"'
    assert after2["meta"]["version"] == 'W/"2"'
    listing = await must(scim.list("Groups", filter=f'members.value eq "{goes["id"]}"'))
    assert listing["totalResults"] == 0


async def test_deleting_a_group_keeps_its_members(scim: Scim, server: RunningServer) -> None:
    a = await new_user(scim)
    inner = await new_group(scim, [a])
    outer = await new_group(scim, [inner, a])
    r = await scim.delete("Groups", inner["id"])
    assert r.status == 204 and r.body is None
    assert_error(await scim.get("Groups", inner["id"]), 404)
    assert_error(await scim.delete("Groups", inner["id"]), 404)
    assert (await must(scim.get("Users", a["id"])))["userName"] == a["userName"]
    after = await must(scim.get("Groups", outer["id"]))
    assert members_of(after) == expect_members(server, a)
    assert after["meta"]["version"] == 'W/"2"'


async def test_group_list_paging_and_sort(scim: Scim) -> None:
    tag = unique("gl-")
    made = [await must(scim.create("Groups", group_doc(f"{tag}-{c}"))) for c in "cab"]
    body = await must(scim.list("Groups", filter=f'displayName sw "{tag}"',
                                sortBy="displayName", sortOrder="descending",
                                startIndex=2, count=1))
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (3, 2, 1)
    assert [r["displayName"] for r in body["Resources"]] == [f"{tag}-b"]
    body = await must(scim.search("Groups", {"filter": f'displayName sw "{tag}"',
                                             "sortBy": "displayName"}))
    assert [r["id"] for r in body["Resources"]] == [made[1]["id"], made[2]["id"],
                                                    made[0]["id"]]


async def test_patch_member_filter_too_large_is_invalid_filter(scim: Scim) -> None:
    """1,000 `or` terms exceed SQLite's expression depth: refused up front as
    invalidFilter, not passed to the database (it was a 500)."""
    user = await new_user(scim)
    group = await new_group(scim, [user])
    terms = " or ".join(f'value eq "id-{i}"' for i in range(1000))
    r = await scim.patch("Groups", group["id"], patch_op(
        {"op": "remove", "path": f"members[{terms}]"}))
    assert_error(r, 400, "invalidFilter")
    assert len(members_of(await must(scim.get("Groups", group["id"])))) == 1
