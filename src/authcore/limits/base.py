"""Rate limiter interface; the in-memory and Redis backends both implement it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Decision", "RateLimit", "RateLimiter"]


@dataclass(frozen=True)
class RateLimit:
    """``limit`` requests per ``period_seconds``; an idle key may burst ``limit`` at once."""

    limit: int
    period_seconds: float

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError("limit must be at least 1")
        if self.period_seconds <= 0:
            raise ValueError("period_seconds must be positive")

    @property
    def emission_interval(self) -> float:
        """Steady-state spacing between requests once the burst is spent."""
        return self.period_seconds / self.limit


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # Seconds until the next request for this key would be allowed; 0 when allowed.
    retry_after: float


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: RateLimit, *, now: float | None = None) -> Decision:
        """Count one request against ``key`` and say whether it may proceed.

        ``now`` exists for tests and must come from the backend's own clock;
        production callers leave it None.
        """
        ...

    async def reset(self, key: str) -> None:
        """Forget all state for ``key`` (e.g. after a successful login)."""
        ...
