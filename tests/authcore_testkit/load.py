"""A steady request load recorded call by call, for the fault tests: each
call's send and receive time, so assertions can pick the calls that ran
entirely inside an outage window."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

# A call that takes longer than this counts as hung (status 0, "timeout").
CALL_TIMEOUT_SECONDS = 15.0


@dataclass
class Sample:
    loop: str        # which load loop made the call
    step: str        # what the call was ("challenge", "complete", "create", ...)
    sent: float      # time.monotonic() before the call
    received: float  # time.monotonic() after the answer
    status: int      # HTTP status, or the REST-equivalent of the gRPC code; 0 = timeout
    code: str | None  # the error code / reason / scimType
    text: str        # the body (or gRPC details), for "no traceback" and messages
    extra: dict[str, Any] = field(default_factory=dict)

    def within(self, start: float, end: float) -> bool:
        return self.sent >= start and self.received <= end

    def __str__(self) -> str:
        return (f"{self.loop}/{self.step} {self.status} {self.code} "
                f"[{self.sent:.2f}-{self.received:.2f}] {self.text[:200]}")


async def timed(loop: str, step: str, call: Awaitable[Any], samples: list[Sample],
                **extra: Any) -> Any:
    """Await `call` (an api.Reply or scim.ScimReply), record it, return it
    (None on timeout)."""
    sent = time.monotonic()
    try:
        reply = await asyncio.wait_for(call, CALL_TIMEOUT_SECONDS)
    except TimeoutError:
        samples.append(Sample(loop, step, sent, time.monotonic(), 0, "timeout", "", extra))
        return None
    code = getattr(reply, "error_code", None) or getattr(reply, "scim_type", None) \
        or getattr(reply, "reason", None)
    text = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
    samples.append(Sample(loop, step, sent, time.monotonic(), reply.status, code,
                          text or "", extra))
    return reply


async def run_until(stop: asyncio.Event, body: Callable[[], Awaitable[None]],
                    pause: float = 0.02) -> None:
    """Run `body` again and again until `stop` is set."""
    while not stop.is_set():
        await body()
        await asyncio.sleep(pause)


__all__ = ["CALL_TIMEOUT_SECONDS", "Sample", "run_until", "timed"]
