"""Axidian Access logon v5 `authenticateByWindowsToken` against a real MIT
Kerberos KDC on loopback (k5test + Debian's krb5-kdc), over REST and gRPC.

The test process is the Windows client: it logs principals on (kinit) and
builds SPNEGO tokens for HTTP@localhost with python-gssapi; authcore accepts
them with the keytab named by AUTHCORE_KERBEROS_KEYTAB.

Skipped when MIT's KDC or the kerberos extra (python-gssapi) is missing,
unless CI is set: then it fails (`make test` as root installs krb5-kdc,
krb5-admin-server, krb5-user, libkrb5-dev, and the venv gets the extra).
Without the extra the server's answer is test_axidian_windows_without_gssapi.py's.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import jwt
import pytest

from authcore.axidian.v5 import logon_pb2 as pb
from authcore.axidian.v5 import logon_pb2_grpc
from authcore_testkit.api import HTTP_FOR_GRPC, Admin, error_reason
from authcore_testkit.kerberos import (
    KerberosRealm,
    client_environment,
    have_kdc,
    kerberos_realm,
)
from authcore_testkit.scim import ScimRest, user_doc
from authcore_testkit.server import RunningServer, run_server
from rest_bridge.codec import message_to_json

IN_CI = bool(os.environ.get("CI"))
HAVE_KDC = have_kdc()
HAVE_GSSAPI = importlib.util.find_spec("gssapi") is not None
PATH = "/api/v5/logon/authenticateByWindowsToken"

pytestmark = [
    pytest.mark.skipif(
        not HAVE_KDC and not IN_CI,
        reason="MIT krb5kdc is missing (apt-get install krb5-kdc krb5-admin-server krb5-user "
               "libkrb5-dev, or `make test` as root)"),
    pytest.mark.skipif(
        not HAVE_GSSAPI and not IN_CI,
        reason="the kerberos extra is not installed (python-gssapi: pip install -e "
               "'.[kerberos]' once libkrb5-dev is there, or `make test` as root)"),
]


# -- fixtures ------------------------------------------------------------------

@pytest.fixture(scope="module")
def krb() -> Iterator[KerberosRealm]:
    if not HAVE_KDC:
        pytest.fail("CI is set but MIT krb5kdc is missing: install krb5-kdc "
                    "krb5-admin-server krb5-user libkrb5-dev")
    if not HAVE_GSSAPI:
        pytest.fail("CI is set but python-gssapi is missing: pip install -e '.[kerberos]'")
    with kerberos_realm() as realm, client_environment(realm):
        yield realm


def kerberos_env(krb: KerberosRealm, **extra: str) -> dict[str, str]:
    return {**krb.server_env, "AUTHCORE_KERBEROS_KEYTAB": str(krb.keytab), **extra}


# Every Authorization value sent, to check that none reached the server's log.
SENT: list[str] = []


def assert_clean_log(server: RunningServer) -> str:
    """After the server stopped: no traceback, no token in its output."""
    output = "".join(server.output)
    assert "Traceback" not in output
    for authorization in SENT:
        token = authorization.partition(" ")[2].strip()
        if len(token) >= 40:
            assert token[:40] not in output and token[-40:] not in output
    return output


@pytest.fixture(scope="module")
def kerberos_server(krb: KerberosRealm) -> Iterator[RunningServer]:
    """Keytab only: no principal named, realms default to the acceptor's."""
    with run_server(env=kerberos_env(krb)) as server:
        yield server
    assert_clean_log(server)


@pytest.fixture(scope="module")
def alice(krb: KerberosRealm, kerberos_server: RunningServer) -> str:
    """alice@KRBTEST.COM, logged on, and the authcore user "alice"."""
    krb.add_user("alice")
    r = httpx.post(kerberos_server.http_url + "/api/admin/v1/users", json={"userId": "alice"},
                   headers={"Authorization": f"Bearer {kerberos_server.admin_key}"})
    assert r.status_code < 300, r.text
    return "alice"


def principal(krb: KerberosRealm, prefix: str = "u") -> str:
    """A fresh principal name (and so UserId) logged on in the realm."""
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    krb.add_user(name)
    return name


@dataclass
class Answer:
    status: int
    body: Any
    error_code: str | None
    headers: dict[str, str]
    www_authenticate: str = ""


class WindowsLogon:
    """authenticateByWindowsToken over REST (the Authorization header) or gRPC
    (the `authorization` field, or `authorization` metadata)."""

    def __init__(self, server: RunningServer, transport: str) -> None:
        self.server = server
        self.transport = transport
        self.http = httpx.AsyncClient(base_url=server.http_url, timeout=30)
        self.channel = grpc.aio.insecure_channel(server.grpc_target)
        self.stub = logon_pb2_grpc.LogonServiceStub(self.channel)

    async def close(self) -> None:
        await self.http.aclose()
        await self.channel.close()

    async def logon(self, app_id: str, authorization: str | None, *,
                    business_application: str = "", metadata: bool = False) -> Answer:
        if authorization:
            SENT.append(authorization)
        if self.transport == "rest":
            return await self.rest(app_id, authorization,
                                   business_application=business_application)
        req = pb.AuthenticateByWindowsTokenRequest(
            application_id=app_id, business_application=business_application)
        md: tuple[tuple[str, str], ...] = ()
        if authorization is not None:
            if metadata:
                md = (("authorization", authorization),)
            else:
                req.authorization = authorization
        try:
            resp = await self.stub.AuthenticateByWindowsToken(req, metadata=md)
        except grpc.aio.AioRpcError as exc:
            return Answer(HTTP_FOR_GRPC.get(exc.code(), 500), {"Message": exc.details()},
                          error_reason(exc), {})
        body = message_to_json(resp)
        return Answer(200, body, None, {}, resp.www_authenticate)

    async def rest(self, app_id: str | None, authorization: str | None, *,
                   business_application: str = "") -> Answer:
        body: dict[str, Any] = {}
        if app_id is not None:
            body["ApplicationId"] = app_id
        if business_application:
            body["BusinessApplication"] = business_application
        headers = {"Authorization": authorization} if authorization is not None else {}
        r = await self.http.post(PATH, json=body, headers=headers)
        data = r.json() if r.content else None
        code = data.get("ErrorCode") if isinstance(data, dict) and r.status_code >= 400 else None
        return Answer(r.status_code, data, code, dict(r.headers),
                      r.headers.get("www-authenticate", ""))


@pytest.fixture(params=["rest", "grpc"])
async def windows(request: pytest.FixtureRequest, kerberos_server: RunningServer
                  ) -> AsyncIterator[WindowsLogon]:
    client = WindowsLogon(kerberos_server, request.param)
    yield client
    await client.close()


@pytest.fixture
async def rest(kerberos_server: RunningServer) -> AsyncIterator[WindowsLogon]:
    client = WindowsLogon(kerberos_server, "rest")
    yield client
    await client.close()


async def verify_jwt(server: RunningServer, token: str, app_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        jwks = (await http.get(server.http_url + "/.well-known/jwks.json")).json()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    [key] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    return jwt.decode(token, jwt.PyJWK(key).key, algorithms=["ES256"],  # type: ignore[no-any-return]
                      audience=app_id)


def assert_refused(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, answer
    assert answer.error_code == code, answer
    if answer.headers:  # REST: Axidian's error body, nothing else
        assert set(answer.body) == {"Message", "ErrorCode"}, answer.body
        assert "Traceback" not in answer.body["Message"]
        if status == 401:
            assert answer.headers["www-authenticate"] == "Negotiate", answer.headers


# -- success -------------------------------------------------------------------

async def test_logon_with_a_spnego_token_gives_a_session_and_mutual_auth(
    windows: WindowsLogon, krb: KerberosRealm, alice: str
) -> None:
    server = windows.server
    app_id = server.demo_application_id
    client = krb.client(alice)
    answer = await windows.logon(app_id, client.negotiate(), business_application="payroll")
    assert answer.status == 200, answer
    # The reply token is a header over REST, never part of the JSON body;
    # gRPC clients read the response field.
    expected = {"ValidPropertiesMask": 5, "Token": answer.body["Token"], "UserId": "alice"}
    if windows.transport == "grpc":
        expected["WwwAuthenticate"] = answer.www_authenticate
    assert answer.body == expected, answer.body
    assert answer.www_authenticate.startswith("Negotiate "), answer
    # The server proved it holds HTTP/localhost's key: the client context completes.
    assert client.finish(answer.www_authenticate) is True
    claims = await verify_jwt(server, answer.body["Token"], app_id)
    assert claims["sub"] == "alice"
    assert claims["aud"] == app_id
    assert claims["amr"] == ["kerberos"]
    assert claims["business_application"] == "payroll"
    assert claims["exp"] - claims["iat"] == 3600  # the demo application's session length


async def test_rest_reply_header_is_the_only_place_of_the_reply_token(
    rest: WindowsLogon, krb: KerberosRealm, alice: str
) -> None:
    answer = await rest.logon(rest.server.demo_application_id, krb.client(alice).negotiate())
    assert answer.status == 200, answer
    assert "WwwAuthenticate" not in answer.body and "wwwAuthenticate" not in answer.body
    assert answer.headers["www-authenticate"].startswith("Negotiate ")
    assert "business_application" not in jwt.decode(answer.body["Token"],
                                                    options={"verify_signature": False})


async def test_grpc_clients_may_send_the_token_as_authorization_metadata(
    kerberos_server: RunningServer, krb: KerberosRealm, alice: str
) -> None:
    client = WindowsLogon(kerberos_server, "grpc")
    try:
        spnego = krb.client(alice)
        answer = await client.logon(kerberos_server.demo_application_id, spnego.negotiate(),
                                    metadata=True)
    finally:
        await client.close()
    assert answer.status == 200 and answer.body["UserId"] == "alice", answer
    assert spnego.finish(answer.www_authenticate)


async def test_a_bare_kerberos_token_is_accepted_too(
    rest: WindowsLogon, krb: KerberosRealm, alice: str
) -> None:
    # Some clients put the raw Kerberos AP-REQ after "Negotiate" (no SPNEGO).
    client = krb.client(alice)
    answer = await rest.logon(rest.server.demo_application_id, client.negotiate(spnego=False))
    assert answer.status == 200 and answer.body["UserId"] == "alice", answer
    assert client.finish(answer.www_authenticate)


async def test_logon_is_audited(
    rest: WindowsLogon, krb: KerberosRealm, alice: str
) -> None:
    answer = await rest.logon(rest.server.demo_application_id, krb.client(alice).negotiate())
    assert answer.status == 200, answer
    with sqlite3.connect(rest.server.data_dir / "authcore.db") as db:
        rows = db.execute("SELECT event, outcome, user_id, authenticator FROM audit_events "
                          "WHERE authenticator = 'kerberos'").fetchall()
    assert ("logon", "success", "alice", "kerberos") in rows


# -- the Negotiate challenge ---------------------------------------------------

@pytest.mark.parametrize("authorization", [None, "", "Negotiate", "Negotiatex abc",
                                           "Bearer abc", "Basic YWxpY2U6cHc="])
async def test_without_a_negotiate_token_the_answer_is_the_challenge(
    windows: WindowsLogon, authorization: str | None
) -> None:
    answer = await windows.logon(windows.server.demo_application_id, authorization)
    assert_refused(answer, 401, "negotiate_required")


@pytest.mark.parametrize(("authorization", "code"), [
    ("Negotiate " + base64.b64encode(b"garbage, not a token").decode(),
     "invalid_kerberos_token"),
    ("Negotiate !!!not base64!!!", "invalid_kerberos_token"),
    ("Negotiate " + "A" * 70_000, "invalid_kerberos_token"),
    # What Windows sends when it falls back to NTLM.
    ("Negotiate " + base64.b64encode(b"NTLMSSP\0\x01\0\0\0" + bytes(24)).decode(),
     "ntlm_not_supported"),
])
async def test_a_garbage_token_is_401(windows: WindowsLogon, authorization: str, code: str
                                      ) -> None:
    answer = await windows.logon(windows.server.demo_application_id, authorization)
    assert_refused(answer, 401, code)


async def test_a_lowercase_scheme_is_accepted(
    rest: WindowsLogon, krb: KerberosRealm, alice: str
) -> None:
    token = krb.client(alice).negotiate().split(" ", 1)[1]
    answer = await rest.logon(rest.server.demo_application_id, "negotiate " + token)
    assert answer.status == 200, answer


async def test_the_application_must_allow_external_logons(
    windows: WindowsLogon, krb: KerberosRealm, alice: str
) -> None:
    """The one policy decision point (flows/policy.grant): a Windows logon
    yields a token only for an application that allows EXTERNAL."""
    admin = Admin(windows.server)
    try:
        app = await admin.req("POST", "/api/admin/v1/applications",
                              {"name": "passwords only", "authenticators": ["PASSWORD"]})
    finally:
        await admin.close()
    answer = await windows.logon(app["applicationId"], krb.client(alice).negotiate())
    assert_refused(answer, 403, "authenticator_not_allowed")


async def test_application_is_checked_before_the_header(windows: WindowsLogon) -> None:
    assert_refused(await windows.logon("", None), 400, "missing_field")
    assert_refused(await windows.logon(str(uuid.uuid4()), None), 404, "application_not_found")


async def test_a_replayed_token_is_refused(
    windows: WindowsLogon, krb: KerberosRealm, alice: str
) -> None:
    """MIT's replay cache (file2, in KRB5RCACHEDIR) remembers each
    authenticator for the clock skew (5 min): the same token twice is
    "Request is a replay" the second time."""
    authorization = krb.client(alice).negotiate()
    first = await windows.logon(windows.server.demo_application_id, authorization)
    assert first.status == 200, first
    again = await windows.logon(windows.server.demo_application_id, authorization)
    assert_refused(again, 401, "invalid_kerberos_token")


async def test_a_token_for_another_service_is_refused(
    windows: WindowsLogon, krb: KerberosRealm, alice: str
) -> None:
    # HTTP/other.localhost exists in the realm, but its key is not in the keytab.
    if "HTTP/other.localhost" not in krb.services:
        krb.add_service(f"HTTP/other.localhost@{krb.name}")
    authorization = krb.client(alice).negotiate("other.localhost")
    answer = await windows.logon(windows.server.demo_application_id, authorization)
    assert_refused(answer, 401, "invalid_kerberos_token")


# -- principal → user ----------------------------------------------------------

async def test_a_principal_without_a_user_is_404(windows: WindowsLogon, krb: KerberosRealm
                                                  ) -> None:
    name = principal(krb, "nobody")
    answer = await windows.logon(windows.server.demo_application_id,
                                 krb.client(name).negotiate())
    assert_refused(answer, 404, "user_not_found")


async def test_the_user_is_found_without_regard_to_case(
    windows: WindowsLogon, krb: KerberosRealm, kerberos_server: RunningServer
) -> None:
    # A Windows ticket carries the name as typed ("JDoe"); the directory has "jdoe".
    name = principal(krb, "CaSe")
    admin = Admin(kerberos_server)
    try:
        await admin.user(name.lower())
    finally:
        await admin.close()
    answer = await windows.logon(windows.server.demo_application_id,
                                 krb.client(name).negotiate())
    assert answer.status == 200 and answer.body["UserId"] == name.lower(), answer
    claims = await verify_jwt(kerberos_server, answer.body["Token"],
                              kerberos_server.demo_application_id)
    assert claims["sub"] == name.lower()


async def test_a_disabled_user_is_403(windows: WindowsLogon, krb: KerberosRealm) -> None:
    name = principal(krb, "off")
    scim = ScimRest(windows.server)
    try:
        created = await scim.create("Users", user_doc(name, active=False))
        assert created.status == 201, str(created)
    finally:
        await scim.close()
    answer = await windows.logon(windows.server.demo_application_id,
                                 krb.client(name).negotiate())
    assert_refused(answer, 403, "user_disabled")


async def test_a_principal_with_an_instance_is_refused(
    windows: WindowsLogon, krb: KerberosRealm, kerberos_server: RunningServer
) -> None:
    # Even when a user of that name (or of the bare first part) exists.
    name = principal(krb, "svc")
    admin = Admin(kerberos_server)
    try:
        await admin.user(name)
    finally:
        await admin.close()
    with_instance = f"{name}/admin"
    krb.add_user(with_instance)
    answer = await windows.logon(windows.server.demo_application_id,
                                 krb.client(with_instance).negotiate())
    assert_refused(answer, 401, "principal_not_accepted")


# -- configuration -------------------------------------------------------------

@pytest.fixture(scope="module")
def other_realm_server(krb: KerberosRealm) -> Iterator[RunningServer]:
    """Accepts only OTHER.TEST (not the KDC's realm), with the acceptor
    principal named explicitly."""
    env = kerberos_env(krb, AUTHCORE_KERBEROS_REALMS="OTHER.TEST",
                       AUTHCORE_KERBEROS_PRINCIPAL=krb.service_principal)
    with run_server(env=env) as server:
        yield server


@pytest.fixture(scope="module")
def listed_realms_server(krb: KerberosRealm) -> Iterator[RunningServer]:
    env = kerberos_env(krb, AUTHCORE_KERBEROS_REALMS=f"OTHER.TEST, {krb.name}",
                       AUTHCORE_KERBEROS_PRINCIPAL=krb.service_principal)
    with run_server(env=env) as server:
        yield server


@pytest.fixture(scope="module")
def broken_servers(krb: KerberosRealm) -> Iterator[dict[str, RunningServer]]:
    """Keytabs that can't serve: a missing file, and a principal whose key
    is not in the keytab."""
    with ExitStack() as stack:
        missing = stack.enter_context(run_server(env=kerberos_env(
            krb, AUTHCORE_KERBEROS_KEYTAB=str(krb.tmpdir / "missing.keytab"))))
        wrong = stack.enter_context(run_server(env=kerberos_env(
            krb, AUTHCORE_KERBEROS_PRINCIPAL=f"HTTP/elsewhere@{krb.name}")))
        yield {"missing": missing, "wrong_principal": wrong}
    # Operators learn why from the log (the client only that it is unusable).
    assert "missing or not readable" in assert_clean_log(missing)
    assert "acceptor credentials" in assert_clean_log(wrong)


async def logon_at(server: RunningServer, transport: str, authorization: str | None
                   ) -> Answer:
    client = WindowsLogon(server, transport)
    try:
        return await client.logon(server.demo_application_id, authorization)
    finally:
        await client.close()


@pytest.mark.parametrize("transport", ["rest", "grpc"])
async def test_a_realm_not_listed_is_refused(
    other_realm_server: RunningServer, krb: KerberosRealm, transport: str
) -> None:
    name = principal(krb, "elsewhere")
    admin = Admin(other_realm_server)
    try:
        await admin.user(name)
    finally:
        await admin.close()
    answer = await logon_at(other_realm_server, transport, krb.client(name).negotiate())
    assert_refused(answer, 401, "realm_not_accepted")


async def test_listed_realms_and_a_named_acceptor_principal(
    listed_realms_server: RunningServer, krb: KerberosRealm
) -> None:
    name = principal(krb, "listed")
    admin = Admin(listed_realms_server)
    try:
        await admin.user(name)
    finally:
        await admin.close()
    client = krb.client(name)
    answer = await logon_at(listed_realms_server, "rest", client.negotiate())
    assert answer.status == 200 and answer.body["UserId"] == name, answer
    assert client.finish(answer.www_authenticate)


@pytest.mark.parametrize("transport", ["rest", "grpc"])
async def test_without_a_keytab_the_answer_is_501(
    server: RunningServer, krb: KerberosRealm, alice: str, transport: str
) -> None:
    # The shared server has no AUTHCORE_KERBEROS_KEYTAB.
    answer = await logon_at(server, transport, krb.client(alice).negotiate())
    assert_refused(answer, 501, "windows_auth_not_configured")
    assert "not configured" in answer.body["Message"]
    # The header is checked first: without one it is still the Negotiate challenge.
    assert_refused(await logon_at(server, transport, None), 401, "negotiate_required")


@pytest.mark.parametrize("which", ["missing", "wrong_principal"])
@pytest.mark.parametrize("transport", ["rest", "grpc"])
async def test_an_unusable_keytab_is_a_clear_501(
    broken_servers: dict[str, RunningServer], krb: KerberosRealm, alice: str,
    which: str, transport: str
) -> None:
    server = broken_servers[which]
    answer = await logon_at(server, transport, krb.client(alice).negotiate())
    assert_refused(answer, 501, "windows_auth_not_configured")
    assert "keytab" in answer.body["Message"]
    assert str(krb.tmpdir) not in answer.body["Message"]  # no internals to clients

