"""Waiting on the outbox through the admin API (`GET /api/admin/v1/outbox`),
for the delivery tests: messages change status in the background, as the
dispatcher of some worker gets to them."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol


class OutboxReader(Protocol):
    async def outbox(self, user_id: str) -> list[dict[str, Any]]: ...


async def outbox_until(client: OutboxReader, user_id: str, status: str, *,
                       medium: str | None = None,
                       timeout: float = 15.0) -> dict[str, Any]:  # noqa: ASYNC109
    """The user's newest message (of `medium`, when given) once it has
    `status`; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        messages = [m for m in await client.outbox(user_id)
                    if medium is None or m.get("medium") == medium]
        if messages and messages[-1]["status"] == status:
            return messages[-1]
        assert time.monotonic() < deadline, messages
        await asyncio.sleep(0.1)
