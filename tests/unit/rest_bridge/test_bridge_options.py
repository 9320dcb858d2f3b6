"""Bridge options the SCIM API needs, against a small proto built here.

`(authcore.v1.file)` JSON options, `response_headers`, and the SCIM error
style on routes and on paths no route matches. The proto is assembled from
text so the tests need no protoc run and stay independent of scim.proto.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import httpx
import pytest
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    struct_pb2,
    text_format,
)
from google.protobuf.descriptor import FileDescriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message

from authcore.errors import AlreadyExists, AuthcoreError, InvalidArgument, Unauthenticated
from authcore.v1 import authentication_pb2 as auth
from authcore.v1 import management_pb2 as mgmt
from rest_bridge import CallError, create_app
from rest_bridge.codec import CodecError, json_to_message, message_to_json
from rest_bridge.openapi import build_openapi
from rest_bridge.routes import bindings_for

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
_counter = itertools.count()

THINGS = """
name: "authcore/bridgetest/v1/things_%(n)s.proto"
package: "authcore.bridgetest.v%(n)s"
syntax: "proto3"
dependency: "authcore/v1/options.proto"
dependency: "google/api/annotations.proto"
dependency: "google/protobuf/struct.proto"
options { %(file_options)s }
message_type {
  name: "Meta"
  field { name: "version" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "version" }
  field { name: "location" number: 2 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "location" }
  field { name: "tags" number: 3 type: TYPE_STRING label: LABEL_REPEATED json_name: "tags" }
}
message_type {
  name: "Enterprise"
  field { name: "employee_number" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL
          json_name: "employeeNumber" }
}
message_type {
  name: "Thing"
  field { name: "user_name" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL
          json_name: "userName" }
  field { name: "emails" number: 2 type: TYPE_STRING label: LABEL_REPEATED json_name: "emails" }
  field { name: "labels" number: 3 type: TYPE_MESSAGE label: LABEL_REPEATED
          type_name: ".authcore.bridgetest.v%(n)s.Thing.LabelsEntry" json_name: "labels" }
  field { name: "enterprise" number: 4 type: TYPE_MESSAGE label: LABEL_OPTIONAL
          type_name: ".authcore.bridgetest.v%(n)s.Enterprise" json_name: "%(enterprise)s" }
  field { name: "ref" number: 5 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "$ref" }
  field { name: "extra" number: 6 type: TYPE_MESSAGE label: LABEL_OPTIONAL
          type_name: ".google.protobuf.Struct" json_name: "extra" }
  field { name: "meta" number: 7 type: TYPE_MESSAGE label: LABEL_OPTIONAL
          type_name: ".authcore.bridgetest.v%(n)s.Meta" json_name: "meta" }
  field { name: "active" number: 8 type: TYPE_BOOL label: LABEL_OPTIONAL json_name: "active" }
  field { name: "by_mail" number: 9 type: TYPE_STRING label: LABEL_OPTIONAL oneof_index: 0
          json_name: "byMail" }
  field { name: "by_phone" number: 10 type: TYPE_STRING label: LABEL_OPTIONAL oneof_index: 0
          json_name: "byPhone" }
  field { name: "display" number: 11 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "Display" }
  field { name: "DISPLAY" number: 12 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "dISPLAY" }
  oneof_decl { name: "contact" }
  nested_type {
    name: "LabelsEntry"
    field { name: "key" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "key" }
    field { name: "value" number: 2 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "value" }
    options { map_entry: true }
  }
}
message_type {
  name: "GetThingRequest"
  field { name: "id" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "id" }
}
message_type {
  name: "GetThingResponse"
  field { name: "thing" number: 1 type: TYPE_MESSAGE label: LABEL_OPTIONAL
          type_name: ".authcore.bridgetest.v%(n)s.Thing" json_name: "thing" }
}
message_type {
  name: "DeleteThingRequest"
  field { name: "id" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "id" }
}
message_type {
  name: "DeleteThingResponse"
  field { name: "rev" number: 1 type: TYPE_INT32 label: LABEL_OPTIONAL json_name: "rev"
          proto3_optional: true oneof_index: 0 }
  field { name: "gone" number: 2 type: TYPE_BOOL label: LABEL_OPTIONAL json_name: "gone" }
  oneof_decl { name: "_rev" }
}
service {
  name: "ThingService"
  options { [authcore.v1.service] { error_style: ERROR_STYLE_SCIM } }
  method {
    name: "GetThing"
    input_type: ".authcore.bridgetest.v%(n)s.GetThingRequest"
    output_type: ".authcore.bridgetest.v%(n)s.GetThingResponse"
    options {
      [google.api.http] { get: "/scim/v2/Things/{id}" response_body: "thing" }
      [authcore.v1.method] {
        response_headers { header: "%(etag)s" field: "%(etag_field)s" }
        response_headers { header: "Location" field: "thing.meta.location" }
      }
    }
  }
  method {
    name: "CreateThing"
    input_type: ".authcore.bridgetest.v%(n)s.Thing"
    output_type: ".authcore.bridgetest.v%(n)s.GetThingResponse"
    options {
      [google.api.http] { post: "/scim/v2/Things" body: "*" response_body: "thing" }
      [authcore.v1.method] { success_status: 201 }
    }
  }
  method {
    name: "DeleteThing"
    input_type: ".authcore.bridgetest.v%(n)s.DeleteThingRequest"
    output_type: ".authcore.bridgetest.v%(n)s.DeleteThingResponse"
    options {
      [google.api.http] { delete: "/scim/v2/Things/{id}" }
      [authcore.v1.method] {
        success_status: 204 empty_response_body: true
        response_headers { header: "X-Rev" field: "rev" }
        response_headers { header: "X-Gone" field: "gone" }
      }
    }
  }
  method {
    name: "PeekThing"
    input_type: ".authcore.bridgetest.v%(n)s.DeleteThingRequest"
    output_type: ".authcore.bridgetest.v%(n)s.DeleteThingResponse"
    options {
      [google.api.http] { get: "/scim/v2/Peek/{id}" }
      [authcore.v1.method] {
        response_headers { header: "X-Rev" field: "rev" header_only: true }
      }
    }
  }
}
"""

SCIM_FILE_OPTIONS = ("[authcore.v1.file] { json_case_insensitive_keys: true "
                     "json_omit_empty_repeated: true }")


def build_file(*, file_options: str = SCIM_FILE_OPTIONS, etag: str = "ETag",
               etag_field: str = "thing.meta.version",
               enterprise: str = ENTERPRISE) -> FileDescriptor:
    """A fresh copy of the test proto in the default pool (options resolve there)."""
    n = next(_counter)
    proto = descriptor_pb2.FileDescriptorProto()
    text_format.Parse(THINGS % {"n": n, "file_options": file_options, "etag": etag,
                                "etag_field": etag_field, "enterprise": enterprise}, proto)
    pool = descriptor_pool.Default()
    pool.AddSerializedFile(proto.SerializeToString())
    return pool.FindFileByName(proto.name)


SCIM_FILE = build_file()
PLAIN_FILE = build_file(file_options="")


def cls(file: FileDescriptor, name: str) -> Any:
    return message_factory.GetMessageClass(file.message_types_by_name[name])


Thing = cls(SCIM_FILE, "Thing")
PlainThing = cls(PLAIN_FILE, "Thing")
GetThingResponse = cls(SCIM_FILE, "GetThingResponse")
DeleteThingResponse = cls(SCIM_FILE, "DeleteThingResponse")
THING_SERVICE = SCIM_FILE.services_by_name["ThingService"]


# ------------------------------------------------- case-insensitive keys

def test_keys_match_json_and_proto_names_in_any_case() -> None:
    msg = json_to_message({"USERNAME": "bjensen", "Emails": ["a@x"], "META": {"VERSION": "W/1"},
                           "Active": True}, Thing)
    assert (msg.user_name, list(msg.emails), msg.meta.version, msg.active) == (
        "bjensen", ["a@x"], "W/1", True)
    assert json_to_message({"USER_NAME": "p"}, Thing).user_name == "p"


def test_exact_match_wins_and_folded_ties_prefer_json_names() -> None:
    # "Display" (json of display) and "dISPLAY" (json of DISPLAY) fold alike.
    msg = json_to_message({"Display": "one", "dISPLAY": "two"}, Thing)
    assert (msg.display, msg.DISPLAY) == ("one", "two")
    assert json_to_message({"DISPLAY": "x"}, Thing).DISPLAY == "x"  # exact proto name
    assert json_to_message({"DiSpLaY": "x"}, Thing).display == "x"  # the first json name


def test_urn_and_dollar_json_names() -> None:
    msg = json_to_message({ENTERPRISE.upper(): {"EMPLOYEENUMBER": "701984"},
                           "$REF": "https://x/Users/1"}, Thing)
    assert msg.enterprise.employee_number == "701984"
    assert msg.ref == "https://x/Users/1"
    out = message_to_json(msg)
    assert out[ENTERPRISE] == {"employeeNumber": "701984"}
    assert out["$ref"] == "https://x/Users/1"


def test_struct_and_map_keys_keep_their_case() -> None:
    msg = json_to_message({"EXTRA": {"MixedCase": 1}, "LABELS": {"Key": "V"}}, Thing)
    assert isinstance(msg.extra, struct_pb2.Struct)  # also puts struct.proto in the pool
    assert dict(msg.extra) == {"MixedCase": 1}
    assert dict(msg.labels) == {"Key": "V"}


def test_errors_name_the_key_as_sent() -> None:
    with pytest.raises(CodecError) as err:
        json_to_message({"META": {"Version": 3}}, Thing)
    assert err.value.field_path == "META.Version"


def test_oneof_conflict_seen_through_case() -> None:
    with pytest.raises(CodecError) as err:
        json_to_message({"BYMAIL": "a", "byPhone": "b"}, Thing)
    assert err.value.field_path == "byPhone"
    assert "BYMAIL" in err.value.description


def test_files_without_the_option_stay_case_sensitive() -> None:
    assert json_to_message({"USERNAME": "x"}, PlainThing).user_name == ""
    assert json_to_message({"USERID": "x"}, mgmt.User).user_id == ""


# ------------------------------------------------- omit empty repeated

def test_empty_repeated_and_maps_left_out() -> None:
    out = message_to_json(Thing(user_name="b", meta={"version": "v"}))
    assert out == {"userName": "b", "$ref": "", "meta": {"version": "v", "location": ""},
                   "active": False, "Display": "", "dISPLAY": ""}
    full = message_to_json(Thing(emails=["a"], labels={"k": "v"}, meta={"tags": ["t"]}))
    assert full["emails"] == ["a"] and full["labels"] == {"k": "v"}
    assert full["meta"]["tags"] == ["t"]


def test_files_without_the_option_write_empty_repeated() -> None:
    out = message_to_json(PlainThing())
    assert out["emails"] == [] and out["labels"] == {}
    assert message_to_json(auth.QueryUserAuthenticatorsResponse())["tokenDetails"] == []


# ------------------------------------------------- routes: response headers

def _binding(service: ServiceDescriptor, method: str) -> Any:
    return next(b for b in bindings_for([service]) if b.method.name == method)


def test_response_headers_resolved_at_startup() -> None:
    get = _binding(THING_SERVICE, "GetThing")
    assert [(h.header, h.path, [f.name for f in h.chain]) for h in get.response_headers] == [
        ("ETag", "thing.meta.version", ["thing", "meta", "version"]),
        ("Location", "thing.meta.location", ["thing", "meta", "location"]),
    ]


@pytest.mark.parametrize(("etag", "field", "message"), [
    ("ETag", "thing.meta.nope", "names no field"),
    ("ETag", "thing.nope.version", "names no field"),
    ("ETag", "thing.user_name.x", "crosses a non-message field"),
    ("ETag", "thing.emails", "is not a scalar field"),
    ("ETag", "thing.meta", "is not a scalar field"),
    ("ETag", "thing.labels", "is not a scalar field"),
    ("ETag", "", "names no field"),
    ("E Tag", "thing.meta.version", "is not a header name"),
])
def test_bad_response_header_fails_at_startup(etag: str, field: str, message: str) -> None:
    service = build_file(etag=etag, etag_field=field).services_by_name["ThingService"]
    with pytest.raises(ValueError, match=message) as err:
        bindings_for([service])
    assert "GetThing" in str(err.value)


def test_openapi_documents_response_headers() -> None:
    doc = build_openapi(bindings_for([THING_SERVICE]), title="t", version="1", comments={})
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(doc)
    get = doc["paths"]["/scim/v2/Things/{id}"]["get"]["responses"]["200"]
    assert get["headers"] == {"ETag": {"schema": {"type": "string"}},
                              "Location": {"schema": {"type": "string"}}}
    delete = doc["paths"]["/scim/v2/Things/{id}"]["delete"]["responses"]["204"]
    assert delete["headers"]["X-Rev"] == {"schema": {"type": "integer", "format": "int32"}}
    assert "headers" not in doc["paths"]["/scim/v2/Things"]["post"]["responses"]["201"]


# ------------------------------------------------- the app

Handler = Callable[[Message], Awaitable[Message]]


class FakeInvoker:
    """Answers by method name; an AuthcoreError becomes the status the core would send."""

    def __init__(self, handlers: dict[str, Handler]) -> None:
        self.handlers = handlers
        self.requests: list[Message] = []

    async def unary(self, method: MethodDescriptor, request: Message, *,
                    metadata: Sequence[tuple[str, str]], peer: str) -> Message:
        self.requests.append(request)
        try:
            return await self.handlers[method.name](request)
        except AuthcoreError as err:
            raise CallError(err.to_status()) from None


async def get_thing(request: Any) -> Message:
    if request.id == "nobody":
        raise Unauthenticated("bearer token required")
    if request.id == "taken":
        raise AlreadyExists("userName is taken", metadata={"scimType": "uniqueness"})
    if request.id == "bad":
        raise InvalidArgument("bad filter", metadata={"scimType": "invalidFilter"})
    if request.id == "bare":
        return GetThingResponse(thing={"user_name": "b"})
    return GetThingResponse(thing={
        "user_name": request.id, "meta": {"version": 'W/"3"',
                                          "location": f"https://x/scim/v2/Things/{request.id}"}})


async def create_thing(request: Any) -> Message:
    return GetThingResponse(thing=request)


async def delete_thing(request: Any) -> Message:
    if request.id == "zero":
        return DeleteThingResponse(rev=0)
    return DeleteThingResponse()


@pytest.fixture
def invoker() -> FakeInvoker:
    return FakeInvoker({"GetThing": get_thing, "CreateThing": create_thing,
                        "DeleteThing": delete_thing, "PeekThing": peek_thing})


async def peek_thing(request: Any) -> Message:
    return DeleteThingResponse(rev=7, gone=True)


@pytest.fixture
async def client(invoker: FakeInvoker) -> AsyncIterator[httpx.AsyncClient]:
    # Entrust first: it owns every path no other API is closer to.
    services = [auth.DESCRIPTOR.services_by_name["AuthenticationService"], THING_SERVICE]
    app = create_app(invoker, services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as c:
        yield c


async def test_response_headers_sent(client: httpx.AsyncClient) -> None:
    r = await client.get("/scim/v2/Things/bjensen")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/scim+json"
    assert r.headers["etag"] == 'W/"3"'
    assert r.headers["location"] == "https://x/scim/v2/Things/bjensen"
    assert r.json() == {"userName": "bjensen", "$ref": "", "meta": {
        "version": 'W/"3"', "location": "https://x/scim/v2/Things/bjensen"},
        "active": False, "Display": "", "dISPLAY": ""}


async def test_unset_or_empty_response_headers_left_out(client: httpx.AsyncClient) -> None:
    r = await client.get("/scim/v2/Things/bare")  # meta unset
    assert "etag" not in r.headers and "location" not in r.headers
    r = await client.delete("/scim/v2/Things/x")  # rev unset, gone false
    assert r.status_code == 204 and r.content == b""
    assert "x-rev" not in r.headers and "x-gone" not in r.headers


async def test_response_headers_on_an_empty_body(client: httpx.AsyncClient) -> None:
    # rev has presence: 0 is a value.
    r = await client.delete("/scim/v2/Things/zero")
    assert r.status_code == 204
    assert r.headers["x-rev"] == "0"


async def test_header_only_fields_leave_the_body(client: httpx.AsyncClient) -> None:
    r = await client.get("/scim/v2/Peek/x")
    assert r.status_code == 200
    assert r.headers["x-rev"] == "7"
    assert r.json() == {"gone": True}


def test_header_only_needs_a_top_level_field() -> None:
    from rest_bridge.routes import _response_header

    method = THING_SERVICE.methods_by_name["GetThing"]
    with pytest.raises(ValueError, match="header_only"):
        _response_header(method, "ETag", "thing.meta.version", True)


async def test_response_header_values_http_cannot_carry_dropped(
        client: httpx.AsyncClient, invoker: FakeInvoker) -> None:
    async def evil(request: Any) -> Message:
        return GetThingResponse(thing={"meta": {"version": "v", "location": "x\r\nSet-Cookie: a"}})

    invoker.handlers["GetThing"] = evil
    r = await client.get("/scim/v2/Things/x")
    assert r.status_code == 200
    assert r.headers["etag"] == "v"
    assert "location" not in r.headers and "set-cookie" not in r.headers


async def test_case_insensitive_request_body(client: httpx.AsyncClient,
                                             invoker: FakeInvoker) -> None:
    r = await client.post("/scim/v2/Things", json={"USERNAME": "bjensen", "emails": []})
    assert r.status_code == 201
    assert invoker.requests[-1].user_name == "bjensen"
    assert "emails" not in r.json()


SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


async def test_scim_404_for_unknown_paths_under_its_prefix(client: httpx.AsyncClient) -> None:
    for path in ("/scim/v2/Nope", "/scim/v2/Things/a/b", "/scim/v2"):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/scim+json", path
        assert r.json() == {"schemas": [SCIM_ERROR], "status": "404",
                            "detail": "no such resource"}
    r = await client.get("/api/web/v9/unknown")
    assert r.status_code == 404
    assert r.json()["errorCode"] == "not_found"  # Entrust still owns its paths


async def test_scim_405(client: httpx.AsyncClient) -> None:
    r = await client.put("/scim/v2/Things/x")
    assert r.status_code == 405
    assert r.headers["allow"] == "DELETE, GET, HEAD"
    assert r.headers["content-type"] == "application/scim+json"
    assert r.json() == {"schemas": [SCIM_ERROR], "status": "405",
                        "detail": "PUT is not allowed here"}


async def test_scim_401_carries_a_bearer_challenge(client: httpx.AsyncClient) -> None:
    r = await client.get("/scim/v2/Things/nobody")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="authcore"'
    assert r.json() == {"schemas": [SCIM_ERROR], "status": "401",
                        "detail": "bearer token required"}


async def test_scim_types(client: httpx.AsyncClient) -> None:
    r = await client.get("/scim/v2/Things/taken")
    assert (r.status_code, r.json()["scimType"]) == (409, "uniqueness")
    r = await client.get("/scim/v2/Things/bad")
    assert (r.status_code, r.json()["scimType"]) == (400, "invalidFilter")
    assert "www-authenticate" not in r.headers
    r = await client.post("/scim/v2/Things", content=b'{"userName": ')
    assert r.status_code == 400
    assert r.json() == {"schemas": [SCIM_ERROR], "status": "400", "scimType": "invalidSyntax",
                        "detail": "request body is not valid JSON"}
    r = await client.post("/scim/v2/Things", json={"USERNAME": 7})
    assert r.status_code == 400
    assert r.json()["scimType"] == "invalidValue"
    assert "USERNAME" in r.json()["detail"]
    r = await client.post("/scim/v2/Things", content=b"{}" + b" " * (2 << 20))
    assert r.status_code == 413
    assert json.loads(r.content) == {"schemas": [SCIM_ERROR], "status": "413",
                                     "detail": "request body exceeds 1048576 bytes"}


def test_body_required_is_read_from_the_method_options() -> None:
    from authcore.v1 import self_service_pb2
    service = self_service_pb2.DESCRIPTOR.services_by_name["SelfValuesService"]
    required = {b.method.name: b.body_required for b in bindings_for([service])}
    assert required == {"GetSelfValues": False, "DeleteSelfValues": True,
                        "SetSelfValues": True, "VerifySelfValue": True}
