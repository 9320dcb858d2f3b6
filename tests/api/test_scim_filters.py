"""SCIM filters (RFC 7644 section 3.4.2.2) over REST and gRPC, on every
storage backend the `server` fixture runs (SQLite, and PostgreSQL when
AUTHCORE_TEST_POSTGRES_URL is set): each operator, and/or/not, grouping,
complex attribute filters, enterprise attributes, meta dates, a user's
groups and a group's members, with exact result sets.

One dataset per server (module scope), its userNames and displayNames
under a prefix of their own, and every users query is narrowed to that
prefix, so other tests' users never show up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from authcore_testkit.scim import (
    ENTERPRISE,
    USER_SCHEMA,
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

E = ENTERPRISE


@dataclass
class Dataset:
    prefix: str
    ids: dict[str, str]          # short name (users and groups) -> SCIM id
    names: dict[str, str]        # SCIM id -> short name
    before_patch: str            # a dateTime after every create, before bob's PATCH
    bob_modified: str            # bob's meta.lastModified after that PATCH

    def fill(self, text: str) -> str:
        return text.format(P=self.prefix, **self.ids)


@pytest.fixture(scope="module")
async def data(server: RunningServer) -> AsyncIterator[Dataset]:
    client = ScimRest(server)
    p = unique("flt")
    ids: dict[str, str] = {}

    async def user(short: str, doc: dict[str, Any]) -> dict[str, Any]:
        body = await must(client.create("Users", doc))
        ids[short] = body["id"]
        return body

    await user("alice", user_doc(
        f"{p}-alice", schemas=[USER_SCHEMA, E], externalId=f"ext-A-{p}",
        displayName="Alice Anders", title="Engineer", userType="Employee", active=True,
        name={"givenName": "Alice", "familyName": "Anders"},
        emails=[{"value": "alice@example.org", "type": "work", "primary": True},
                {"value": "alice@home.net", "type": "home"}],
        phoneNumbers=[{"value": "+1555100", "type": "mobile"}],
        **{E: {"department": "R&D", "costCenter": "100", "employeeNumber": "001"}}))
    await user("bob", user_doc(
        f"{p}-bob", schemas=[USER_SCHEMA, E], displayName="Bob Brown", title="Manager",
        userType="Contractor", active=False, name={"familyName": "Brown"},
        emails=[{"value": "bob@example.com", "type": "work"}],
        **{E: {"department": "Sales", "manager": {"value": ids["alice"]}}}))
    await user("carol", user_doc(
        f"{p}-carol", schemas=[USER_SCHEMA, E], displayName="Carol Chen", title="engineer",
        nickName="CC", name={"familyName": "Chen"},
        emails=[{"value": "carol@example.org", "type": "home"}],
        **{E: {"department": "R&D", "costCenter": "020"}}))
    await user("dave", user_doc(f"{p}-dave", userType="Employee"))
    await user("eve", user_doc(
        f"{p}-eve%_under", addresses=[{"locality": "Springfield", "type": "work"}]))

    async def group(short: str, doc: dict[str, Any]) -> None:
        body = await must(client.create("Groups", doc))
        ids[short] = body["id"]

    await group("admins", group_doc(f"{p}-Admins", [ids["alice"], ids["carol"]],
                                    externalId=f"gx-{p}"))
    await group("staff", group_doc(f"{p}-Staff", [ids["alice"], ids["bob"], ids["dave"]]))
    await group("empty", group_doc(f"{p}-Empty"))
    await group("nested", group_doc(f"{p}-Nested", [ids["empty"], ids["eve"]]))

    # Everything above was written before `before_patch` (1 ms past the last
    # write's millisecond); bob is modified after it.
    latest = max([(await must(client.get("Users", i)))["meta"]["lastModified"]
                  for i in (ids["alice"], ids["bob"], ids["carol"], ids["dave"], ids["eve"])]
                 + [(await must(client.get("Groups", ids[g])))["meta"]["lastModified"]
                    for g in ("admins", "staff", "empty", "nested")])
    before_patch = iso(parse(latest) + timedelta(milliseconds=1))
    await asyncio.sleep(0.05)
    bob = await must(client.patch("Users", ids["bob"], patch_op(
        {"op": "replace", "path": "profileUrl", "value": "https://example.org/bob"})))
    await client.close()
    yield Dataset(p, ids, {v: k for k, v in ids.items()}, before_patch,
                  bob["meta"]["lastModified"])


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture(params=["rest", "grpc"])
async def scim(request: pytest.FixtureRequest, server: RunningServer) -> AsyncIterator[Scim]:
    client = scim_client(request.param, server)
    yield client
    await client.close()


async def users_matching(scim: Scim, data: Dataset, flt: str) -> set[str]:
    """Short names of this dataset's users matching `flt`."""
    narrowed = f'userName sw "{data.prefix}-" and ({data.fill(flt)})'
    body = await must(scim.list("Users", filter=narrowed, attributes="userName", count=1000))
    found = {data.names[r["id"]] for r in body.get("Resources", [])}
    assert body["totalResults"] == len(found)
    return found


async def groups_matching(scim: Scim, data: Dataset, flt: str) -> set[str]:
    narrowed = f'displayName sw "{data.prefix}-" and ({data.fill(flt)})'
    body = await must(scim.list("Groups", filter=narrowed, excludedAttributes="members"))
    found = {data.names[r["id"]] for r in body.get("Resources", [])}
    assert body["totalResults"] == len(found)
    return found


ALL = {"alice", "bob", "carol", "dave", "eve"}

USER_FILTERS: list[tuple[str, set[str]]] = [
    # eq: caseExact false compares without regard to case; caseExact true exactly.
    ('userName eq "{P}-ALICE"', {"alice"}),
    ('title eq "engineer"', {"alice", "carol"}),
    ('title eq "ENGINEER"', {"alice", "carol"}),
    ('externalId eq "ext-A-{P}"', {"alice"}),
    ('externalId eq "EXT-A-{P}"', set()),
    ('id eq "{alice}"', {"alice"}),
    ('active eq false', {"bob"}),
    ('active eq true', {"alice", "carol", "dave", "eve"}),
    ('name.familyName eq "brown"', {"bob"}),
    ('emails eq "bob@example.com"', {"bob"}),
    ('emails.value eq "ALICE@EXAMPLE.ORG"', {"alice"}),
    ('emails.type eq "home"', {"alice", "carol"}),
    ('userType eq "Employee"', {"alice", "dave"}),
    # ne: an unassigned attribute is not equal.
    ('title ne "engineer"', {"bob", "dave", "eve"}),
    ('emails ne "alice@example.org"', {"bob", "carol", "dave", "eve"}),
    ('active ne true', {"bob"}),
    # co / sw / ew, with LIKE's wildcards taken literally.
    ('displayName co "AN"', {"alice"}),
    ('displayName co "o"', {"bob", "carol"}),
    ('userName co "%_"', {"eve"}),
    ('userName co "_"', {"eve"}),
    ('userName co "%"', {"eve"}),
    ('userName sw "{P}-e"', {"eve"}),
    ('displayName sw "b"', {"bob"}),
    ('emails sw "carol@"', {"carol"}),
    ('emails.value ew "@example.org"', {"alice", "carol"}),
    ('userName ew "-DAVE"', {"dave"}),
    ('userName ew "%_under"', {"eve"}),
    # pr
    ('title pr', {"alice", "bob", "carol"}),
    ('nickName pr', {"carol"}),
    ('emails pr', {"alice", "bob", "carol"}),
    ('name.familyName pr', {"alice", "bob", "carol"}),
    ('addresses pr', {"eve"}),
    ('groups pr', {"alice", "bob", "carol", "dave", "eve"}),
    ('externalId pr', {"alice"}),
    # gt / ge / lt / le on strings (without regard to case)
    ('name.familyName gt "brown"', {"carol"}),
    ('name.familyName ge "brown"', {"bob", "carol"}),
    ('name.familyName lt "brown"', {"alice"}),
    ('name.familyName le "BROWN"', {"alice", "bob"}),
    ('userName gt "{P}-c"', {"carol", "dave", "eve"}),
    ('userName le "{P}-bob"', {"alice", "bob"}),
    # and / or / not and their precedence
    ('title eq "engineer" and active eq true', {"alice", "carol"}),
    ('title eq "manager" or nickName pr', {"bob", "carol"}),
    ('not (title pr)', {"dave", "eve"}),
    ('not (active eq true)', {"bob"}),
    ('not (emails pr) and not (addresses pr)', {"dave"}),
    ('title eq "manager" or title eq "engineer" and nickName pr', {"bob", "carol"}),
    ('(title eq "manager" or title eq "engineer") and nickName pr', {"carol"}),
    ('(title eq "engineer" or title eq "manager") and not (emails ew ".org")', {"bob"}),
    ('((userName ew "alice") or (userName ew "bob")) and (active eq false)', {"bob"}),
    ('userName ew "alice" or userName ew "bob" or userName ew "dave"', {"alice", "bob", "dave"}),
    # complex attribute filters: the conditions hold for one and the same value
    ('emails[type eq "work" and value co "@example.org"]', {"alice"}),
    ('emails[type eq "home"]', {"alice", "carol"}),
    ('emails[type eq "work" or value ew ".net"]', {"alice", "bob"}),
    ('emails[not (type eq "work")]', {"alice", "carol"}),
    ('emails[type eq "home" and value ew "example.com"]', set()),
    ('emails[type eq "work"] and not (emails[type eq "home"])', {"bob"}),
    ('emails[primary eq true]', {"alice"}),
    ('phoneNumbers[type eq "mobile" and value sw "+1555"]', {"alice"}),
    ('addresses[locality eq "springfield"]', {"eve"}),
    ('addresses.locality eq "Springfield"', {"eve"}),
    # enterprise extension attributes, by their full URN path
    (f'{E}:department eq "r&d"', {"alice", "carol"}),
    (f'{E}:department pr', {"alice", "bob", "carol"}),
    (f'{E}:costCenter gt "050"', {"alice"}),
    (f'{E}:employeeNumber eq "001"', {"alice"}),
    (f'{E}:manager.value eq "{{alice}}"', {"bob"}),
    (f'{E.lower()}:DEPARTMENT eq "Sales"', {"bob"}),
    (f'not ({E}:department eq "R&D")', {"bob", "dave", "eve"}),
    (f'{USER_SCHEMA}:userName eq "{{P}}-carol"', {"carol"}),
    (f'{USER_SCHEMA}:name.familyName eq "Chen"', {"carol"}),
    # a user's groups
    ('groups.display eq "{P}-admins"', {"alice", "carol"}),
    ('groups.display eq "{P}-Staff" and groups.display eq "{P}-Admins"', {"alice"}),
    ('groups.value eq "{staff}"', {"alice", "bob", "dave"}),
    ('groups eq "{admins}"', {"alice", "carol"}),
    ('groups[display sw "{P}-st"]', {"alice", "bob", "dave"}),
    ('groups[value eq "{nested}"]', {"eve"}),
    ('not (groups.value eq "{staff}")', {"carol", "eve"}),
    # attribute names are case-insensitive
    ('USERNAME eq "{P}-bob"', {"bob"}),
    ('Emails[Type eq "work"]', {"alice", "bob"}),
    ('name.FAMILYNAME eq "anders"', {"alice"}),
]


@pytest.mark.parametrize(("flt", "expected"), USER_FILTERS,
                         ids=[f for f, _ in USER_FILTERS])
async def test_user_filter(scim: Scim, data: Dataset, flt: str, expected: set[str]) -> None:
    assert await users_matching(scim, data, flt) == expected


async def test_operators_are_case_insensitive(scim: Scim, data: Dataset) -> None:
    assert await users_matching(scim, data, 'title EQ "engineer" AND nickName PR') == {"carol"}
    assert await users_matching(scim, data, 'NOT (title Pr) Or userName Ew "bob"') == \
        {"bob", "dave", "eve"}


async def test_filter_without_the_prefix(scim: Scim, data: Dataset) -> None:
    body = await must(scim.list("Users", filter=data.fill('userName eq "{P}-carol"')))
    assert body["totalResults"] == 1
    assert body["Resources"][0]["id"] == data.ids["carol"]
    body = await must(scim.list("Users", filter=data.fill('id eq "{dave}"')))
    assert [r["id"] for r in body["Resources"]] == [data.ids["dave"]]


async def test_meta_last_modified(scim: Scim, data: Dataset) -> None:
    t = data.before_patch
    assert await users_matching(scim, data, f'meta.lastModified gt "{t}"') == {"bob"}
    assert await users_matching(scim, data, f'meta.lastModified ge "{t}"') == {"bob"}
    assert await users_matching(scim, data, f'meta.lastModified lt "{t}"') == ALL - {"bob"}
    assert await users_matching(scim, data, f'meta.lastModified le "{t}"') == ALL - {"bob"}
    assert await users_matching(scim, data, f'meta.created lt "{t}"') == ALL
    assert await users_matching(scim, data, f'meta.created gt "{t}"') == set()
    # The same instant with an offset instead of Z.
    offset = parse(t).astimezone(timezone(timedelta(hours=2))).isoformat(
        timespec="milliseconds")
    assert await users_matching(scim, data, f'meta.lastModified gt "{offset}"') == {"bob"}
    assert await users_matching(scim, data, 'meta.lastModified pr') == ALL
    long_ago = "2000-01-01T00:00:00Z"
    assert await users_matching(scim, data, f'meta.lastModified gt "{long_ago}"') == ALL


async def test_meta_last_modified_compares_at_the_precision_it_is_served(
    scim: Scim, data: Dataset
) -> None:
    """A client that saw bob's meta.lastModified and asks for what changed
    since (`gt` that value) must not get bob again; `eq` that value is bob."""
    t = data.bob_modified
    found = {op: await users_matching(scim, data, f'meta.lastModified {op} "{t}"')
             for op in ("gt", "ge", "eq", "le")}
    assert found == {"gt": set(), "ge": {"bob"}, "eq": {"bob"}, "le": ALL}


GROUP_FILTERS: list[tuple[str, set[str]]] = [
    ('displayName eq "{P}-ADMINS"', {"admins"}),
    ('displayName co "MPT"', {"empty"}),
    ('displayName ew "s"', {"admins"}),
    ('externalId eq "gx-{P}"', {"admins"}),
    ('externalId pr', {"admins"}),
    ('id eq "{staff}"', {"staff"}),
    ('members.value eq "{alice}"', {"admins", "staff"}),
    ('members eq "{bob}"', {"staff"}),
    ('members.value eq "{empty}"', {"nested"}),
    ('members pr', {"admins", "staff", "nested"}),
    ('not (members pr)', {"empty"}),
    ('members[type eq "Group"]', {"nested"}),
    ('members[type eq "User" and value eq "{eve}"]', {"nested"}),
    ('members.type eq "group"', {"nested"}),
    ('members.value eq "{alice}" and not (members.value eq "{bob}")', {"admins"}),
    ('members.value eq "{carol}" or members.value eq "{dave}"', {"admins", "staff"}),
    ('members ne "{alice}"', {"empty", "nested"}),
    ('Members.Value eq "{dave}"', {"staff"}),
    ('urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "{P}-Empty"', {"empty"}),
]


@pytest.mark.parametrize(("flt", "expected"), GROUP_FILTERS,
                         ids=[f for f, _ in GROUP_FILTERS])
async def test_group_filter(scim: Scim, data: Dataset, flt: str, expected: set[str]) -> None:
    assert await groups_matching(scim, data, flt) == expected


async def test_group_meta_dates(scim: Scim, data: Dataset) -> None:
    t = data.before_patch
    groups = {"admins", "staff", "empty", "nested"}
    assert await groups_matching(scim, data, f'meta.lastModified lt "{t}"') == groups
    assert await groups_matching(scim, data, f'meta.created gt "{t}"') == set()


async def test_search_body_filters_the_same(scim: Scim, data: Dataset) -> None:
    for flt, expected in USER_FILTERS[::7]:
        body = await must(scim.search("Users", {
            "filter": f'userName sw "{data.prefix}-" and ({data.fill(flt)})',
            "attributes": ["userName"]}))
        assert {data.names[r["id"]] for r in body.get("Resources", [])} == expected, flt
    body = await must(scim.search("Groups", {
        "filter": data.fill('members.value eq "{alice}"'), "excludedAttributes": ["members"],
        "sortBy": "displayName", "sortOrder": "descending"}))
    assert [data.names[r["id"]] for r in body["Resources"]] == ["staff", "admins"]
    assert all("members" not in r for r in body["Resources"])


@pytest.mark.parametrize("flt", [
    'active eq "yes"',                  # boolean compared with a string
    'active gt true',                   # ordering booleans
    'title eq true',                    # string compared with a boolean
    'title gt 5',
    'meta.lastModified gt "not a date"',
    'meta.lastModified co "2020"',      # co does not apply to dateTime
    'meta.lastModified gt 5',
    'emails[type eq "work"',            # unclosed value filter
    'emails[value[type eq "x"]]',       # nested value filters
    'title.sub eq "x"',                 # sub-attribute of a simple attribute
    'emails.nope eq "x"',
    'groups.nope eq "x"',
    'nope pr',
    'name.nope pr',
    'urn:example:unknown:Thing:attr eq "x"',
    f'{ENTERPRISE}:nope eq "x"',
    'title lt null',
    'userName eq "a" and',
    '(userName eq "a"',
    'userName eq "a")',
    'not userName eq "a"',
    'userName xx "a"',
    'password eq "x"',
])
async def test_unfilterable_or_malformed_is_400_invalid_filter(scim: Scim, flt: str) -> None:
    r = await scim.list("Users", filter=flt)
    assert_error(r, 400, "invalidFilter")


@pytest.mark.parametrize("flt", [
    'members.nope eq "x"',
    'displayName gt true',
    'userName eq "x"',       # a User attribute, not a Group one
    'members[value eq "x"',
])
async def test_group_filter_errors(scim: Scim, flt: str) -> None:
    r = await scim.list("Groups", filter=flt)
    assert_error(r, 400, "invalidFilter")
