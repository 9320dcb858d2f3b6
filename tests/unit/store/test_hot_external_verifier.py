"""The application's external verifier rides on the query's and the
challenge's one application read (LOAD_APPLICATION_AND_USER), so the
default authenticators (EXTERNAL among them) cost no extra round trip."""

from __future__ import annotations

from typing import Any

import pytest

from authcore.store.hot import queries as hq
from authcore.store.hot import statements as q
from authcore.store.hot.sqlite import SqliteHot

INSERT_APP = q._stmt("test_insert_app", """
    INSERT INTO applications (id, name, authenticators, settings, created_at)
    VALUES (:id, :name, '["PASSWORD", "EXTERNAL"]', '{}', 1.0)""")
INSERT_VERIFIER = q._stmt("test_insert_verifier", """
    INSERT INTO external_verifiers (application_id, url, secret, timeout_ms, created_at,
                                    updated_at)
    VALUES (:id, 'https://verifier.example/v', :secret, 1500, 1.0, 1.0)""")


class NoReads:
    """A Fetcher that fails the test if anything reads through it."""

    async def one(self, stmt: Any, params: Any = None) -> Any:
        raise AssertionError(f"unexpected read: {stmt.name}")

    async def all(self, stmt: Any, params: Any = None) -> Any:
        raise AssertionError(f"unexpected read: {stmt.name}")


@pytest.mark.parametrize("with_verifier", [True, False])
async def test_the_verifier_comes_with_the_application(hot: SqliteHot,
                                                       with_verifier: bool) -> None:
    async with hot.transaction() as tx:
        await tx.execute(INSERT_APP, {"id": "app-1", "name": "one"})
        if with_verifier:
            await tx.execute(INSERT_VERIFIER, {"id": "app-1", "secret": b"sealed"})
    loaded = await hq.load_application_and_user(hot, app_id="app-1", user_id="nobody")
    assert loaded is not None
    app, user = loaded
    assert user is None and app.verifier_loaded
    got = await hq.external_verifier(NoReads(), app)  # type: ignore[arg-type]
    if with_verifier:
        assert got == hq.ExternalVerifierRow(url="https://verifier.example/v",
                                             secret=b"sealed", timeout_ms=1500)
    else:
        assert got is None


async def test_other_application_reads_fetch_it_when_asked(hot: SqliteHot) -> None:
    async with hot.transaction() as tx:
        await tx.execute(INSERT_APP, {"id": "app-2", "name": "two"})
        await tx.execute(INSERT_VERIFIER, {"id": "app-2", "secret": b"sealed-2"})
    app = await hq.load_application(hot, "app-2")
    assert app is not None and not app.verifier_loaded
    with pytest.raises(AssertionError, match="external_verifier"):
        await hq.external_verifier(NoReads(), app)  # type: ignore[arg-type]
    got = await hq.external_verifier(hot, app)
    assert got is not None and got.secret == b"sealed-2"
