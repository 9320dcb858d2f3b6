"""create_app: one Starlette route per HttpRule binding, no per-endpoint code."""

from __future__ import annotations

import importlib.resources
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from fastapi import FastAPI
from google.protobuf.descriptor import ServiceDescriptor
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Route, compile_path
from starlette.types import Receive, Scope, Send

import authcore
from authcore.errors import AuthcoreError, NotFound, PermissionDenied
from rest_bridge.comments import load_comments
from rest_bridge.cors import CorsMiddleware, CorsPolicy
from rest_bridge.endpoint import RoutePlan
from rest_bridge.errors import ErrorRenderer, MethodNotAllowed, dump_json
from rest_bridge.invoker import Invoker
from rest_bridge.openapi import DOCS_ASSETS, DOCS_CSP, DOCS_INIT_JS, build_openapi, docs_html
from rest_bridge.routes import Binding, bindings_for, error_style_of
from rest_bridge.security_headers import SecurityHeaders

logger = logging.getLogger(__name__)


def create_app(invoker: Invoker, services: Sequence[ServiceDescriptor], *,
               max_body_bytes: int = 1 << 20, title: str = "authcore",
               descriptor_set: Path | None = None, cors: CorsPolicy | None = None,
               pages: Sequence[BaseRoute] = ()) -> FastAPI:
    """The REST bridge for `services`, calling the core through `invoker`.

    `descriptor_set` is the FileDescriptorSet with source info the OpenAPI
    descriptions come from (default: generated/authcore.binpb). `cors`
    enables cross-origin calls on some paths (see rest_bridge.cors); `pages`
    are the non-RPC routes of rest_bridge.pages.
    """
    services = list(services)
    bindings = bindings_for(services)
    styles = {error_style_of(s) for s in services}
    renderers = {style: ErrorRenderer(style) for style in styles}
    # FastAPI's own schema and docs would describe no routes; ours replace them.
    app = FastAPI(title=title, openapi_url=None, docs_url=None, redoc_url=None)

    openapi = dump_json(build_openapi(bindings, title=title, version=authcore.__version__,
                                      comments=load_comments(descriptor_set)))
    page = docs_html(title)

    async def openapi_json(request: Request) -> Response:
        return Response(openapi, media_type="application/json")

    async def docs(request: Request) -> Response:
        return HTMLResponse(page, headers={"Content-Security-Policy": DOCS_CSP})

    async def docs_init(request: Request) -> Response:
        return Response(DOCS_INIT_JS, media_type="text/javascript")

    app.router.add_route("/openapi.json", openapi_json, methods=["GET"], include_in_schema=False)
    app.router.add_route("/docs", docs, methods=["GET"], include_in_schema=False)
    app.router.add_route("/docs/init.js", docs_init, methods=["GET"], include_in_schema=False)
    for name, media_type in DOCS_ASSETS.items():
        app.router.add_route(f"/docs/{name}", _asset(name, media_type), methods=["GET"],
                             include_in_schema=False)
    app.router.routes.extend(pages)

    allowed: dict[str, tuple[set[str], int]] = {}
    for binding in bindings:
        plan = RoutePlan(binding, invoker, renderers[binding.error_style], max_body_bytes)
        app.router.add_route(binding.route_path, plan.handle, methods=[binding.http_method],
                             name=binding.operation_id, include_in_schema=False)
        methods, _ = allowed.setdefault(binding.route_path, (set(), binding.error_style))
        methods.add(binding.http_method)
    # After every real route, so a full match elsewhere still wins: a known
    # path with the wrong method answers 405 in its own API's style.
    for path, (methods, style) in allowed.items():
        app.router.routes.append(Route(path, _MethodNotAllowed(methods, renderers[style]),
                                       include_in_schema=False))

    fallback = _StyleByPath(bindings, renderers, services)
    app.add_exception_handler(StarletteHTTPException, fallback.http_exception)  # type: ignore[arg-type]
    if cors is not None:
        app.add_middleware(
            CorsMiddleware, policy=cors, methods_for=_MethodsByPath(allowed),
            refuse=lambda path: fallback.renderer_for(path).render_error(
                PermissionDenied("this origin may not call the API",
                                 reason="origin_not_allowed")))
    # Added last, so outermost: the CORS refusals and preflights get them too.
    app.add_middleware(SecurityHeaders)
    return app


def _asset(name: str, media_type: str) -> Callable[[Request], Awaitable[Response]]:
    """One of Swagger UI's files, read from the package on each request (not
    held in every worker's memory: the bundle is 1.5 MB)."""
    path = Path(str(importlib.resources.files("fastapi_offline") / "static" / name))

    async def serve(request: Request) -> Response:
        return FileResponse(path, media_type=media_type,
                            headers={"Cache-Control": "public, max-age=86400"})

    return serve


class _MethodsByPath:
    """The HTTP methods a request path has, for CORS preflights."""

    def __init__(self, allowed: dict[str, tuple[set[str], int]]) -> None:
        self._paths = [(compile_path(path)[0], frozenset(methods))
                       for path, (methods, _) in allowed.items()]

    def __call__(self, path: str) -> frozenset[str]:
        found: set[str] = set()
        for regex, methods in self._paths:
            if regex.match(path):
                found |= methods
        return frozenset(found)


class _MethodNotAllowed:
    """A raw ASGI app (so Starlette routes every method to it) answering 405."""

    def __init__(self, methods: set[str], renderer: ErrorRenderer) -> None:
        allow = sorted(methods | ({"HEAD"} if "GET" in methods else set()))
        self._allow = ", ".join(allow)
        self._renderer = renderer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = self._renderer.render_error(
            MethodNotAllowed(f"{scope['method']} is not allowed here"),
            headers={"Allow": self._allow})
        await response(scope, receive, send)


class _StyleByPath:
    """Picks the error style for requests that match no route.

    The API whose paths share the longest prefix with the request owns the
    404 (so a SCIM client gets a SCIM error); otherwise the first service's.
    """

    def __init__(self, bindings: Sequence[Binding], renderers: dict[int, ErrorRenderer],
                 services: Sequence[ServiceDescriptor]) -> None:
        self._prefixes = [(b.literal_prefix.strip("/").split("/"), renderers[b.error_style])
                          for b in bindings]
        first = error_style_of(services[0]) if services else 0
        self._default = renderers.get(first) or ErrorRenderer(first)

    def renderer_for(self, path: str) -> ErrorRenderer:
        segments = path.strip("/").split("/")
        best, best_len = self._default, 0
        for prefix, renderer in self._prefixes:
            common = 0
            for a, b in zip(prefix, segments, strict=False):
                if a != b:
                    break
                common += 1
            if common > best_len:
                best, best_len = renderer, common
        return best

    async def http_exception(self, request: Request, exc: StarletteHTTPException) -> Response:
        renderer = self.renderer_for(request.url.path)
        error: AuthcoreError
        if exc.status_code == 404:
            error = NotFound("no such resource")
        elif exc.status_code == 405:
            error = MethodNotAllowed(f"{request.method} is not allowed here")
        else:
            error = AuthcoreError(str(exc.detail), reason="http_error")
            error.http_status = exc.status_code
        return renderer.render_error(error, headers=dict(exc.headers or {}))
