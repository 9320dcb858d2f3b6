"""CorsMiddleware and CachedOrigins with fake origin callbacks (the real server
is tested in tests/api/test_cors.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authcore.v1 import authentication_pb2 as auth
from authcore.v1 import management_pb2 as mgmt
from rest_bridge import InProcessInvoker, create_app
from rest_bridge.cors import CachedOrigins, CorsMiddleware, CorsPolicy

GOOD = "https://shop.example"
EVIL = "https://evil.example"


class FakeOrigins:
    def __init__(self, *allowed: str) -> None:
        self.allowed = set(allowed)
        self.asked: list[str] = []
        self.hosts: list[str] = []

    async def __call__(self, origin: str, host: str) -> bool:
        self.asked.append(origin)
        self.hosts.append(host)
        return origin in self.allowed


def policy(check: FakeOrigins | None = None) -> CorsPolicy:
    return CorsPolicy(allowed_origin=check or FakeOrigins(GOOD),
                      path_prefixes=("/fido2/v2/", "/api/web/"),
                      excluded_prefixes=("/api/admin/",))


def inner_app(calls: list[str]) -> Starlette:
    async def endpoint(request: Request) -> Response:
        calls.append(f"{request.method} {request.url.path}")
        return JSONResponse({"ok": True}, headers={"Vary": "Accept-Encoding"})

    return Starlette(routes=[
        Route("/fido2/v2/auth/init", endpoint, methods=["POST"]),
        Route("/api/web/v2/authentication/users", endpoint, methods=["POST"]),
        Route("/api/admin/v1/users", endpoint, methods=["POST", "OPTIONS"]),
        Route("/other", endpoint, methods=["GET", "OPTIONS"]),
    ])


def client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                             base_url="http://api.test")


def preflight_headers(origin: str, method: str = "POST",
                      request_headers: str | None = None) -> dict[str, str]:
    out = {"Origin": origin, "Access-Control-Request-Method": method}
    if request_headers is not None:
        out["Access-Control-Request-Headers"] = request_headers
    return out


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


async def test_preflight_from_an_allowed_origin() -> None:
    calls: list[str] = []
    app = CorsMiddleware(inner_app(calls), policy=policy(),
                         methods_for=lambda path: {"POST"})
    async with client(app) as c:
        r = await c.options("/fido2/v2/auth/init", headers=preflight_headers(
            GOOD, request_headers="content-type, x-requested-with, x-evil"))
    assert r.status_code == 204
    assert r.content == b""
    assert r.headers["access-control-allow-origin"] == GOOD
    assert r.headers["access-control-allow-methods"] == "POST"
    allowed = [h.strip() for h in r.headers["access-control-allow-headers"].split(",")]
    assert allowed == ["Authorization", "Content-Type", "X-Requested-With"]
    assert r.headers["access-control-max-age"] == "600"
    assert "Origin" in [v.strip() for v in r.headers["vary"].split(",")]
    assert "access-control-allow-credentials" not in r.headers
    assert calls == []  # the preflight never reaches the app


async def test_preflight_methods_fall_back_to_the_fixed_set() -> None:
    app = CorsMiddleware(inner_app([]), policy=policy())
    async with client(app) as c:
        r = await c.options("/api/web/v2/authentication/users",
                            headers=preflight_headers(GOOD, "PUT"))
    assert r.status_code == 204
    assert r.headers["access-control-allow-methods"] == "DELETE, GET, POST, PUT"


async def test_preflight_from_a_refused_origin_is_403_without_cors_headers() -> None:
    calls: list[str] = []
    check = FakeOrigins(GOOD)
    app = CorsMiddleware(inner_app(calls), policy=policy(check))
    async with client(app) as c:
        r = await c.options("/fido2/v2/auth/init", headers=preflight_headers(EVIL))
    assert r.status_code == 403
    assert cors_headers(r) == {}
    assert check.asked == [EVIL]
    assert calls == []


async def test_preflight_refusal_uses_the_given_renderer() -> None:
    app = CorsMiddleware(inner_app([]), policy=policy(),
                         refuse=lambda path: JSONResponse({"msg": path}, status_code=403))
    async with client(app) as c:
        r = await c.options("/fido2/v2/auth/init", headers=preflight_headers(EVIL))
    assert (r.status_code, r.json()) == (403, {"msg": "/fido2/v2/auth/init"})
    assert cors_headers(r) == {}


@pytest.mark.parametrize("origin", ["null", ""])
async def test_opaque_origins_are_refused_without_asking(origin: str) -> None:
    check = FakeOrigins("null", "")
    app = CorsMiddleware(inner_app([]), policy=policy(check))
    async with client(app) as c:
        r = await c.options("/fido2/v2/auth/init", headers=preflight_headers(origin))
    assert r.status_code == 403
    assert check.asked == []


async def test_a_failing_origin_check_refuses() -> None:
    async def broken(origin: str, host: str) -> bool:
        raise RuntimeError("database down")

    app = CorsMiddleware(inner_app([]), policy=CorsPolicy(broken, ("/fido2/v2/",)))
    async with client(app) as c:
        r = await c.options("/fido2/v2/auth/init", headers=preflight_headers(GOOD))
        actual = await c.post("/fido2/v2/auth/init", headers={"Origin": GOOD})
    assert r.status_code == 403
    assert actual.status_code == 200
    assert cors_headers(actual) == {}


async def test_actual_request_from_an_allowed_origin_gets_the_headers() -> None:
    calls: list[str] = []
    app = CorsMiddleware(inner_app(calls), policy=policy())
    async with client(app) as c:
        r = await c.post("/api/web/v2/authentication/users", headers={"Origin": GOOD}, json={})
    assert r.status_code == 200
    assert r.json() == {"ok": True}
    assert r.headers["access-control-allow-origin"] == GOOD
    assert r.headers["access-control-expose-headers"] == "Retry-After"
    # The app's own Vary is kept and Origin added.
    assert [v.strip() for v in r.headers["vary"].split(",")] == ["Accept-Encoding", "Origin"]
    assert calls == ["POST /api/web/v2/authentication/users"]


async def test_actual_request_from_a_refused_origin_runs_without_cors_headers() -> None:
    calls: list[str] = []
    app = CorsMiddleware(inner_app(calls), policy=policy())
    async with client(app) as c:
        r = await c.post("/fido2/v2/auth/init", headers={"Origin": EVIL}, json={})
    assert r.status_code == 200
    assert cors_headers(r) == {}
    assert r.headers["vary"] == "Accept-Encoding"
    assert calls == ["POST /fido2/v2/auth/init"]


async def test_requests_without_origin_are_untouched() -> None:
    check = FakeOrigins(GOOD)
    app = CorsMiddleware(inner_app([]), policy=policy(check))
    async with client(app) as c:
        r = await c.post("/fido2/v2/auth/init", json={})
    assert r.status_code == 200
    assert cors_headers(r) == {}
    assert check.asked == []


@pytest.mark.parametrize("path", ["/api/admin/v1/users", "/other"])
async def test_paths_outside_the_prefixes_never_get_cors(path: str) -> None:
    calls: list[str] = []
    check = FakeOrigins(GOOD)
    # Even a policy whose prefix covers /api/admin/ leaves it out when excluded.
    wide = CorsPolicy(allowed_origin=check, path_prefixes=("/fido2/v2/", "/api/"),
                      excluded_prefixes=("/api/admin/",))
    app = CorsMiddleware(inner_app(calls), policy=wide)
    async with client(app) as c:
        pre = await c.options(path, headers=preflight_headers(GOOD))
        actual = await c.post(path, headers={"Origin": GOOD})
    assert pre.status_code == 200  # the app's own OPTIONS handler answered
    assert cors_headers(pre) == {}
    assert cors_headers(actual) == {}
    assert check.asked == []


async def test_the_check_is_given_the_requested_host() -> None:
    """As rest_bridge.endpoint forwards it to the core: a proxy's
    X-Forwarded-Host, else Host."""
    check = FakeOrigins(GOOD)
    app = CorsMiddleware(inner_app([]), policy=policy(check))
    async with client(app) as c:
        await c.options("/fido2/v2/auth/init", headers=preflight_headers(GOOD))
        await c.post("/fido2/v2/auth/init", headers={"Origin": GOOD})
        await c.options("/fido2/v2/auth/init", headers={
            **preflight_headers(GOOD), "X-Forwarded-Host": "app-1.auth.example"})
    assert check.hosts == ["api.test", "api.test", "app-1.auth.example"]


# ------------------------------------------------------------ CachedOrigins

class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_cached_origins_reload_after_the_ttl() -> None:
    sets = [["https://A.example/"], ["https://b.example"]]
    loads = 0

    async def load() -> Iterable[str]:
        nonlocal loads
        loads += 1
        return sets[min(loads, len(sets)) - 1]

    clock = Clock()
    check = CachedOrigins(load, ttl_seconds=5, clock=clock)
    # Stored origins are normalized (case, trailing slash), and so are asked ones.
    assert await check("https://a.example")
    assert await check("HTTPS://A.EXAMPLE")
    assert not await check("https://b.example")
    assert loads == 1
    clock.now += 4.9
    assert await check("https://a.example")
    assert loads == 1
    clock.now += 0.2
    assert await check("https://b.example")
    assert not await check("https://a.example")
    assert loads == 2


async def test_cached_origins_load_once_under_concurrency() -> None:
    loads = 0

    async def load() -> Iterable[str]:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.01)
        return [GOOD]

    check = CachedOrigins(load, ttl_seconds=5)
    results = await asyncio.gather(*(check(GOOD) for _ in range(20)))
    assert all(results)
    assert loads == 1


async def test_cached_origins_keep_the_last_set_when_a_reload_fails() -> None:
    fail = False

    async def load() -> Iterable[str]:
        if fail:
            raise RuntimeError("database down")
        return [GOOD]

    clock = Clock()
    check = CachedOrigins(load, ttl_seconds=5, clock=clock)
    assert await check(GOOD)
    fail = True
    clock.now += 10
    assert await check(GOOD)


async def test_cached_origins_by_scope() -> None:
    """A host that names a scope gets that scope's origins alone; one that
    names an unknown scope none; any other host the union."""
    async def load() -> dict[str, list[str]]:
        return {"APP-A": ["https://a.example/"], "app-b": ["https://b.example"], "app-c": []}

    def scope_of(host: str) -> str:
        first = host.split(".", 1)[0]
        return first if first.startswith("app-") else ""

    check = CachedOrigins(load, scope_of=scope_of)
    assert await check("https://a.example", "app-a.auth.example")
    assert not await check("https://b.example", "app-a.auth.example")
    assert await check("https://b.example", "app-b.auth.example")
    assert not await check("https://a.example", "app-c.auth.example")
    assert not await check("https://a.example", "app-z.auth.example")
    assert await check("https://a.example", "auth.example")
    assert await check("https://b.example", "")
    assert not await check(EVIL, "auth.example")


async def test_cached_origins_fail_closed_before_the_first_load() -> None:
    async def load() -> Iterable[str]:
        raise RuntimeError("database down")

    assert not await CachedOrigins(load)(GOOD)


# ------------------------------------------------- wired through create_app

SERVICES = [
    auth.DESCRIPTOR.services_by_name["AuthenticationService"],
    mgmt.DESCRIPTOR.services_by_name["ManagementService"],
]


async def test_create_app_names_the_path_methods_and_refuses_in_the_api_style() -> None:
    app = create_app(InProcessInvoker([], []), SERVICES, cors=policy())
    async with client(app) as c:
        ok = await c.options("/api/web/v1/authentication/users/authenticate/OTP/complete",
                             headers=preflight_headers(GOOD))
        refused = await c.options("/api/web/v2/authentication/users",
                                  headers=preflight_headers(EVIL))
        admin = await c.options("/api/admin/v1/users", headers=preflight_headers(GOOD))
        missing = await c.post("/api/web/v9/nothing", headers={"Origin": GOOD})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-methods"] == "POST"
    assert refused.status_code == 403
    assert cors_headers(refused) == {}
    assert refused.json()["errorCode"] == "origin_not_allowed"  # Entrust's error style
    assert admin.status_code == 405
    assert cors_headers(admin) == {}
    # Errors the bridge renders itself carry the headers too, so scripts can read them.
    assert missing.status_code == 404
    assert missing.headers["access-control-allow-origin"] == GOOD
