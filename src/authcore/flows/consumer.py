"""Consumer API (skeleton; being implemented)."""

from __future__ import annotations

from typing import Any

from authcore.errors import Unimplemented
from authcore.flows.context import Core


class ConsumerFlow:
    def __init__(self, core: Core) -> None:
        self.core = core

    def __getattr__(self, name: str) -> Any:
        async def missing(*args: Any, **kwargs: Any) -> Any:
            raise Unimplemented("not yet")
        return missing
