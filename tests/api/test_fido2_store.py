"""LoginIdFlow in-process on a temporary SQLite store, for what the public
API can't show: the AAGUID blocklist, clone flagging, what is (not) stored,
and the transaction commitment."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from authcore.config import Settings
from authcore.errors import AuthcoreError, InvalidArgument
from authcore.flows import loginid_common
from authcore.flows.authentication import Caller
from authcore.flows.loginid import LoginIdFlow
from authcore.flows.management import create_application
from authcore.flows.policy import AppPolicy, WebAuthnPolicy
from authcore.server import Runtime, build_runtime
from authcore.store.db import migrate
from authcore.store.models import AaguidBlock, AuditEvent, Challenge, PasskeyCredential, User
from authcore.v1 import fido2_pb2 as fido2
from authcore_testkit.loginid import assertion_result, creation_result
from authcore_testkit.soft_webauthn import SoftAuthenticator
from rest_bridge.codec import json_to_message, message_to_json

ORIGIN = "http://localhost:8443"
CALLER = Caller(client_ip="127.0.0.1")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("fido2-store")
    settings = Settings(data_dir=data_dir, http_addr="127.0.0.1:8443")
    migrate(settings.effective_database_url)
    return settings


@pytest.fixture(scope="module")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = await build_runtime(settings)
    yield rt
    await rt.engine.dispose()
    if rt.core.executor is not None:
        rt.core.executor.shutdown(wait=False)


@pytest.fixture
def flow(runtime: Runtime) -> LoginIdFlow:
    return LoginIdFlow(runtime.core)


@pytest.fixture
async def app_id(runtime: Runtime) -> str:
    """A fresh application per test, so blocklist rows don't leak."""
    async with runtime.core.write() as db:
        app = await create_application(
            db, name="store test", authenticators=["OTP", "PASSKEY"],
            policy=AppPolicy(self_sign_up=True),
            now=runtime.core.clock(),
            webauthn=WebAuthnPolicy(rp_id="localhost", rp_name="t", origins=(ORIGIN,)))
    return app.id


def new_name() -> str:
    return f"store-{uuid.uuid4().hex[:12]}"


async def register(flow: LoginIdFlow, app_id: str, username: str,
                   authenticator: SoftAuthenticator, jwt: str = "") -> fido2.Jwt:
    init = await flow.reg_init(json_to_message({
        "app": {"id": app_id}, "deviceInfo": {}, "user": {"username": username},
        "origin": ORIGIN}, fido2.RegInitRequest), jwt, CALLER)
    created = authenticator.create(options=message_to_json(init.registration_request_options),
                                   origin=ORIGIN)
    return await flow.reg_complete(json_to_message({
        "session": init.session, "creationResult": creation_result(created)},
        fido2.RegCompleteRequest), CALLER)


async def sign_in(flow: LoginIdFlow, app_id: str, username: str,
                  authenticator: SoftAuthenticator, **get: Any) -> fido2.Jwt:
    init = await flow.auth_init(json_to_message({
        "app": {"id": app_id}, "user": {"username": username}, "origin": ORIGIN},
        fido2.AuthInitRequest), CALLER)
    asserted = authenticator.get(options=message_to_json(init.assertion_options),
                                 origin=ORIGIN, **get)
    return await flow.auth_complete(json_to_message({
        "session": init.session, "assertionResult": assertion_result(asserted)},
        fido2.AuthCompleteRequest), CALLER)


async def block(runtime: Runtime, app_id: str, aaguid: str, *, reg: bool, auth: bool) -> None:
    async with runtime.core.write() as db:
        db.add(AaguidBlock(application_id=app_id, aaguid=aaguid, reg=reg, auth=auth,
                           created_at=runtime.core.clock()))


async def user_row(runtime: Runtime, username: str) -> User | None:
    async with runtime.core.read() as db:
        return (await db.execute(select(User).where(User.user_id == username))
                ).scalar_one_or_none()


async def passkey_rows(runtime: Runtime, username: str) -> list[PasskeyCredential]:
    async with runtime.core.read() as db:
        return list((await db.execute(
            select(PasskeyCredential).join(User, User.pk == PasskeyCredential.user_pk)
            .where(User.user_id == username))).scalars())


async def test_blocked_aaguid_cannot_register(runtime: Runtime, flow: LoginIdFlow,
                                              app_id: str) -> None:
    aaguid = uuid.uuid4()
    await block(runtime, app_id, str(aaguid).upper(), reg=True, auth=False)
    username = new_name()
    with pytest.raises(InvalidArgument) as refused:
        await register(flow, app_id, username, SoftAuthenticator(aaguid=aaguid.bytes))
    assert refused.value.reason == "aaguid_blocked"
    assert await user_row(runtime, username) is None
    # Other models, and other applications, are not affected.
    assert (await register(flow, app_id, new_name(), SoftAuthenticator())).jwt_access
    async with runtime.core.write() as db:
        other = await create_application(
            db, name="other", authenticators=["PASSKEY"], policy=AppPolicy(self_sign_up=True),
            now=runtime.core.clock(),
            webauthn=WebAuthnPolicy(rp_id="localhost", rp_name="o", origins=(ORIGIN,)))
    assert (await register(flow, other.id, username,
                           SoftAuthenticator(aaguid=aaguid.bytes))).user_id == username


async def test_blocked_aaguid_cannot_sign_in(runtime: Runtime, flow: LoginIdFlow,
                                             app_id: str) -> None:
    aaguid = uuid.uuid4()
    await block(runtime, app_id, str(aaguid), reg=False, auth=True)
    username = new_name()
    authenticator = SoftAuthenticator(aaguid=aaguid.bytes)
    await register(flow, app_id, username, authenticator)
    with pytest.raises(InvalidArgument) as refused:
        await sign_in(flow, app_id, username, authenticator)
    assert refused.value.reason == "aaguid_blocked"


async def test_sign_count_regression_flags_the_credential(runtime: Runtime, flow: LoginIdFlow,
                                                          app_id: str) -> None:
    username, authenticator = new_name(), SoftAuthenticator(sign_count_start=5)
    await register(flow, app_id, username, authenticator)
    await sign_in(flow, app_id, username, authenticator)  # counter 6
    with pytest.raises(InvalidArgument) as refused:
        await sign_in(flow, app_id, username, authenticator, sign_count=6)
    assert refused.value.reason == "sign_count_regression"
    [row] = await passkey_rows(runtime, username)
    assert row.flagged_at is not None and row.sign_count == 6
    # A forged assertion (bad signature) must not flag or probe the counter.
    other, fresh = new_name(), SoftAuthenticator()
    await register(flow, app_id, other, fresh)
    init = await flow.auth_init(json_to_message({"app": {"id": app_id}, "origin": ORIGIN},
                                                fido2.AuthInitRequest), CALLER)
    forged = assertion_result(fresh.get(options=message_to_json(init.assertion_options),
                                        origin=ORIGIN, sign_count=0))
    forged["signature"] = forged["signature"][:-4] + "AAAA"
    with pytest.raises(InvalidArgument):
        await flow.auth_complete(json_to_message({"session": init.session,
                                                  "assertionResult": forged},
                                                 fido2.AuthCompleteRequest), CALLER)
    [row] = await passkey_rows(runtime, other)
    assert row.flagged_at is None


async def test_abandoned_registration_leaves_nothing(runtime: Runtime, flow: LoginIdFlow,
                                                     app_id: str) -> None:
    username = new_name()
    await flow.reg_init(json_to_message({"app": {"id": app_id}, "user": {"username": username}},
                                        fido2.RegInitRequest), "", CALLER)
    assert await user_row(runtime, username) is None


async def test_codes_are_stored_hashed(runtime: Runtime, flow: LoginIdFlow,
                                       app_id: str) -> None:
    username = new_name()
    done = await register(flow, app_id, username, SoftAuthenticator())
    code = await flow.request_auth_code(done.jwt_access, CALLER)
    async with runtime.core.read() as db:
        user = (await db.execute(select(User).where(User.user_id == username))).scalar_one()
        [row] = (await db.execute(select(Challenge).where(
            Challenge.user_pk == user.pk, Challenge.authenticator == "AUTH_CODE"))).scalars()
    assert code.code not in repr(row.state)
    assert row.state["code_hash"] != hashlib.sha256(code.code.encode()).hexdigest()
    assert row.expires_at - row.created_at == 300


async def test_client_events_are_audited(runtime: Runtime, flow: LoginIdFlow) -> None:
    event = "E" + uuid.uuid4().hex * 3
    await flow.submit_client_event(fido2.SubmitClientEventRequest(event=event, is_error=True),
                                   "", CALLER)
    async with runtime.core.read() as db:
        [row] = (await db.execute(select(AuditEvent).where(
            AuditEvent.event == "client_event", AuditEvent.reason == event[:64]))).scalars()
    assert row.outcome == "error" and row.user_id is None


def test_tx_challenge_commits_to_nonce_and_payload(monkeypatch: pytest.MonkeyPatch) -> None:
    salt = bytes(range(16))
    monkeypatch.setattr(loginid_common.secrets, "token_bytes", lambda n: salt[:n])
    got = loginid_common.tx_challenge("nonce-123", "pay €10")
    nonce, payload = b"nonce-123", "pay €10".encode()
    expected = hashlib.sha256(len(nonce).to_bytes(4, "big") + nonce
                              + len(payload).to_bytes(4, "big") + payload + salt).digest()
    assert got == expected
    # Length prefixes: moving bytes between nonce and payload changes the challenge.
    assert loginid_common.tx_challenge("nonce-12", "3pay €10") != got


async def test_session_refusals_are_authcore_errors(flow: LoginIdFlow, app_id: str) -> None:
    with pytest.raises(AuthcoreError) as missing:
        await flow.auth_complete(fido2.AuthCompleteRequest(), CALLER)
    assert missing.value.reason == "missing_field"
