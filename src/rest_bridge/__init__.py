"""The generic REST bridge: HttpRule-annotated gRPC services served as JSON over HTTP.

See DESIGN.md section 2. `create_app` builds the ASGI app from service
descriptors; an Invoker reaches the core in-process or over a channel.
"""

from __future__ import annotations

from rest_bridge.app import create_app
from rest_bridge.codec import CodecError, json_to_message, message_to_json, parse_scalar
from rest_bridge.invoker import (
    CallError,
    InProcessInvoker,
    Invoker,
    RemoteInvoker,
    ResolvedHandlers,
    generic_handlers_for,
    resolve_handlers,
)

__all__ = [
    "CallError",
    "CodecError",
    "InProcessInvoker",
    "Invoker",
    "RemoteInvoker",
    "ResolvedHandlers",
    "create_app",
    "generic_handlers_for",
    "json_to_message",
    "message_to_json",
    "parse_scalar",
    "resolve_handlers",
]
