"""Base exception for the pure verification modules.

Each ceremony module defines exactly one subclass so callers can catch a
single type per ceremony and branch on ``reason``, a stable snake_case slug
that is safe to map onto API error codes. ``message`` is for logs only and
may change between releases.
"""

from __future__ import annotations


class VerificationError(Exception):
    """A verification or generation step failed; see ``reason``."""

    reason: str
    message: str

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        self.message = message if message is not None else reason
        super().__init__(self.message)

    def __reduce__(self) -> tuple[type[VerificationError], tuple[str, str]]:
        # The default Exception pickling replays ``args`` (just the message)
        # into __init__, which would lose the reason when these errors cross a
        # process-pool boundary.
        return (type(self), (self.reason, self.message))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r}, message={self.message!r})"
