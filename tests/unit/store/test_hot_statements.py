"""The hot statements (store/hot/statements.py): one text for both drivers,
and every one of them valid SQL on the migrated schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from authcore.store.db import migrate
from authcore.store.hot import statements
from authcore.store.hot.statements import Stmt, _stmt

ALL = [value for value in vars(statements).values() if isinstance(value, Stmt)]


def test_named_placeholders_become_numbered_ones_in_first_use_order() -> None:
    stmt = _stmt("x", "UPDATE t SET a = :now WHERE id = :id AND b > :now")
    assert stmt.sql == "UPDATE t SET a = :now WHERE id = :id AND b > :now"
    assert stmt.pg == "UPDATE t SET a = $1 WHERE id = $2 AND b > $1"
    assert stmt.params == ("now", "id")
    assert stmt.pg_args({"id": "i", "now": 2.5, "unused": 0}) == [2.5, "i"]


def test_casts_and_quoted_names_are_not_placeholders() -> None:
    stmt = _stmt("x", 'SELECT "primary", a::text FROM t WHERE b = :b', pg_suffix=" FOR UPDATE")
    assert stmt.pg == 'SELECT "primary", a::text FROM t WHERE b = $1 FOR UPDATE'
    assert stmt.params == ("b",)
    # The suffix is PostgreSQL's only (SQLite has one writer, no row locks).
    assert "FOR UPDATE" not in stmt.sql


def test_every_statement_has_a_unique_name() -> None:
    names = [s.name for s in ALL]
    assert len(ALL) > 30
    assert len(names) == len(set(names))


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hot") / "authcore.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.mark.parametrize("stmt", ALL, ids=[s.name for s in ALL])
def test_every_statement_compiles_on_sqlite(stmt: Stmt, schema: Path) -> None:
    conn = sqlite3.connect(schema)
    try:
        # EXPLAIN prepares the statement against the real schema (a missing
        # column or table fails here) without running it.
        conn.execute("EXPLAIN " + stmt.sql, dict.fromkeys(stmt.params))
    finally:
        conn.close()
