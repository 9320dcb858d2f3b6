"""A socket-less stand-in for grpc.aio.ServicerContext.

It implements the subset authcore's servicers and interceptors use. Aborting
raises `AbortCall`, which the in-process invoker turns into a CallError the
same way a gRPC client would see the status.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import grpc
import grpc.aio
from google.rpc import status_pb2

MetadataPairs = tuple[tuple[str, str | bytes], ...]
STATUS_DETAILS_KEY = "grpc-status-details-bin"


class AbortCall(grpc.aio.AbortError):
    """Raised by InProcessContext.abort; carries the final status.

    A grpc.aio.AbortError, so interceptors that let aborts pass
    (`except grpc.aio.AbortError: raise`) treat it exactly as on the server.
    """

    def __init__(self, status: status_pb2.Status) -> None:
        super().__init__(status.message)
        self.status = status


@functools.lru_cache(maxsize=4096)
def format_peer(client_ip: str) -> str:
    """A gRPC-style peer string ("ipv4:203.0.113.7:0") for a client address.

    Cached: it runs on every in-process call, and parsing the address cost
    more than the rest of the invoker's own work."""
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return "unknown"
    if address.version == 4:
        return f"ipv4:{address}:0"
    return f"ipv6:[{address}]:0"


def status_from(code: grpc.StatusCode, details: str | None,
                trailing_metadata: Sequence[tuple[str, Any]]) -> status_pb2.Status:
    """The google.rpc.Status a client would read from a finished call.

    The rich status in "grpc-status-details-bin" wins, as in grpcio-status'
    rpc_status.from_call; otherwise the bare code and details.
    """
    for key, value in trailing_metadata:
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            try:
                rich = status_pb2.Status.FromString(value)
            except Exception:
                break
            if rich.code == code.value[0]:
                return rich
            break
    return status_pb2.Status(code=code.value[0], message=details or "")


class InProcessContext:
    """The servicer context of one in-process call."""

    def __init__(self, metadata: MetadataPairs, peer: str) -> None:
        self._metadata = metadata
        self._peer = peer
        self._code: grpc.StatusCode | None = None
        self._details: str | None = None
        self._trailing: tuple[tuple[str, Any], ...] = ()
        self._callbacks: list[Callable[[Any], None]] = []
        self.aborted: status_pb2.Status | None = None

    def invocation_metadata(self) -> MetadataPairs:
        return self._metadata

    def peer(self) -> str:
        return self._peer

    async def abort(self, code: grpc.StatusCode, details: str = "",
                    trailing_metadata: Sequence[tuple[str, Any]] = ()) -> NoReturn:
        raise self.record_abort(code, details, trailing_metadata)

    async def abort_with_status(self, status: Any) -> NoReturn:
        await self.abort(status.code, status.details, status.trailing_metadata)

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        self._details = details

    def set_trailing_metadata(self, trailing_metadata: Sequence[tuple[str, Any]]) -> None:
        self._trailing = tuple(trailing_metadata)

    def trailing_metadata(self) -> tuple[tuple[str, Any], ...]:
        return self._trailing

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def details(self) -> str | None:
        return self._details

    def time_remaining(self) -> float | None:
        return None

    def cancelled(self) -> bool:
        return False

    def done(self) -> bool:
        return False

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        self._callbacks.append(callback)

    def auth_context(self) -> dict[str, Any]:
        return {}

    def set_compression(self, compression: Any) -> None:
        """Compression means nothing without a wire."""

    def disable_next_message_compression(self) -> None:
        """Compression means nothing without a wire."""

    async def send_initial_metadata(self, initial_metadata: Sequence[tuple[str, Any]]) -> None:
        """There is no client to send headers to before the response."""

    def record_abort(self, code: grpc.StatusCode, details: str,
                     trailing_metadata: Sequence[tuple[str, Any]]) -> AbortCall:
        """Fix the call's status; as in grpc.aio, the first abort wins."""
        if self.aborted is None:
            if code == grpc.StatusCode.OK:
                # grpc.aio does the same: aborting with OK is a servicer bug.
                code = grpc.StatusCode.UNKNOWN
            trailing = tuple(trailing_metadata) or self._trailing
            self.aborted = status_from(code, details, trailing)
        return AbortCall(self.aborted)

    def status_set(self) -> status_pb2.Status | None:
        """A non-OK status the servicer set with set_code() instead of aborting."""
        if self._code is None or self._code == grpc.StatusCode.OK:
            return None
        return status_from(self._code, self._details, self._trailing)


class SyncContextView:
    """The context as a synchronous servicer sees it (abort raises at once)."""

    def __init__(self, context: InProcessContext) -> None:
        self._context = context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def abort(self, code: grpc.StatusCode, details: str = "",
              trailing_metadata: Sequence[tuple[str, Any]] = ()) -> NoReturn:
        raise self._context.record_abort(code, details, trailing_metadata)

    def abort_with_status(self, status: Any) -> NoReturn:
        self.abort(status.code, status.details, status.trailing_metadata)
