"""serve() freezes what startup built, so full collections under load walk
only what requests allocate (server.freeze_startup_objects)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from authcore.server import freeze_startup_objects


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_startup_objects_leave_the_collected_generations(unfrozen: None) -> None:
    built_at_startup = [{"n": n} for n in range(50_000)]
    tracked_before = len(gc.get_objects())
    frozen = freeze_startup_objects()
    assert frozen >= len(built_at_startup)
    # Nothing of startup's is left for a full pass to walk.
    assert len(gc.get_objects()) < tracked_before - len(built_at_startup)
    assert not any(obj is built_at_startup for obj in gc.get_objects())


def test_garbage_is_collected_not_frozen(unfrozen: None) -> None:
    class Node:
        other: object

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: only the collector frees it
    gone = weakref.ref(a)
    del a, b
    frozen = freeze_startup_objects()
    # Frozen, the cycle would stay alive for the life of the process.
    assert gone() is None
    assert frozen == gc.get_freeze_count()
