"""CORS for the client-facing paths.

Browser SDKs run on the customer's own site and call the API from that
origin. `CorsMiddleware` answers preflights and decorates responses for the
origins an `allowed_origin` callback accepts, on the path prefixes it is given
and on no others (admin paths never get CORS headers).

* Preflight (OPTIONS with Origin and Access-Control-Request-Method): an
  allowed origin gets 204 with Access-Control-Allow-Origin set to that origin
  (never "*"), the path's methods, the allowed request headers and a Max-Age;
  any other origin gets 403 with no CORS headers. The app behind never sees
  preflights on these paths.
* Actual request with an Origin: it always runs (the browser enforces CORS,
  not the server). An allowed origin gets Access-Control-Allow-Origin, Vary:
  Origin and Access-Control-Expose-Headers; any other origin gets none.
* No Origin header (same-origin navigation, curl, server-to-server): passed
  through untouched.

The callback gets the origin and the host the request was addressed to (a
proxy's X-Forwarded-Host, else Host, as the bridge forwards it to the core),
so an API that names its tenant by host can answer for that tenant's
origins alone. A browser never lets a page set either header, so neither
can widen what a page may call.

Credentials mode is not supported (no Access-Control-Allow-Credentials): the
APIs take bearer tokens in Authorization, never cookies.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

# (origin, requested host) -> allowed?
OriginCheck = Callable[[str, str], Awaitable[bool]]
# Allowed origins by scope (e.g. application id), for CachedOrigins.
ScopedOrigins = Mapping[str, Iterable[str]]

DEFAULT_METHODS = ("DELETE", "GET", "POST", "PUT")
# Always allowed: what the SDKs send.
BASE_ALLOW_HEADERS = ("Authorization", "Content-Type")
# Request headers a preflight may ask for and get; anything else is left out
# of Access-Control-Allow-Headers, so the browser refuses the request.
SAFE_REQUEST_HEADERS = {
    h.lower(): h for h in (
        "Accept", "Accept-Language", "Authorization", "Content-Language", "Content-Type",
        "X-Requested-With",
    )
}
DEFAULT_EXPOSE_HEADERS = ("Retry-After",)
DEFAULT_MAX_AGE = 600


def normalize_origin(origin: str) -> str:
    """Origins compare case-insensitively; a stored origin may carry a slash."""
    return origin.strip().rstrip("/").lower()


@dataclass(frozen=True)
class CorsPolicy:
    """Which paths answer cross-origin calls, and from which origins."""

    allowed_origin: OriginCheck
    path_prefixes: Sequence[str]
    # Never CORS-enabled even when a prefix above would match.
    excluded_prefixes: Sequence[str] = ()
    max_age: int = DEFAULT_MAX_AGE
    expose_headers: Sequence[str] = DEFAULT_EXPOSE_HEADERS

    def applies_to(self, path: str) -> bool:
        if any(path.startswith(p) for p in self.excluded_prefixes):
            return False
        return any(path.startswith(p) for p in self.path_prefixes)


def _empty_403(path: str) -> Response:
    return Response(status_code=403)


class CorsMiddleware:
    """A pure ASGI middleware (no BaseHTTPMiddleware: responses stream through).

    `methods_for(path)` names the methods a path has, for
    Access-Control-Allow-Methods (an empty answer falls back to GET, POST,
    PUT, DELETE); `refuse(path)` builds the 403 for a refused preflight.
    """

    def __init__(self, app: ASGIApp, *, policy: CorsPolicy,
                 methods_for: Callable[[str], Collection[str]] | None = None,
                 refuse: Callable[[str], Response] | None = None) -> None:
        self.app = app
        self.policy = policy
        self._methods_for = methods_for
        self._refuse = refuse or _empty_403
        self._expose = ", ".join(policy.expose_headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.policy.applies_to(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        host = requested_host(headers)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            response = await self._preflight(scope["path"], origin, host, headers)
            await response(scope, receive, send)
            return
        if not await self._allowed(origin, host):
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["Access-Control-Allow-Origin"] = origin
                out.add_vary_header("Origin")
                if self._expose:
                    out["Access-Control-Expose-Headers"] = self._expose
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _allowed(self, origin: str, host: str) -> bool:
        if origin == "null" or not origin:
            # Sandboxed frames and file: pages: never an application's origin.
            return False
        try:
            return await self.policy.allowed_origin(origin, host)
        except Exception:
            logger.exception("origin check failed; refusing %r", origin)
            return False

    async def _preflight(self, path: str, origin: str, host: str,
                         headers: Headers) -> Response:
        if not await self._allowed(origin, host):
            return self._refuse(path)
        methods = sorted(self._methods_for(path)) if self._methods_for else []
        allow_headers = list(BASE_ALLOW_HEADERS)
        for raw in headers.get("access-control-request-headers", "").split(","):
            name = SAFE_REQUEST_HEADERS.get(raw.strip().lower())
            if name and name not in allow_headers:
                allow_headers.append(name)
        return Response(status_code=204, headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ", ".join(methods or DEFAULT_METHODS),
            "Access-Control-Allow-Headers": ", ".join(allow_headers),
            "Access-Control-Max-Age": str(self.policy.max_age),
            "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        })


def requested_host(headers: Headers) -> str:
    """The host the client asked for, as rest_bridge.endpoint forwards it."""
    return headers.get("x-forwarded-host") or headers.get("host") or ""


class CachedOrigins:
    """An `allowed_origin` callback over a set `load` returns, reloaded at
    most every `ttl_seconds`.

    `load` may instead return the origins by scope; then `scope_of(host)`
    picks the scope a request's host names: that scope's origins alone
    apply (none for a scope `load` did not name), and for a host naming no
    scope ("") the union of all.

    The set is read on the request path, so it must be cheap: between reloads
    a check is one set lookup. A short TTL still picks up new or changed
    applications within seconds, on every replica. When a reload fails the
    last set stays in use (empty before the first success: fail closed) and
    the next request after a second's pause tries again.
    """

    def __init__(self, load: Callable[[], Awaitable[Iterable[str] | ScopedOrigins]], *,
                 scope_of: Callable[[str], str] | None = None,
                 ttl_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._load = load
        self._scope_of = scope_of
        self._ttl = ttl_seconds
        self._clock = clock
        self._origins: frozenset[str] = frozenset()
        self._scoped: dict[str, frozenset[str]] = {}
        self._expires = -math.inf
        self._lock = asyncio.Lock()

    async def __call__(self, origin: str, host: str = "") -> bool:
        if self._clock() >= self._expires:
            await self._reload()
        scope = self._scope_of(host) if self._scope_of is not None else ""
        allowed = self._scoped.get(scope, frozenset()) if scope else self._origins
        return normalize_origin(origin) in allowed

    async def _reload(self) -> None:
        async with self._lock:
            now = self._clock()
            if now < self._expires:
                return  # another request reloaded while this one waited
            try:
                loaded = await self._load()
                if isinstance(loaded, Mapping):
                    scoped = {str(k).lower(): frozenset(normalize_origin(o) for o in v)
                              for k, v in loaded.items()}
                    self._scoped = scoped
                    self._origins = frozenset().union(*scoped.values())
                else:
                    self._origins = frozenset(normalize_origin(o) for o in loaded)
                self._expires = now + self._ttl
            except Exception:
                logger.exception("cannot load the allowed CORS origins; keeping %d",
                                 len(self._origins))
                self._expires = now + min(self._ttl, 1.0)
