"""`authcore outbox`: the admin API's outbox listing on the terminal, never
with a text (the CLI reads the database directly; whoever runs it can read
the data directory anyway, but a terminal's scrollback is no place for codes)."""

from __future__ import annotations

import datetime
import sys
from typing import TextIO

from authcore.config import Settings
from authcore.delivery.outbox import Listed, list_messages
from authcore.flows.directory import find_user
from authcore.store.db import create_engine, session_factory

COLUMNS = ("ID", "QUEUED", "STATUS", "MEDIUM", "KIND", "ATTEMPTS", "USER", "ADDRESS",
           "SENT", "LAST ERROR")


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rows(messages: list[Listed]) -> list[tuple[str, ...]]:
    return [(str(m.id), _when(m.created_at), m.status, m.medium, m.kind, str(m.attempts),
             m.user_id, m.address, _when(m.sent_at), m.last_error or "-") for m in messages]


def render(messages: list[Listed]) -> str:
    table = [COLUMNS, *rows(messages)]
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS) - 1)]
    lines = ["  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]])
             for r in table]
    return "\n".join(line.rstrip() for line in lines)


async def print_outbox(settings: Settings, *, status: str | None, user_id: str | None,
                       out: TextIO = sys.stdout) -> int:
    """The exit status: 0, or 1 for an unknown user."""
    engine = create_engine(settings.effective_database_url, pool_size=1)
    try:
        async with session_factory(engine)() as db:
            user_pk = None
            if user_id:
                user = await find_user(db, user_id)
                if user is None:
                    print(f"no user {user_id!r}", file=sys.stderr)
                    return 1
                user_pk = user.pk
            messages = await list_messages(db, None, user_pk=user_pk, status=status)
    finally:
        await engine.dispose()
    print(render(messages), file=out)
    return 0
