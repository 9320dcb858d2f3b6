"""SMARTCREDENTIALPUSH end to end, over REST and gRPC, on a server whose
AUTHCORE_SMART_CREDENTIAL_CA is a CA made here and whose pushes go through
the signed push webhook to a real receiver (authcore_testkit/webhook_receiver.py):
the simulated device holds a P-256 key certified by that CA, reads its push
from what the receiver was sent and answers at the device endpoint."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from authcore_testkit.api import Admin, GrpcApi, RestApi
from authcore_testkit.push_device import Device, DeviceEndpoint
from authcore_testkit.schemas import validate
from authcore_testkit.server import (
    RunningServer,
    fresh_postgres_database,
    postgres_base_url,
    redis_base_url,
    redis_namespace,
    run_server,
)
from authcore_testkit.webhook_receiver import WebhookReceiver

BACKENDS = ["sqlite"] + (["postgres"] if postgres_base_url() and redis_base_url() else [])
SECRET = "whsec-" + "s" * 32
Api = RestApi | GrpcApi


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass
class CA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def make(cls, cn: str) -> CA:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .sign(key, hashes.SHA256()))
        return cls(key, cert)

    def issue(self, public_key: Any, *, days: int = 365, start_days: int = -1) -> str:
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder().subject_name(_name("smart credential"))
                .issuer_name(self.cert.subject).public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now + dt.timedelta(days=start_days))
                .not_valid_after(now + dt.timedelta(days=days))
                .sign(self.key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class Deployment:
    server: RunningServer
    push: WebhookReceiver
    ca: CA


@pytest.fixture(scope="module", params=BACKENDS)
def deployment(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    ca = CA.make("Smart Credential CA")
    with ExitStack() as stack:
        bundle = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "ca.pem"
        # An unrelated CA first: the bundle may hold several.
        bundle.write_bytes(CA.make("Other CA").cert.public_bytes(serialization.Encoding.PEM)
                           + ca.cert.public_bytes(serialization.Encoding.PEM))
        push = stack.enter_context(WebhookReceiver(secret=SECRET, path="/push"))
        env = {"AUTHCORE_SMART_CREDENTIAL_CA": str(bundle),
               "AUTHCORE_PUSH_WEBHOOK_URL": push.url, "AUTHCORE_WEBHOOK_SECRET": SECRET,
               "AUTHCORE_DELIVERY_POLL_SECONDS": "0.2"}
        url = None
        if request.param == "postgres":
            url = stack.enter_context(fresh_postgres_database())
            env.update(stack.enter_context(redis_namespace()))
        server = stack.enter_context(run_server(backend=request.param, database_url=url,
                                                env=env))
        yield Deployment(server, push, ca)


@pytest.fixture(params=["rest", "grpc"])
async def api(request: pytest.FixtureRequest, deployment: Deployment
              ) -> AsyncIterator[Api]:
    client = RestApi(deployment.server) if request.param == "rest" \
        else GrpcApi(deployment.server)
    yield client
    await client.close()


@pytest.fixture
async def admin(deployment: Deployment) -> AsyncIterator[Admin]:
    client = Admin(deployment.server)
    yield client
    await client.close()


@pytest.fixture
async def endpoint(api: Api, deployment: Deployment) -> AsyncIterator[DeviceEndpoint]:
    client = DeviceEndpoint(deployment.server, api.transport)
    yield client
    await client.close()


@pytest.fixture
def app_id(deployment: Deployment) -> str:
    return deployment.server.demo_application_id


@pytest.fixture
def user_id() -> str:
    return f"sc-{uuid.uuid4().hex[:12]}@example.com"


async def enrol(admin: Admin, deployment: Deployment, user_id: str) -> Device:
    await admin.user(user_id)
    device = Device()
    made = await admin.req("POST", f"/api/admin/v1/users/{user_id}/push-devices", {
        "type": "SMARTCREDENTIALPUSH", "certificate": deployment.ca.issue(
            device.key.public_key())})
    assert made["device"]["type"] == "SMARTCREDENTIALPUSH"
    assert made["device"]["certificateSubject"] == "CN=smart credential"
    device.serial_number = made["device"]["serialNumber"]
    return device


async def delivered_push(deployment: Deployment, push_id_seen: set[str], device: Device,
                         timeout: float = 15.0) -> dict[str, Any]:  # noqa: ASYNC109
    """The newest push for `device` the receiver accepted (signature checked)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for hook in reversed(deployment.push.received):
            payload = hook.body.get("payload") or {}
            if (payload.get("serialNumber") == device.serial_number
                    and payload["id"] not in push_id_seen):
                assert "userId" not in payload
                assert hook.body["type"] == "push"
                push_id_seen.add(payload["id"])
                return dict(payload)
        await asyncio.sleep(0.05)
    raise TimeoutError(f"no push for {device.serial_number}")


async def test_full_login(api: Api, admin: Admin, app_id: str, user_id: str,
                          deployment: Deployment, endpoint: DeviceEndpoint) -> None:
    device = await enrol(admin, deployment, user_id)
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert q.status == 200, q
    validate(q.body, "UserAuthenticateQueryResponse")
    assert q.body["authenticationTypes"] == ["SMARTCREDENTIALPUSH"]
    seen: set[str] = set()
    ch = await api.challenge("SMARTCREDENTIALPUSH", {
        "applicationId": app_id, "userId": user_id, "summary": "Approve the wire",
        "transactionDetails": [{"detail": "Amount", "value": "€ 5"}],
        "pushMessageIdentifier": "generic"})
    assert ch.status == 200, ch
    validate(ch.body, "AuthenticatedResponse")
    push = await delivered_push(deployment, seen, device)
    assert push["type"] == "smartcredentialpush" and push["serialNumber"] == device.serial_number
    assert push["pushMessageIdentifier"] == "generic"
    assert push["transactionDetails"] == [{"detail": "Amount", "value": "€ 5"}]
    poll = await api.complete("SMARTCREDENTIALPUSH", {}, ch.body["token"])
    assert poll.status == 200 and poll.body["status"] == "NO_RESPONSE"
    validate(poll.body, "AuthenticatedResponse")
    r = await endpoint.respond(push["id"], device.answer(push, "CONFIRM"))
    assert r.status == 204, r
    done = await api.complete("SMARTCREDENTIALPUSH", {}, ch.body["token"])
    assert done.status == 200, done
    validate(done.body, "AuthenticatedResponse")
    assert done.body["authenticationCompleted"] is True

    # Concern: refused and counted; a replay of the answer is refused.
    ch = await api.challenge("SMARTCREDENTIALPUSH", {"applicationId": app_id,
                                                     "userId": user_id})
    push = await delivered_push(deployment, seen, device)
    concern = device.answer(push, "CONCERN")
    assert (await endpoint.respond(push["id"], concern)).status == 204
    assert (await endpoint.respond(push["id"], concern)).error_code == "push_already_answered"
    refused = await api.complete("SMARTCREDENTIALPUSH", {}, ch.body["token"])
    assert refused.status == 401 and refused.error_code == "push_concern"
    q = await api.query({"applicationId": app_id, "userId": user_id})
    assert q.body["authenticatorLockoutStatus"][0]["remainingAuthenticationAttempts"] == 4
    # A smart credential has no OTP to enter.
    ch = await api.challenge("SMARTCREDENTIALPUSH", {"applicationId": app_id,
                                                     "userId": user_id})
    r = await api.complete("SMARTCREDENTIALPUSH", {"response": "123456"}, ch.body["token"])
    assert r.status == 400 and r.error_code == "invalid_response"


async def test_registration_checks_the_certificate(admin: Admin, deployment: Deployment,
                                                   user_id: str) -> None:
    await admin.user(user_id)
    path = f"/api/admin/v1/users/{user_id}/push-devices"
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    stranger = CA.make("Smart Credential CA")  # same name, another key
    der = base64.b64encode(x509.load_pem_x509_certificate(
        deployment.ca.issue(p256).encode()).public_bytes(serialization.Encoding.DER)).decode()
    ok = await admin.http.post(path, json={"type": "SMARTCREDENTIALPUSH", "certificate": der})
    assert ok.status_code == 200, ok.text
    for cert, reason in (
        (stranger.issue(p256), "untrusted_issuer"),
        (deployment.ca.issue(p256, days=-1, start_days=-30), "certificate_expired"),
        (deployment.ca.issue(p256, start_days=2), "certificate_not_yet_valid"),
        (deployment.ca.issue(rsa.generate_private_key(public_exponent=65537, key_size=2048)
                             .public_key()), "unsupported_key_type"),
        ("not a certificate", "invalid_certificate"),
    ):
        r = await admin.http.post(path, json={"type": "SMARTCREDENTIALPUSH",
                                              "certificate": cert})
        assert r.status_code == 400, (reason, r.text)
        assert r.json()["errorCode"] == reason
        assert r.json()["parameters"][0]["field"] == "certificate"
    r = await admin.http.post(path, json={"type": "SMARTCREDENTIALPUSH"})
    assert r.status_code == 400 and r.json()["errorCode"] == "missing_field"
    listed = await admin.req("GET", path)
    assert len(listed["devices"]) == 1


async def test_activation_with_a_certificate(api: Api, admin: Admin, app_id: str,
                                             user_id: str, deployment: Deployment,
                                             endpoint: DeviceEndpoint) -> None:
    await admin.user(user_id)
    made = await admin.req("POST", f"/api/admin/v1/users/{user_id}/push-activations",
                           {"type": "SMARTCREDENTIALPUSH"})
    device = Device()
    # A public key alone is not a smart credential.
    r = await endpoint.activate({"activationCode": made["activationCode"],
                                 "publicKey": device.public_key_b64()})
    assert r.status == 400 and r.error_code == "missing_field"
    r = await endpoint.activate({"activationCode": made["activationCode"],
                                 "certificate": deployment.ca.issue(device.key.public_key())})
    assert r.status == 200, r
    device.serial_number = r.body["device"]["serialNumber"]
    seen: set[str] = set()
    ch = await api.challenge("SMARTCREDENTIALPUSH", {"applicationId": app_id,
                                                     "userId": user_id})
    push = await delivered_push(deployment, seen, device)
    assert (await endpoint.respond(push["id"], device.answer(push, "CONFIRM"))).ok
    done = await api.complete("SMARTCREDENTIALPUSH", {}, ch.body["token"])
    assert done.body["authenticationCompleted"] is True
