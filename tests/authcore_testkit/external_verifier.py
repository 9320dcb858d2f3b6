"""A real external verifier for EXTERNAL (Entrust passthrough) tests.

It listens on a free loopback port (stdlib `http.server`, one thread per
request) and does what a deployer's verifier must: check the request's
HMAC and freshness with `verify` below (the README's snippet, verbatim),
refuse a nonce it has seen (401), decide, and sign its answer.

    with ExternalVerifier(secret=SECRET, codes={"ada": "424242"}) as v:
        PUT .../external-verifier {"url": v.url, "secret": SECRET}

It accepts when `response` is the user's code in `codes`, or when a
placeholder `otp` carries it; it answers items `verifiedBy` and the
placeholders it was sent. `mode` makes it misbehave: "slow" (sleeps
`delay` first), "forge" (signs with another key), "wrong_nonce", "http500".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


# --- the documented verifier check (README "EXTERNAL") ----------------------
def verify(secret: bytes, header: str, body: bytes, seen: set[str],
           tolerance: int = 300) -> dict[str, Any] | None:
    """`header` is X-Authcore-Signature, `body` the raw request body. Returns
    the request, or None to answer 401."""
    signed = b"authcore-external-v1 request\n" + body
    expected = "v1=" + hmac.new(secret, signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), header.encode()):
        return None
    req: dict[str, Any] = json.loads(body)
    if abs(time.time() - req["timestamp"]) > tolerance or req["nonce"] in seen:
        return None  # too old/new, or a replay
    seen.add(req["nonce"])
    return req


def answer(secret: bytes, nonce: str, accept: bool,
           items: list[dict[str, str]]) -> tuple[bytes, str]:
    body = json.dumps({"nonce": nonce, "result": "ACCEPT" if accept else "REJECT",
                       "items": items}).encode()
    sig = "v1=" + hmac.new(secret, b"authcore-external-v1 answer\n" + body,
                           hashlib.sha256).hexdigest()
    return body, sig  # send sig as X-Authcore-Signature
# -----------------------------------------------------------------------------


class ExternalVerifier:
    def __init__(self, *, secret: str, codes: dict[str, str] | None = None,
                 mode: str = "ok", delay: float = 0.0) -> None:
        self.secret = secret.encode()
        self.codes = dict(codes or {})
        self.mode = mode
        self.delay = delay
        self.seen: set[str] = set()
        self.requests: list[dict[str, Any]] = []
        self.refused = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/verify"

    def __enter__(self) -> ExternalVerifier:
        self._thread.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _decide(self, req: dict[str, Any]) -> tuple[bool, list[dict[str, str]]]:
        placeholders = {p["name"]: p["value"] for p in req["placeholders"]}
        code = self.codes.get(req["userId"])
        given = req["response"] if req["response"] is not None else placeholders.get("otp")
        accept = code is not None and given is not None and hmac.compare_digest(
            code.encode(), given.encode())
        items = [{"name": "verifiedBy", "value": "test-verifier"}]
        items += [{"name": "challenge." + p["name"], "value": p["value"]}
                  for p in req["challengePlaceholders"]]
        return accept, items

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes = b"", sig: str | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if sig is not None:
                    self.send_header("X-Authcore-Signature", sig)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if outer.mode == "slow":
                    time.sleep(outer.delay)
                if outer.mode == "http500":
                    self._send(500, b"{}")
                    return
                with outer._lock:
                    req = verify(outer.secret, self.headers.get("X-Authcore-Signature", ""),
                                 raw, outer.seen)
                    if req is None:
                        outer.refused += 1
                    else:
                        outer.requests.append(req)
                if req is None:
                    self._send(401, b"{}")
                    return
                accept, items = outer._decide(req)
                key = b"forged-key-not-the-secret" if outer.mode == "forge" else outer.secret
                nonce = "0" * 32 if outer.mode == "wrong_nonce" else req["nonce"]
                body, sig = answer(key, nonce, accept, items)
                self._send(200, body, sig)

        return Handler
