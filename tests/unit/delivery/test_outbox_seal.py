"""Outbox texts are sealed (delivery/outbox.py): AES-GCM under the master key,
bound to the row's user, medium and address; held where no channel is."""

from __future__ import annotations

import timeit

import pytest

from authcore.crypto.seal import Sealer, SealError
from authcore.delivery.outbox import HELD, PENDING, Message, Outbox

SEALER = Sealer(b"k" * 32)


def message(**changes: object) -> Message:
    fields: dict[str, object] = {
        "user_pk": "u1", "medium": "EMAIL", "address": "ada@example.com", "kind": "otp",
        "text": "Your verification code is 424242. It expires in 5 minutes.",
        "values": {"code": "424242", "minutes": "5"}, "application_id": "app",
        "expires_at": 10.0, **changes}
    return Message(**fields)  # type: ignore[arg-type]


def test_sealed_text_and_values_open_for_their_row_only() -> None:
    outbox = Outbox(SEALER)
    sealed = outbox.seal(message())
    assert b"424242" not in sealed and b"verification" not in sealed
    content = outbox.open(sealed, user_pk="u1", medium="EMAIL", address="ada@example.com")
    assert content.text == message().text and content.values == dict(message().values)
    for row in ({"user_pk": "u2", "medium": "EMAIL", "address": "ada@example.com"},
                {"user_pk": "u1", "medium": "SMS", "address": "ada@example.com"},
                {"user_pk": "u1", "medium": "EMAIL", "address": "eve@example.com"}):
        with pytest.raises(SealError):
            outbox.open(sealed, **row)
    with pytest.raises(SealError):
        Outbox(Sealer(b"x" * 32)).open(sealed, user_pk="u1", medium="EMAIL",
                                       address="ada@example.com")


def test_a_message_is_pending_only_where_a_channel_is() -> None:
    outbox = Outbox(SEALER, media=["EMAIL"])
    assert outbox.status_for("EMAIL") == PENDING
    assert outbox.status_for("SMS") == HELD
    assert Outbox(SEALER).status_for("EMAIL") == HELD


def test_sealing_is_cheap_enough_for_a_hot_path() -> None:
    outbox, m = Outbox(SEALER), message()
    per_call = min(timeit.repeat(lambda: outbox.seal(m), number=200, repeat=5)) / 200
    assert per_call < 0.0005  # ~10 us here; a login's budget is milliseconds
