"""LoginID's web SDK as published on npm (`@loginid/websdk3` 1.6.0, pinned in
package.json), unmodified, in headless Chromium with a CDP virtual
authenticator, against a real authcore server.

The SDK is configured as LoginID documents it, `new LoginIDWebSDK({baseUrl,
appId})`, with the base URL naming the application by host
(`http://<appId>.localhost:<port>`, LoginID's `https://<appId>.api.loginid.io`;
Chromium resolves *.localhost to loopback). The page is a customer's site on
another origin (`http://localhost:<site port>`), so every SDK call is a CORS
request. Each test checks what the SDK returns and what the server stored
(LoginID's REST API read outside the page, the admin API, the cookie the SDK
keeps its JWT in).

Runs on SQLite, and on PostgreSQL + Redis with two workers when
AUTHCORE_TEST_POSTGRES_URL and AUTHCORE_TEST_REDIS_URL are set (with CI set,
missing ones fail instead of skipping, as do a missing Chromium or SDK).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from authcore_testkit.api import Admin
from authcore_testkit.cluster import require, require_postgres_and_redis
from authcore_testkit.server import (
    RunningServer,
    fresh_postgres_database,
    redis_namespace,
    run_server,
)
from authcore_testkit.static_site import Site, static_site

REPO = Path(__file__).resolve().parents[2]
SDK_PACKAGE = REPO / "node_modules" / "@loginid" / "websdk3"
SDK_VERSION = "1.6.0"
# The SDK's one dependency; a UMD file (ua-parser-js 1.x ships no ES module).
UA_PARSER = REPO / "node_modules" / "ua-parser-js" / "src" / "ua-parser.js"
CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
IN_CI = bool(os.environ.get("CI"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SDK_TIMEOUT_MS = 30_000

pytestmark = pytest.mark.skipif(
    not HAVE_CHROMIUM and not IN_CI,
    reason=f"{CHROMIUM} is missing (apt-get install chromium, or `make test` as root)")

if IN_CI:
    from playwright.async_api import Browser, BrowserContext, Page, async_playwright
else:
    async_api = pytest.importorskip("playwright.async_api")
    Browser, BrowserContext, Page = async_api.Browser, async_api.BrowserContext, async_api.Page
    async_playwright = async_api.async_playwright


# ------------------------------------------------------------------ the site

# A customer's page as a bundler-less site would write it: the SDK's own ES
# module, its bare `ua-parser-js` import resolved by an import map. The
# shim plays the part of a bundler's CommonJS interop for the UMD file,
# which sets window.UAParser when loaded as a classic script.
SITE_PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>A shop</title>
<script src="/vendor/ua-parser-js/ua-parser.js"></script>
<script type="importmap">{"imports": {"ua-parser-js": "/vendor/ua-parser-js/index.mjs"}}</script>
<script type="module">
import { LoginIDWebSDK } from "/vendor/websdk3/index.js";
window.LoginIDWebSDK = LoginIDWebSDK;
</script></head><body><h1>A shop</h1></body></html>
"""
UA_PARSER_SHIM = b"export const UAParser = window.UAParser;\nexport default window.UAParser;\n"


def site_files() -> dict[str, tuple[bytes, str]]:
    js = "text/javascript; charset=utf-8"
    return {
        "/": (SITE_PAGE, "text/html; charset=utf-8"),
        "/vendor/websdk3/index.js": ((SDK_PACKAGE / "dist" / "index.js").read_bytes(), js),
        "/vendor/ua-parser-js/ua-parser.js": (UA_PARSER.read_bytes(), js),
        "/vendor/ua-parser-js/index.mjs": (UA_PARSER_SHIM, js),
    }


@contextmanager
def serving_site() -> Iterator[Site]:
    require(SDK_PACKAGE.exists() and UA_PARSER.exists(),
            f"{SDK_PACKAGE} is missing: run `npm install` (make node_modules/.installed)")
    installed = json.loads((SDK_PACKAGE / "package.json").read_text())["version"]
    assert installed == SDK_VERSION, f"node_modules holds websdk3 {installed}"
    files = site_files()

    with static_site(files) as served:
        yield served


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serving_site() as served:
        yield served


@pytest.fixture(scope="module")
def other_site() -> Iterator[Site]:
    """Another customer's site, of another application on the same server."""
    with serving_site() as served:
        yield served


# ------------------------------------------------------------- the server

@pytest.fixture(scope="module", params=["sqlite", "postgres-redis-2-workers"])
def authcore_server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """One server per backend for the whole module."""
    started = time.monotonic()
    with ExitStack() as stack:
        if request.param == "sqlite":
            server = stack.enter_context(run_server())
        else:
            require_postgres_and_redis()
            url = stack.enter_context(fresh_postgres_database())
            env = stack.enter_context(redis_namespace())
            server = stack.enter_context(run_server(backend="postgres", database_url=url,
                                                    env=env, workers=2))
        yield server
    print(f"websdk3 on {request.param}: {time.monotonic() - started:.1f}s")


async def new_app(admin: Admin, name: str, site: Site) -> str:
    """An application for `site`: its origin, RP ID localhost, self sign-up on."""
    created = await admin.req("POST", "/api/admin/v1/applications", {
        "name": name, "access": {"selfSignUp": True},
        "webauthn": {"rpId": "localhost", "origins": [site.origin]}})
    return str(created["applicationId"])


async def cors_allows(server: RunningServer, app_id: str, origin: str) -> None:
    """Wait until a preflight to the app's host from `origin` passes: each
    worker re-reads the allowed origins at most every 5 s."""
    deadline = time.monotonic() + 15
    while True:
        # A new connection each time, so that either worker may answer.
        async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as http:
            r = await http.options("/fido2/v2/auth/init", headers={
                "Host": urlsplit(sdk_base_url(server, app_id)).netloc, "Origin": origin,
                "Access-Control-Request-Method": "POST"})
        if r.status_code == 204:
            return
        assert time.monotonic() < deadline, (r.status_code, r.text)
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
async def applications(authcore_server: RunningServer, site: Site,
                       other_site: Site) -> dict[str, str]:
    """The shop's application and another customer's, created together
    before any CORS request (so no worker's origin cache predates them)."""
    admin = Admin(authcore_server)
    try:
        apps = {"shop": await new_app(admin, "websdk3 shop", site),
                "other": await new_app(admin, "websdk3 other shop", other_site)}
    finally:
        await admin.close()
    await cors_allows(authcore_server, apps["shop"], site.origin)
    await cors_allows(authcore_server, apps["other"], other_site.origin)
    return apps


@pytest.fixture(scope="module")
def shop_app(applications: dict[str, str]) -> str:
    return applications["shop"]


@pytest.fixture(scope="module")
def other_app(applications: dict[str, str]) -> str:
    return applications["other"]


def sdk_base_url(server: RunningServer, app_id: str) -> str:
    return f"http://{app_id}.localhost:{urlsplit(server.http_url).port}"


@pytest.fixture
async def admin(authcore_server: RunningServer) -> AsyncIterator[Admin]:
    client = Admin(authcore_server)
    yield client
    await client.close()


@pytest.fixture
async def loginid_http(authcore_server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    """LoginID's REST API outside the page, at the app's host."""
    async with httpx.AsyncClient(base_url=authcore_server.http_url, timeout=30) as client:
        yield client


# ------------------------------------------------------------ the browser

@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.fail(f"CI is set but {CHROMIUM} is missing: install Debian's chromium package")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


class Device:
    """One browser profile (a context) on the shop's page, with a virtual
    platform authenticator, driving the SDK as the site's script would."""

    def __init__(self, context: BrowserContext, page: Page, app_id: str) -> None:
        self.context = context
        self.page = page
        self.app_id = app_id
        self.console: list[str] = []
        self.authenticator_id = ""
        self.cdp: Any = None
        page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: self.console.append(f"pageerror: {exc}"))

    async def add_authenticator(self) -> str:
        if self.cdp is None:
            self.cdp = await self.context.new_cdp_session(self.page)
            await self.cdp.send("WebAuthn.enable")
        added = await self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
            "hasUserVerification": True, "isUserVerified": True,
            "automaticPresenceSimulation": True}})
        self.authenticator_id = str(added["authenticatorId"])
        return self.authenticator_id

    async def remove_authenticator(self) -> None:
        await self.cdp.send("WebAuthn.removeVirtualAuthenticator",
                            {"authenticatorId": self.authenticator_id})
        self.authenticator_id = ""

    async def credentials(self) -> list[dict[str, Any]]:
        held = await self.cdp.send("WebAuthn.getCredentials",
                                   {"authenticatorId": self.authenticator_id})
        return held["credentials"]  # type: ignore[no-any-return]

    async def open(self, site: Site, base_url: str) -> None:
        response = await self.page.goto(site.origin + "/")
        assert response is not None and response.status == 200
        await self.page.wait_for_function("Boolean(window.LoginIDWebSDK)",
                                          timeout=SDK_TIMEOUT_MS)
        await self.page.evaluate(
            "([baseUrl, appId]) => { window.sdk = new window.LoginIDWebSDK({baseUrl, appId}); }",
            [base_url, self.app_id])

    async def attempt(self, method: str, *args: Any) -> dict[str, Any]:
        """`sdk.<method>(...args)`: {"ok": result} or {"error": {...}} with
        what the SDK's errors carry (ApiError: status, body; PasskeyError: code)."""
        return await self.page.evaluate("""async ([method, args]) => {
            try {
                const result = await window.sdk[method](...args);
                return {ok: result === undefined ? null : result};
            } catch (e) {
                return {error: {name: e.name, message: String(e.message), status: e.status,
                                body: e.body, code: e.code,
                                cause: e.cause ? String(e.cause) : null}};
            }
        }""", [method, list(args)])

    async def call(self, method: str, *args: Any) -> Any:
        """`sdk.<method>(...args)`, which must succeed."""
        outcome = await self.attempt(method, *args)
        assert "ok" in outcome, (method, outcome, self.console)
        return outcome["ok"]

    async def service(self, client: str, method: str, params: dict[str, Any]) -> Any:
        """The SDK's generated API client (`sdk.service.<client>.<method>`),
        for the calls 1.6.0 ships without a wrapper (e.g. a mailed code)."""
        return await self.page.evaluate("""async ([client, method, params]) => {
            try {
                const result = await window.sdk.service[client][method](params);
                return {ok: result === undefined ? null : result};
            } catch (e) {
                return {error: {name: e.name, message: String(e.message), status: e.status,
                                body: e.body}};
            }
        }""", [client, method, params])

    async def cookie_token(self, site: Site) -> str | None:
        """The JWT the SDK keeps in the site's cookie `LoginID_<appId>_token`."""
        name = f"LoginID_{self.app_id}_token"
        for cookie in await self.context.cookies(site.origin):
            if cookie["name"] == name:
                return cookie["value"]
        return None


@pytest.fixture
async def new_device(browser: Browser, authcore_server: RunningServer, shop_app: str,
                     site: Site) -> AsyncIterator[Any]:
    """Opens the shop on a new device (a fresh browser context) with a
    virtual authenticator; closes them all after the test."""
    devices: list[Device] = []

    async def open_device(*, origin_site: Site = site, app_id: str = shop_app,
                          with_authenticator: bool = True) -> Device:
        context = await browser.new_context()
        device = Device(context, await context.new_page(), app_id)
        devices.append(device)
        if with_authenticator:
            await device.add_authenticator()
        await device.open(origin_site, sdk_base_url(authcore_server, app_id))
        return device

    started = time.monotonic()
    try:
        yield open_device
    except BaseException:
        for device in devices:
            print("browser console:\n" + "\n".join(device.console))
        raise
    finally:
        for device in devices:
            await device.context.close()
        print(f"browser part took {time.monotonic() - started:.1f}s")


# ---------------------------------------------------------------- helpers

def claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def b64url(raw_b64: str) -> str:
    return base64.urlsafe_b64encode(base64.b64decode(raw_b64)).decode().rstrip("=")


async def stored_passkeys(http: httpx.AsyncClient, jwt: str) -> list[dict[str, Any]]:
    """The user's passkeys as the server stores them, read outside the page."""
    r = await http.get("/fido2/v2/passkeys", headers={"Authorization": f"Bearer {jwt}"})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def mailed_code(admin: Admin, username: str, count: int) -> str:
    """The code of the `count`-th message mailed to `username` (the outbox)."""
    messages = await admin.outbox(username)
    assert len(messages) == count, messages
    message = messages[-1]
    assert message["channel"] == "EMAIL" and message["address"] == username, message
    found = re.search(r"\b(\d{6})\b", message["text"])
    assert found is not None, message
    return found.group(1)


def new_username() -> str:
    # Not an email address: that sign-up waits for a mailed code (its own test).
    return f"sdk-{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------------ tests

async def test_register_sign_in_and_sign_out(
        new_device: Any, site: Site, shop_app: str, admin: Admin,
        loginid_http: httpx.AsyncClient) -> None:
    device = await new_device()
    username = new_username()

    registered = await device.call("registerWithPasskey", username, {"usernameType": "other"})
    assert registered["userId"] == username and registered["passkeyId"]
    jwt = registered["jwtAccess"]
    assert claims(jwt)["sub"] == username and claims(jwt)["username"] == username
    assert await device.cookie_token(site) == jwt
    assert await device.call("isLoggedIn") is True
    assert await device.call("getUser") == {"username": username, "id": username}
    [held] = await device.credentials()
    assert held["isResidentCredential"]
    [stored] = await stored_passkeys(loginid_http, jwt)
    assert stored["id"] == registered["passkeyId"]
    assert stored["credentialId"] == b64url(held["credentialId"])
    user = await admin.req("GET", f"/api/admin/v1/users/{username}")
    assert user["user"]["userId"] == username

    # signout() clears the cookie (the SDK expires it).
    assert await device.call("signout") is None
    assert await device.cookie_token(site) is None
    assert await device.call("isLoggedIn") is False
    refused = await device.attempt("getUser")
    assert "logged in" in refused["error"]["message"], refused

    # With the username: its passkey is offered.
    signed_in = await device.call("authenticateWithPasskey", username, {"usernameType": "other"})
    assert signed_in["userId"] == username and signed_in["jwtAccess"] != jwt
    assert signed_in["passkeyId"] == registered["passkeyId"]
    assert await device.cookie_token(site) == signed_in["jwtAccess"]
    [used] = await stored_passkeys(loginid_http, signed_in["jwtAccess"])
    assert used["lastUsedAt"]

    # Usernameless: the discoverable credential names the user.
    await device.call("signout")
    discovered = await device.call("authenticateWithPasskey")
    assert discovered["userId"] == username
    assert claims(discovered["jwtAccess"])["username"] == username
    assert await device.cookie_token(site) == discovered["jwtAccess"]
    assert await device.call("getUser") == {"username": username, "id": username}


async def test_list_rename_add_and_delete_passkeys(
        new_device: Any, site: Site, loginid_http: httpx.AsyncClient) -> None:
    device = await new_device()
    username = new_username()
    first = await device.call("registerWithPasskey", username, {"usernameType": "other"})

    [listed] = await device.call("listPasskeys")
    assert listed["id"] == first["passkeyId"]
    assert await device.call("renamePasskey", listed["id"], "Work laptop") is None
    [renamed] = await stored_passkeys(loginid_http, first["jwtAccess"])
    assert renamed["name"] == "Work laptop"

    # The signed-in user adds a passkey from a new authenticator (the old one
    # would refuse: the SDK excludes its credential).
    await device.remove_authenticator()
    await device.add_authenticator()
    added = await device.call("addPasskey", username, {"usernameType": "other"})
    assert added["userId"] == username
    assert added["passkeyId"] not in ("", first["passkeyId"])
    assert await device.cookie_token(site) == added["jwtAccess"]
    stored = await stored_passkeys(loginid_http, added["jwtAccess"])
    assert {p["id"] for p in stored} == {first["passkeyId"], added["passkeyId"]}
    [held] = await device.credentials()
    new_one = next(p for p in stored if p["id"] == added["passkeyId"])
    assert new_one["credentialId"] == b64url(held["credentialId"])

    assert await device.call("deletePasskey", first["passkeyId"]) is None
    assert [p["id"] for p in await device.call("listPasskeys")] == [added["passkeyId"]]
    assert [p["id"] for p in await stored_passkeys(loginid_http, added["jwtAccess"])] == [
        added["passkeyId"]]

    # Signed out, addPasskey has no token to offer and says so.
    await device.call("signout")
    refused = await device.attempt("addPasskey", username)
    assert "logged in" in refused["error"]["message"], refused


async def test_add_passkey_for_another_username_is_refused(new_device: Any) -> None:
    """The SDK drops a token whose username differs; reg/init without one,
    for an existing user, is refused."""
    device = await new_device()
    owner = new_username()
    await device.call("registerWithPasskey", owner, {"usernameType": "other"})
    other = new_username()
    second = await new_device()
    await second.call("registerWithPasskey", other, {"usernameType": "other"})
    await device.remove_authenticator()
    await device.add_authenticator()
    refused = await device.attempt("addPasskey", other, {"usernameType": "other"})
    assert refused["error"]["status"] == 403, refused
    assert refused["error"]["body"]["msgCode"] == "forbidden"


async def test_generate_a_code_and_sign_in_with_it_elsewhere(
        new_device: Any, site: Site, loginid_http: httpx.AsyncClient) -> None:
    phone = await new_device()
    username = new_username()
    registered = await phone.call("registerWithPasskey", username, {"usernameType": "other"})

    # Signed in: the cookie's JWT asks for the code.
    code = await phone.call("generateCodeWithPasskey", username)
    assert code["code"].isdigit() and len(code["code"]) == 6 and code["expiresAt"]
    laptop = await new_device(with_authenticator=False)
    signed_in = await laptop.call("authenticateWithCode", username, code["code"],
                                  {"usernameType": "other"})
    assert signed_in["userId"] == username
    assert claims(signed_in["jwtAccess"])["username"] == username
    assert await laptop.cookie_token(site) == signed_in["jwtAccess"]
    assert await laptop.call("getUser") == {"username": username, "id": username}
    assert [p["id"] for p in await laptop.call("listPasskeys")] == [registered["passkeyId"]]
    # A code works once.
    again = await laptop.attempt("authenticateWithCode", username, code["code"])
    assert again["error"]["status"] == 401, again
    assert again["error"]["body"]["msgCode"] == "unauthorized"

    # Signed out: generateCodeWithPasskey signs in with the passkey first.
    await phone.call("signout")
    fresh = await phone.call("generateCodeWithPasskey", username, {"usernameType": "other"})
    assert fresh["code"] != code["code"]
    assert await phone.cookie_token(site) is not None
    other = await new_device(with_authenticator=False)
    assert (await other.call("authenticateWithCode", username, fresh["code"]))["userId"] == \
        username
    assert await stored_passkeys(loginid_http, signed_in["jwtAccess"])


async def test_sign_up_by_email_and_sign_in_with_a_mailed_code(
        new_device: Any, site: Site, admin: Admin, loginid_http: httpx.AsyncClient) -> None:
    device = await new_device()
    username = f"sdk-{uuid.uuid4().hex[:10]}@example.com"

    # An email username (the SDK's default usernameType): the passkey is
    # registered, but the account waits for the address to be proved.
    pending = await device.attempt("registerWithPasskey", username)
    assert pending["error"]["status"] == 403, pending
    assert pending["error"]["body"]["msgCode"] == "forbidden"
    assert "code sent" in pending["error"]["body"]["msg"]
    assert await device.cookie_token(site) is None
    proved = await device.call("authenticateWithCode", username,
                               await mailed_code(admin, username, 1))
    assert proved["userId"] == username and proved["passkeyId"]
    assert await device.cookie_token(site) == proved["jwtAccess"]
    [stored] = await stored_passkeys(loginid_http, proved["jwtAccess"])
    assert stored["id"] == proved["passkeyId"]

    # A sign-in code by email, through the SDK's own API client (1.6.0 has
    # no wrapper for it): the body names no application, the host does.
    await device.call("signout")
    sent = await device.service("auth", "authAuthCodeRequestEmail",
                                {"requestBody": {"user": {"username": username}}})
    assert sent == {"ok": None}, sent
    code = await mailed_code(admin, username, 2)
    wrong = await device.attempt("authenticateWithCode", username,
                                 "000000" if code != "000000" else "111111")
    assert wrong["error"]["status"] == 401, wrong
    signed_in = await device.call("authenticateWithCode", username, code)
    assert signed_in["userId"] == username and "passkeyId" not in signed_in
    assert claims(signed_in["jwtAccess"])["amr"] == ["otp"]
    assert await device.cookie_token(site) == signed_in["jwtAccess"]
    assert await device.call("getUser") == {"username": username, "id": username}


async def test_confirm_a_transaction(new_device: Any, site: Site, shop_app: str,
                                     loginid_http: httpx.AsyncClient) -> None:
    device = await new_device()
    username = new_username()
    await device.call("registerWithPasskey", username, {"usernameType": "other"})
    payload = f"Pay 12.34 EUR to ACME, ref {uuid.uuid4().hex[:6]}"
    nonce = f"nonce-{uuid.uuid4().hex}"

    confirmed = await device.call("confirmTransaction", username, payload, {"nonce": nonce})
    tx = claims(confirmed["token"])
    assert tx["sub"] == username and tx["aud"] == shop_app
    assert tx["tx_hash"] == hashlib.sha256(payload.encode()).hexdigest()
    assert tx["nonce"] == nonce and tx["tx_type"] == "raw"
    [held] = await device.credentials()
    assert confirmed["credentialId"] == b64url(held["credentialId"])
    # The SDK keeps the response's jwtAccess as its session: a signed-in one.
    session = await device.cookie_token(site)
    assert session == confirmed["jwtAccess"]
    assert claims(session)["username"] == username
    assert await device.call("getUser") == {"username": username, "id": username}
    [stored] = await stored_passkeys(loginid_http, session)
    assert stored["lastUsedAt"]


CROSS_ORIGIN_SIGN_IN = """async () => {
    try { await window.sdk.authenticateWithPasskey("x"); return "ok"; }
    catch (e) { return String(e); }
}"""


async def test_cors_follows_the_application_the_host_names(
        new_device: Any, authcore_server: RunningServer, shop_app: str, other_app: str,
        other_site: Site) -> None:
    """The browser's CORS check on the SDK's calls. Another application's
    site may call its own application's host, but not the shop's: on
    `<appId>.localhost` only that application's origins are allowed. Nor may
    a site no application lists (the shop's page at http://127.0.0.1)."""
    other = await new_device(origin_site=other_site, app_id=other_app)
    registered = await other.call("registerWithPasskey", new_username(),
                                  {"usernameType": "other"})
    assert claims(registered["jwtAccess"])["aud"] == other_app

    await other.open(other_site, sdk_base_url(authcore_server, shop_app))
    assert "Failed to fetch" in await other.page.evaluate(CROSS_ORIGIN_SIGN_IN)
    assert any("blocked by CORS policy" in line for line in other.console), other.console

    unlisted = await new_device(with_authenticator=False)
    await unlisted.page.goto(f"http://127.0.0.1:{urlsplit(unlisted.page.url).port}/")
    await unlisted.page.wait_for_function("Boolean(window.LoginIDWebSDK)")
    await unlisted.page.evaluate(
        "([baseUrl, appId]) => { window.sdk = new window.LoginIDWebSDK({baseUrl, appId}); }",
        [sdk_base_url(authcore_server, shop_app), shop_app])
    assert "Failed to fetch" in await unlisted.page.evaluate(CROSS_ORIGIN_SIGN_IN)
    assert any("blocked by CORS policy" in line for line in unlisted.console), \
        unlisted.console
