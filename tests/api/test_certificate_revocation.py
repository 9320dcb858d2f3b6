"""CRLs (AUTHCORE_MTLS_CRL, AUTHCORE_SMART_CREDENTIAL_CRL) on a real server:
a revoked client certificate is refused by the mTLS listener and behind the
trusted proxy while a good one signs in; a CRL replaced on disk takes effect
without a restart; a stale CRL fails closed; a revoked smart credential can
neither register nor answer a push. CAs, certificates and CRLs are made
here with `cryptography`; the TLS clients are real."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from authcore.verify.user_certificate import code_challenge_s256
from authcore_testkit.api import Admin, RestApi
from authcore_testkit.certificates import (
    Issued,
    client_context,
    crl_der,
    crl_pem,
    issue,
    make_ca,
    make_crl,
)
from authcore_testkit.push_device import Device, DeviceEndpoint, pushes_in_outbox
from authcore_testkit.schemas import validate
from authcore_testkit.server import (
    RunningServer,
    database_rows,
    free_port,
    fresh_postgres_database,
    postgres_base_url,
    redis_base_url,
    redis_namespace,
    run_server,
)

UC = "USER_CERTIFICATE"
SC = "SMARTCREDENTIALPUSH"
CODE_PATH = "/api/web/v1/certificate/code"
PROXY_HEADER = "X-Client-Cert"
BACKENDS = ["sqlite"] + (["postgres"] if postgres_base_url() else [])
RELOAD_SECONDS = 0.2


def publish(path: Path, data: bytes) -> None:
    """What an operator's CRL job does: replace the file (its mtime moves)."""
    tmp = path.with_suffix(".new")
    tmp.write_bytes(data)
    stamp = time.time_ns()
    os.utime(tmp, ns=(stamp, stamp))
    tmp.replace(path)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Until `check` holds: the reload happens at the first request after
    the interval."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "the new CRL did not take effect"
        await asyncio.sleep(RELOAD_SECONDS)


@dataclass
class Pki:
    directory: Path
    server_ca: Issued
    user_ca: Issued
    revoked: Issued
    crl: Path


@dataclass
class Deployment:
    server: RunningServer
    pki: Pki
    mtls_url: str


@pytest.fixture(scope="module")
def pki() -> Pki:
    directory = Path(tempfile.mkdtemp(prefix="authcore-crl-"))
    server_ca, user_ca = make_ca("crl server CA"), make_ca("crl user CA")
    issue(server_ca, common_name="localhost", server=True).write(directory, "server")
    # Another CA in the bundle, with its own CRL in the same PEM file.
    other = make_ca("crl other CA")
    (directory / "client-ca.pem").write_bytes(other.pem + user_ca.pem)
    revoked = issue(user_ca, common_name="Revoked", email="revoked@corp.example")
    crl = directory / "crl.pem"
    crl.write_bytes(crl_pem(make_crl(other, [revoked.cert]), make_crl(user_ca, [revoked.cert])))
    return Pki(directory, server_ca, user_ca, revoked, crl)


@pytest.fixture(scope="module", params=BACKENDS)
def deployment(request: pytest.FixtureRequest, pki: Pki) -> Iterator[Deployment]:
    port = free_port()
    env = {
        "AUTHCORE_MTLS_ADDR": f"127.0.0.1:{port}",
        "AUTHCORE_MTLS_CERT": str(pki.directory / "server.pem"),
        "AUTHCORE_MTLS_KEY": str(pki.directory / "server.key"),
        "AUTHCORE_MTLS_CLIENT_CA": str(pki.directory / "client-ca.pem"),
        "AUTHCORE_MTLS_CRL": str(pki.crl),
        "AUTHCORE_CRL_RELOAD_SECONDS": str(RELOAD_SECONDS),
        "AUTHCORE_MTLS_PROXY_HEADER": PROXY_HEADER,
        "AUTHCORE_MTLS_TRUSTED_PROXIES": "127.0.0.1/32",
    }
    with ExitStack() as stack:
        url = None
        if request.param == "postgres":
            url = stack.enter_context(fresh_postgres_database())
            if redis_base_url():
                env.update(stack.enter_context(redis_namespace()))
        server = stack.enter_context(run_server(backend=request.param, database_url=url,
                                                env=env, split_stderr=True))
        yield Deployment(server, pki, f"https://localhost:{port}")


@pytest.fixture
async def api(deployment: Deployment) -> AsyncIterator[RestApi]:
    client = RestApi(deployment.server)
    yield client
    await client.close()


@pytest.fixture
async def admin(deployment: Deployment) -> AsyncIterator[Admin]:
    client = Admin(deployment.server)
    yield client
    await client.close()


@pytest.fixture
async def app_id(admin: Admin) -> str:
    app = await admin.req("POST", "/api/admin/v1/applications", {
        "name": "crl-certs", "authenticators": ["PASSWORD", UC],
        "factorSettings": {"userCertificateMapping": "EMAIL"},
        "access": {"hideUserExistence": False},
    })
    return str(app["applicationId"])


async def challenge(api: RestApi, app_id: str, user_id: str) -> tuple[str, str]:
    r = await api.challenge(UC, {"applicationId": app_id, "userId": user_id})
    assert r.status == 200, r
    return r.body["token"], r.body["userCertificateChallenge"]["challenge"]


async def over_tls(deployment: Deployment, cert: Issued, value: str, v: str) -> httpx.Response:
    ctx = client_context(deployment.pki.server_ca, cert, deployment.pki.directory,
                         f"c-{uuid.uuid4().hex[:8]}")
    async with httpx.AsyncClient(base_url=deployment.mtls_url, verify=ctx, timeout=30) as http:
        return await http.post(CODE_PATH, json={"challenge": value,
                                                "codeChallenge": code_challenge_s256(v)})


async def proxied(deployment: Deployment, cert: Issued, value: str, v: str) -> httpx.Response:
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.1")
    async with httpx.AsyncClient(base_url=deployment.server.http_url, transport=transport,
                                 timeout=30) as http:
        return await http.post(CODE_PATH, headers={PROXY_HEADER: quote(cert.pem.decode())},
                               json={"challenge": value, "codeChallenge": code_challenge_s256(v)})


def refused(r: httpx.Response, reason: str) -> bool:
    if r.status_code != 403:
        return False
    validate(r.json(), "ErrorInfo")
    return bool(r.json()["errorCode"] == reason)


async def _logged(server: RunningServer, text: str) -> bool:
    return text in "".join(server.stderr)


def secrets_verifier() -> str:
    return secrets.token_urlsafe(48)


async def user(admin: Admin, email: str) -> str:
    user_id = f"crl-{uuid.uuid4().hex[:12]}"
    await admin.user(user_id, email=email)
    return user_id


async def test_revoked_refused_good_signs_in(api: RestApi, admin: Admin, app_id: str,
                                             deployment: Deployment) -> None:
    pki = deployment.pki
    revoked_user = await user(admin, "revoked@corp.example")
    _, value = await challenge(api, app_id, revoked_user)
    v = secrets_verifier()
    # The handshake passes (authcore, not OpenSSL, checks the CRL)...
    r = await over_tls(deployment, pki.revoked, value, v)
    assert refused(r, "certificate_revoked"), r.text
    assert "revoked" in r.json()["errorMessage"]
    # ...and the proxy's header is checked alike.
    r = await proxied(deployment, pki.revoked, value, v)
    assert refused(r, "certificate_revoked"), r.text
    rows = await database_rows(
        deployment.server, deployment.server.database_url,
        "SELECT outcome, reason FROM audit_events WHERE event = 'certificate_code' "
        "AND user_id = {}", revoked_user)
    assert rows == [{"outcome": "refused", "reason": "certificate_revoked"}] * 2, rows

    email = f"{uuid.uuid4().hex[:8]}@corp.example"
    good_user = await user(admin, email)
    for send in (over_tls, proxied):
        token, value = await challenge(api, app_id, good_user)
        got = await send(deployment, issue(pki.user_ca, common_name="Good", email=email),
                         value, v)
        assert got.status_code == 200, got.text
        done = await api.complete(UC, {"userCertificateResponse": {
            "code": got.json()["code"], "verifier": v}}, token)
        assert done.status == 200 and done.body["authenticationCompleted"] is True, done
        validate(done.body, "AuthenticatedResponse")


async def test_new_crl_takes_effect_without_restart(api: RestApi, admin: Admin, app_id: str,
                                                    deployment: Deployment) -> None:
    pki = deployment.pki
    email = f"{uuid.uuid4().hex[:8]}@corp.example"
    user_id = await user(admin, email)
    cert = issue(pki.user_ca, common_name="Soon revoked", email=email)
    v = secrets_verifier()
    _, value = await challenge(api, app_id, user_id)
    assert (await over_tls(deployment, cert, value, v)).status_code == 200
    # Published as DER this time: one CRL, the user CA's.
    publish(pki.crl, crl_der(make_crl(pki.user_ca, [pki.revoked.cert, cert.cert])))

    async def now_refused() -> bool:
        _, value = await challenge(api, app_id, user_id)
        return refused(await over_tls(deployment, cert, value, v), "certificate_revoked")

    await eventually(now_refused)
    _, value = await challenge(api, app_id, user_id)
    assert refused(await proxied(deployment, cert, value, v), "certificate_revoked")


async def test_stale_crl_fails_closed(api: RestApi, admin: Admin, app_id: str,
                                      deployment: Deployment) -> None:
    pki = deployment.pki
    email = f"{uuid.uuid4().hex[:8]}@corp.example"
    user_id = await user(admin, email)
    cert = issue(pki.user_ca, common_name="Good", email=email)
    v = secrets_verifier()
    now = dt.datetime.now(dt.UTC)
    publish(pki.crl, crl_pem(make_crl(pki.user_ca, [pki.revoked.cert],
                                      last_update=now - dt.timedelta(days=2),
                                      next_update=now - dt.timedelta(minutes=1))))

    async def stale() -> bool:
        _, value = await challenge(api, app_id, user_id)
        r = await over_tls(deployment, cert, value, v)
        # The client is not told the list's name or file (the log is).
        return refused(r, "crl_stale") and "crl" not in r.json()["errorMessage"].lower()

    await eventually(stale)
    # The log names the list and its file.
    await eventually(lambda: _logged(deployment.server, f"AUTHCORE_MTLS_CRL {pki.crl} #1 "
                                     "(CN=crl user CA) is out of date"))
    # A fresh list brings it back.
    publish(pki.crl, crl_pem(make_crl(pki.user_ca, [pki.revoked.cert])))

    async def back() -> bool:
        _, value = await challenge(api, app_id, user_id)
        return (await over_tls(deployment, cert, value, v)).status_code == 200

    await eventually(back)


# -- smart credentials -------------------------------------------------------


@dataclass
class SmartDeployment:
    server: RunningServer
    ca: Issued
    crl: Path
    revoked: Issued


@pytest.fixture(scope="module")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmartDeployment]:
    directory = tmp_path_factory.mktemp("smart-crl")
    ca = make_ca("Smart Credential CRL CA")
    revoked = issue(ca, common_name="revoked credential")
    (directory / "ca.pem").write_bytes(ca.pem)
    crl = directory / "crl.pem"
    crl.write_bytes(crl_pem(make_crl(ca, [revoked.cert])))
    env = {"AUTHCORE_SMART_CREDENTIAL_CA": str(directory / "ca.pem"),
           "AUTHCORE_SMART_CREDENTIAL_CRL": str(crl),
           "AUTHCORE_CRL_RELOAD_SECONDS": str(RELOAD_SECONDS)}
    with run_server(env=env) as server:
        yield SmartDeployment(server, ca, crl, revoked)


async def test_revoked_smart_credential_refused(smart: SmartDeployment) -> None:
    admin, api = Admin(smart.server), RestApi(smart.server)
    endpoint = DeviceEndpoint(smart.server, "rest")
    try:
        user_id = f"sc-{uuid.uuid4().hex[:12]}"
        await admin.user(user_id)
        path = f"/api/admin/v1/users/{user_id}/push-devices"
        r = await admin.http.post(path, json={"type": SC,
                                              "certificate": smart.revoked.pem.decode()})
        assert r.status_code == 400 and r.json()["errorCode"] == "certificate_revoked", r.text
        assert r.json()["parameters"][0]["field"] == "certificate"
        # Activation: refused, and the code is still good for a good credential.
        made = await admin.req("POST", f"/api/admin/v1/users/{user_id}/push-activations",
                               {"type": SC})
        r2 = await endpoint.activate({"activationCode": made["activationCode"],
                                      "certificate": smart.revoked.pem.decode()})
        assert r2.status == 400 and r2.error_code == "certificate_revoked", r2
        credential = issue(smart.ca, common_name="good credential")
        device = Device(key=credential.key)
        r2 = await endpoint.activate({"activationCode": made["activationCode"],
                                      "certificate": credential.pem.decode()})
        assert r2.status == 200, r2
        device.serial_number = r2.body["device"]["serialNumber"]

        app_id = smart.server.demo_application_id
        ch = await api.challenge(SC, {"applicationId": app_id, "userId": user_id})
        assert ch.status == 200, ch
        push = (await pushes_in_outbox(admin, user_id))[-1]
        assert (await endpoint.respond(push["id"], device.answer(push, "CONFIRM"))).ok
        done = await api.complete(SC, {}, ch.body["token"])
        assert done.body["authenticationCompleted"] is True, done

        # Revoked after a push went out: its answer no longer verifies.
        ch = await api.challenge(SC, {"applicationId": app_id, "userId": user_id})
        assert ch.status == 200, ch
        push = (await pushes_in_outbox(admin, user_id))[-1]
        publish(smart.crl, crl_pem(make_crl(smart.ca, [smart.revoked.cert, credential.cert])))
        # The first request after the interval stats the file and reloads it.
        await asyncio.sleep(2 * RELOAD_SECONDS)
        r = await endpoint.respond(push["id"], device.answer(push, "CONFIRM"))
        assert r.status == 401 and r.error_code == "certificate_revoked", r
        poll = await api.complete(SC, {}, ch.body["token"])
        assert poll.status == 200 and poll.body["status"] == "NO_RESPONSE", poll

        # From then on it is neither offered nor sent a push.
        sent = len(await pushes_in_outbox(admin, user_id))
        q = await api.query({"applicationId": app_id, "userId": user_id})
        assert q.status == 200 and SC not in q.body["authenticationTypes"], q
        refused = await api.challenge(SC, {"applicationId": app_id, "userId": user_id})
        assert refused.status == 400, refused
        assert refused.error_code == "authenticator_not_enrolled", refused
        assert len(await pushes_in_outbox(admin, user_id)) == sent
    finally:
        await endpoint.close()
        await admin.close()
        await api.close()
