"""bootstrap.create_admin_key, the `authcore admin create-key` command."""

from __future__ import annotations

import asyncio
from pathlib import Path

from authcore.bootstrap import create_admin_key
from authcore.config import Settings
from authcore.store.db import migrate
from authcore.store.write_lock import SqliteWriteLock


async def test_admin_command_queues_with_the_servers_writers(tmp_path: Path) -> None:
    """`authcore admin create-key` writes while a server may be running: it
    must wait its turn on the file lock, not make the server's writer wait
    in SQLite's busy handler (which runs on that server's event loop)."""
    settings = Settings(data_dir=tmp_path)
    await asyncio.to_thread(migrate, settings.effective_database_url)
    server = SqliteWriteLock(settings.sqlite_file)
    try:
        async with server:
            task = asyncio.create_task(create_admin_key(settings, name="k", scopes=["scim"]))
            await asyncio.sleep(0.3)
            assert not task.done()
        key = await asyncio.wait_for(task, timeout=10)
    finally:
        server.close()
    assert key.startswith("ak_")
