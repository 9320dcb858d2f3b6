"""LoginID's application named by the host a call is addressed to.

LoginID's web SDK (`@loginid/websdk3`) is given a base URL of the form
`https://<appId>.api.loginid.io` and sends no app id in the bodies of
`tx/init` and `auth/otp/verify`. authcore reads the application from the
first label of the requested host (REST: Host, or a proxy's
X-Forwarded-Host; gRPC: `x-forwarded-host` metadata) when the body names
none, and refuses a body whose app id disagrees with the host. Over REST and
gRPC."""

from __future__ import annotations

import uuid

import httpx

from authcore.flows.loginid_common import app_id_from_host
from authcore_testkit.loginid import LoginIdClient, signed_up
from authcore_testkit.server import RunningServer
from authcore_testkit.soft_webauthn import unb64url


def host_of(app_id: str, server: RunningServer) -> str:
    return f"{app_id}.auth.localhost:{server.http_url.rsplit(':', 1)[1]}"


def test_app_id_from_host() -> None:
    app = str(uuid.uuid4())
    assert app_id_from_host(f"{app}.api.example.com") == app
    assert app_id_from_host(f"{app.upper()}.api.example.com:8443") == app
    for host in ("", "127.0.0.1:8080", "localhost", "auth.example.com", app,
                 f"x{app}.example.com", f"api.{app}.example.com"):
        assert app_id_from_host(host) == "", host


async def test_tx_init_without_app_id_uses_the_host(loginid: LoginIdClient, app_id: str,
                                                   origin: str, username: str,
                                                   server: RunningServer) -> None:
    authenticator, _ = await signed_up(loginid, app_id, origin, username)
    body = {"username": username, "txPayload": "pay 10 to Bob", "txType": "raw",
            "nonce": "nonce-" + uuid.uuid4().hex}
    # As the SDK sends it: no appId, the app's own host.
    init = await loginid.call("tx_init", body, origin=origin, host=host_of(app_id, server))
    assert init.status == 200, init
    allowed = init.body["assertionOptions"]["allowCredentials"]
    assert [unb64url(c["id"]) for c in allowed] == [authenticator.last_credential.credential_id]

    # Neither the body nor the host names one: the old answer.
    missing = await loginid.call("tx_init", body, origin=origin)
    assert missing.status == 400 and missing.body["msg"] == "appId is required.", missing
    # They disagree: refused, not silently one of them.
    other = await loginid.call("tx_init", {**body, "appId": str(uuid.uuid4())},
                               origin=origin, host=host_of(app_id, server))
    assert other.status == 400, other
    assert other.body["msg"].startswith("appId does not match the application of the host")
    # They agree: as without the host.
    both = await loginid.call("tx_init", {**body, "appId": app_id}, origin=origin,
                              host=host_of(app_id, server))
    assert both.status == 200, both
    # A host naming no application of this server.
    unknown = await loginid.call("tx_init", body, origin=origin,
                                 host=host_of(str(uuid.uuid4()), server))
    assert unknown.status == 404, unknown


async def test_otp_verify_without_app_id_uses_the_host(loginid: LoginIdClient, app_id: str,
                                                      origin: str, username: str,
                                                      server: RunningServer) -> None:
    _, token = await signed_up(loginid, app_id, origin, username)
    issued = await loginid.call("request_auth_code", authorization="Bearer " + token)
    assert issued.status == 200, issued
    body = {"authCode": issued.body["code"], "user": {"username": username}}
    # The SDK's authenticateWithCode: {authCode, user}, to the app's host.
    ok = await loginid.call("verify_code", body, host=host_of(app_id, server))
    assert ok.status == 200 and ok.body["userId"] == username, ok
    listed = await loginid.call("list_passkeys", authorization=ok.body["jwtAccess"])
    assert listed.status == 200 and len(listed.body) == 1
    # Single use, whichever way the app is named.
    again = await loginid.call("verify_code", {**body, "appId": app_id})
    assert again.status == 401, again


async def test_a_proxys_forwarded_host_wins_over_host(server: RunningServer, app_id: str,
                                                      origin: str, username: str) -> None:
    loginid = LoginIdClient(server, "rest")
    try:
        await signed_up(loginid, app_id, origin, username)
    finally:
        await loginid.close()
    body = {"username": username, "txPayload": "p", "txType": "raw",
            "nonce": "nonce-" + uuid.uuid4().hex}
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        r = await http.post("/fido2/v2/tx/init", json=body, headers={
            "Origin": origin, "Host": "auth.example.com",
            "X-Forwarded-Host": host_of(app_id, server)})
    assert r.status_code == 200, r.text
