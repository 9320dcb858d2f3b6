"""SCIM /Users (RFC 7643 section 4.1, RFC 7644 section 3) over REST and gRPC:
the RFC's example users round-trip, PUT replaces, PATCH in all its forms,
attribute names without regard to case, response shaping, the write-only
password, deletion, paging, sorting and .search."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from authcore_testkit.scim import (
    ENTERPRISE,
    LIST_RESPONSE,
    SCIM_JSON,
    USER_SCHEMA,
    Scim,
    ScimRest,
    assert_error,
    load_fixture,
    must,
    patch_op,
    scim_client,
    unique,
    user_doc,
)
from authcore_testkit.server import RunningServer

READ_ONLY = ("id", "meta", "groups")


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


def location(server: RunningServer, user_id: str) -> str:
    return f"{server.http_url}/scim/v2/Users/{user_id}"


def without(doc: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in keys}


def expected_from(fixture: dict[str, Any], user_name: str) -> dict[str, Any]:
    """What the server must return for a fixture: everything but the
    read-only attributes (ignored) and the password (never returned)."""
    out = without(fixture, *READ_ONLY, "password")
    out["userName"] = user_name
    return out


async def create(scim: Scim, doc: dict[str, Any]) -> dict[str, Any]:
    return await must(scim.create("Users", doc))


# ---------------------------------------------------------------- create


async def test_create_minimal_user_rfc7643_8_1(rest: ScimRest, server: RunningServer) -> None:
    fixture = load_fixture("rfc7643_8_1_minimal_user")
    name = unique("bjensen-") + "@example.com"
    r = await rest.create("Users", {**fixture, "userName": name})
    assert r.status == 201, str(r)
    assert r.headers["content-type"] == SCIM_JSON
    body = r.body
    # The client's id and meta are read-only: ignored, not adopted.
    assert body["id"] != fixture["id"]
    assert body["meta"]["created"] != fixture["meta"]["created"]
    assert body["meta"]["resourceType"] == "User"
    assert body["meta"]["location"] == location(server, body["id"])
    assert body["meta"]["version"] == 'W/"1"'
    assert body["meta"]["lastModified"] == body["meta"]["created"]
    assert r.headers["location"] == body["meta"]["location"]
    assert r.headers["etag"] == body["meta"]["version"]
    assert without(body, "id", "meta") == {
        "schemas": [USER_SCHEMA], "userName": name, "active": True}

    got = await rest.get("Users", body["id"])
    assert got.status == 200 and got.body == body
    assert got.headers["etag"] == body["meta"]["version"]
    assert got.headers["content-type"] == SCIM_JSON


async def test_create_full_user_rfc7643_8_2(scim: Scim, server: RunningServer) -> None:
    fixture = load_fixture("rfc7643_8_2_full_user")
    name = unique("babs-") + "@example.com"
    r = await scim.create("Users", {**fixture, "userName": name})
    assert r.status == 201, str(r)
    body = r.body
    assert body["id"] != fixture["id"]
    # groups is read-only: the RFC example's three groups are not adopted.
    assert "groups" not in body
    assert "password" not in body
    assert without(body, "id", "meta") == expected_from(fixture, name)
    assert body["meta"]["location"] == location(server, body["id"])
    got = await must(scim.get("Users", body["id"]))
    assert got == body


async def test_create_enterprise_user_rfc7643_8_3(scim: Scim, server: RunningServer) -> None:
    manager = await create(scim, user_doc(unique("jsmith-"), displayName="John Smith"))
    fixture = load_fixture("rfc7643_8_3_enterprise_user")
    name = unique("babs-")
    doc = copy.deepcopy(fixture)
    doc["userName"] = name
    # The manager must be a user of this server; $ref is the server's to fill.
    doc[ENTERPRISE]["manager"] = {"value": manager["id"]}
    body = await create(scim, doc)
    assert body["schemas"] == [USER_SCHEMA, ENTERPRISE]
    expected = expected_from(fixture, name)
    # manager.displayName is read-only and optional: the client's "John
    # Smith" is not adopted.
    expected[ENTERPRISE]["manager"] = {
        "value": manager["id"], "$ref": location(server, manager["id"])}
    assert without(body, "id", "meta") == expected
    assert await must(scim.get("Users", body["id"])) == body


async def test_manager_ref_is_filled_and_read_only_display_name_ignored(
    scim: Scim, server: RunningServer
) -> None:
    manager = await create(scim, user_doc(unique("mgr-")))
    doc = user_doc(unique("emp-"), schemas=[USER_SCHEMA, ENTERPRISE])
    doc[ENTERPRISE] = {"manager": {"value": manager["id"], "displayName": "Not The Name",
                                   "$ref": "https://elsewhere.example/Users/x"}}
    body = await create(scim, doc)
    assert body[ENTERPRISE] == {"manager": {"value": manager["id"],
                                            "$ref": location(server, manager["id"])}}


async def test_user_name_is_unique_without_regard_to_case(scim: Scim) -> None:
    name = unique("Case-")
    first = await create(scim, user_doc(name))
    dup = await scim.create("Users", user_doc(name.upper()))
    assert_error(dup, 409, "uniqueness")
    dup = await scim.create("Users", user_doc(name.lower()))
    assert_error(dup, 409, "uniqueness")

    other = await create(scim, user_doc(unique("other-")))
    clash = await scim.replace("Users", other["id"], user_doc(name.swapcase()))
    assert_error(clash, 409, "uniqueness")
    clash = await scim.patch("Users", other["id"], patch_op(
        {"op": "replace", "path": "userName", "value": name.lower()}))
    assert_error(clash, 409, "uniqueness")
    # A user may change the case of their own userName.
    renamed = await must(scim.patch("Users", first["id"], patch_op(
        {"op": "replace", "path": "userName", "value": name.upper()})))
    assert renamed["userName"] == name.upper()


async def test_attribute_names_are_case_insensitive_in_bodies(scim: Scim) -> None:
    name = unique("shout-")
    body = await create(scim, {
        "SCHEMAS": [USER_SCHEMA], "USERNAME": name, "displayname": "Loud Person",
        "Name": {"GIVENNAME": "Loud", "familyname": "Person"},
        "EMAILS": [{"VALUE": "loud@example.org", "TYPE": "work", "PRIMARY": True}],
        "Active": True,
    })
    assert without(body, "id", "meta") == {
        "schemas": [USER_SCHEMA], "userName": name, "displayName": "Loud Person",
        "name": {"givenName": "Loud", "familyName": "Person"},
        "emails": [{"value": "loud@example.org", "type": "work", "primary": True}],
        "active": True}
    patched = await must(scim.patch("Users", body["id"], patch_op(
        {"op": "replace", "path": "DISPLAYNAME", "value": "Quiet Person"},
        {"op": "add", "value": {"NICKNAME": "Shh", "name": {"GivenName": "Quiet"}}},
        {"op": "replace", "path": "Emails[TYPE eq \"work\"].VALUE", "value": "q@example.org"},
    )))
    assert patched["displayName"] == "Quiet Person"
    assert patched["nickName"] == "Shh"
    assert patched["name"] == {"givenName": "Quiet", "familyName": "Person"}
    assert patched["emails"] == [{"value": "q@example.org", "type": "work", "primary": True}]


# ---------------------------------------------------------------- replace


async def test_put_replaces_and_clears_omitted_attributes(scim: Scim, server: RunningServer
                                                          ) -> None:
    fixture = load_fixture("rfc7643_8_3_enterprise_user")
    name = unique("put-")
    doc = {**fixture, "userName": name}
    doc[ENTERPRISE] = without(doc[ENTERPRISE], "manager")
    created = await create(scim, doc)
    new_name = unique("put-renamed-")
    r = await scim.replace("Users", created["id"], {
        "schemas": [USER_SCHEMA], "id": "someone-else", "userName": new_name,
        "displayName": "Only This", "emails": [{"value": "only@example.org", "type": "home"}],
    })
    assert r.status == 200, str(r)
    body = r.body
    assert body["id"] == created["id"]
    assert without(body, "id", "meta") == {
        "schemas": [USER_SCHEMA], "userName": new_name, "displayName": "Only This",
        "emails": [{"value": "only@example.org", "type": "home"}],
        # active is kept when omitted (the server's documented default).
        "active": True}
    assert body["meta"]["version"] == 'W/"2"'
    assert body["meta"]["created"] == created["meta"]["created"]
    assert body["meta"]["location"] == location(server, created["id"])
    assert await must(scim.get("Users", created["id"])) == body


async def test_put_keeps_a_deactivated_user_deactivated_when_active_is_omitted(
    scim: Scim
) -> None:
    created = await create(scim, user_doc(unique("inactive-"), active=False))
    assert created["active"] is False
    body = await must(scim.replace("Users", created["id"], user_doc(created["userName"],
                                                                    title="Still off")))
    assert body["active"] is False and body["title"] == "Still off"
    body = await must(scim.replace("Users", created["id"], user_doc(created["userName"],
                                                                    active=True)))
    assert body["active"] is True and "title" not in body


async def test_put_of_unknown_user_is_404(scim: Scim) -> None:
    r = await scim.replace("Users", "00000000-0000-4000-8000-000000000000",
                           user_doc(unique("ghost-")))
    assert_error(r, 404)


# ------------------------------------------------------------------ patch


async def test_patch_add_replace_remove_with_paths(scim: Scim) -> None:
    user = await create(scim, user_doc(unique("patch-"), title="Intern",
                                       name={"givenName": "Pat"}))
    body = await must(scim.patch("Users", user["id"], patch_op(
        {"op": "add", "path": "name.familyName", "value": "Ching"},
        {"op": "replace", "path": "title", "value": "Engineer"},
        {"op": "add", "path": "emails",
         "value": [{"value": "pat@work.example", "type": "work"}]},
        {"op": "add", "path": "emails",
         "value": [{"value": "pat@home.example", "type": "home"}]},
        {"op": "add", "path": "phoneNumbers", "value": [{"value": "+15550001", "type": "mobile"}]},
        {"op": "replace", "path": "nickName", "value": "P"},
        {"op": "remove", "path": "nickName"},
    )))
    assert body["name"] == {"givenName": "Pat", "familyName": "Ching"}
    assert body["title"] == "Engineer"
    assert body["emails"] == [{"value": "pat@work.example", "type": "work"},
                              {"value": "pat@home.example", "type": "home"}]
    assert body["phoneNumbers"] == [{"value": "+15550001", "type": "mobile"}]
    assert "nickName" not in body
    assert body["meta"]["version"] == 'W/"2"'  # one PATCH, one new version

    body = await must(scim.patch("Users", user["id"], patch_op(
        {"op": "remove", "path": "title"},
        {"op": "remove", "path": "name.givenName"},
        {"op": "remove", "path": "phoneNumbers"},
    )))
    assert "title" not in body and "phoneNumbers" not in body
    assert body["name"] == {"familyName": "Ching"}
    assert await must(scim.get("Users", user["id"])) == body


async def test_patch_without_path_rfc7644_3_5_2(scim: Scim) -> None:
    user = await create(scim, user_doc(unique("nopath-"), emails=[
        {"value": "bjensen@example.com", "type": "work", "primary": True}]))
    # 3.5.2.1: add without path merges; a multi-valued attribute gains values.
    body = await must(scim.patch("Users", user["id"],
                                 load_fixture("rfc7644_3_5_2_1_add_emails")))
    assert body["nickName"] == "Babs"  # "nickname" in the RFC: case-insensitive
    assert body["emails"] == [{"value": "bjensen@example.com", "type": "work", "primary": True},
                              {"value": "babs@jensen.org", "type": "home"}]
    # 3.5.2.3: replace without path replaces each named attribute whole.
    body = await must(scim.patch("Users", user["id"], patch_op(
        {"op": "replace", "value": {"emails": [{"value": "solo@example.org"}],
                                    "nickName": "Solo", "title": "Boss"}})))
    assert body["emails"] == [{"value": "solo@example.org"}]
    assert (body["nickName"], body["title"]) == ("Solo", "Boss")
    body = await must(scim.patch("Users", user["id"],
                                 load_fixture("rfc7644_3_5_2_3_replace_emails")))
    assert body["emails"] == [{"value": "bjensen@example.com", "type": "work", "primary": True},
                              {"value": "babs@jensen.org", "type": "home"}]
    assert (body["nickName"], body["title"]) == ("Babs", "Boss")


async def test_patch_value_paths(scim: Scim) -> None:
    fixture = load_fixture("rfc7643_8_2_full_user")
    user = await create(scim, {**fixture, "userName": unique("vpath-")})
    uid = user["id"]
    body = await must(scim.patch("Users", uid, patch_op(
        {"op": "replace", "path": 'emails[type eq "work"].value',
         "value": "babs@work.example"})))
    assert body["emails"] == [
        {"value": "babs@work.example", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"}]
    # 3.5.2.3: a whole address, then one sub-attribute of it.
    body = await must(scim.patch("Users", uid,
                                 load_fixture("rfc7644_3_5_2_3_replace_work_address")))
    work = load_fixture("rfc7644_3_5_2_3_replace_work_address")["Operations"][0]["value"]
    assert body["addresses"] == [work, fixture["addresses"][1]]
    body = await must(scim.patch("Users", uid,
                                 load_fixture("rfc7644_3_5_2_3_replace_street_address")))
    assert body["addresses"] == [{**work, "streetAddress": "1234 Main Street"},
                                 fixture["addresses"][1]]
    # 3.5.2.2: remove the values a complex filter selects (work and
    # @example.com).
    await must(scim.patch("Users", uid, patch_op(
        {"op": "replace", "path": 'emails[type eq "work"].value',
         "value": "bjensen@example.com"})))
    body = await must(scim.patch("Users", uid,
                                 load_fixture("rfc7644_3_5_2_2_remove_work_email")))
    assert body["emails"] == [{"value": "babs@jensen.org", "type": "home"}]
    body = await must(scim.patch("Users", uid, patch_op(
        {"op": "remove", "path": 'phoneNumbers[type eq "work"]'},
        {"op": "remove", "path": 'photos[value ew "/T"]'})))
    assert body["phoneNumbers"] == [{"value": "555-555-4444", "type": "mobile"}]
    assert body["photos"] == [fixture["photos"][0]]


async def test_patch_filter_matching_nothing_is_no_target(scim: Scim) -> None:
    """RFC 7644 section 3.5.2.3 (replace) and the noTarget row of section
    3.12 ("the specified path value contains a filter that yields no
    match"): nothing is changed."""
    user = await create(scim, user_doc(unique("notarget-"), emails=[
        {"value": "babs@work.example", "type": "work"}]))
    r = await scim.patch("Users", user["id"], patch_op(
        {"op": "replace", "path": 'emails[type eq "home"].value', "value": "x@example.org"}))
    assert_error(r, 400, "noTarget")
    # The RFC's remove: work *and* @example.com matches no value here.
    r = await scim.patch("Users", user["id"], load_fixture("rfc7644_3_5_2_2_remove_work_email"))
    assert_error(r, 400, "noTarget")
    got = await must(scim.get("Users", user["id"]))
    assert got["emails"] == [{"value": "babs@work.example", "type": "work"}]
    assert got["meta"]["version"] == 'W/"1"'


async def test_patch_enterprise_urn_paths(scim: Scim, server: RunningServer) -> None:
    manager = await create(scim, user_doc(unique("boss-"), displayName="The Boss"))
    user = await create(scim, user_doc(unique("ent-")))
    assert user["schemas"] == [USER_SCHEMA] and ENTERPRISE not in user
    uid = user["id"]
    body = await must(scim.patch("Users", uid, patch_op(
        {"op": "add", "path": f"{ENTERPRISE}:department", "value": "Tour Operations"},
        {"op": "replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "701984"},
        {"op": "add", "path": f"{ENTERPRISE}:manager", "value": {"value": manager["id"]}},
    )))
    assert body["schemas"] == [USER_SCHEMA, ENTERPRISE]
    assert body[ENTERPRISE] == {
        "employeeNumber": "701984", "department": "Tour Operations",
        "manager": {"value": manager["id"], "$ref": location(server, manager["id"])}}
    # Entra ID's spelling: the sub-attribute path of the manager's id.
    body = await must(scim.patch("Users", uid, patch_op(
        {"op": "Replace", "path": f"{ENTERPRISE}:costCenter", "value": "4130"},
        {"op": "Remove", "path": f"{ENTERPRISE}:department"},
    )))
    assert body[ENTERPRISE] == {
        "employeeNumber": "701984", "costCenter": "4130",
        "manager": {"value": manager["id"], "$ref": location(server, manager["id"])}}
    # Without a path: the extension's own object, merged.
    body = await must(scim.patch("Users", uid, patch_op(
        {"op": "add", "value": {ENTERPRISE: {"division": "Theme Park"}}})))
    assert body[ENTERPRISE]["division"] == "Theme Park"
    assert body[ENTERPRISE]["costCenter"] == "4130"
    body = await must(scim.patch("Users", uid, patch_op(
        {"op": "remove", "path": f"{ENTERPRISE}:manager"},
        {"op": "remove", "path": f"{ENTERPRISE}:employeeNumber"},
        {"op": "remove", "path": f"{ENTERPRISE}:costCenter"},
        {"op": "remove", "path": f"{ENTERPRISE}:division"},
    )))
    assert ENTERPRISE not in body and body["schemas"] == [USER_SCHEMA]


async def test_patch_accepts_lowercase_operations_key_and_capitalised_ops(scim: Scim) -> None:
    user = await create(scim, user_doc(unique("lower-")))
    body = await must(scim.patch("Users", user["id"], {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "operations": [{"op": "Replace", "path": "displayName", "value": "Seed 002"},
                       {"op": "ADD", "path": "title", "value": "Lower"}],
    }))
    assert (body["displayName"], body["title"]) == ("Seed 002", "Lower")
    body = await must(scim.patch("Users", user["id"], {
        "operations": [{"op": "replace", "value": {"active": False}}]}))
    assert body["active"] is False


async def test_patch_applies_all_operations_or_none(scim: Scim) -> None:
    user = await create(scim, user_doc(unique("atomic-"), title="Before"))
    r = await scim.patch("Users", user["id"], patch_op(
        {"op": "replace", "path": "title", "value": "After"},
        {"op": "replace", "path": "id", "value": "nope"},
    ))
    assert_error(r, 400, "mutability")
    got = await must(scim.get("Users", user["id"]))
    assert got["title"] == "Before" and got["meta"]["version"] == 'W/"1"'


async def test_patch_of_unknown_user_is_404(scim: Scim) -> None:
    r = await scim.patch("Users", "00000000-0000-4000-8000-000000000000",
                         patch_op({"op": "replace", "path": "title", "value": "x"}))
    assert_error(r, 404)


# ------------------------------------------------------------- shaping


async def test_attributes_and_excluded_attributes_on_get(scim: Scim) -> None:
    fixture = load_fixture("rfc7643_8_2_full_user")
    user = await create(scim, {**fixture, "userName": unique("shape-")})
    uid = user["id"]
    body = await must(scim.get("Users", uid, attributes="userName"))
    # id and schemas are returned always; everything else only when asked.
    assert body == {"schemas": [USER_SCHEMA], "id": uid, "userName": user["userName"]}
    body = await must(scim.get("Users", uid, attributes="name.givenName,emails.value"))
    assert body == {"schemas": [USER_SCHEMA], "id": uid, "name": {"givenName": "Barbara"},
                    "emails": [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}]}
    body = await must(scim.get("Users", uid, attributes="USERNAME,Title"))
    assert body == {"schemas": [USER_SCHEMA], "id": uid, "userName": user["userName"],
                    "title": "Tour Guide"}
    body = await must(scim.get("Users", uid, attributes=f"{USER_SCHEMA}:displayName"))
    assert body == {"schemas": [USER_SCHEMA], "id": uid, "displayName": "Babs Jensen"}
    body = await must(scim.get(
        "Users", uid, excludedAttributes="emails,name,addresses,phoneNumbers,ims,photos,"
                                         "x509Certificates,meta,id"))
    # id cannot be excluded (returned: always).
    assert body == without(user, "emails", "name", "addresses", "phoneNumbers", "ims",
                           "photos", "x509Certificates", "meta")
    body = await must(scim.get("Users", uid, excludedAttributes="name.givenName"))
    assert body["name"] == without(fixture["name"], "givenName")


async def test_attributes_on_list_search_and_writes(scim: Scim) -> None:
    prefix = unique("shapelist-")
    user = await create(scim, user_doc(f"{prefix}-a", displayName="Shaped", title="T"))
    listing = await must(scim.list("Users", filter=f'userName sw "{prefix}"',
                                   attributes="displayName"))
    assert listing["Resources"] == [{"schemas": [USER_SCHEMA], "id": user["id"],
                                     "displayName": "Shaped"}]
    listing = await must(scim.list("Users", filter=f'userName sw "{prefix}"',
                                   excludedAttributes="displayName,meta,title"))
    assert listing["Resources"] == [without(user, "displayName", "meta", "title")]
    found = await must(scim.search("Users", {
        "filter": f'userName sw "{prefix}"', "attributes": ["userName", "title"]}))
    assert found["Resources"] == [{"schemas": [USER_SCHEMA], "id": user["id"],
                                   "userName": f"{prefix}-a", "title": "T"}]
    found = await must(scim.search("Users", {
        "filter": f'userName sw "{prefix}"', "excludedAttributes": ["title", "meta"]}))
    assert found["Resources"] == [without(user, "title", "meta")]
    patched = await must(scim.patch("Users", user["id"], patch_op(
        {"op": "replace", "path": "title", "value": "U"}), attributes="title"))
    assert patched == {"schemas": [USER_SCHEMA], "id": user["id"], "title": "U"}


async def test_password_is_write_only(scim: Scim) -> None:
    prefix = unique("secret-")
    user = await create(scim, user_doc(f"{prefix}-a", password="first-password-1"))
    assert "password" not in user
    uid = user["id"]
    for body in (
        await must(scim.get("Users", uid)),
        await must(scim.get("Users", uid, attributes="password,userName")),
        await must(scim.patch("Users", uid, patch_op(
            {"op": "replace", "path": "password", "value": "second-password-2"}))),
        await must(scim.patch("Users", uid, patch_op(
            {"op": "replace", "value": {"password": "third-password-3"}}))),
        await must(scim.replace("Users", uid, user_doc(f"{prefix}-a",
                                                       password="fourth-password-4"))),
    ):
        assert "password" not in body, body
    listing = await must(scim.list("Users", filter=f'userName sw "{prefix}"',
                                   attributes="password"))
    assert listing["totalResults"] == 1
    assert "password" not in listing["Resources"][0]
    found = await must(scim.search("Users", {"filter": f'userName sw "{prefix}"'}))
    assert "password" not in found["Resources"][0]


async def test_password_policy_applies(scim: Scim) -> None:
    r = await scim.create("Users", user_doc(unique("weak-"), password="short"))
    assert_error(r, 400, "invalidValue")


# ---------------------------------------------------------------- delete


async def test_delete_then_404(scim: Scim) -> None:
    user = await create(scim, user_doc(unique("gone-")))
    r = await scim.delete("Users", user["id"])
    assert r.status == 204 and r.body is None
    assert_error(await scim.get("Users", user["id"]), 404)
    assert_error(await scim.delete("Users", user["id"]), 404)
    assert_error(await scim.patch("Users", user["id"], patch_op(
        {"op": "replace", "path": "title", "value": "x"})), 404)
    listing = await must(scim.list("Users", filter=f'id eq "{user["id"]}"'))
    assert listing["totalResults"] == 0
    # The userName is free again.
    again = await create(scim, user_doc(user["userName"]))
    assert again["id"] != user["id"]


async def test_delete_rest_answers_204_without_body(rest: ScimRest) -> None:
    user = await create(rest, user_doc(unique("gone-")))
    r = await rest.http.delete(f"/Users/{user['id']}")
    assert r.status_code == 204 and r.content == b""


# ------------------------------------------------------- list and search


@pytest.fixture(scope="module")
async def five(server: RunningServer) -> dict[str, Any]:
    """Five users of one prefix with known sort orders."""
    client = ScimRest(server)
    prefix = unique("page-")
    rows = [  # suffix, displayName, familyName, primary email
        ("c", "Charlie", "Xu", "z@example.org"),
        ("a", "alpha", "Young", "y@example.org"),
        ("e", "Echo", "Abe", "x@example.org"),
        ("b", "Bravo", "Zed", "w@example.org"),
        ("d", "delta", "Moss", "v@example.org"),
    ]
    ids = {}
    for suffix, display, family, email in rows:
        body = await must(client.create("Users", user_doc(
            f"{prefix}-{suffix}", displayName=display, name={"familyName": family},
            emails=[{"value": email, "primary": True}])))
        ids[suffix] = body["id"]
    await client.close()
    return {"prefix": prefix, "ids": ids}


def names(listing: dict[str, Any], prefix: str) -> list[str]:
    return [r["userName"].removeprefix(prefix + "-") for r in listing.get("Resources", [])]


async def test_list_paging(scim: Scim, five: dict[str, Any]) -> None:
    prefix = five["prefix"]
    flt = f'userName sw "{prefix}"'

    async def page(**params: Any) -> dict[str, Any]:
        return await must(scim.list("Users", filter=flt, sortBy="userName", **params))

    body = await page()
    assert body["schemas"] == [LIST_RESPONSE]
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (5, 1, 5)
    assert names(body, prefix) == ["a", "b", "c", "d", "e"]
    body = await page(startIndex=1, count=2)
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (5, 1, 2)
    assert names(body, prefix) == ["a", "b"]
    body = await page(startIndex=3, count=2)
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (5, 3, 2)
    assert names(body, prefix) == ["c", "d"]
    body = await page(startIndex=5, count=2)
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (5, 5, 1)
    assert names(body, prefix) == ["e"]
    body = await page(startIndex=9, count=2)
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (5, 9, 0)
    assert names(body, prefix) == []
    # RFC 7644 section 3.4.2.4: startIndex below 1 is 1, a negative count is 0.
    body = await page(startIndex=0, count=1)
    assert (body["startIndex"], names(body, prefix)) == (1, ["a"])
    body = await page(startIndex=-4, count=1)
    assert (body["startIndex"], names(body, prefix)) == (1, ["a"])
    body = await page(count=0)
    assert (body["totalResults"], body["itemsPerPage"]) == (5, 0)
    assert body.get("Resources", []) == []
    body = await page(count=-1)
    assert (body["totalResults"], body["itemsPerPage"]) == (5, 0)


async def test_list_paging_rest_query_strings(rest: ScimRest, five: dict[str, Any]) -> None:
    prefix = five["prefix"]
    r = await rest.http.get(
        "/Users", params={"filter": f'userName sw "{prefix}"', "sortBy": "userName",
                          "startIndex": "2", "count": "2", "attributes": "userName"})
    assert r.status_code == 200 and r.headers["content-type"] == SCIM_JSON
    body = r.json()
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (5, 2, 2)
    assert names(body, prefix) == ["b", "c"]


@pytest.mark.parametrize(("sort_by", "order", "expected"), [
    ("userName", "", "abcde"),
    ("userName", "ascending", "abcde"),
    ("userName", "descending", "edcba"),
    ("USERNAME", "Descending", "edcba"),
    ("displayName", "ascending", "abcde"),  # caseExact false: alpha < Bravo
    ("name.familyName", "ascending", "edcab"),
    ("name.familyName", "descending", "bacde"),
    ("emails", "ascending", "dbeac"),
    ("emails.value", "descending", "caebd"),
    (f"{USER_SCHEMA}:userName", "descending", "edcba"),
])
async def test_sort(scim: Scim, five: dict[str, Any], sort_by: str, order: str,
                    expected: str) -> None:
    prefix = five["prefix"]
    params: dict[str, Any] = {"filter": f'userName sw "{prefix}"', "sortBy": sort_by}
    if order:
        params["sortOrder"] = order
    body = await must(scim.list("Users", **params))
    assert "".join(names(body, prefix)) == expected


async def test_sort_with_paging_pages_the_sorted_list(scim: Scim, five: dict[str, Any]) -> None:
    prefix = five["prefix"]
    body = await must(scim.list("Users", filter=f'userName sw "{prefix}"',
                                sortBy="name.familyName", startIndex=2, count=2))
    assert names(body, prefix) == ["d", "c"]


async def test_bad_sort_is_400(scim: Scim) -> None:
    r = await scim.list("Users", sortBy="userName", sortOrder="sideways")
    assert_error(r, 400, "invalidValue")
    r = await scim.list("Users", sortBy="noSuchAttribute")
    assert_error(r, 400, "invalidValue")


async def test_search_request_rfc7644_3_4_3(scim: Scim) -> None:
    prefix = unique("search-")
    smiths = [await create(scim, user_doc(f"{prefix}-{i}", displayName=f"Smith {prefix} {i}",
                                          title="hidden"))
              for i in (2, 1)]
    await create(scim, user_doc(f"{prefix}-3", displayName=f"Jones {prefix}"))
    request = load_fixture("rfc7644_3_4_3_search_request")
    # The RFC's filter, narrowed to this test's users.
    request["filter"] = f'displayName sw "smith {prefix}"'
    request["sortBy"] = "userName"
    body = await must(scim.search("Users", request))
    assert body["schemas"] == [LIST_RESPONSE]
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (2, 1, 2)
    assert body["Resources"] == [
        {"schemas": [USER_SCHEMA], "id": u["id"], "userName": u["userName"],
         "displayName": u["displayName"]}
        for u in reversed(smiths)]
    paged = await must(scim.search("Users", {**request, "startIndex": 2, "count": 1,
                                             "sortOrder": "descending"}))
    assert (paged["totalResults"], paged["startIndex"], paged["itemsPerPage"]) == (2, 2, 1)
    assert [r["id"] for r in paged["Resources"]] == [smiths[1]["id"]]


async def test_search_with_empty_body_lists_everything(rest: ScimRest) -> None:
    await create(rest, user_doc(unique("any-")))
    r = await rest.request("POST", "/Users/.search", content=b"")
    assert r.status == 200, str(r)
    assert r.body["totalResults"] >= 1
    r = await rest.search("Users", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:"
                                                "SearchRequest"], "count": 1})
    assert r.status == 200 and r.body["itemsPerPage"] == 1


async def test_patch_active_accepts_entra_string_booleans(scim: Scim) -> None:
    """Microsoft Entra ID sends {"op":"Replace","path":"active","value":"False"}."""
    user = await create(scim, user_doc(unique("entra-active-")))
    body = await must(scim.patch("Users", user["id"], patch_op(
        {"op": "Replace", "path": "active", "value": "False"})))
    assert body["active"] is False
    body = await must(scim.patch("Users", user["id"], patch_op(
        {"op": "Replace", "value": {"active": "True"}})))
    assert body["active"] is True
