"""Single-process GCRA rate limiter.

GCRA keeps one float per key, the theoretical arrival time (TAT): the moment
the key would be fully idle again. A request is allowed while it arrives no
earlier than ``TAT - period``; each allowed request pushes TAT forward by
``period / limit``. This gives a ``limit`` burst and a smooth refill without
storing per-request timestamps, and maps directly onto one Redis key later.

Concurrency: ``hit`` and ``reset`` never await, so on a single event loop each
call runs to completion without interleaving and needs no lock. The limiter
is not thread-safe and not shared across worker processes.
"""

from __future__ import annotations

import heapq
import time

from authcore.limits.base import Decision, RateLimit

__all__ = ["MemoryRateLimiter"]

# Float arithmetic on clock-sized values is off by a few ulps (~0.2 µs at
# epoch magnitudes), enough to refuse a request made exactly `retry_after`
# later, or even a fresh key's first request. A millisecond of slack absorbs
# that and is far below any interval an auth rate limit uses.
_EPSILON = 1e-3
_MIN_SWEEP_SIZE = 1024
# When every key is live and the cap is hit, evict down to this fraction so the
# O(n log k) eviction runs once per many inserts rather than on every insert.
_EVICT_TO_FRACTION = 0.9


class MemoryRateLimiter:
    """In-memory :class:`~authcore.limits.base.RateLimiter` with bounded memory.

    Keys are attacker-controlled (IPs, usernames), so the table must not grow
    without bound. A key whose TAT is in the past behaves exactly like an
    absent key, so dropping it loses nothing; sweeps remove those. Sweeps run
    only when a new key arrives and the table has doubled since the last sweep,
    which keeps the cost amortised O(1) per hit. If the table is still at
    ``max_keys`` after a sweep (more live keys than the cap), the keys with the
    earliest TAT go first: they are the closest to being forgotten anyway, so
    an attacker flooding fresh keys can't cheaply reset a heavily limited one.
    """

    def __init__(self, *, max_keys: int = 100_000) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._max_keys = max_keys
        self._tat: dict[str, float] = {}
        self._sweep_at = min(_MIN_SWEEP_SIZE, max_keys)

    def __len__(self) -> int:
        return len(self._tat)

    async def hit(self, key: str, limit: RateLimit, *, now: float | None = None) -> Decision:
        if now is None:
            # Monotonic: a wall-clock step must not lock everyone out or
            # hand everyone a fresh burst.
            now = time.monotonic()
        interval = limit.emission_interval
        stored = self._tat.get(key)
        tat = now if stored is None or stored < now else stored
        allow_at = tat + interval - limit.period_seconds
        if allow_at - now > _EPSILON:
            return Decision(allowed=False, retry_after=allow_at - now)
        if stored is None and len(self._tat) >= self._sweep_at:
            self._sweep(now)
        self._tat[key] = tat + interval
        return Decision(allowed=True, retry_after=0.0)

    async def reset(self, key: str) -> None:
        self._tat.pop(key, None)

    def _sweep(self, now: float) -> None:
        # Rebuilt rather than deleted from in place: dicts never shrink on
        # delete, so only a fresh dict gives the memory back after a flood.
        self._tat = {key: tat for key, tat in self._tat.items() if tat > now}
        if len(self._tat) >= self._max_keys:
            keep = min(int(self._max_keys * _EVICT_TO_FRACTION), self._max_keys - 1)
            doomed = heapq.nsmallest(len(self._tat) - keep, self._tat, key=self._tat.__getitem__)
            for key in doomed:
                del self._tat[key]
        self._sweep_at = min(self._max_keys, max(_MIN_SWEEP_SIZE, 2 * len(self._tat)))
