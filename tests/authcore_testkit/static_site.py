"""A customer's site for the browser tests: fixed files served by a stdlib
HTTP server on a loopback port of its own, so the page's origin is not the
server's and every call to authcore is cross-origin."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from authcore_testkit.server import free_port

# path -> (body, content type)
Files = dict[str, tuple[bytes, str]]


@dataclass(frozen=True)
class Site:
    port: int

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"


@contextmanager
def static_site(files: Files) -> Iterator[Site]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = files.get(urlsplit(self.path).path)
            if found is None:
                self.send_error(404)
                return
            body, content_type = found
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(port=httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


__all__ = ["Files", "Site", "static_site"]
