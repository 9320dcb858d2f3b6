"""LoginID's MFA flow (/fido2/v2/mfa) in headless Chromium with a CDP virtual
authenticator, against a real authcore server, driven by a small client of
our own (tests/e2e/assets/loginid_mfa_client.js) that makes the requests
websdk3's packages/core MFA client makes, in its order, with its headers,
storage and `session` handling (the npm release we pin, 1.6.0, has no MFA).

As in test_websdk3_browser.py, the page is a customer's site
(`http://localhost:<site port>`) and the client's base URL names the
application by host (`http://<appId>.localhost:<port>`), so every call is a
CORS request carrying the session in Authorization. What the page gets is
checked against what the server stored (LoginID's REST API and the admin
API, read outside the page).

Runs on SQLite, and on PostgreSQL + Redis with two workers when
AUTHCORE_TEST_POSTGRES_URL and AUTHCORE_TEST_REDIS_URL are set (with CI set,
missing ones fail instead of skipping, as does a missing Chromium).
"""

from __future__ import annotations

import asyncio
import base64
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
import jwt as pyjwt
import pytest

from authcore_testkit.api import Admin
from authcore_testkit.cluster import require_postgres_and_redis
from authcore_testkit.server import (
    RunningServer,
    fresh_postgres_database,
    redis_namespace,
    run_server,
)
from authcore_testkit.static_site import Site, static_site

CLIENT_JS = Path(__file__).resolve().parent / "assets" / "loginid_mfa_client.js"
CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
IN_CI = bool(os.environ.get("CI"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 30_000

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

SITE_PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>A bank</title>
<script type="module">
import { LoginIDMfaClient } from "/loginid_mfa_client.js";
window.LoginIDMfaClient = LoginIDMfaClient;
</script></head><body><h1>A bank</h1></body></html>
"""


@contextmanager
def serving_site() -> Iterator[Site]:
    files = {"/": (SITE_PAGE, "text/html; charset=utf-8"),
             "/loginid_mfa_client.js": (CLIENT_JS.read_bytes(),
                                        "text/javascript; charset=utf-8")}

    with static_site(files) as served:
        yield served


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serving_site() as served:
        yield served


# ------------------------------------------------------------- the server

@pytest.fixture(scope="module", params=["sqlite", "postgres-redis-2-workers"])
def authcore_server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
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
    print(f"MFA in the browser on {request.param}: {time.monotonic() - started:.1f}s")


def base_url(server: RunningServer, app_id: str) -> str:
    return f"http://{app_id}.localhost:{urlsplit(server.http_url).port}"


@pytest.fixture(scope="module")
async def bank_app(authcore_server: RunningServer, site: Site) -> str:
    """The bank's application: its site's origin, RP ID localhost, self
    sign-up; created before any CORS request, then waited for until every
    worker's origin cache (5 s) allows it."""
    admin = Admin(authcore_server)
    try:
        created = await admin.req("POST", "/api/admin/v1/applications", {
            "name": "MFA bank", "access": {"selfSignUp": True},
            "webauthn": {"rpId": "localhost", "origins": [site.origin]}})
    finally:
        await admin.close()
    app_id = str(created["applicationId"])
    deadline = time.monotonic() + 15
    while True:
        async with httpx.AsyncClient(base_url=authcore_server.http_url, timeout=10) as http:
            r = await http.options("/fido2/v2/mfa/begin", headers={
                "Host": urlsplit(base_url(authcore_server, app_id)).netloc,
                "Origin": site.origin, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type"})
        if r.status_code == 204:
            return app_id
        assert time.monotonic() < deadline, (r.status_code, r.text)
        await asyncio.sleep(0.2)


@pytest.fixture
async def admin(authcore_server: RunningServer) -> AsyncIterator[Admin]:
    client = Admin(authcore_server)
    yield client
    await client.close()


@pytest.fixture
async def loginid_http(authcore_server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    """LoginID's REST API outside the page."""
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
    """One browser profile on the bank's page with a virtual platform
    authenticator, driving the MFA client as the site's script would."""

    def __init__(self, context: BrowserContext, page: Page, app_id: str) -> None:
        self.context = context
        self.page = page
        self.app_id = app_id
        self.console: list[str] = []
        self.authenticator_id = ""
        page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: self.console.append(f"pageerror: {exc}"))

    async def add_authenticator(self) -> None:
        cdp = await self.context.new_cdp_session(self.page)
        await cdp.send("WebAuthn.enable")
        added = await cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
            "hasUserVerification": True, "isUserVerified": True,
            "automaticPresenceSimulation": True}})
        self.cdp = cdp
        self.authenticator_id = str(added["authenticatorId"])

    async def credentials(self) -> list[dict[str, Any]]:
        held = await self.cdp.send("WebAuthn.getCredentials",
                                   {"authenticatorId": self.authenticator_id})
        return held["credentials"]  # type: ignore[no-any-return]

    async def open(self, site: Site, url: str) -> None:
        response = await self.page.goto(site.origin + "/")
        assert response is not None and response.status == 200
        await self.page.wait_for_function("Boolean(window.LoginIDMfaClient)",
                                          timeout=TIMEOUT_MS)
        await self.page.evaluate(
            "([baseUrl, appId]) => { window.mfa = new window.LoginIDMfaClient({baseUrl, appId});"
            " }", [url, self.app_id])

    async def attempt(self, method: str, *args: Any) -> dict[str, Any]:
        return await self.page.evaluate("""async ([method, args]) => {
            try {
                const result = await window.mfa[method](...args);
                return {ok: result === undefined ? null : result};
            } catch (e) {
                return {error: {name: e.name, message: String(e.message), status: e.status,
                                body: e.body}};
            }
        }""", [method, list(args)])

    async def call(self, method: str, *args: Any) -> Any:
        outcome = await self.attempt(method, *args)
        assert "ok" in outcome, (method, outcome, self.console)
        return outcome["ok"]

    async def requests(self) -> list[dict[str, Any]]:
        """What the client sent, and takes them off its list."""
        return await self.page.evaluate(  # type: ignore[no-any-return]
            "() => window.mfa.requests.splice(0)")

    async def local(self, key: str) -> str | None:
        return await self.page.evaluate("(key) => localStorage.getItem(key)", key)

    async def cookie(self, site: Site, name: str) -> str | None:
        for cookie in await self.context.cookies(site.origin):
            if cookie["name"] == f"LoginID_{self.app_id}_{name}":
                return cookie["value"]
        return None


@pytest.fixture
async def new_device(browser: Browser, authcore_server: RunningServer, bank_app: str,
                     site: Site) -> AsyncIterator[Any]:
    devices: list[Device] = []

    async def open_device() -> Device:
        context = await browser.new_context()
        device = Device(context, await context.new_page(), bank_app)
        devices.append(device)
        await device.add_authenticator()
        await device.open(site, base_url(authcore_server, bank_app))
        return device

    try:
        yield open_device
    except BaseException:
        for device in devices:
            print("browser console:\n" + "\n".join(device.console))
        raise
    finally:
        for device in devices:
            await device.context.close()


# ---------------------------------------------------------------- helpers

def claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # type: ignore[no-any-return]


def b64url(raw_b64: str) -> str:
    return base64.urlsafe_b64encode(base64.b64decode(raw_b64)).decode().rstrip("=")


def types(details: dict[str, Any]) -> list[str]:
    return [f["type"] for f in details["remainingFactors"]]


async def mailed_code(admin: Admin, username: str, count: int) -> str:
    messages = await admin.outbox(username)
    assert len(messages) == count, messages
    assert messages[-1]["medium"] == "EMAIL" and messages[-1]["address"] == username
    found = re.search(r"\b(\d{6})\b", messages[-1]["text"])
    assert found is not None, messages[-1]
    return found.group(1)


def check_wire(sent: list[dict[str, Any]], paths: list[str]) -> None:
    """The client's requests, as the SDK makes them: JSON both ways; begin
    without Authorization, every later step with the flow's session bare."""
    assert [r["path"] for r in sent] == paths, sent
    for request in sent:
        assert request["headers"]["Accept"] == "application/json"
        assert request["headers"]["Content-Type"] == "application/json"
        if request["path"] == "/fido2/v2/mfa/begin":
            assert "Authorization" not in request["headers"]
        else:
            authorization = request["headers"]["Authorization"]
            assert authorization and not authorization.startswith("Bearer ")


async def devices_of(http: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    r = await http.get("/fido2/v2/devices", headers={"Authorization": token})
    assert r.status_code == 200, r.text
    return r.json()["devices"]  # type: ignore[no-any-return]


# ------------------------------------------------------------------ tests

async def test_sign_up_with_a_passkey_and_the_mailed_code_then_sign_in(
        new_device: Any, site: Site, bank_app: str, admin: Admin,
        loginid_http: httpx.AsyncClient, authcore_server: RunningServer) -> None:
    device = await new_device()
    username = f"mfa-{uuid.uuid4().hex[:10]}@example.com"

    begun = await device.call("beginFlow", username, {"usernameType": "email"})
    assert begun["flow"] == "signUp" and begun["nextAction"] == "passkey:reg", begun
    assert not begun["isComplete"] and begun["session"]
    [sent] = await device.requests()
    check_wire([sent], ["/fido2/v2/mfa/begin"])
    assert "deviceId" not in sent["body"]["deviceInfo"]  # none given yet
    first_trust = sent["body"]["trustItems"]["auth"]

    # navigator.credentials.create, then the address proof is next (401
    # additional_auth_required with the MfaNext, which the client stores).
    proof = await device.call("performAction", "passkey:reg")
    assert types(proof) == ["otp:email"] and not proof["isComplete"], proof
    [label] = proof["remainingFactors"][0]["options"]
    assert "***" in label and username not in label
    [held] = await device.credentials()
    sent_code = await device.call("performAction", "otp:email")
    assert sent_code["session"] != proof["session"]
    code = await mailed_code(admin, username, 1)
    done = await device.call("performAction", "otp:verify", {"payload": code})
    assert done["isComplete"] and done["flow"] == "signUp", done
    check_wire(await device.requests(), ["/fido2/v2/mfa/passkey/reg",
                                         "/fido2/v2/mfa/otp/request",
                                         "/fido2/v2/mfa/otp/verify"])
    access = done["accessToken"]
    assert claims(access)["username"] == username and claims(access)["amr"] == ["passkey"]
    assert claims(done["idToken"])["aud"] == bank_app
    assert await device.cookie(site, "access_token") == access
    assert await device.cookie(site, "id_token") == done["idToken"]
    # The server named the device; the client keeps it, and it is listed.
    device_id = done["deviceId"]
    assert await device.local(f"LoginID_{bank_app}_device-id") == device_id
    [listed] = await devices_of(loginid_http, access)
    assert listed["deviceId"] == device_id
    r = await loginid_http.get("/fido2/v2/passkeys", headers={"Authorization": access})
    [stored] = r.json()
    assert stored["credentialId"] == b64url(held["credentialId"])
    assert done["passkeyCredential"]["passkeyId"] == stored["id"]

    # Signing in on the same browser: its deviceId and the same trust key.
    begun = await device.call("beginFlow", username, {"usernameType": "email"})
    assert begun["flow"] == "signIn" and begun["nextAction"] == "passkey:auth", begun
    assert "otp:email" in types(begun)  # the address is verified now
    assert await device.cookie(site, "access_token") is None  # begin signs out
    [sent] = await device.requests()
    assert sent["body"]["deviceInfo"]["deviceId"] == device_id
    again_trust = sent["body"]["trustItems"]["auth"]
    assert pyjwt.get_unverified_header(again_trust)["jwk"] == \
        pyjwt.get_unverified_header(first_trust)["jwk"]
    signed_in = await device.call("performAction", "passkey:auth")
    assert signed_in["isComplete"] and signed_in["flow"] == "signIn", signed_in
    check_wire(await device.requests(), ["/fido2/v2/mfa/passkey/auth"])
    assert claims(signed_in["accessToken"])["amr"] == ["passkey"]
    assert signed_in["deviceId"] == device_id
    assert await device.cookie(site, "access_token") == signed_in["accessToken"]
    [listed] = await devices_of(loginid_http, signed_in["accessToken"])
    assert listed["deviceId"] == device_id and listed["lastUsedAt"]

    # The completed flows vouched for the browser's trust key: discover knows it.
    r = await loginid_http.post("/fido2/v2/mfa/discover", json={"trustItems": {
        "auth": again_trust}}, headers={"Host": urlsplit(base_url(authcore_server,
                                                                   bank_app)).netloc})
    assert r.status_code == 204, r.text


async def test_a_payload_confirmed_with_passkey_tx(
        new_device: Any, site: Site, bank_app: str, loginid_http: httpx.AsyncClient) -> None:
    device = await new_device()
    username = f"mfa-tx-{uuid.uuid4().hex[:10]}"
    # A username that is no address: signed up by the passkey alone.
    await device.call("beginFlow", username)
    signed_up = await device.call("performAction", "passkey:reg")
    assert signed_up["isComplete"] and signed_up["flow"] == "signUp", signed_up
    await device.requests()

    begun = await device.call("beginFlow", username, {"txPayload": "Pay 10 EUR to ACME"})
    assert begun["nextAction"] == "passkey:tx", begun
    # The SDK's way to change the payload: mfa/payload, then the action on
    # the new session (whose WebAuthn challenge commits to the new payload).
    payload = f"Pay 25 EUR to ACME, ref {uuid.uuid4().hex[:6]}"
    confirmed = await device.call("performAction", "passkey:tx", {"txPayload": payload})
    assert confirmed["isComplete"], confirmed
    sent = await device.requests()
    check_wire(sent, ["/fido2/v2/mfa/begin", "/fido2/v2/mfa/payload",
                      "/fido2/v2/mfa/passkey/tx"])
    assert sent[0]["body"]["payload"] == "Pay 10 EUR to ACME"
    assert sent[1]["body"] == {"payload": payload}
    assert sent[1]["headers"]["Authorization"] != sent[2]["headers"]["Authorization"]
    signature = confirmed["payloadSignature"]
    assert await device.cookie(site, "payload_signature") == signature
    jwks = (await loginid_http.get("/.well-known/jwks.json")).json()
    kid = pyjwt.get_unverified_header(signature)["kid"]
    key = pyjwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == kid))
    signed = pyjwt.decode(signature, key.key, algorithms=["ES256"], audience=bank_app)
    assert signed["payload"] == payload and signed["tx"] is True
    assert signed["sub"] == username
