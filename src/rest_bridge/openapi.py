"""The OpenAPI 3.0 document, generated from the same bindings the routes use.

Schemas follow what the codec writes: json names, enum values in their
vendor spelling, 64-bit integers as numbers, Timestamps as date-time strings.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from authcore.v1 import options_pb2
from rest_bridge.codec import is_map
from rest_bridge.codec_scalars import enum_table
from rest_bridge.comments import summary_and_description
from rest_bridge.descriptors import enum_type, message_type, value_field
from rest_bridge.errors import JSON, SCIM_JSON
from rest_bridge.routes import Binding

Schema = dict[str, Any]
_T = FieldDescriptor
_OPENAPI_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "HEAD"})

_SCALARS: Mapping[int, Schema] = {
    _T.TYPE_DOUBLE: {"type": "number", "format": "double"},
    _T.TYPE_FLOAT: {"type": "number", "format": "float"},
    _T.TYPE_INT64: {"type": "integer", "format": "int64"},
    _T.TYPE_SINT64: {"type": "integer", "format": "int64"},
    _T.TYPE_SFIXED64: {"type": "integer", "format": "int64"},
    _T.TYPE_UINT64: {"type": "integer", "format": "int64", "minimum": 0},
    _T.TYPE_FIXED64: {"type": "integer", "format": "int64", "minimum": 0},
    _T.TYPE_INT32: {"type": "integer", "format": "int32"},
    _T.TYPE_SINT32: {"type": "integer", "format": "int32"},
    _T.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    _T.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295},
    _T.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295},
    _T.TYPE_BOOL: {"type": "boolean"},
    _T.TYPE_STRING: {"type": "string"},
    _T.TYPE_BYTES: {"type": "string", "format": "byte"},
}

_WKT: Mapping[str, Schema] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "example": "1.5s"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.DoubleValue": {"type": "number", "format": "double", "nullable": True},
    "google.protobuf.FloatValue": {"type": "number", "format": "float", "nullable": True},
    "google.protobuf.Int64Value": {"type": "integer", "format": "int64", "nullable": True},
    "google.protobuf.UInt64Value": {"type": "integer", "format": "int64", "nullable": True},
    "google.protobuf.Int32Value": {"type": "integer", "format": "int32", "nullable": True},
    "google.protobuf.UInt32Value": {"type": "integer", "format": "int64", "nullable": True},
    "google.protobuf.BoolValue": {"type": "boolean", "nullable": True},
    "google.protobuf.StringValue": {"type": "string", "nullable": True},
    "google.protobuf.BytesValue": {"type": "string", "format": "byte", "nullable": True},
}


def _obj(properties: Mapping[str, Schema], description: str) -> Schema:
    return {"type": "object", "description": description, "properties": dict(properties)}


_STR: Schema = {"type": "string"}
_ERROR_SCHEMAS: Mapping[int, tuple[str, Schema]] = {
    options_pb2.ERROR_STYLE_ENTRUST: ("EntrustError", _obj({
        "errorCode": _STR, "errorMessage": _STR,
        "parameters": {"type": "array", "items": _obj({
            "field": _STR, "description": _STR, "name": _STR, "value": _STR,
        }, "A field violation (field, description) or a detail (name, value).")},
    }, "Entrust IDaaS error.")),
    options_pb2.ERROR_STYLE_LOGINID: ("LoginIdError", _obj(
        {"msg": _STR, "msgCode": {"type": "string", "enum": [
            "bad_request", "unauthorized", "forbidden", "not_found", "internal_error"]}},
        "LoginID error.")),
    options_pb2.ERROR_STYLE_CONSUMER: ("ConsumerError", _obj({
        "message": _STR,
        "errorCode": {"type": "string", "description": "On a 409: why the state refuses it."},
        "syntaxErrors": _obj({"invalidFields": {"type": "array", "items": _obj({
            "fieldName": _STR, "error": _STR,
            "params": {"type": "array", "items": _STR},
        }, "One invalid field.")}}, "Present when request fields are invalid."),
    }, "Consumer API error.")),
    options_pb2.ERROR_STYLE_SCIM: ("ScimError", _obj({
        "schemas": {"type": "array", "items": _STR}, "status": _STR,
        "scimType": _STR, "detail": _STR,
    }, "SCIM 2.0 error (RFC 7644 section 3.12).")),
    options_pb2.ERROR_STYLE_AXIDIAN: ("AxidianError", _obj(
        {"Message": _STR, "ErrorCode": _STR}, "Axidian error.")),
    options_pb2.ERROR_STYLE_CODE_MESSAGE: ("CodeMessageError", _obj(
        {"code": _STR, "message": _STR, "target": _STR},
        "Entrust's Error (code, message, target), as its /self/values paths write it.")),
}
_GATEWAY_ERROR = ("Status", _obj({
    "code": {"type": "integer", "format": "int32"}, "message": _STR,
    "details": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
}, "google.rpc.Status, as grpc-gateway writes it."))


class _Components:
    def __init__(self, comments: Mapping[str, str]) -> None:
        self.comments = comments
        self.schemas: dict[str, Schema] = {}

    def _describe(self, schema: Schema, full_name: str) -> Schema:
        text = self.comments.get(full_name)
        if text:
            schema["description"] = text
        return schema

    def message(self, desc: Descriptor) -> Schema:
        wkt = _WKT.get(desc.full_name)
        if wkt is not None:
            return dict(wkt)
        name = desc.full_name
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder: recursive types refer back to it
            self.schemas[name] = self.object_schema(desc)
        return {"$ref": f"#/components/schemas/{name}"}

    def object_schema(self, desc: Descriptor, exclude: frozenset[str] = frozenset()) -> Schema:
        properties = {f.json_name: self.field(f) for f in desc.fields if f.name not in exclude}
        return self._describe({"type": "object", "properties": properties}, desc.full_name)

    def enum(self, desc: EnumDescriptor) -> Schema:
        name = desc.full_name
        if name not in self.schemas:
            table = enum_table(desc)
            values = [table.to_json[v.number] for v in desc.values if v.number != 0]
            schema: Schema = {"type": "string",
                              "enum": list(dict.fromkeys(values or table.to_json.values()))}
            self.schemas[name] = self._describe(schema, name)
        return {"$ref": f"#/components/schemas/{name}"}

    def element(self, field: FieldDescriptor) -> Schema:
        if field.type == _T.TYPE_MESSAGE:
            return self.message(message_type(field))
        if field.type == _T.TYPE_ENUM:
            return self.enum(enum_type(field))
        return dict(_SCALARS[field.type])

    def field(self, field: FieldDescriptor) -> Schema:
        if is_map(field):
            values = self.element(value_field(message_type(field)))
            schema: Schema = {"type": "object", "additionalProperties": values}
        elif field.is_repeated:
            schema = {"type": "array", "items": self.element(field)}
        else:
            schema = self.element(field)
        parent = field.containing_type
        text = self.comments.get(f"{parent.full_name}.{field.name}") if parent else None
        deprecated = field.GetOptions().deprecated
        if (text or deprecated) and "$ref" in schema:
            schema = {"allOf": [schema]}  # OpenAPI 3.0 ignores siblings of $ref
        if text:
            schema["description"] = text
        if deprecated:
            schema["deprecated"] = True
        return schema


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Success"


def _error_schema(style: int) -> tuple[str, Schema]:
    return _ERROR_SCHEMAS.get(style, _GATEWAY_ERROR)


class _Builder:
    def __init__(self, comments: Mapping[str, str]) -> None:
        self.components = _Components(comments)
        self.comments = comments
        self.error_components: dict[str, Schema] = {}

    def error_response(self, style: int, description: str) -> Schema:
        name, schema = _error_schema(style)
        self.error_components[name] = schema
        media = SCIM_JSON if style == options_pb2.ERROR_STYLE_SCIM else JSON
        return {"description": description,
                "content": {media: {"schema": {"$ref": f"#/components/schemas/{name}"}}}}

    def operation(self, b: Binding) -> Schema:
        c = self.components
        summary, description = summary_and_description(
            self.comments.get(f"{b.service.full_name}.{b.method.name}"))
        op: Schema = {"operationId": b.operation_id, "tags": [b.service.name]}
        if summary:
            op["summary"] = summary
        if description:
            op["description"] = description
        if b.deprecated:
            op["deprecated"] = True
        params: list[Schema] = []
        for p in b.path_params:
            params.append(self._param(p.label, "path", c.element(p.chain[-1]), p.chain[-1],
                                      required=True))
        for key, chain in b.query_keys:
            params.append(self._param(key, "query", c.field(chain[-1]), chain[-1]))
        for h in b.header_params:
            params.append(self._param(h.header, "header", c.element(h.field), h.field))
        if params:
            op["parameters"] = params
        media = SCIM_JSON if b.error_style == options_pb2.ERROR_STYLE_SCIM else JSON
        if b.body:
            op["requestBody"] = {"content": {media: {"schema": self._body_schema(b)}}}
        status = b.success_status
        success: Schema = {"description": _phrase(status)}
        if not b.empty_response_body:
            schema = (c.field(b.response_field) if b.response_field
                      else c.message(b.method.output_type))
            success["content"] = {media: {"schema": schema}}
        if b.response_headers:
            success["headers"] = {h.header: self._header(h.chain[-1])
                                  for h in b.response_headers}
        responses: Schema = {str(status): success}
        if any(h.key == "if-none-match" for h in b.header_params):
            # The representation still matches: no body (RFC 9110 section 15.4.5).
            not_modified: Schema = {"description": _phrase(304)}
            etag = {k: v for k, v in success.get("headers", {}).items() if k.lower() == "etag"}
            if etag:
                not_modified["headers"] = etag
            responses["304"] = not_modified
        responses["400"] = self.error_response(b.error_style, "Invalid request")
        if b.body:
            responses["413"] = self.error_response(b.error_style, "Request body too large")
        responses["default"] = self.error_response(b.error_style, "Error")
        op["responses"] = responses
        if b.admin_scope:
            op["security"] = [{"adminKey": []}]
        return op

    def _param(self, name: str, where: str, schema: Schema, field: FieldDescriptor,
               *, required: bool = False) -> Schema:
        param: Schema = {"name": name, "in": where, "required": required, "schema": schema}
        parent = field.containing_type
        text = self.comments.get(f"{parent.full_name}.{field.name}") if parent else None
        if text:
            param["description"] = text
        return param

    def _header(self, field: FieldDescriptor) -> Schema:
        # Sent only when the field is set, so never required.
        header: Schema = {"schema": self.components.element(field)}
        parent = field.containing_type
        text = self.comments.get(f"{parent.full_name}.{field.name}") if parent else None
        if text:
            header["description"] = text
        return header

    def _body_schema(self, b: Binding) -> Schema:
        c = self.components
        if b.body_field is not None:
            return c.field(b.body_field)
        # Fields filled from the path or headers are not part of the body.
        taken = frozenset({p.chain[0].name for p in b.path_params if len(p.chain) == 1}
                          | {h.field.name for h in b.header_params})
        if not taken:
            return c.message(b.method.input_type)
        return c.object_schema(b.method.input_type, exclude=taken)


def build_openapi(bindings: Sequence[Binding], *, title: str, version: str,
                  comments: Mapping[str, str]) -> dict[str, Any]:
    builder = _Builder(comments)
    paths: dict[str, dict[str, Schema]] = {}
    tags: dict[str, Schema] = {}
    for b in bindings:
        if b.http_method not in _OPENAPI_METHODS:
            continue  # a custom verb OpenAPI 3.0 cannot describe
        paths.setdefault(b.openapi_path, {})[b.http_method.lower()] = builder.operation(b)
        tag: Schema = {"name": b.service.name}
        if comments.get(b.service.full_name):
            tag["description"] = comments[b.service.full_name]
        tags.setdefault(b.service.name, tag)
    schemas = dict(sorted(builder.components.schemas.items()))
    schemas.update(sorted(builder.error_components.items()))
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version},
        "tags": list(tags.values()),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"adminKey": {
                "type": "http", "scheme": "bearer",
                "description": "An admin key holding the scope the operation requires.",
            }},
        },
    }


# Swagger UI's files come from the pinned fastapi-offline package, served
# by the bridge itself (no CDN): the page runs on the API's origin, so a
# tampered third-party script could call the API with the reader's cookies.
DOCS_ASSETS = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript"}
DOCS_INIT_JS = 'SwaggerUIBundle({url: "./openapi.json", dom_id: "#swagger-ui"});\n'
# Scripts only from here, no inline script; Swagger UI sets inline styles.
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
            "frame-ancestors 'none'; form-action 'none'")


def docs_html(title: str) -> str:
    """Swagger UI, every file of it served by the bridge (see DOCS_ASSETS)."""
    safe = html.escape(title)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{safe} API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
"""
