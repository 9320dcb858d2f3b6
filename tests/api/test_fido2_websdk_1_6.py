"""tx/complete as LoginID's web SDK 1.6.0 reads it, over REST and gRPC.

The SDK's generated client predates the reference spec's `TxComplete.token`:
its `confirmTransaction` stores the response's `jwtAccess` as its session
cookie (and throws when it is missing), and promises `txId`, `txHash` and
`nonce`. authcore sends both forms; `jwtAccess` is a session JWT as
auth/complete issues, the tx token stays no access token.
(The browser test: tests/e2e/test_websdk3_browser.py.)"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

from authcore_testkit.loginid import LoginIdClient, signed_up, tx_result


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


async def test_tx_complete_carries_the_sdk_1_6_fields(loginid: LoginIdClient, app_id: str,
                                                     origin: str, username: str) -> None:
    authenticator, _ = await signed_up(loginid, app_id, origin, username)
    payload, nonce = "Pay 5 EUR to Bob", "nonce-" + uuid.uuid4().hex
    init = await loginid.call("tx_init", {"username": username, "txPayload": payload,
                                          "txType": "raw", "nonce": nonce, "appId": app_id},
                              origin=origin)
    assert init.status == 200, init
    asserted = authenticator.get(options=init.body["assertionOptions"], origin=origin)
    ok = await loginid.call("tx_complete", tx_result(init.body["session"], asserted))
    assert ok.status == 200, ok

    tx = claims(ok.body["token"])
    assert ok.body["txHash"] == tx["tx_hash"] == hashlib.sha256(payload.encode()).hexdigest()
    assert ok.body["nonce"] == tx["nonce"] == nonce
    assert ok.body["txId"] == tx["tx_id"] == init.body["txId"]

    session = ok.body["jwtAccess"]
    assert session != ok.body["token"]
    issued = claims(session)
    assert issued["sub"] == issued["username"] == username
    assert issued["amr"] == ["passkey"] and issued["aud"] == app_id
    listed = await loginid.call("list_passkeys", authorization=session)
    assert listed.status == 200 and [p["id"] for p in listed.body] == [ok.body["authCred"]["id"]]
    # The tx token itself still is no access token.
    assert (await loginid.call("list_passkeys", authorization=ok.body["token"])).status == 401
