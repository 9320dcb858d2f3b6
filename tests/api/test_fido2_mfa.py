"""LoginID's MFA flow (/fido2/v2/mfa) over REST and gRPC: sign-up with a
passkey and the address proof, sign-in with a passkey, a replayed session,
bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from authcore_testkit.loginid import assertion_result, creation_result
from authcore_testkit.loginid_mfa import MfaClient, host_of, is_next, names, options_of
from authcore_testkit.server import RunningServer
from authcore_testkit.soft_webauthn import SoftAuthenticator


@pytest.fixture(params=["rest", "grpc"])
async def client(request: pytest.FixtureRequest, server: RunningServer
                 ) -> AsyncIterator[MfaClient]:
    c = MfaClient(server, request.param)
    yield c
    await c.close()


async def test_sign_up_then_sign_in(client: MfaClient, server: RunningServer, app_id: str,
                                    origin: str, username: str) -> None:
    host = host_of(app_id, server)
    user = {"username": username, "usernameType": "email"}
    begun = await client.call("begin", {"user": user}, host=host, origin=origin)
    assert begun.status == 200, begun
    assert begun.body["flow"] == "signUp" and names(begun.body)[0] == "passkey:reg"
    authenticator = SoftAuthenticator()
    created = authenticator.create(options=options_of(begun.body, "passkey:reg"), origin=origin)
    reg = await client.call("passkey_reg", {"creationResult": creation_result(created)},
                            session=begun.body["session"])
    # An email username proves its address next: 401 with the next step.
    assert is_next(reg), reg
    assert names(reg.body) == ["otp:email"]
    replay = await client.call("passkey_reg", {"creationResult": creation_result(created)},
                               session=begun.body["session"])
    assert replay.status == 401 and not is_next(replay)

    label = reg.body["next"][0]["options"][0]["label"]
    assert label != username and "***" in label
    sent = await client.call("otp_request", {"method": "email", "option": label},
                             session=reg.body["session"])
    assert sent.status == 200, sent
    from authcore_testkit.loginid import LoginIdClient

    mail = LoginIdClient(server, "rest")
    try:
        code = await mail.mailed_code(username)
    finally:
        await mail.close()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert (await client.call("otp_verify", {"otp": wrong},
                              session=sent.body["session"])).status == 401
    done = await client.call("otp_verify", {"otp": code}, session=sent.body["session"])
    assert done.status == 200, done
    assert done.body["flow"] == "signUp" and done.body["passkeyInfo"]["passkeyId"]
    # The code and the session are used up.
    assert (await client.call("otp_verify", {"otp": code},
                              session=sent.body["session"])).status == 401

    signin = await client.call("begin", {"user": user}, host=host, origin=origin)
    assert signin.status == 200 and signin.body["flow"] == "signIn", signin
    assert "passkey:auth" in names(signin.body)


async def test_bad_input(client: MfaClient, server: RunningServer, app_id: str) -> None:
    host = host_of(app_id, server)
    assert (await client.call("begin", {"user": {"username": "x@example.com"}})).status == 400
    assert (await client.call("begin", {"user": {}}, host=host)).status == 400
    for op in ("otp_request", "otp_verify", "passkey_auth", "passkey_reg", "passkey_tx",
               "payload", "third_party"):
        reply = await client.call(op, {}, session="nonsense")
        assert reply.status in (400, 401), (op, reply)
    assert (await client.call("discover", {"trustItems": {"wallet": "a.b.c"}},
                              host=host)).status == 400
    if client.transport == "rest":
        assert (await client.call("begin", raw=b"{not json", host=host)).status == 400


async def test_passkey_auth(client: MfaClient, server: RunningServer, app_id: str,
                            origin: str, username: str) -> None:
    from authcore_testkit.loginid import LoginIdClient, signed_up

    loginid = LoginIdClient(server, "rest")
    try:
        authenticator, _ = await signed_up(loginid, app_id, origin, username)
    finally:
        await loginid.close()
    host = host_of(app_id, server)
    begun = await client.call("begin", {"user": {"username": username, "usernameType": "email"}},
                              host=host, origin=origin)
    assert begun.status == 200 and begun.body["flow"] == "signIn", begun
    asserted = authenticator.get(options=options_of(begun.body, "passkey:auth"), origin=origin)
    done = await client.call("passkey_auth", {"assertionResult": assertion_result(asserted)},
                             session=begun.body["session"])
    assert done.status == 200, done
    assert done.body["accessToken"] and done.body["idToken"] and done.body["payloadSignature"]
    again = await client.call("passkey_auth", {"assertionResult": assertion_result(asserted)},
                              session=begun.body["session"])
    assert again.status == 401
