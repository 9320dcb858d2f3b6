"""The dispatcher: delivers the outbox's pending messages, off the request path.

One task per serving process (`server.serve` starts it in every worker). It
wakes when this process commits a pending message (`Outbox.queued`) and
polls every `poll_seconds` for the messages of other workers and replicas.
A pass:

1. a read: is anything due? (an idle outbox costs one indexed read per poll,
   and no write lock);
2. one short write transaction: expire the due messages whose challenge
   has expired (text dropped), then claim up to `batch` due messages and
   lease them (`next_attempt_at` a lease ahead, `attempts` + 1). On
   PostgreSQL the claim is `FOR UPDATE SKIP LOCKED`, so concurrent claims
   by other processes get other rows; on SQLite the transaction holds the
   cross-process write lock, which does the same;
3. outside any transaction, each claimed message goes to its channel; then
   one short transaction records the outcome: `sent` (text dropped),
   `pending` again after an exponential backoff with jitter (a retryable
   error, below max_attempts), or `failed` (text dropped) with the last error.

No message goes out twice while processes live: a row is only ever claimed
by one process at a time, and a lease outlasts any send (the channels'
timeouts). A process that dies mid-send leaves its lease to run out; the
message is then claimed again, so a crash at the wrong moment can deliver
it twice (at least once, not exactly once: what any outbox relay can
promise). Webhook receivers get a stable idempotency key for that.

Nothing here logs a text, a code or an address: messages are named by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from authcore import metrics
from authcore.config import Delivery
from authcore.crypto.seal import SealError
from authcore.delivery.channels import Channel, DeliveryError, OutgoingMessage
from authcore.delivery.outbox import Outbox
from authcore.store.hot import HotDb, Row
from authcore.store.hot import statements as q

log = logging.getLogger("authcore.delivery")

# Messages claimed per pass (and sent concurrently).
BATCH = 16
# What a lease adds to the slowest channel's timeout.
LEASE_MARGIN_SECONDS = 30.0
# last_error's column width.
ERROR_CHARS = 255
# The name a message's templates use when its application has gone.
UNKNOWN_APPLICATION = "authcore"


def backoff(attempt: int, *, base: float, cap: float,
            rand: Callable[[], float] = random.random) -> float:
    """Seconds before the try after the `attempt`-th (1-based) failed:
    base, 2 x base, 4 x base, ... at most `cap`, each with "equal jitter"
    (between half and all of it), so messages that failed together (a
    server restart) don't all come back at once."""
    delay = min(cap, base * 2.0 ** max(0, attempt - 1))
    return delay / 2 + rand() * delay / 2


@dataclass(frozen=True, slots=True)
class Outcome:
    id: int
    status: str  # "sent", "retry" or "failed"
    error: str | None = None


class Dispatcher:
    def __init__(self, *, hot: HotDb, outbox: Outbox, channels: Mapping[str, Channel],
                 settings: Delivery, clock: Callable[[], float] = time.time,
                 batch: int = BATCH) -> None:
        if not channels:
            raise ValueError("a dispatcher needs at least one channel")
        self._hot = hot
        self._outbox = outbox
        self._channels = dict(channels)
        self._settings = settings
        self._clock = clock
        self._batch = batch
        self._lease = (max(settings.smtp_timeout_seconds, settings.webhook_timeout_seconds)
                       + LEASE_MARGIN_SECONDS)
        media = sorted(self._channels)
        # The statements' four medium slots; unused ones repeat a medium.
        self._media = {f"m{i}": media[min(i, len(media) - 1)] for i in range(4)}
        self._stopping = asyncio.Event()

    # -- the loop ------------------------------------------------------------

    async def run(self) -> None:
        """Deliver until `stop()`; a pass that fails (the database is down)
        is logged and tried again at the next poll."""
        queued = self._outbox.queued
        while not self._stopping.is_set():
            # Cleared before the pass: a message committed during it sets
            # the event again, and the wait below returns at once.
            queued.clear()
            try:
                handled = await self.run_once()
            except Exception as exc:
                log.warning("delivery: a dispatcher pass failed: %s", type(exc).__name__)
                handled = 0
            if handled:
                continue
            await self._wait(queued, self._settings.poll_seconds)

    async def _wait(self, queued: asyncio.Event, seconds: float) -> None:
        waits = [asyncio.ensure_future(queued.wait()),
                 asyncio.ensure_future(self._stopping.wait())]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    def stop(self) -> None:
        """No new pass starts; the sends under way finish (their timeouts
        bound them)."""
        self._stopping.set()

    async def close(self) -> None:
        seen: set[int] = set()
        for channel in self._channels.values():
            if id(channel) not in seen:
                seen.add(id(channel))
                with contextlib.suppress(Exception):
                    await channel.close()

    # -- one pass --------------------------------------------------------------

    async def run_once(self) -> int:
        """Expire, claim and send what is due now; how many messages were
        claimed or expired."""
        now = self._clock()
        params: dict[str, Any] = {"now": now, **self._media}
        pending = await self._hot.one(q.OUTBOX_PENDING, params)
        waiting = 0 if pending is None else int(pending["waiting"])
        metrics.delivery_queue_depth(waiting)
        if pending is None or not int(pending["due"]):
            return 0
        async with self._hot.transaction() as tx:
            expired = await tx.execute(q.EXPIRE_OUTBOX_MESSAGES, params)
            rows = list(await tx.all(q.CLAIM_DUE_OUTBOX_MESSAGES,
                                     {**params, "limit": self._batch}))
            for row in rows:
                await tx.execute(q.LEASE_OUTBOX_MESSAGE,
                                 {"id": row["id"], "lease_until": now + self._lease})
        if expired:
            metrics.delivery("any", "expired", expired)
            log.info("delivery: %d message(s) expired before they could be sent", expired)
        if rows:
            await asyncio.gather(*(self._deliver(row) for row in rows))
        return expired + len(rows)

    async def _deliver(self, row: Row) -> None:
        attempts = int(row["attempts"]) + 1
        outcome = await self._attempt(row, attempts)
        metrics.delivery(str(row["channel"]), outcome.status)
        now = self._clock()
        key = {"id": row["id"], "attempts": attempts}
        try:
            async with self._hot.transaction() as tx:
                if outcome.status == "sent":
                    await tx.execute(q.MARK_OUTBOX_SENT, {**key, "now": now})
                elif outcome.status == "retry":
                    delay = backoff(attempts, base=self._settings.retry_seconds,
                                    cap=self._settings.retry_max_seconds)
                    await tx.execute(q.RETRY_OUTBOX_MESSAGE,
                                     {**key, "next_attempt_at": now + delay,
                                      "error": outcome.error})
                else:
                    await tx.execute(q.FAIL_OUTBOX_MESSAGE, {**key, "error": outcome.error})
        except Exception as exc:
            # The lease runs out and the message is tried again: for a sent
            # one that means a duplicate, which a lost write can't avoid.
            log.warning("delivery: could not record the outcome of message %s: %s",
                        row["id"], type(exc).__name__)

    async def _attempt(self, row: Row, attempts: int) -> Outcome:
        mid, medium = int(row["id"]), str(row["channel"])
        channel = self._channels.get(medium)
        if channel is None:  # not claimed by the statements; a guard only
            return Outcome(mid, "retry", f"no channel for {medium} here")
        sealed = row["sealed_text"]
        if sealed is None:
            return self._failed(mid, medium, "the message has no text left")
        try:
            content = self._outbox.open(bytes(sealed), user_pk=str(row["user_pk"]),
                                        medium=medium, address=str(row["address"]))
        except SealError:
            return self._failed(mid, medium, "the sealed text does not open "
                                             "(another master key?)")
        message = OutgoingMessage(
            id=mid, medium=medium, kind=str(row["kind"]), address=str(row["address"]),
            text=content.text, values=content.values,
            application_id=row["application_id"],
            application_name=row["application_name"] or UNKNOWN_APPLICATION,
            created_at=float(row["created_at"]),
            expires_at=None if row["expires_at"] is None else float(row["expires_at"]))
        try:
            await channel.send(message)
        except DeliveryError as exc:
            error = str(exc)[:ERROR_CHARS]
            if not exc.retryable:
                return self._failed(mid, medium, error)
            if attempts >= self._settings.max_attempts:
                return self._failed(mid, medium,
                                    f"{error} (gave up after {attempts} attempts)")
            log.info("delivery: message %d (%s) attempt %d failed, will retry: %s",
                     mid, medium, attempts, error)
            return Outcome(mid, "retry", error)
        except Exception as exc:
            # A channel's bug must not stop the dispatcher; the type only (an
            # exception's text could quote the message).
            error = f"{type(exc).__name__} in the {medium} channel"
            log.warning("delivery: message %d (%s): %s", mid, medium, error)
            if attempts >= self._settings.max_attempts:
                return self._failed(mid, medium, error)
            return Outcome(mid, "retry", error)
        log.debug("delivery: message %d (%s) sent", mid, medium)
        return Outcome(mid, "sent")

    @staticmethod
    def _failed(mid: int, medium: str, error: str) -> Outcome:
        log.warning("delivery: message %d (%s) failed: %s", mid, medium, error)
        return Outcome(mid, "failed", error[:ERROR_CHARS])
