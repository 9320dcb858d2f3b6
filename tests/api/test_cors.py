"""CORS on the real server: the client-facing paths answer the origins the
applications allow (their WebAuthn origins), and no others; admin paths never."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest

from authcore_testkit.api import Admin
from authcore_testkit.server import RunningServer

EVIL = "https://evil.example"


@pytest.fixture
async def http(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
        yield client


def demo_origin(server: RunningServer) -> str:
    """The demo application's WebAuthn origin (see bootstrap)."""
    return f"http://localhost:{urlsplit(server.http_url).port}"


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type, authorization"}


def cors_headers(r: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in r.headers.items() if k.startswith("access-control-")}


def client_calls(app_id: str) -> list[tuple[str, dict[str, object]]]:
    return [
        ("/fido2/v2/auth/init", {"app": {"id": app_id}, "user": {"username": "nobody"}}),
        ("/api/web/v2/authentication/users", {"applicationId": app_id, "userId": "nobody"}),
    ]


async def test_allowed_origin_gets_cors_on_preflight_and_request(
        server: RunningServer, http: httpx.AsyncClient, app_id: str) -> None:
    origin = demo_origin(server)
    for path, body in client_calls(app_id):
        pre = await http.options(path, headers=preflight(origin))
        assert pre.status_code == 204, (path, pre.text)
        assert pre.headers["access-control-allow-origin"] == origin
        assert "POST" in pre.headers["access-control-allow-methods"]
        allowed = {h.strip().lower()
                   for h in pre.headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "content-type"} <= allowed
        assert pre.headers["access-control-max-age"] == "600"
        assert "origin" in pre.headers["vary"].lower()

        r = await http.post(path, json=body, headers={"Origin": origin})
        assert r.status_code < 500, (path, r.status_code, r.text)
        assert r.headers["access-control-allow-origin"] == origin, path
        assert "origin" in r.headers["vary"].lower()
        assert "retry-after" in r.headers["access-control-expose-headers"].lower()


async def test_refused_origin_gets_403_preflight_and_no_cors_headers(
        http: httpx.AsyncClient, app_id: str) -> None:
    for path, body in client_calls(app_id):
        pre = await http.options(path, headers=preflight(EVIL))
        assert pre.status_code == 403, (path, pre.text)
        assert cors_headers(pre) == {}

        # The request itself still reaches the API (the browser enforces CORS,
        # and the LoginID flow checks Origin itself), but gets no CORS headers.
        r = await http.post(path, json=body, headers={"Origin": EVIL})
        assert r.status_code < 500, (path, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/json")
        assert cors_headers(r) == {}
        if path.startswith("/api/web/"):
            assert r.status_code == (await http.post(path, json=body)).status_code


async def test_admin_paths_never_get_cors(server: RunningServer, http: httpx.AsyncClient,
                                          admin: Admin) -> None:
    origin = demo_origin(server)
    pre = await http.options("/api/admin/v1/users", headers=preflight(origin))
    assert pre.status_code == 405
    assert cors_headers(pre) == {}
    r = await http.get(f"/api/admin/v1/applications/{server.demo_application_id}",
                       headers={"Origin": origin,
                                "Authorization": f"Bearer {server.admin_key}"})
    assert r.status_code == 200
    assert cors_headers(r) == {}


async def test_a_new_applications_origin_is_allowed_within_seconds(
        http: httpx.AsyncClient, admin: Admin, app_id: str) -> None:
    origin = f"https://shop-{uuid.uuid4().hex[:8]}.example"
    path = "/api/web/v2/authentication/users"
    assert (await http.options(path, headers=preflight(origin))).status_code == 403
    await admin.req("POST", "/api/admin/v1/applications", {
        "name": "customer shop", "webauthn": {"rpId": urlsplit(origin).hostname,
                                              "origins": [origin]}})
    # The server re-reads the origins at most every 5 s.
    deadline = time.monotonic() + 10
    while True:
        pre = await http.options(path, headers=preflight(origin))
        if pre.status_code == 204 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.25)
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == origin


async def test_a_host_naming_an_application_allows_that_applications_origins_only(
        server: RunningServer, http: httpx.AsyncClient, admin: Admin) -> None:
    """LoginID's web SDK calls `<appId>.<domain>` (flows.loginid_common.app_id_from_host):
    there the preflight and the response follow that application's origins,
    not the union of all applications'."""
    port = urlsplit(server.http_url).port
    shop = f"https://shop-{uuid.uuid4().hex[:8]}.example"
    created = await admin.req("POST", "/api/admin/v1/applications", {
        "name": "per-host shop", "webauthn": {"rpId": urlsplit(shop).hostname,
                                              "origins": [shop]}})
    shop_host = f"{created['applicationId']}.localhost:{port}"
    path = "/fido2/v2/auth/init"
    deadline = time.monotonic() + 10  # the origins are re-read at most every 5 s
    while True:
        pre = await http.options(path, headers={**preflight(shop), "Host": shop_host})
        if pre.status_code == 204 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.25)
    assert pre.status_code == 204, pre.text
    assert pre.headers["access-control-allow-origin"] == shop
    r = await http.post(path, json={"user": {"username": "nobody"}},
                        headers={"Origin": shop, "Host": shop_host})
    assert r.status_code == 200, r.text  # the host named the application
    assert r.headers["access-control-allow-origin"] == shop

    # Another application's origin: allowed on the shared host, not on this one.
    demo = demo_origin(server)
    assert (await http.options(path, headers=preflight(demo))).status_code == 204
    refused = await http.options(path, headers={**preflight(demo), "Host": shop_host})
    assert refused.status_code == 403 and cors_headers(refused) == {}
    r = await http.post(path, json={"user": {"username": "nobody"}},
                        headers={"Origin": demo, "Host": shop_host})
    assert cors_headers(r) == {}
    demo_host = f"{server.demo_application_id}.localhost:{port}"
    assert (await http.options(path, headers={**preflight(demo), "Host": demo_host})
            ).status_code == 204
    # The shop's origin on the shared host (the union) still works.
    assert (await http.options(path, headers=preflight(shop))).status_code == 204

    # Behind a proxy, the forwarded host decides, as it does for the app.
    forwarded = await http.options(path, headers={**preflight(demo),
                                                  "X-Forwarded-Host": shop_host})
    assert forwarded.status_code == 403
    # A host naming no application of this server allows nobody.
    unknown = f"{uuid.uuid4()}.localhost:{port}"
    for origin in (shop, demo):
        assert (await http.options(path, headers={**preflight(origin), "Host": unknown})
                ).status_code == 403
