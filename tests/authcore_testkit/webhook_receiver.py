"""A real HTTP receiver for authcore's signed SMS/voice/push webhooks.

It listens on a free loopback port (stdlib `http.server`, one thread per
request) and does what a deployer's relay must do: check `Authcore-Signature`
with `verify` below (the README's ten-line snippet, verbatim), answer 401 when
it fails, and drop a retried delivery it already accepted (same signed
`idempotencyKey`; answered 200, counted in `duplicates`).

    with WebhookReceiver(secret=SECRET) as hook:
        env = {"AUTHCORE_SMS_WEBHOOK_URL": hook.url, "AUTHCORE_WEBHOOK_SECRET": SECRET}
        ...
        (delivery,) = hook.wait_for(1, timeout=10)
        assert delivery.body["to"] == "+15550100"

Failure paths: `respond_next(2, 503)` answers the next two requests with that
status before looking at them; `stall_next(1, 5.0)` holds the next answer for
five seconds (then 503), past a client's timeout. Every request, refused or
not, is in `attempts`; only accepted first deliveries are in `received`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit


# --- the documented receiver check (README "Verifying a webhook") -----------
def verify(secret: bytes, header: str, body: bytes, tolerance: int = 300) -> bool:
    """`header` is the Authcore-Signature value, `body` the raw request body."""
    fields = dict(item.strip().partition("=")[::2] for item in header.split(","))
    t = fields.get("t", "")
    if not (t.isascii() and t.isdigit()) or abs(time.time() - int(t)) > tolerance:
        return False  # malformed, or too old/new: a replay
    signed = t.encode() + b"." + body
    expected = hmac.new(secret, signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), fields.get("v1", "").encode())
# -----------------------------------------------------------------------------

MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Attempt:
    """One request as it arrived, and what the receiver answered."""
    status: int
    path: str
    headers: dict[str, str]
    raw: bytes
    at: float


@dataclass(frozen=True)
class ReceivedWebhook:
    """An accepted, verified first delivery."""
    body: dict[str, Any]
    raw: bytes
    path: str
    headers: dict[str, str]
    signed_at: int


class WebhookReceiver:
    def __init__(self, *, secret: str, tolerance: int = 300, host: str = "127.0.0.1",
                 path: str = "/hook") -> None:
        self.secret = secret
        self.tolerance = tolerance
        self.path = path
        self._lock = threading.Condition()
        self._received: list[ReceivedWebhook] = []
        self._attempts: list[Attempt] = []
        self._seen_keys: set[str] = set()
        self._duplicates = 0
        # (count, status, stall seconds), consumed in order.
        self._overrides: list[list[Any]] = []
        self._server = _QuietServer((host, 0), _make_handler(self))
        # A stalled answer or a client's idle keep-alive connection must not
        # hold stop(): request threads are neither waited for nor joined.
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> WebhookReceiver:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    # -- steering ----------------------------------------------------------

    def respond_next(self, count: int, status: int) -> None:
        """Answer the next `count` requests with `status`, unverified and unrecorded."""
        with self._lock:
            self._overrides.append([count, status, 0.0])

    def stall_next(self, count: int, seconds: float, status: int = 503) -> None:
        """Hold the answer to the next `count` requests for `seconds`, then `status`."""
        with self._lock:
            self._overrides.append([count, status, seconds])

    def clear(self) -> None:
        with self._lock:
            self._received.clear()
            self._attempts.clear()
            self._seen_keys.clear()
            self._overrides.clear()
            self._duplicates = 0

    # -- reading -----------------------------------------------------------

    @property
    def received(self) -> list[ReceivedWebhook]:
        with self._lock:
            return list(self._received)

    @property
    def attempts(self) -> list[Attempt]:
        with self._lock:
            return list(self._attempts)

    @property
    def duplicates(self) -> int:
        with self._lock:
            return self._duplicates

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedWebhook]:
        """Block until `count` deliveries were accepted; return them all. From
        a coroutine whose own loop is sending, use `wait_for_async`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"webhook receiver accepted {len(self._received)} "
                                       f"of {count} deliveries in {timeout} s")
                self._lock.wait(left)
            return list(self._received)

    # `timeout` is the blocking wait's, run on a thread.
    async def wait_for_async(self, count: int, timeout: float = 10.0  # noqa: ASYNC109
                             ) -> list[ReceivedWebhook]:
        return await asyncio.to_thread(self.wait_for, count, timeout)

    # -- called on request threads ---------------------------------------------

    def _override(self) -> tuple[int, float] | None:
        with self._lock:
            while self._overrides and self._overrides[0][0] <= 0:
                self._overrides.pop(0)
            if not self._overrides:
                return None
            self._overrides[0][0] -= 1
            return int(self._overrides[0][1]), float(self._overrides[0][2])

    def _handle(self, path: str, headers: dict[str, str], raw: bytes) -> int:
        override = self._override()
        if override is not None:
            status, stall = override
            if stall:
                time.sleep(stall)
            return status
        if urlsplit(path).path != self.path:
            return 404
        if not verify(self.secret.encode(), headers.get("authcore-signature", ""), raw,
                      self.tolerance):
            return 401
        try:
            body = json.loads(raw)
        except ValueError:
            return 400
        if not isinstance(body, dict) or not isinstance(body.get("idempotencyKey"), str):
            return 400
        signed_at = int(headers["authcore-signature"].split(",")[0].partition("=")[2])
        with self._lock:
            # Keyed on the signed body's value: the header copy could be
            # changed by whoever replays a captured request.
            if body["idempotencyKey"] in self._seen_keys:
                self._duplicates += 1
                return 200
            self._seen_keys.add(body["idempotencyKey"])
            self._received.append(ReceivedWebhook(body=body, raw=raw, path=path,
                                                  headers=headers, signed_at=signed_at))
            self._lock.notify_all()
        return 200

    def _record(self, attempt: Attempt) -> None:
        with self._lock:
            self._attempts.append(attempt)


class _QuietServer(ThreadingHTTPServer):
    """A client dropping its idle keep-alive connection (authcore stopping)
    is not an error worth a traceback on the suite's output; anything else
    still is."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _make_handler(owner: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                length = int(headers.get("content-length", ""))
            except ValueError:
                self._answer(411)
                return
            if not 0 <= length <= MAX_BODY:
                self._answer(413)
                return
            raw = self.rfile.read(length)
            status = owner._handle(self.path, headers, raw)
            owner._record(Attempt(status=status, path=self.path, headers=headers, raw=raw,
                                  at=time.time()))
            self._answer(status)

        def do_GET(self) -> None:
            self._answer(405)

        def _answer(self, status: int) -> None:
            payload = json.dumps({"status": status}).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a stalled answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # request lines would only clutter test output

    return Handler
