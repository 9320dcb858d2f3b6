"""The passkeys demo page in headless Chromium with a virtual WebAuthn
authenticator (CDP): register, sign in with and without a username, confirm a
transaction and delete the passkey, checking both what the page shows and
what the server stored (admin API for the user, LoginID's passkey list read
outside the page). Plus a real browser's CORS check against the server.

Needs Debian's `chromium` (/usr/bin/chromium; `make test` installs it when
run as root) and Playwright for Python (no Playwright-managed browsers).
Skipped when Chromium is missing, unless CI is set: then it fails.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from authcore_testkit.server import RunningServer

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
IN_CI = bool(os.environ.get("CI"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(
    not HAVE_CHROMIUM and not IN_CI,
    reason=f"{CHROMIUM} is missing (apt-get install chromium, or `make test` as root)")

if IN_CI:
    from playwright.async_api import Browser, BrowserContext, Page, async_playwright
else:
    async_api = pytest.importorskip("playwright.async_api")
    Browser, BrowserContext, Page = async_api.Browser, async_api.BrowserContext, async_api.Page
    async_playwright = async_api.async_playwright


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


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context()
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
async def admin_http(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
            base_url=server.http_url, timeout=30,
            headers={"Authorization": f"Bearer {server.admin_key}"}) as client:
        yield client


def page_url(server: RunningServer) -> str:
    # The demo application's WebAuthn origin is http://localhost:<port>, and
    # browsers refuse IP addresses as RP IDs.
    return f"http://localhost:{urlsplit(server.http_url).port}/demo/passkeys"


async def run_action(page: Page, button: str, action: str) -> str:
    """Click a button (a selector) and wait for the page to report that
    action finished."""
    await page.click(button)
    status = page.locator(f'#status[data-action="{action}"]:not([data-state="busy"])')
    await status.wait_for(timeout=30_000)
    text = (await status.text_content()) or ""
    state = await status.get_attribute("data-state")
    assert state == "ok", f"{action}: {text}"
    return text


async def text(page: Page, selector: str) -> str:
    return ((await page.text_content(selector)) or "").strip()


async def server_passkeys(server: RunningServer, jwt: str) -> list[dict[str, Any]]:
    """The user's passkeys as the server stores them, read outside the page
    (LoginID's list, with the user's JWT)."""
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
        r = await client.get("/fido2/v2/passkeys", headers={"Authorization": f"Bearer {jwt}"})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


async def test_passkey_lifecycle_in_the_browser(
        server: RunningServer, context: BrowserContext, admin_http: httpx.AsyncClient) -> None:
    started = time.monotonic()
    app_id = server.demo_application_id
    # Not an email address: that sign-up would wait for a mailed code
    # (tests/api/test_signup.py).
    username = f"browser-{uuid.uuid4().hex[:10]}"
    page = await context.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))

    cdp = await context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable")
    authenticator = await cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
        "automaticPresenceSimulation": True}})
    authenticator_id = authenticator["authenticatorId"]

    response = await page.goto(f"{page_url(server)}?app={app_id}")
    assert response is not None and response.status == 200
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    await page.locator('#status[data-action="init"][data-state="ok"]').wait_for()
    assert await page.input_value("#app-id") == app_id

    try:
        # 1. Register a passkey for a new username.
        await page.fill("#username", username)
        await run_action(page, "#register", "register")
        assert await text(page, "#user-id") == username
        jwt = await text(page, "#jwt")
        assert claims(jwt)["sub"] == username
        held = (await cdp.send("WebAuthn.getCredentials",
                               {"authenticatorId": authenticator_id}))["credentials"]
        assert len(held) == 1 and held[0]["isResidentCredential"]
        r = await admin_http.get(f"/api/admin/v1/users/{username}")
        assert r.status_code == 200, r.text
        assert r.json()["user"]["userId"] == username
        stored = await server_passkeys(server, jwt)
        assert len(stored) == 1
        passkey = stored[0]
        cred_id = base64.urlsafe_b64encode(base64.b64decode(held[0]["credentialId"]))
        assert passkey["credentialId"] == cred_id.decode().rstrip("=")
        assert "lastUsedAt" not in passkey

        # 2. Sign in with the username.
        await page.click("#signout")
        assert await text(page, "#jwt") == ""
        await run_action(page, "#signin", "signin")
        assert await text(page, "#user-id") == username
        assert await text(page, "#jwt") not in ("", jwt)

        # 3. Sign in without a username: the discoverable credential is found
        # from an empty allowCredentials and the user from its userHandle.
        await page.click("#signout")
        await page.fill("#username", "")
        assert "usernameless" in await run_action(page, "#signin-usernameless",
                                                  "signin-usernameless")
        assert await text(page, "#user-id") == username
        jwt = await text(page, "#jwt")
        assert claims(jwt)["sub"] == username

        # 4. Confirm a transaction: the token commits to the payload.
        payload = f"Pay 12.34 EUR to ACME, ref {uuid.uuid4().hex[:6]}"
        await page.fill("#username", username)
        await page.fill("#tx-payload", payload)
        await run_action(page, "#tx-confirm", "tx")
        tx = claims(await text(page, "#tx-token"))
        assert tx["sub"] == username
        assert tx["tx_hash"] == hashlib.sha256(payload.encode()).hexdigest()
        assert (await server_passkeys(server, jwt))[0]["lastUsedAt"]

        # 5. List the passkeys with the JWT, then delete the one there is.
        await run_action(page, "#list-passkeys", "list-passkeys")
        items = page.locator("#passkeys li")
        assert await items.count() == 1
        assert await items.first.get_attribute("data-passkey-id") == passkey["id"]
        await run_action(page, "#passkeys li .delete-passkey", "delete-passkey")
        assert await page.get_attribute("#passkeys", "data-count") == "0"
        assert await server_passkeys(server, jwt) == []
        r = await admin_http.get(f"/api/admin/v1/users/{username}")
        assert r.status_code == 200  # the user stays; only the passkey is gone

        # The authenticator still holds the credential, but the server no
        # longer accepts it.
        await page.click("#signout")
        await page.click("#signin-usernameless")
        status = page.locator('#status[data-action="signin-usernameless"]'
                              ':not([data-state="busy"])')
        await status.wait_for(timeout=30_000)
        assert await status.get_attribute("data-state") == "error"
    except BaseException:
        print("browser console:\n" + "\n".join(console))
        print("page status:", await text(page, "#status"))
        raise
    finally:
        print(f"passkey lifecycle in the browser took {time.monotonic() - started:.1f}s")


CROSS_ORIGIN_FETCH = """async ([url, appId]) => {
    try {
        const r = await fetch(url, {method: "POST", body: JSON.stringify({app: {id: appId}}),
                                    headers: {"Content-Type": "application/json"}});
        const body = await r.json();
        return {status: r.status, session: Boolean(body.session)};
    } catch (err) {
        return {error: String(err)};
    }
}"""


async def test_cross_origin_calls_follow_the_applications_origins(
        server: RunningServer, context: BrowserContext) -> None:
    """A real browser's CORS check: a page on the demo application's origin
    (http://localhost:<port>) may call the API at http://127.0.0.1:<port>;
    a page on http://127.0.0.1:<port>, which no application lists, may not
    call http://localhost:<port>.

    The pages are /openapi.json: the demo page's CSP (connect-src falls back
    to default-src 'self') would block any cross-origin fetch by itself."""
    port = urlsplit(server.http_url).port
    page = await context.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    await page.goto(f"http://localhost:{port}/openapi.json")
    allowed = await page.evaluate(CROSS_ORIGIN_FETCH, [
        f"http://127.0.0.1:{port}/fido2/v2/auth/init", server.demo_application_id])
    assert allowed == {"status": 200, "session": True}

    await page.goto(f"http://127.0.0.1:{port}/openapi.json")
    refused = await page.evaluate(CROSS_ORIGIN_FETCH, [
        f"http://localhost:{port}/fido2/v2/auth/init", server.demo_application_id])
    assert "Failed to fetch" in refused.get("error", ""), refused
    assert any("blocked by CORS policy" in line for line in console), console
