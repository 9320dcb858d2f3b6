"""USER_CERTIFICATE: challenge, a client certificate over mutual TLS (our own
listener, or a trusted proxy's header) for a one-time code, complete with the
code and its PKCE verifier. A real server with the mTLS listener, real TLS
clients and certificates made here."""

from __future__ import annotations

import datetime as dt
import secrets
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from authcore.verify.user_certificate import code_challenge_s256
from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.certificates import Issued, client_context, issue, make_ca
from authcore_testkit.schemas import validate
from authcore_testkit.server import (
    RunningServer,
    free_port,
    fresh_postgres_database,
    postgres_base_url,
    redis_base_url,
    redis_namespace,
    run_server,
)

Api = RestApi | GrpcApi
UC = "USER_CERTIFICATE"
CODE_PATH = "/api/web/v1/certificate/code"
PROXY_HEADER = "X-Client-Cert"
BACKENDS = ["sqlite"] + (["postgres"] if postgres_base_url() else [])


@dataclass
class Pki:
    directory: Path
    server_ca: Issued
    user_ca: Issued
    other_ca: Issued


@dataclass
class MtlsServer:
    server: RunningServer
    pki: Pki
    mtls_url: str


@pytest.fixture(scope="module")
def pki() -> Pki:
    directory = Path(tempfile.mkdtemp(prefix="authcore-pki-"))
    server_ca, user_ca = make_ca("test server CA"), make_ca("test user CA")
    issue(server_ca, common_name="localhost", server=True).write(directory, "server")
    (directory / "client-ca.pem").write_bytes(user_ca.pem)
    return Pki(directory, server_ca, user_ca, make_ca("some other CA"))


@pytest.fixture(scope="module", params=BACKENDS)
def mtls(request: pytest.FixtureRequest, pki: Pki) -> Iterator[MtlsServer]:
    port = free_port()
    env = {
        "AUTHCORE_MTLS_ADDR": f"127.0.0.1:{port}",
        "AUTHCORE_MTLS_CERT": str(pki.directory / "server.pem"),
        "AUTHCORE_MTLS_KEY": str(pki.directory / "server.key"),
        "AUTHCORE_MTLS_CLIENT_CA": str(pki.directory / "client-ca.pem"),
        "AUTHCORE_MTLS_PROXY_HEADER": PROXY_HEADER,
        # 127.0.0.1 is the proxy; tests connect from 127.0.0.2 as anyone else.
        "AUTHCORE_MTLS_TRUSTED_PROXIES": "127.0.0.1/32",
    }
    with ExitStack() as stack:
        url = None
        if request.param == "postgres":
            url = stack.enter_context(fresh_postgres_database())
            if redis_base_url():
                env.update(stack.enter_context(redis_namespace()))
        server = stack.enter_context(run_server(backend=request.param, database_url=url,
                                                env=env))
        yield MtlsServer(server, pki, f"https://localhost:{port}")


@pytest.fixture
def server(mtls: MtlsServer) -> RunningServer:
    # The shared `api` and `admin` fixtures talk to this module's server.
    return mtls.server


@pytest.fixture
def user_id() -> str:
    return f"cert-{uuid.uuid4().hex[:12]}@example.com"


async def make_app(admin: Admin, mapping: str) -> str:
    app = await admin.req("POST", "/api/admin/v1/applications", {
        "name": f"certs-{mapping}", "authenticators": ["PASSWORD", UC],
        "factorSettings": {"userCertificateMapping": mapping},
        "access": {"hideUserExistence": False},
    })
    return str(app["applicationId"])


@pytest.fixture
async def email_app(admin: Admin) -> str:
    return await make_app(admin, "EMAIL")


def user_cert(pki: Pki, email: str, **kw: Any) -> Issued:
    return issue(pki.user_ca, common_name="Test User", email=email, **kw)


class CertClient:
    """A TLS client of the mTLS listener presenting one certificate."""

    def __init__(self, mtls: MtlsServer, cert: Issued | None, name: str) -> None:
        ctx = client_context(mtls.pki.server_ca, cert, mtls.pki.directory,
                             f"{name}-{uuid.uuid4().hex[:6]}")
        self.http = httpx.AsyncClient(base_url=mtls.mtls_url, verify=ctx, timeout=30)

    async def code(self, challenge: str, verifier: str) -> httpx.Response:
        return await self.http.post(CODE_PATH, json={
            "challenge": challenge, "codeChallenge": code_challenge_s256(verifier),
            "codeChallengeMethod": "S256"})

    async def aclose(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def clients(mtls: MtlsServer) -> AsyncIterator[list[CertClient]]:
    made: list[CertClient] = []
    yield made
    for c in made:
        await c.aclose()


def verifier() -> str:
    return secrets.token_urlsafe(48)


async def challenge(api: Api, app_id: str, user_id: str) -> tuple[str, str]:
    r = await api.challenge(UC, {"applicationId": app_id, "userId": user_id})
    assert r.status == 200, r
    validate(r.body, "AuthenticatedResponse")
    return r.body["token"], r.body["userCertificateChallenge"]["challenge"]


async def test_full_login(api: Api, admin: Admin, mtls: MtlsServer, email_app: str,
                          user_id: str, clients: list[CertClient]) -> None:
    email = f"{uuid.uuid4().hex[:8]}@corp.example"
    await admin.user(user_id, email=email, firstName="Cert")
    q = await api.query({"applicationId": email_app, "userId": user_id})
    assert q.status == 200 and UC in q.body["authenticationTypes"], q
    validate(q.body, "UserAuthenticateQueryResponse")

    token, value = await challenge(api, email_app, user_id)
    client = CertClient(mtls, user_cert(mtls.pki, email.upper()), "good")
    clients.append(client)
    v = verifier()
    got = await client.code(value, v)
    assert got.status_code == 200, got.text
    assert got.headers["cache-control"] == "no-store"
    assert got.headers["x-request-id"]
    code = got.json()["code"]

    done = await api.complete(UC, {"userCertificateResponse": {"code": code, "verifier": v}},
                              token)
    assert done.status == 200, done
    validate(done.body, "AuthenticatedResponse")
    assert done.body["authenticationCompleted"] is True and done.body["userId"] == user_id
    claims = jwt.decode(done.body["token"], options={"verify_signature": False})
    assert claims["amr"] == [UC] and claims["aud"] == email_app

    # Replayed: the challenge is used up, and a code names its challenge.
    again = await api.complete(UC, {"userCertificateResponse": {"code": code, "verifier": v}},
                               token)
    assert again.status == 401
    token2, _ = await challenge(api, email_app, user_id)
    other = await api.complete(UC, {"userCertificateResponse": {"code": code, "verifier": v}},
                               token2)
    assert other.status == 401 and other.error_code == "invalid_code", other


async def test_no_default_challenge(api: Api, admin: Admin, email_app: str,
                                    user_id: str) -> None:
    # The query response has no userCertificateChallenge to carry one.
    await admin.user(user_id, email="only-cert@corp.example")
    q = await api.query({"applicationId": email_app, "userId": user_id,
                         "returnDefaultChallenge": True})
    assert q.status == 200 and q.body["authenticationTypes"] == [UC], q
    assert "token" not in q.body


async def test_upn_mapping(api: Api, admin: Admin, mtls: MtlsServer, user_id: str,
                           clients: list[CertClient]) -> None:
    app_id = await make_app(admin, "UPN")
    await admin.user(user_id)  # no email: the UPN is the userId
    token, value = await challenge(api, app_id, user_id)
    # An email-only certificate has no UPN.
    plain = CertClient(mtls, user_cert(mtls.pki, user_id), "plain")
    upn = CertClient(mtls, issue(mtls.pki.user_ca, common_name="U", upn=user_id.upper()), "upn")
    clients.extend([plain, upn])
    v = verifier()
    refused = await plain.code(value, v)
    assert refused.status_code == 403 and refused.json()["errorCode"] == "certificate_unmapped"
    got = await upn.code(value, v)
    assert got.status_code == 200, got.text
    done = await api.complete(UC, {"userCertificateResponse": {"code": got.json()["code"],
                                                               "verifier": v}}, token)
    assert done.status == 200 and done.body["authenticationCompleted"] is True, done


async def test_other_ca_refused_at_tls(api: Api, admin: Admin, mtls: MtlsServer,
                                       email_app: str, user_id: str,
                                       clients: list[CertClient]) -> None:
    email = f"{uuid.uuid4().hex[:8]}@corp.example"
    await admin.user(user_id, email=email)
    _, value = await challenge(api, email_app, user_id)
    foreign = CertClient(mtls, issue(mtls.pki.other_ca, common_name="x", email=email), "ca")
    anonymous = CertClient(mtls, None, "none")
    clients.extend([foreign, anonymous])
    for client in (foreign, anonymous):
        with pytest.raises(httpx.TransportError):
            await client.code(value, verifier())


async def test_expired_refused(api: Api, admin: Admin, mtls: MtlsServer, email_app: str,
                               user_id: str, clients: list[CertClient]) -> None:
    email = f"{uuid.uuid4().hex[:8]}@corp.example"
    await admin.user(user_id, email=email)
    _, value = await challenge(api, email_app, user_id)
    now = dt.datetime.now(dt.UTC)
    expired = user_cert(mtls.pki, email, not_before=now - dt.timedelta(days=3),
                        not_after=now - dt.timedelta(days=1))
    client = CertClient(mtls, expired, "expired")
    clients.append(client)
    # OpenSSL refuses it in the handshake...
    with pytest.raises(httpx.TransportError):
        await client.code(value, verifier())
    # ...and authcore itself behind a proxy that passed it on.
    r = await proxied(mtls, expired, value, verifier())
    assert r.status_code == 403 and r.json()["errorCode"] == "certificate_expired", r.text


async def test_wrong_user_and_usage_refused(api: Api, admin: Admin, mtls: MtlsServer,
                                            email_app: str, user_id: str,
                                            clients: list[CertClient]) -> None:
    email = f"{uuid.uuid4().hex[:8]}@corp.example"
    await admin.user(user_id, email=email)
    token, value = await challenge(api, email_app, user_id)
    someone = CertClient(mtls, user_cert(mtls.pki, "someone.else@corp.example"), "else")
    clients.append(someone)
    r = await someone.code(value, verifier())
    assert r.status_code == 403, r.text
    validate(r.json(), "ErrorInfo")
    assert r.json()["errorCode"] == "certificate_user_mismatch"
    server_only = user_cert(mtls.pki, email, eku=(ExtendedKeyUsageOID.SERVER_AUTH,))
    r = await proxied(mtls, server_only, value, verifier())
    assert r.status_code == 403 and r.json()["errorCode"] == "certificate_not_for_client_auth"
    # Nothing was counted: the user signs in with the right certificate.
    mine = CertClient(mtls, user_cert(mtls.pki, email), "mine")
    clients.append(mine)
    v = verifier()
    got = await mine.code(value, v)
    done = await api.complete(UC, {"userCertificateResponse": {"code": got.json()["code"],
                                                               "verifier": v}}, token)
    assert done.status == 200, done


async def remaining(api: Api, app_id: str, user_id: str) -> int:
    q = await api.query({"applicationId": app_id, "userId": user_id})
    status = {s["type"]: s for s in q.body["authenticatorLockoutStatus"]}
    return int(status[UC]["remainingAuthenticationAttempts"])


async def test_wrong_answers_count_towards_lockout(
        api: Api, admin: Admin, mtls: MtlsServer, email_app: str, user_id: str,
        clients: list[CertClient]) -> None:
    email = f"{uuid.uuid4().hex[:8]}@corp.example"
    await admin.user(user_id, email=email)
    client = CertClient(mtls, user_cert(mtls.pki, email), "lock")
    clients.append(client)
    start = await remaining(api, email_app, user_id)

    token, value = await challenge(api, email_app, user_id)
    got = await client.code(value, verifier())
    bad = await api.complete(UC, {"userCertificateResponse": {"code": got.json()["code"],
                                                              "verifier": verifier()}}, token)
    assert bad.status == 401 and bad.error_code == "invalid_verifier", bad
    token, _ = await challenge(api, email_app, user_id)
    forged = await api.complete(UC, {"userCertificateResponse": {"code": "A" * 80,
                                                                 "verifier": verifier()}},
                                token)
    assert forged.status == 401 and forged.error_code == "invalid_code", forged
    assert await remaining(api, email_app, user_id) == start - 2

    for _ in range(start - 2):
        token, _ = await challenge(api, email_app, user_id)
        await api.complete(UC, {"userCertificateResponse": {"code": "A" * 80,
                                                            "verifier": verifier()}}, token)
    # Locked: a right answer no longer signs in.
    challenged = await api.challenge(UC, {"applicationId": email_app, "userId": user_id})
    assert challenged.status == 403 and challenged.error_code == "authenticator_locked"


async def test_bad_input(api: Api, admin: Admin, mtls: MtlsServer, email_app: str,
                         user_id: str, clients: list[CertClient]) -> None:
    email = f"{uuid.uuid4().hex[:8]}@corp.example"
    await admin.user(user_id, email=email)
    token, value = await challenge(api, email_app, user_id)
    # Complete without the response: 400, and the challenge stays usable.
    for body in ({}, {"userCertificateResponse": {"code": "x"}},
                 {"userCertificateResponse": {"verifier": verifier()}}):
        r = await api.complete(UC, body, token)
        assert r.status == 400 and r.error_code == "missing_field", r
    client = CertClient(mtls, user_cert(mtls.pki, email), "bad")
    clients.append(client)
    http = client.http
    for payload, reason in (
        ({"codeChallenge": code_challenge_s256(verifier())}, "missing_field"),
        ({"challenge": value}, "missing_field"),
        ({"challenge": value, "codeChallenge": "short"}, "invalid_code_challenge"),
        ({"challenge": value, "codeChallenge": 5}, "invalid_value"),
        ({"challenge": value, "codeChallenge": code_challenge_s256(verifier()),
          "codeChallengeMethod": "plain"}, "invalid_value"),
        ([1, 2], "invalid_body"),
    ):
        r = await http.post(CODE_PATH, json=payload)
        assert r.status_code == 400 and r.json()["errorCode"] == reason, (payload, r.text)
        validate(r.json(), "ErrorInfo")
    r = await http.post(CODE_PATH, content=b"{not json", headers={"content-type": "x"})
    assert r.status_code == 400
    r = await http.post(CODE_PATH, content=b"x" * 20000)
    assert r.status_code == 400
    r = await http.post(CODE_PATH, json={"challenge": "A" * 60,
                                         "codeChallenge": code_challenge_s256(verifier())})
    assert r.status_code == 401 and r.json()["errorCode"] == "invalid_challenge"
    # The mTLS listener serves nothing else.
    assert (await http.get("/api/web/v2/authentication/users")).status_code in (404, 405)
    v = verifier()
    got = await client.code(value, v)
    done = await api.complete(UC, {"userCertificateResponse": {"code": got.json()["code"],
                                                               "verifier": v}}, token)
    assert done.status == 200, done


async def proxied(mtls: MtlsServer, cert: Issued, value: str, v: str, *,
                  local_address: str = "127.0.0.1") -> httpx.Response:
    transport = httpx.AsyncHTTPTransport(local_address=local_address)
    async with httpx.AsyncClient(base_url=mtls.server.http_url, transport=transport,
                                 timeout=30) as http:
        return await http.post(CODE_PATH, headers={PROXY_HEADER: quote(cert.pem.decode())},
                               json={"challenge": value, "codeChallenge": code_challenge_s256(v)})


async def test_proxy_header(api: Api, admin: Admin, mtls: MtlsServer, email_app: str,
                            user_id: str) -> None:
    email = f"{uuid.uuid4().hex[:8]}@corp.example"
    await admin.user(user_id, email=email)
    token, value = await challenge(api, email_app, user_id)
    cert = user_cert(mtls.pki, email)
    v = verifier()
    # From an address that is not the proxy's, the header is refused.
    untrusted = await proxied(mtls, cert, value, v, local_address="127.0.0.2")
    assert untrusted.status_code == 403, untrusted.text
    assert untrusted.json()["errorCode"] == "untrusted_proxy"
    async with httpx.AsyncClient(base_url=mtls.server.http_url, timeout=30) as http:
        bare = await http.post(CODE_PATH, json={"challenge": value,
                                                "codeChallenge": code_challenge_s256(v)})
    assert bare.status_code == 401 and bare.json()["errorCode"] == "certificate_required"
    trusted = await proxied(mtls, cert, value, v)
    assert trusted.status_code == 200, trusted.text
    done = await api.complete(UC, {"userCertificateResponse": {"code": trusted.json()["code"],
                                                               "verifier": v}}, token)
    assert done.status == 200 and done.body["authenticationCompleted"] is True, done


async def test_not_available_without_mapping(api: Api, admin: Admin, user_id: str) -> None:
    app_id = await make_app(admin, "")
    await admin.user(user_id, email="nomap@corp.example")
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert UC not in q.body["authenticationTypes"]
    r = await api.challenge(UC, {"applicationId": app_id, "userId": user_id})
    assert r.status == 400 and r.error_code == "authenticator_not_enrolled", r



async def test_mapping_setting(admin: Admin) -> None:
    app_id = await make_app(admin, "UPN")
    app = (await admin.req("GET", f"/api/admin/v1/applications/{app_id}"))["application"]
    assert app["factorSettings"]["userCertificateMapping"] == "UPN"
    r = await admin.http.patch(f"/api/admin/v1/applications/{app_id}",
                               json={"factorSettings": {"userCertificateMapping": "CN"}})
    assert r.status_code == 400, r.text
    assert "factorSettings.userCertificateMapping" in r.text
    await admin.req("PATCH", f"/api/admin/v1/applications/{app_id}",
                    {"factorSettings": {"userCertificateMapping": "EMAIL"}})
    app = (await admin.req("GET", f"/api/admin/v1/applications/{app_id}"))["application"]
    assert app["factorSettings"]["userCertificateMapping"] == "EMAIL"


async def test_listener_with_workers(pki: Pki, mtls: MtlsServer) -> None:
    """Two `serve --workers` processes share the mTLS port like the HTTP port."""
    if mtls.server.backend != "sqlite":
        pytest.skip("one multi-worker server is enough (SQLite)")
    port = free_port()
    env = {
        "AUTHCORE_MTLS_ADDR": f"127.0.0.1:{port}",
        "AUTHCORE_MTLS_CERT": str(pki.directory / "server.pem"),
        "AUTHCORE_MTLS_KEY": str(pki.directory / "server.key"),
        "AUTHCORE_MTLS_CLIENT_CA": str(pki.directory / "client-ca.pem"),
    }
    with run_server(env=env, workers=2) as server:
        admin, api = Admin(server), RestApi(server)
        multi = MtlsServer(server, pki, f"https://localhost:{port}")
        try:
            app_id = await make_app(admin, "EMAIL")
            for n in range(4):
                user_id, email = f"w{n}-{uuid.uuid4().hex[:8]}", f"w{n}@corp.example"
                await admin.user(user_id, email=email)
                token, value = await challenge(api, app_id, user_id)
                client = CertClient(multi, user_cert(pki, email), f"w{n}")
                v = verifier()
                got = await client.code(value, v)
                await client.aclose()
                assert got.status_code == 200, got.text
                done = await api.complete(UC, {"userCertificateResponse": {
                    "code": got.json()["code"], "verifier": v}}, token)
                assert done.status == 200, done
        finally:
            await admin.close()
            await api.close()


async def test_codes_and_challenges_expire(pki: Pki, mtls: MtlsServer, tmp_path: Path) -> None:
    """A code lives 60 s, a challenge its application's challengeSeconds
    (300), at the endpoint too (the sandbox's clock file moves time)."""
    if mtls.server.backend != "sqlite":
        pytest.skip("the sandbox clock is SQLite-only")
    port, offset = free_port(), tmp_path / "offset"
    offset.write_text("0")
    env = {
        "AUTHCORE_MTLS_ADDR": f"127.0.0.1:{port}",
        "AUTHCORE_MTLS_CERT": str(pki.directory / "server.pem"),
        "AUTHCORE_MTLS_KEY": str(pki.directory / "server.key"),
        "AUTHCORE_MTLS_CLIENT_CA": str(pki.directory / "client-ca.pem"),
        "AUTHCORE_SANDBOX": "1", "AUTHCORE_CLOCK_OFFSET_FILE": str(offset),
    }
    with run_server(env=env) as server:
        admin, api = Admin(server), RestApi(server)
        client = CertClient(MtlsServer(server, pki, f"https://localhost:{port}"),
                            user_cert(pki, "late@corp.example"), "late")
        try:
            app_id = await make_app(admin, "EMAIL")
            user_id = f"late-{uuid.uuid4().hex[:8]}"
            await admin.user(user_id, email="late@corp.example")
            token, value = await challenge(api, app_id, user_id)
            v = verifier()
            got = await client.code(value, v)
            assert got.status_code == 200, got.text
            offset.write_text("61")
            late = await api.complete(UC, {"userCertificateResponse": {
                "code": got.json()["code"], "verifier": v}}, token)
            assert late.status == 401 and late.error_code == "expired_code", late

            offset.write_text("0")
            _, value = await challenge(api, app_id, user_id)
            offset.write_text("301")
            r = await client.code(value, v)
            assert r.status_code == 401 and r.json()["errorCode"] == "invalid_challenge"
        finally:
            await client.aclose()
            await admin.close()
            await api.close()
