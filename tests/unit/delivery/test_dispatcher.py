"""The dispatcher (delivery/dispatcher.py) on a real migrated SQLite database:
claims, leases, outcomes, expiry and the backoff, with channels that record
what they are given (the SMTP channel itself is tested against aiosmtpd in
test_smtp.py and, end to end, in tests/api/test_delivery_smtp.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from authcore.config import Delivery
from authcore.crypto.seal import Sealer
from authcore.delivery.channels import DeliveryError, OutgoingMessage
from authcore.delivery.dispatcher import Dispatcher, backoff
from authcore.delivery.outbox import Message, Outbox
from authcore.store.hot.sqlite import SqliteHot
from authcore.store.hot.statements import _stmt
from authcore.store.write_lock import SqliteWriteLock

NOW = 1_700_000_000.0
SETTINGS = Delivery(retry_seconds=10.0, retry_max_seconds=60.0, max_attempts=3)
ROWS = _stmt("outbox_rows", "SELECT * FROM outbox ORDER BY id")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A channel answering from a script: None delivers, an exception raises."""

    def __init__(self, *answers: Exception | None, hold: asyncio.Event | None = None) -> None:
        self.answers = list(answers)
        self.sent: list[OutgoingMessage] = []
        self.calls = 0
        self.hold = hold
        self.started = asyncio.Event()

    async def send(self, message: OutgoingMessage) -> None:
        self.calls += 1
        self.started.set()
        if self.hold is not None:
            await self.hold.wait()
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer
        self.sent.append(message)

    def describe(self) -> str:
        return "recorder"

    async def close(self) -> None:
        return None


@pytest.fixture
def database(database: Path) -> Path:
    with sqlite3.connect(database) as conn:
        conn.execute("INSERT INTO users (pk, user_id, active, created_at, version) "
                     "VALUES ('u1', 'alice', 1, 0, 1)")
        conn.execute("INSERT INTO applications (id, name, authenticators, settings, "
                     "created_at) VALUES ('app1', 'Acme', '[]', '{}', 0)")
    return database


@pytest.fixture
def outbox() -> Outbox:
    return Outbox(Sealer(b"m" * 32), media=["EMAIL"])


async def queue(hot: SqliteHot, outbox: Outbox, *, medium: str = "EMAIL",
                code: str = "123456", expires_in: float = 300.0, now: float = NOW) -> None:
    async with hot.transaction() as tx:
        await outbox.queue(tx, Message(
            user_pk="u1", medium=medium, address="alice@example.com", kind="otp",
            text=f"Your verification code is {code}.", values={"code": code, "minutes": "5"},
            application_id="app1", expires_at=now + expires_in), now=now)


async def rows(hot: SqliteHot) -> list[dict[str, Any]]:
    return [dict(r) for r in await hot.all(ROWS, {})]


def dispatcher(hot: SqliteHot, outbox: Outbox, channel: Any, clock: Clock,
               settings: Delivery = SETTINGS) -> Dispatcher:
    return Dispatcher(hot=hot, outbox=outbox, channels={"EMAIL": channel}, settings=settings,
                      clock=clock)


# -- backoff -----------------------------------------------------------------

def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    lows = [backoff(n, base=5, cap=60, rand=lambda: 0.0) for n in range(1, 7)]
    highs = [backoff(n, base=5, cap=60, rand=lambda: 1.0) for n in range(1, 7)]
    assert highs == [5, 10, 20, 40, 60, 60]
    assert lows == [h / 2 for h in highs]
    assert all(10 <= backoff(3, base=5, cap=60) <= 20 for _ in range(100))


# -- outcomes ----------------------------------------------------------------

async def test_a_due_message_is_sent_once_with_its_values(hot: SqliteHot,
                                                          outbox: Outbox) -> None:
    clock, channel = Clock(), Recorder()
    await queue(hot, outbox)
    d = dispatcher(hot, outbox, channel, clock)
    assert await d.run_once() == 1
    assert await d.run_once() == 0
    (sent,) = channel.sent
    assert (sent.medium, sent.kind, sent.address) == ("EMAIL", "otp", "alice@example.com")
    assert sent.values == {"code": "123456", "minutes": "5"}
    assert sent.text == "Your verification code is 123456."
    assert sent.application_id == "app1" and sent.application_name == "Acme"
    (row,) = await rows(hot)
    assert row["status"] == "sent" and row["sent_at"] == NOW and row["attempts"] == 1
    assert row["sealed_text"] is None and row["last_error"] is None


async def test_a_retryable_error_backs_off_then_succeeds(hot: SqliteHot,
                                                         outbox: Outbox) -> None:
    clock = Clock()
    channel = Recorder(DeliveryError("smtp://mx:25 answered 451 later", retryable=True))
    await queue(hot, outbox)
    d = dispatcher(hot, outbox, channel, clock)
    assert await d.run_once() == 1
    (row,) = await rows(hot)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert row["last_error"] == "smtp://mx:25 answered 451 later"
    # The first retry comes 5-10 s later (equal jitter on 10 s).
    assert NOW + 5 <= row["next_attempt_at"] <= NOW + 10
    clock.now = row["next_attempt_at"] - 0.01
    assert await d.run_once() == 0
    clock.now = row["next_attempt_at"]
    assert await d.run_once() == 1
    (row,) = await rows(hot)
    assert row["status"] == "sent" and row["attempts"] == 2 and row["last_error"] is None
    assert len(channel.sent) == 1


async def test_a_permanent_error_fails_at_once(hot: SqliteHot, outbox: Outbox) -> None:
    channel = Recorder(DeliveryError("smtp://mx:25 answered 550 no such user",
                                     retryable=False))
    await queue(hot, outbox)
    assert await dispatcher(hot, outbox, channel, Clock()).run_once() == 1
    (row,) = await rows(hot)
    assert row["status"] == "failed" and row["sealed_text"] is None
    assert row["last_error"] == "smtp://mx:25 answered 550 no such user"


async def test_retries_stop_after_max_attempts(hot: SqliteHot, outbox: Outbox) -> None:
    clock = Clock()
    channel = Recorder(*[DeliveryError("timed out", retryable=True)] * 5)
    await queue(hot, outbox, expires_in=3600)
    d = dispatcher(hot, outbox, channel, clock)
    for attempt in range(1, 4):
        clock.now += 100
        assert await d.run_once() == 1
        (row,) = await rows(hot)
        assert row["attempts"] == attempt
    assert row["status"] == "failed" and row["last_error"] == "timed out (gave up after 3 attempts)"
    clock.now += 100
    assert await d.run_once() == 0 and channel.calls == 3


async def test_a_channel_bug_is_retried_and_named_by_type_only(hot: SqliteHot,
                                                              outbox: Outbox) -> None:
    channel = Recorder(RuntimeError("boom with 123456 in it"))
    await queue(hot, outbox)
    assert await dispatcher(hot, outbox, channel, Clock()).run_once() == 1
    (row,) = await rows(hot)
    assert row["status"] == "pending" and row["last_error"] == "RuntimeError in the EMAIL channel"


async def test_a_text_that_does_not_open_fails(hot: SqliteHot, outbox: Outbox) -> None:
    await queue(hot, outbox)
    other = Outbox(Sealer(b"x" * 32), media=["EMAIL"])  # another master key
    channel = Recorder()
    assert await dispatcher(hot, other, channel, Clock()).run_once() == 1
    (row,) = await rows(hot)
    assert row["status"] == "failed" and "does not open" in row["last_error"]
    assert channel.calls == 0


# -- expiry, media, leases -----------------------------------------------------

async def test_an_expired_message_is_never_sent(hot: SqliteHot, outbox: Outbox) -> None:
    clock, channel = Clock(), Recorder()
    await queue(hot, outbox, expires_in=60)
    clock.now = NOW + 60
    assert await dispatcher(hot, outbox, channel, clock).run_once() == 1
    (row,) = await rows(hot)
    assert row["status"] == "expired" and row["sealed_text"] is None and channel.calls == 0


async def test_held_messages_and_other_media_are_left_alone(hot: SqliteHot,
                                                            outbox: Outbox) -> None:
    # SMS has no channel in `outbox`: held. An SMS pending for a replica
    # that has one is not this dispatcher's either.
    await queue(hot, outbox, medium="SMS")
    await queue(hot, Outbox(Sealer(b"m" * 32), media=["SMS"]), medium="SMS")
    channel = Recorder()
    assert await dispatcher(hot, outbox, channel, Clock()).run_once() == 0
    assert [(r["status"], r["attempts"]) for r in await rows(hot)] == [
        ("held", 0), ("pending", 0)]


async def test_a_leased_message_is_not_claimed_again(database: Path, hot: SqliteHot,
                                                     outbox: Outbox) -> None:
    """Two dispatchers on two connections and two write locks of one file,
    as two workers have: while one sends, the other finds nothing to do; and
    the outcome of a send whose lease ran out (the message claimed again
    since) changes nothing."""
    lock = SqliteWriteLock(database)
    other_hot = SqliteHot(database, lock)
    try:
        clock, hold = Clock(), asyncio.Event()
        first, second = Recorder(hold=hold), Recorder()
        await queue(hot, outbox)
        a = dispatcher(hot, outbox, first, clock)
        b = dispatcher(other_hot, outbox, second, clock)
        sending = asyncio.create_task(a.run_once())
        await asyncio.wait_for(first.started.wait(), 5)
        assert await b.run_once() == 0
        # The lease runs out while `a` is still sending: `b` claims it again.
        clock.now += 60
        assert await b.run_once() == 1 and len(second.sent) == 1
        hold.set()
        assert await sending == 1
        (row,) = await rows(hot)
        assert row["status"] == "sent" and row["attempts"] == 2 and row["sent_at"] == NOW + 60
    finally:
        await other_hot.close()
        lock.close()


async def test_a_commit_wakes_the_dispatcher_and_a_rollback_does_not(
        hot: SqliteHot, outbox: Outbox) -> None:
    await queue(hot, outbox, medium="SMS")  # held: nothing to wake for
    assert not outbox.queued.is_set()
    with pytest.raises(ZeroDivisionError):
        async with hot.transaction() as tx:
            await outbox.queue(tx, Message(
                user_pk="u1", medium="EMAIL", address="a@example.com", kind="otp", text="t",
                application_id=None, expires_at=None), now=NOW)
            1 / 0
    assert not outbox.queued.is_set()
    await queue(hot, outbox)
    assert outbox.queued.is_set()


@pytest.fixture
async def running(hot: SqliteHot, outbox: Outbox) -> AsyncIterator[tuple[Dispatcher, Recorder]]:
    channel = Recorder()
    d = Dispatcher(hot=hot, outbox=outbox, channels={"EMAIL": channel},
                   settings=replace(SETTINGS, poll_seconds=30.0))
    task = asyncio.create_task(d.run())
    yield d, channel
    d.stop()
    await asyncio.wait_for(task, 5)


async def test_the_loop_sends_when_woken_and_stops_when_asked(
        hot: SqliteHot, outbox: Outbox, running: tuple[Dispatcher, Recorder]) -> None:
    _, channel = running
    await asyncio.sleep(0.05)  # the loop's first pass found nothing; it waits 30 s
    await queue(hot, outbox, now=0.0, expires_in=10**10)
    for _ in range(100):
        if channel.sent:
            break
        await asyncio.sleep(0.01)
    assert len(channel.sent) == 1  # within a second, not at the next poll


# -- metrics -------------------------------------------------------------------

def _sample(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_outcomes_and_queue_depth_reach_the_metrics(hot: SqliteHot,
                                                          outbox: Outbox) -> None:
    sent = _sample("authcore_deliveries_total", medium="EMAIL", outcome="sent")
    retried = _sample("authcore_deliveries_total", medium="EMAIL", outcome="retry")
    expired = _sample("authcore_deliveries_total", medium="any", outcome="expired")
    clock = Clock()
    channel = Recorder(DeliveryError("451 later", retryable=True))
    await queue(hot, outbox, code="111111")
    await queue(hot, outbox, code="222222", expires_in=3600)
    await queue(hot, outbox, code="333333", expires_in=3600, now=NOW + 1000)
    d = dispatcher(hot, outbox, channel, clock)
    # Two due now (one retries), one not yet due: three wait.
    assert await d.run_once() == 2
    assert _sample("authcore_delivery_queue_depth") == 3
    assert _sample("authcore_deliveries_total", medium="EMAIL", outcome="sent") == sent + 1
    assert _sample("authcore_deliveries_total", medium="EMAIL", outcome="retry") == retried + 1
    # Past the first message's expiry: the retried one expires, the other is sent.
    clock.now = NOW + 1000
    assert await d.run_once() == 2
    assert _sample("authcore_deliveries_total", medium="any", outcome="expired") == expired + 1
    assert _sample("authcore_deliveries_total", medium="EMAIL", outcome="sent") == sent + 2
    assert await d.run_once() == 0
    assert _sample("authcore_delivery_queue_depth") == 0
