"""The bridge's HTTP routes that are not RPCs, all listed here.

DESIGN.md section 2: every API operation is an RPC reached through its
HttpRule; hand-written HTTP is allowed only for what gRPC cannot express, and
this module is the one place it lives. Today that is the passkeys demo page:
static HTML, JS and CSS from `src/authcore/web/`, which call the /fido2/v2
REST paths of the same server with `navigator.credentials` and `fetch`.

The files are read once, when the routes are built. The page is served with
a Content-Security-Policy that allows only this origin's scripts and styles
(so the JS and CSS are separate files, never inline).
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import authcore

WEB_DIR = Path(authcore.__file__).resolve().parent / "web"

PAGE_CSP = ("default-src 'self'; script-src 'self'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")
# In the HTML, replaced by the demo application id the server knows (if any).
DEMO_APP_PLACEHOLDER = "{{demo_application_id}}"

_SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class StaticFile:
    """One file served at one GET path."""

    path: str
    file: str
    media_type: str


DEMO_FILES = (
    StaticFile("/demo/passkeys", "passkeys.html", "text/html; charset=utf-8"),
    StaticFile("/demo/passkeys.js", "passkeys.js", "text/javascript; charset=utf-8"),
    StaticFile("/demo/passkeys.css", "passkeys.css", "text/css; charset=utf-8"),
)


def _file_endpoint(body: bytes, media_type: str) -> Callable[[Request], Awaitable[Response]]:
    # A plain function: Starlette treats other callables as raw ASGI apps.
    async def endpoint(request: Request) -> Response:
        return Response(body, media_type=media_type, headers=dict(_SECURITY_HEADERS))

    return endpoint


def page_routes(*, demo_application_id: str | None = None,
                web_dir: Path = WEB_DIR) -> list[BaseRoute]:
    """GET routes for the demo page and its assets (HEAD comes with GET).

    `demo_application_id` is written into the page (a <meta> tag the script
    reads when the URL has no ?app=); the URL's ?app= wins.
    """
    routes: list[BaseRoute] = []
    for item in DEMO_FILES:
        body = (web_dir / item.file).read_bytes()
        if item.file.endswith(".html"):
            body = body.replace(DEMO_APP_PLACEHOLDER.encode(),
                                html.escape(demo_application_id or "").encode())
        routes.append(Route(item.path, _file_endpoint(body, item.media_type), methods=["GET"],
                            include_in_schema=False))
    return routes
