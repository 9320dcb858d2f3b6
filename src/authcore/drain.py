"""Graceful shutdown without dropping what was already accepted.

`serve` stops in this order (see serve() in authcore.server):

1. gRPC health turns NOT_SERVING.
2. HTTP stops accepting (`stop_accepting`): a socket filter makes the kernel
   drop new SYNs on the listening sockets, the connections already in the
   accept queue are accepted, then the listeners close. A client whose SYN
   was dropped sends it again a second later and is refused (or reaches a
   worker still listening). Closing a listener with connections still queued
   would reset them after their clients had sent a request.
3. Requests on connections already accepted are answered as usual, each
   response with `Connection: close` (`CloseAfterResponse`), so a keep-alive
   client's next request opens a new connection, which is refused. Idle
   keep-alive connections are left open for `IDLE_LINGER_SECONDS`, not closed
   at once: a request racing that close would be lost (uvicorn's own shutdown
   closes them first thing).
4. gRPC: grpc core answers CANCELLED (an RST_STREAM, no status) to every call
   that reaches it after `server.stop()` began and before the client has read
   the GOAWAY, and to calls received but not yet handed to the Python
   server. grpc offers no GOAWAY without stopping, so `GrpcGate` makes the
   clients quiet first: new calls, and the answers of calls finishing, are
   held until no new call has come for `GRPC_QUIET_SECONDS`. A client waiting
   for its answers sends nothing more, so `server.stop()` then meets no new
   call; the held calls proceed once the GOAWAY is out, and the clients'
   next calls go to a new connection (refused). A client that keeps sending
   without waiting for answers can still race the GOAWAY.
5. Whatever is in flight gets the rest of `shutdown_grace_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import inspect
import logging
import select
import socket
import struct
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

import grpc
import uvicorn

from rest_bridge import ResolvedHandlers

log = logging.getLogger("authcore.drain")

# After the SYN filter is on, how long handshakes already under way (SYN-ACK
# sent, the client's ACK on its way) get to reach the accept queue.
ACCEPT_SETTLE_SECONDS = 0.1
# How long idle keep-alive connections stay open after a shutdown begins, so
# that a client between two requests gets its next one answered.
IDLE_LINGER_SECONDS = 0.5
# gRPC: no new call for this long, and the clients are taken to be waiting.
GRPC_QUIET_SECONDS = 0.1
# ...but never hold calls longer than this.
GRPC_HOLD_LIMIT_SECONDS = 1.0
# After server.stop() begins: time for the GOAWAY to be written before the
# held answers.
GOAWAY_SECONDS = 0.05

_POLL_SECONDS = 0.02


# -- HTTP: stop accepting -----------------------------------------------------

# Linux SO_ATTACH_FILTER with a classic BPF program over the TCP header:
# a segment with SYN set and ACK clear (a new connection) is dropped, all
# else passes (the ACKs that complete handshakes already under way).
_SO_ATTACH_FILTER = 26
_DROP_SYN = (
    (0x30, 0, 0, 13),          # ldb [13]        TCP flags
    (0x54, 0, 0, 0x12),        # and #SYN|ACK
    (0x15, 0, 1, 0x02),        # jeq #SYN, drop, keep
    (0x06, 0, 0, 0),           # drop: ret #0
    (0x06, 0, 0, 0xFFFFFFFF),  # keep: ret #-1
)


def drop_new_connections(sock: Any) -> bool:
    """Make the kernel drop new connection attempts (SYNs) to the listening
    socket `sock`, while handshakes already under way complete. False where
    that is not available (not Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    program = ctypes.create_string_buffer(
        b"".join(struct.pack("HBBI", *insn) for insn in _DROP_SYN))
    fprog = struct.pack("HP", len(_DROP_SYN), ctypes.addressof(program))
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
    except OSError as exc:
        log.warning("cannot filter new connections on the HTTP listener: %s", exc)
        return False
    return True


def _queued(sockets: Iterable[Any]) -> bool:
    """Some listening socket has a connection waiting to be accepted."""
    poller = select.poll()
    for sock in sockets:
        poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


async def stop_accepting(servers: list[asyncio.Server],
                         sockets: Iterable[socket.socket] = ()) -> None:
    """Close the listeners of `servers` (and `sockets`) without resetting a
    connection the kernel had already completed: new SYNs are dropped first,
    then the accept queue is emptied by the event loop's own accept, then the
    listeners close."""
    listening = [s for server in servers for s in (server.sockets or ())]
    filtered = all([drop_new_connections(s) for s in listening])
    if filtered:
        await asyncio.sleep(ACCEPT_SETTLE_SECONDS)
    # The loop accepts while a listener is readable; an accepted connection
    # gets its transport in a task of the next iterations, which must run
    # before the server closes (asyncio refuses transports of a closed server).
    for _ in range(int(1.0 / _POLL_SECONDS)):
        if not _queued(listening):
            break
        await asyncio.sleep(_POLL_SECONDS)
    await asyncio.sleep(_POLL_SECONDS)
    for server in servers:
        server.close()
    for sock in sockets:
        sock.close()


# -- HTTP: answer, then close -------------------------------------------------

_CLOSE = (b"connection", b"close")


class CloseAfterResponse:
    """ASGI wrapper: once `closing` is set, every response (also of requests
    already running) carries `Connection: close`, and uvicorn closes the
    connection after it."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app
        self.closing = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_closing(message: dict[str, Any]) -> None:
            if self.closing and message["type"] == "http.response.start":
                headers = list(message.get("headers") or ())
                if not any(name.lower() == b"connection" for name, _ in headers):
                    message = {**message, "headers": [*headers, _CLOSE]}
            await send(message)

        await self.app(scope, receive, send_closing)


class DrainingUvicorn(uvicorn.Server):
    """uvicorn, shutting down as the module doc says; the process owns the
    signals (uvicorn installs none)."""

    def __init__(self, config: uvicorn.Config, *, grace_seconds: float) -> None:
        super().__init__(config)
        self.grace_seconds = grace_seconds
        # Set by serve() when the shutdown begins, so both transports share
        # one deadline (loop time).
        self.deadline: float | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        deadline = self.deadline if self.deadline is not None else began + self.grace_seconds
        state = self.server_state
        await stop_accepting(self.servers, sockets or ())
        # Requests in flight, and any that come on connections already open,
        # are answered (with Connection: close) until none is left.
        linger_until = min(began + IDLE_LINGER_SECONDS, deadline)
        # (Polled: uvicorn's connection and task sets signal nothing.)
        while loop.time() < deadline and (state.tasks or loop.time() < linger_until):  # noqa: ASYNC110
            await asyncio.sleep(_POLL_SECONDS)
        # Only idle connections remain open (uvicorn's shutdown() closes an
        # idle one, and one still answering after its answer).
        for connection in list(state.connections):
            connection.shutdown()
        while loop.time() < deadline and (state.connections or state.tasks):  # noqa: ASYNC110
            await asyncio.sleep(_POLL_SECONDS)
        if state.tasks:
            log.error("cancelling %d HTTP request(s) still running after the grace period",
                      len(state.tasks))
            for task in state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()


# -- gRPC ---------------------------------------------------------------------

class GrpcGate:
    """Holds new gRPC calls, and the answers of calls that finish, while the
    clients quieten before server.stop() (module doc, step 4). Open, it costs
    a call one coroutine frame."""

    def __init__(self) -> None:
        self.holding = False
        self._opened = asyncio.Event()
        self._opened.set()
        self._arrived = 0

    def hold(self) -> None:
        self.holding = True
        self._opened.clear()

    def release(self) -> None:
        self.holding = False
        self._opened.set()

    async def quiet(self, *, quiet_seconds: float = GRPC_QUIET_SECONDS,
                    limit_seconds: float = GRPC_HOLD_LIMIT_SECONDS) -> int:
        """Wait until no new call has arrived for `quiet_seconds` (at most
        `limit_seconds`); how many calls arrived meanwhile."""
        loop = asyncio.get_running_loop()
        limit = loop.time() + limit_seconds
        seen, since = self._arrived, loop.time()
        while True:
            await asyncio.sleep(_POLL_SECONDS)
            now = loop.time()
            if self._arrived != seen:
                seen, since = self._arrived, now
            elif now - since >= quiet_seconds or now >= limit:
                return seen

    def wrap(self, resolved: ResolvedHandlers) -> ResolvedHandlers:
        """`resolved` with every unary-unary behaviour behind this gate
        (authcore has only those; others pass unchanged)."""
        return ResolvedHandlers({path: self._gated(handler)
                                 for path, handler in resolved.methods.items()})

    def _gated(self, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.request_streaming or handler.response_streaming:
            return handler
        behavior = handler.unary_unary
        is_async = inspect.iscoroutinefunction(behavior)

        async def gated(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if self.holding:
                self._arrived += 1
                await self._opened.wait()
            try:
                result = behavior(request, context)
                if is_async or inspect.isawaitable(result):
                    result = await result
            except asyncio.CancelledError:
                raise
            except BaseException:
                if self.holding:
                    await self._opened.wait()
                raise
            if self.holding:
                await self._opened.wait()
            return result

        return grpc.unary_unary_rpc_method_handler(
            gated, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
