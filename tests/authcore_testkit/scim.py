"""One SCIM client over both transports, so each SCIM test runs against
/scim/v2 (REST, application/scim+json) and against authcore.scim.v2.ScimService
(gRPC) and asserts the same things.

Both clients take SCIM JSON documents; the gRPC one builds its request
messages from them with the bridge's codec, the way api.py does. Replies are
`ScimReply`: the HTTP status (for gRPC: the status the REST binding would
send, i.e. the error's own `http_status` or grpc-gateway's table, and the
binding's success status), the JSON body, the SCIM error's scimType, and the
headers (REST only).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
from google.rpc import error_details_pb2, status_pb2

from authcore.scim.v2 import scim_pb2, scim_pb2_grpc
from authcore_testkit.api import HTTP_FOR_GRPC
from authcore_testkit.server import RunningServer, postgres_base_url
from rest_bridge.codec import json_to_message, message_to_json

SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "scim"

# (resource endpoint) -> (RPC noun, request field holding the resource)
_KINDS = {"Users": ("User", "user"), "Groups": ("Group", "group")}
# The success statuses the REST binding declares (success_status).
_CREATED, _NO_CONTENT = 201, 204


def load_fixture(name: str) -> dict[str, Any]:
    """A payload from tests/fixtures/scim (a fresh copy each time)."""
    data = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def unique(prefix: str = "scim") -> str:
    """A per-test prefix, so tests sharing one server never see each other's
    users in lists and filters."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def user_doc(user_name: str, **attrs: Any) -> dict[str, Any]:
    return {"schemas": [USER_SCHEMA], "userName": user_name, **attrs}


def group_doc(display_name: str, member_ids: list[str] | None = None,
              **attrs: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "displayName": display_name, **attrs}
    if member_ids is not None:
        doc["members"] = [{"value": m} for m in member_ids]
    return doc


def patch_op(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


@dataclass
class ScimReply:
    status: int
    body: Any
    scim_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    grpc_code: grpc.StatusCode | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def __str__(self) -> str:
        return f"{self.status} {self.scim_type} {json.dumps(self.body)[:600]}"


def _params(params: dict[str, Any]) -> dict[str, str]:
    return {k: str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in params.items() if v is not None}


class ScimRest:
    transport = "rest"

    def __init__(self, server: RunningServer, key: str | None = None) -> None:
        self.server = server
        self.base = server.http_url + "/scim/v2"
        headers = {"Authorization": f"Bearer {key or server.admin_key}",
                   "Accept": SCIM_JSON}
        self.http = httpx.AsyncClient(base_url=self.base, timeout=60, headers=headers)

    async def close(self) -> None:
        await self.http.aclose()

    async def request(self, method: str, path: str, body: Any = None, *,
                      params: dict[str, Any] | None = None,
                      headers: dict[str, str] | None = None,
                      content: bytes | None = None) -> ScimReply:
        all_headers = dict(headers or {})
        if body is not None:
            content = json.dumps(body).encode()
        if content is not None:
            all_headers.setdefault("Content-Type", SCIM_JSON)
        r = await self.http.request(method, path, content=content,
                                    params=_params(params or {}), headers=all_headers)
        data = r.json() if r.content else None
        scim_type = data.get("scimType") if isinstance(data, dict) and r.status_code >= 400 \
            else None
        return ScimReply(r.status_code, data, scim_type, dict(r.headers))

    async def create(self, kind: str, doc: Any, **params: Any) -> ScimReply:
        return await self.request("POST", f"/{kind}", doc, params=params)

    async def get(self, kind: str, rid: str, *, if_none_match: str | None = None,
                  **params: Any) -> ScimReply:
        headers = {"If-None-Match": if_none_match} if if_none_match is not None else None
        return await self.request("GET", f"/{kind}/{rid}", params=params, headers=headers)

    async def list(self, kind: str, **params: Any) -> ScimReply:
        return await self.request("GET", f"/{kind}", params=params)

    async def search(self, kind: str, body: dict[str, Any]) -> ScimReply:
        return await self.request("POST", f"/{kind}/.search", body)

    async def replace(self, kind: str, rid: str, doc: Any, *, if_match: str | None = None,
                      **params: Any) -> ScimReply:
        headers = {"If-Match": if_match} if if_match is not None else None
        return await self.request("PUT", f"/{kind}/{rid}", doc, params=params, headers=headers)

    async def patch(self, kind: str, rid: str, body: Any, *, if_match: str | None = None,
                    **params: Any) -> ScimReply:
        headers = {"If-Match": if_match} if if_match is not None else None
        return await self.request("PATCH", f"/{kind}/{rid}", body, params=params,
                                  headers=headers)

    async def delete(self, kind: str, rid: str, *, if_match: str | None = None) -> ScimReply:
        headers = {"If-Match": if_match} if if_match is not None else None
        return await self.request("DELETE", f"/{kind}/{rid}", headers=headers)


class ScimGrpc:
    transport = "grpc"

    def __init__(self, server: RunningServer, key: str | None = None) -> None:
        self.server = server
        self.channel = grpc.aio.insecure_channel(
            server.grpc_target,
            options=[("grpc.max_receive_message_length", 64 << 20),
                     ("grpc.max_send_message_length", 64 << 20)])
        self.stub = scim_pb2_grpc.ScimServiceStub(self.channel)
        self.metadata: tuple[tuple[str, str], ...] = (
            ("authorization", f"Bearer {key or server.admin_key}"),)

    async def close(self) -> None:
        await self.channel.close()

    async def call(self, method: str, request: dict[str, Any], *,
                   success: int = 200) -> ScimReply:
        rpc = getattr(self.stub, method)
        message_cls = getattr(scim_pb2, f"{method}Request")
        msg = json_to_message(request, message_cls)
        try:
            response = await rpc(msg, metadata=self.metadata)
        except grpc.aio.AioRpcError as exc:
            reason, metadata = error_info(exc)
            http = metadata.get("http_status")
            status = int(http) if http else HTTP_FOR_GRPC.get(exc.code(), 500)
            return ScimReply(status, {"detail": exc.details()}, metadata.get("scimType"),
                             grpc_code=exc.code(), reason=reason)
        if success == _NO_CONTENT:
            return ScimReply(success, None)
        return ScimReply(success, message_to_json(response))

    @staticmethod
    def _shape(params: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in params.items() if v is not None}

    async def create(self, kind: str, doc: Any, **params: Any) -> ScimReply:
        noun, key = _KINDS[kind]
        return await self.call(f"Create{noun}", {key: doc, **self._shape(params)},
                               success=_CREATED)

    async def get(self, kind: str, rid: str, *, if_none_match: str | None = None,
                  **params: Any) -> ScimReply:
        noun, _ = _KINDS[kind]
        req = {"id": rid, **self._shape(params)}
        if if_none_match is not None:
            req["ifNoneMatch"] = if_none_match
        return await self.call(f"Get{noun}", req)

    async def list(self, kind: str, **params: Any) -> ScimReply:
        noun, _ = _KINDS[kind]
        return await self.call(f"List{noun}s", self._shape(params))

    async def search(self, kind: str, body: dict[str, Any]) -> ScimReply:
        noun, _ = _KINDS[kind]
        return await self.call(f"Search{noun}s", body)

    async def replace(self, kind: str, rid: str, doc: Any, *, if_match: str | None = None,
                      **params: Any) -> ScimReply:
        noun, key = _KINDS[kind]
        req = {"id": rid, key: doc, **self._shape(params)}
        if if_match is not None:
            req["ifMatch"] = if_match
        return await self.call(f"Replace{noun}", req)

    async def patch(self, kind: str, rid: str, body: Any, *, if_match: str | None = None,
                    **params: Any) -> ScimReply:
        noun, _ = _KINDS[kind]
        req = {"id": rid, "patchOp": body, **self._shape(params)}
        if if_match is not None:
            req["ifMatch"] = if_match
        return await self.call(f"Patch{noun}", req)

    async def delete(self, kind: str, rid: str, *, if_match: str | None = None) -> ScimReply:
        noun, _ = _KINDS[kind]
        req: dict[str, Any] = {"id": rid}
        if if_match is not None:
            req["ifMatch"] = if_match
        return await self.call(f"Delete{noun}", req, success=_NO_CONTENT)


Scim = ScimRest | ScimGrpc


def scim_client(transport: str, server: RunningServer, key: str | None = None) -> Scim:
    return ScimRest(server, key) if transport == "rest" else ScimGrpc(server, key)


async def seed_users(server: RunningServer, user_names: list[str]) -> list[str]:
    """Insert users straight into `server`'s database and return their ids.

    Setup for volume tests only (a group of thousands): through the API a
    create costs 15-20 ms of server time, so 3,000 users take about a
    minute. The rows are the ORM's, so they are what the server writes.
    """
    from sqlalchemy import insert
    from sqlalchemy.ext.asyncio import create_async_engine

    from authcore.identifiers import username_key
    from authcore.store.models import User as UserRow

    url = await _database_url(server)
    now = time.time()
    ids = [str(uuid.uuid4()) for _ in user_names]
    engine = create_async_engine(url, connect_args={"timeout": 30}
                                 if url.startswith("sqlite") else {})
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(UserRow), [
                {"pk": pk, "user_id": name, "user_key": username_key(name), "active": True,
                 "created_at": now, "updated_at": now, "version": 1}
                for pk, name in zip(ids, user_names, strict=True)])
    finally:
        await engine.dispose()
    return ids


async def _database_url(server: RunningServer) -> str:
    if server.backend == "sqlite":
        return f"sqlite+aiosqlite:///{server.data_dir / 'authcore.db'}"
    # The session's server runs on a fresh database of the test PostgreSQL
    # server; find which by a user only it has.
    import asyncpg

    base = postgres_base_url()
    assert base, "AUTHCORE_TEST_POSTGRES_URL is not set"
    client = ScimRest(server)
    try:
        reply = await client.create("Users", user_doc(unique("seed-marker-")))
        assert reply.status == 201, str(reply)
        marker = reply.body["id"]
    finally:
        await client.close()
    dsn = base.replace("postgresql+asyncpg://", "postgresql://")
    head = dsn.rpartition("/")[0]
    conn = await asyncpg.connect(dsn)
    try:
        names = [r["datname"] for r in await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE 'authcore_test_%'")]
    finally:
        await conn.close()
    for name in names:
        try:
            db = await asyncpg.connect(f"{head}/{name}")
        except (OSError, asyncpg.PostgresError):
            continue
        try:
            found = await db.fetchval("SELECT 1 FROM users WHERE pk = $1", marker)
        except asyncpg.PostgresError:
            found = None
        finally:
            await db.close()
        if found:
            return f"{base.rpartition('/')[0]}/{name}"
    raise AssertionError("the server's database was not found")


def error_info(exc: grpc.aio.AioRpcError) -> tuple[str | None, dict[str, str]]:
    """The ErrorInfo reason and metadata of a failed call."""
    for key, value in exc.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason, dict(info.metadata)
    return None, {}


def assert_error(reply: ScimReply, status: int, scim_type: str | None = None) -> None:
    """`reply` is the SCIM error `status` with `scimType` (RFC 7644 section
    3.12); over REST also its body shape and content type."""
    assert reply.status == status, str(reply)
    assert reply.scim_type == scim_type, str(reply)
    if (isinstance(reply.body, dict) and "schemas" in reply.body) or reply.headers:
        assert reply.headers.get("content-type") == SCIM_JSON, reply.headers
        assert reply.body["schemas"] == [ERROR_SCHEMA], str(reply)
        assert reply.body["status"] == str(status), str(reply)
        assert isinstance(reply.body["detail"], str) and reply.body["detail"], str(reply)
        if scim_type is None:
            assert "scimType" not in reply.body, str(reply)


async def must(reply_coro: Any) -> dict[str, Any]:
    """Await a call that must succeed with a body; return the body."""
    reply: ScimReply = await reply_coro
    assert reply.ok, str(reply)
    assert isinstance(reply.body, dict), str(reply)
    return reply.body


__all__ = [
    "ENTERPRISE",
    "ERROR_SCHEMA",
    "GROUP_SCHEMA",
    "LIST_RESPONSE",
    "PATCH_OP",
    "SCIM_JSON",
    "SEARCH_REQUEST",
    "USER_SCHEMA",
    "Scim",
    "ScimGrpc",
    "ScimReply",
    "ScimRest",
    "assert_error",
    "group_doc",
    "load_fixture",
    "must",
    "patch_op",
    "scim_client",
    "seed_users",
    "unique",
    "user_doc",
]
