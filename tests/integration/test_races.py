"""Races through two replicas on one PostgreSQL database (and one Redis):
single-use challenges, TOTP replay, and SCIM enrollment under load.

Each topology ("postgres", "postgres+redis") gets its own pair of replicas
on a fresh database; requests are spread over both replicas and both
transports (REST and gRPC). Skipped without AUTHCORE_TEST_POSTGRES_URL /
AUTHCORE_TEST_REDIS_URL; fails instead when CI is set.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pyotp
import pytest

from authcore_testkit.cluster import (
    TOPOLOGIES,
    Clients,
    Cluster,
    has_traceback,
    open_clients,
    require_postgres_and_redis,
    shared_replica_cluster,
)
from authcore_testkit.scim import group_doc, patch_op, unique, user_doc

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module", params=TOPOLOGIES)
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    require_postgres_and_redis()
    running = shared_replica_cluster(request, request.param)
    yield running
    assert not has_traceback(running.outputs()), running.outputs()[-4000:]


@pytest.fixture
async def clients(cluster: Cluster) -> AsyncIterator[Clients]:
    async with open_clients(cluster) as opened:
        yield opened


def new_user_id() -> str:
    return f"race-{uuid.uuid4().hex[:12]}@example.com"


# -- single-use challenge --------------------------------------------------------

async def test_fifty_concurrent_completes_of_one_challenge_succeed_once(
    cluster: Cluster, clients: Clients
) -> None:
    user_id = new_user_id()
    await clients.admins[0].user(user_id)
    await clients.admins[1].password(user_id, PASSWORD)
    ch = await clients.api(0).challenge("PASSWORD", {"applicationId": cluster.app_id,
                                                     "userId": user_id})
    assert ch.status == 200, ch
    token = ch.body["token"]
    replies = await asyncio.gather(*[
        clients.api(i).complete("PASSWORD", {"response": PASSWORD}, token) for i in range(50)])
    outcomes = Counter((r.status, r.error_code) for r in replies)
    assert outcomes == {(200, None): 1, (401, "invalid_token"): 49}, \
        (outcomes, cluster.warnings())
    [winner] = [r for r in replies if r.status == 200]
    assert winner.body["authenticationCompleted"] is True and winner.body["token"]


# -- TOTP replay -------------------------------------------------------------------

async def test_one_totp_code_submitted_concurrently_succeeds_once(
    cluster: Cluster, clients: Clients
) -> None:
    user_id = new_user_id()
    await clients.admins[0].user(user_id)
    tok = await clients.admins[1].req("POST", f"/api/admin/v1/users/{user_id}/tokens",
                                      {"type": "TOTP", "algorithm": "SHA256", "digits": 8})
    totp = pyotp.TOTP(tok["secret"], digits=8, digest="sha256")
    attempts = 20
    # Every submission has its own fresh challenge, issued on alternating
    # replicas and answered on the other one.
    tokens = []
    for i in range(attempts):
        ch = await clients.api(i).challenge("TOKEN", {"applicationId": cluster.app_id,
                                                      "userId": user_id})
        assert ch.status == 200, ch
        tokens.append(ch.body["token"])
    # Well inside one 30 s step, so every submission carries the current code.
    if time.time() % 30 > 25:
        await asyncio.sleep(30 - time.time() % 30 + 0.1)
    code = totp.now()
    replies = await asyncio.gather(*[
        clients.api(i + 1).complete("TOKEN", {"response": code}, token)
        for i, token in enumerate(tokens)])
    outcomes = Counter((r.status, r.error_code) for r in replies)
    assert outcomes[(200, None)] == 1, outcomes
    # The others are replays (each counts as a TOKEN failure, so the token
    # may also lock part-way: "authenticator_locked" is as good a refusal).
    assert set(outcomes) <= {(200, None), (401, "replayed_code"),
                             (403, "authenticator_locked")}, outcomes


# -- SCIM enrollment under load ----------------------------------------------------

async def test_concurrent_creates_of_one_user_name_make_exactly_one_user(
    cluster: Cluster, clients: Clients
) -> None:
    name = unique("dup-")
    # The same userName, some in other letter cases (userName is unique
    # without regard to case), through both replicas and both transports.
    spellings = [name, name.upper(), name.capitalize()]
    replies = await asyncio.gather(*[
        clients.scim(i).create("Users", user_doc(spellings[i % 3],
                                                 emails=[{"value": f"{name}-{i}@example.com",
                                                          "primary": True}]))
        for i in range(24)])
    statuses = Counter((r.status, r.scim_type) for r in replies)
    assert statuses == {(201, None): 1, (409, "uniqueness"): 23}, \
        (statuses, [str(r) for r in replies if r.status not in (201, 409)])
    [created] = [r.body for r in replies if r.status == 201]
    for i in range(len(cluster.replicas)):
        for spelling in spellings:
            found = await clients.scim(i).list("Users", filter=f'userName eq "{spelling}"')
            assert found.status == 200, str(found)
            assert found.body["totalResults"] == 1, str(found)
            assert [r["id"] for r in found.body.get("Resources", [])] == [created["id"]]
        got = await clients.scim(i).get("Users", created["id"])
        assert got.status == 200 and len(got.body["emails"]) == 1, str(got)


async def test_concurrent_member_adds_into_one_group_lose_no_member(
    cluster: Cluster, clients: Clients
) -> None:
    group = await clients.scim(0).create("Groups", group_doc(unique("grp-")))
    assert group.status == 201, str(group)
    gid = group.body["id"]
    count = 40

    async def enroll(i: int) -> str:
        # Created on one replica, added to the group through the other one.
        made = await clients.scim(i).create("Users", user_doc(unique("member-")))
        assert made.status == 201, str(made)
        added = await clients.scim(i + 1).patch("Groups", gid, patch_op(
            {"op": "add", "path": "members", "value": [{"value": made.body["id"]}]}))
        assert added.status in (200, 204), str(added)
        return str(made.body["id"])

    # A few members already there, to be kept.
    first = [await enroll(i) for i in range(3)]
    rest = await asyncio.gather(*[enroll(i) for i in range(3, count)])
    expected = sorted([*first, *rest])
    for i in range(len(clients.scims)):
        got = await clients.scim(i).get("Groups", gid)
        assert got.status == 200, str(got)
        members = sorted(m["value"] for m in got.body.get("members", []))
        assert members == expected, (len(members), len(expected))
    # Adds and removes of different members at once: only the named ones change.
    removed = expected[::2]
    extra, replies = await asyncio.gather(
        asyncio.gather(*[enroll(i) for i in range(8)]),
        asyncio.gather(*[
            clients.scim(i).patch("Groups", gid, patch_op(
                {"op": "remove", "path": f'members[value eq "{member}"]'}))
            for i, member in enumerate(removed)]))
    assert all(r.status in (200, 204) for r in replies), [str(r) for r in replies]
    want = sorted(set(expected) - set(removed) | set(extra))
    for i in range(len(clients.scims)):
        got = await clients.scim(i).get("Groups", gid)
        assert sorted(m["value"] for m in got.body.get("members", [])) == want
