"""flows/push_devices.prune on a migrated SQLite database: pushes and
activation codes expired over an hour ago go, the rest stay."""

from __future__ import annotations

from authcore.flows.push_devices import PRUNE_AFTER_SECONDS, prune
from authcore.store.hot import statements as q
from authcore.store.hot.sqlite import SqliteHot

NOW = 1_800_000_000.0
COUNT = q._stmt("count_pushes", "SELECT count(*) AS n FROM push_requests")
COUNT_CODES = q._stmt("count_codes", "SELECT count(*) AS n FROM push_activations")
USER = q._stmt("insert_user_for_push", """
    INSERT INTO users (pk, user_id, user_key, active, created_at)
    VALUES ('u1', 'u1', 'u1', 1, 0)""")
CODE = q._stmt("insert_code_for_push", """
    INSERT INTO push_activations (id, user_pk, code_hash, kind, expires_at, created_at)
    VALUES (:id, 'u1', :id, 'TOKENPUSH', :expires_at, 0)""")


async def _n(hot: SqliteHot, stmt: q.Stmt) -> int:
    row = await hot.one(stmt, {})
    assert row is not None
    return int(row["n"])


async def test_prune_drops_only_long_expired(hot: SqliteHot) -> None:
    async with hot.transaction() as tx:
        await tx.execute(USER, {})
        for push_id, expires in (("old", NOW - PRUNE_AFTER_SECONDS - 1),
                                 ("recent", NOW - 10), ("live", NOW + 60)):
            await tx.execute(q.INSERT_PUSH_REQUEST, {
                "id": push_id, "user_pk": "u1", "kind": "TOKENPUSH", "challenge": "c",
                "details_hash": "h", "mutual_challenge": None, "now": NOW - 100,
                "expires_at": expires})
            await tx.execute(CODE, {"id": push_id, "expires_at": expires})
    assert await prune(hot, now=NOW) == 2
    assert await _n(hot, COUNT) == 2 and await _n(hot, COUNT_CODES) == 2
    assert await prune(hot, now=NOW) == 0
