"""A simulated TOKENPUSH / SMARTCREDENTIALPUSH device: a real P-256 key
(`cryptography`) that reads its pushes (from the outbox or a webhook
receiver) and answers them at the device endpoint, over REST or gRPC."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from authcore.v1 import push_devices_pb2 as pb
from authcore.v1 import push_devices_pb2_grpc
from authcore.verify.push import transaction_details_hash, transaction_push_message
from authcore_testkit.api import HTTP_FOR_GRPC, Admin, Reply, error_reason
from authcore_testkit.server import RunningServer
from rest_bridge.codec import json_to_message, message_to_json


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Device:
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    serial_number: str = ""
    counter: int = 0

    def public_key_b64(self) -> str:
        return base64.b64encode(self.key.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo)).decode()

    def answer(self, push: dict[str, Any], status: str, *, mutual: str = "",
               counter: int | None = None, key: ec.EllipticCurvePrivateKey | None = None
               ) -> dict[str, Any]:
        """The signed body of an answer; checks the push's detailsHash the
        way a device app would before showing it."""
        expected = transaction_details_hash(
            summary=push["summary"],
            details=[(d["detail"], d["value"]) for d in push["transactionDetails"]])
        assert push["detailsHash"] == expected
        if counter is None:
            self.counter += 1
            counter = self.counter
        message = transaction_push_message(
            push_id=push["id"], challenge=push["challenge"], status=status, counter=counter,
            details_hash=expected, mutual_challenge=mutual)
        signature = (key or self.key).sign(message, ec.ECDSA(hashes.SHA256()))
        body: dict[str, Any] = {"serialNumber": self.serial_number, "status": status,
                                "counter": counter, "signature": b64url(signature)}
        if mutual:
            body["mutualChallenge"] = mutual
        return body


async def register(admin: Admin, user_id: str, device: Device, label: str = "phone") -> None:
    made = await admin.req("POST", f"/api/admin/v1/users/{user_id}/push-devices",
                           {"type": "TOKENPUSH", "publicKey": device.public_key_b64(),
                            "label": label})
    device.serial_number = made["device"]["serialNumber"]


async def pushes_in_outbox(admin: Admin, user_id: str) -> list[dict[str, Any]]:
    """The held PUSH messages' payloads (no push webhook configured), oldest first."""
    return [json.loads(m["text"]) for m in await admin.outbox(user_id)
            if m.get("medium") == "PUSH" and m.get("text")]


class DeviceEndpoint:
    """POST /api/web/v1/push/{id}/response, or its gRPC method."""

    def __init__(self, server: RunningServer, transport: str) -> None:
        self.transport = transport
        self.http = httpx.AsyncClient(base_url=server.http_url, timeout=30)
        self.channel = grpc.aio.insecure_channel(server.grpc_target)
        self.stub = push_devices_pb2_grpc.PushDeviceServiceStub(self.channel)

    async def close(self) -> None:
        await self.http.aclose()
        await self.channel.close()

    async def respond(self, push_id: str, body: dict[str, Any]) -> Reply:
        if self.transport == "rest":
            r = await self.http.post(f"/api/web/v1/push/{push_id}/response", json=body)
            data = r.json() if r.content else None
            code = data.get("errorCode") if isinstance(data, dict) else None
            return Reply(r.status_code, data, code)
        try:
            await self.stub.RespondToPush(
                json_to_message({**body, "pushId": push_id}, pb.RespondToPushRequest))
        except grpc.aio.AioRpcError as exc:
            return Reply(HTTP_FOR_GRPC.get(exc.code(), 500), {"message": exc.details()},
                         error_reason(exc))
        return Reply(204, None)

    async def activate(self, body: dict[str, Any]) -> Reply:
        if self.transport == "rest":
            r = await self.http.post("/api/web/v1/push/activate", json=body)
            data = r.json() if r.content else None
            code = data.get("errorCode") if isinstance(data, dict) and r.status_code >= 400 \
                else None
            return Reply(r.status_code, data, code)
        try:
            out = await self.stub.ActivatePushDevice(
                json_to_message(body, pb.ActivatePushDeviceRequest))
        except grpc.aio.AioRpcError as exc:
            return Reply(HTTP_FOR_GRPC.get(exc.code(), 500), {"message": exc.details()},
                         error_reason(exc))
        return Reply(200, message_to_json(out))
