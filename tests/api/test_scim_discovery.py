"""SCIM discovery (RFC 7644 section 4, RFC 7643 sections 5-7) over REST and
gRPC: what /ServiceProviderConfig, /ResourceTypes and /Schemas announce is
what the other tests find the server doing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from authcore_testkit.scim import (
    ENTERPRISE,
    GROUP_SCHEMA,
    LIST_RESPONSE,
    USER_SCHEMA,
    Scim,
    ScimGrpc,
    ScimRest,
    assert_error,
    must,
    scim_client,
)
from authcore_testkit.server import RunningServer


@pytest.fixture(params=["rest", "grpc"])
async def scim(request: pytest.FixtureRequest, server: RunningServer) -> AsyncIterator[Scim]:
    client = scim_client(request.param, server)
    yield client
    await client.close()


async def get(scim: Scim, path: str, rpc: str, request: dict[str, Any] | None = None) -> Any:
    if isinstance(scim, ScimRest):
        return await scim.request("GET", path)
    assert isinstance(scim, ScimGrpc)
    return await scim.call(rpc, request or {})


async def test_service_provider_config(scim: Scim, server: RunningServer) -> None:
    body = await must(get(scim, "/ServiceProviderConfig", "GetServiceProviderConfig"))
    assert body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert body["patch"] == {"supported": True}
    assert body["bulk"] == {"supported": False, "maxOperations": 0, "maxPayloadSize": 0}
    assert body["filter"] == {"supported": True, "maxResults": 1000}
    assert body["changePassword"] == {"supported": True}
    assert body["sort"] == {"supported": True}
    assert body["etag"] == {"supported": True}
    [scheme] = body["authenticationSchemes"]
    assert scheme["type"] == "oauthbearertoken" and scheme["primary"] is True
    assert body["meta"] == {"resourceType": "ServiceProviderConfig",
                            "location": f"{server.http_url}/scim/v2/ServiceProviderConfig"}


async def test_resource_types(scim: Scim, server: RunningServer) -> None:
    body = await must(get(scim, "/ResourceTypes", "ListResourceTypes"))
    assert body["schemas"] == [LIST_RESPONSE]
    assert (body["totalResults"], body["itemsPerPage"], body["startIndex"]) == (2, 2, 1)
    by_id = {r["id"]: r for r in body["Resources"]}
    assert by_id["User"]["endpoint"] == "/Users"
    assert by_id["User"]["schema"] == USER_SCHEMA
    assert by_id["User"]["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    assert by_id["Group"]["endpoint"] == "/Groups"
    assert by_id["Group"]["schema"] == GROUP_SCHEMA
    assert by_id["Group"]["meta"]["location"] == f"{server.http_url}/scim/v2/ResourceTypes/Group"
    one = await must(get(scim, "/ResourceTypes/User", "GetResourceType", {"id": "User"}))
    assert one == by_id["User"]
    assert_error(await get(scim, "/ResourceTypes/Nope", "GetResourceType", {"id": "Nope"}), 404)


async def test_schemas_describe_what_round_trips(scim: Scim) -> None:
    body = await must(get(scim, "/Schemas", "ListSchemas"))
    assert [r["id"] for r in body["Resources"]] == [USER_SCHEMA, ENTERPRISE, GROUP_SCHEMA]
    user = await must(get(scim, f"/Schemas/{USER_SCHEMA}", "GetSchema", {"id": USER_SCHEMA}))
    attrs = {a["name"]: a for a in user["attributes"]}
    assert attrs["userName"]["required"] is True
    assert attrs["userName"]["uniqueness"] == "server"
    assert attrs["userName"]["caseExact"] is False
    assert (attrs["password"]["mutability"], attrs["password"]["returned"]) == \
        ("writeOnly", "never")
    assert attrs["groups"]["mutability"] == "readOnly"
    assert attrs["active"]["type"] == "boolean"
    assert attrs["emails"]["multiValued"] is True
    group = await must(get(scim, f"/Schemas/{GROUP_SCHEMA}", "GetSchema", {"id": GROUP_SCHEMA}))
    assert {a["name"] for a in group["attributes"]} >= {"displayName", "members"}
    assert_error(await get(scim, "/Schemas/urn:nope", "GetSchema", {"id": "urn:nope"}), 404)
