"""Render a google.rpc.Status as an HTTP error in a service's vendor style.

Every error the bridge sends goes through `ErrorRenderer.render`, whether
the core returned the status or the bridge refused the request itself (the
bridge builds an AuthcoreError and renders its `to_status()`), so all error
bodies of one API share one shape.

An error may name its own HTTP status (ErrorInfo metadata "http_status",
see AuthcoreError.http_status); the bridge sends it and never shows the
key in a body.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from starlette.responses import Response

from authcore.errors import (
    HTTP_BODY_JSON_KEY,
    HTTP_BODY_PREFIX,
    HTTP_HEADER_PREFIX,
    HTTP_STATUS_KEY,
    AuthcoreError,
    ResourceExhausted,
    Unimplemented,
)
from authcore.v1 import options_pb2
from rest_bridge.codec import message_to_json

# grpc-gateway's runtime.HTTPStatusFromCode.
HTTP_STATUS_BY_CODE: Mapping[int, int] = {
    code_pb2.OK: 200,
    code_pb2.CANCELLED: 499,
    code_pb2.UNKNOWN: 500,
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.DEADLINE_EXCEEDED: 504,
    code_pb2.NOT_FOUND: 404,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.PERMISSION_DENIED: 403,
    code_pb2.UNAUTHENTICATED: 401,
    code_pb2.RESOURCE_EXHAUSTED: 429,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.ABORTED: 409,
    code_pb2.OUT_OF_RANGE: 400,
    code_pb2.UNIMPLEMENTED: 501,
    code_pb2.INTERNAL: 500,
    code_pb2.UNAVAILABLE: 503,
    code_pb2.DATA_LOSS: 500,
}

JSON = "application/json"
SCIM_JSON = "application/scim+json"
SCIM_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
_HTTP_STATUS_RE = re.compile(r"[1-5][0-9][0-9]")


# ------------------------------------------- errors the bridge itself raises

class RequestTooLarge(ResourceExhausted):
    """The body exceeds the bridge's limit: 413, not the 429 of rate limits."""

    http_status = 413
    default_reason = "request_too_large"


class MethodNotAllowed(Unimplemented):
    """The path exists but not with this HTTP method."""

    http_status = 405
    default_reason = "method_not_allowed"


# ----------------------------------------------------------------- details

@dataclass(slots=True)
class ErrorParts:
    """What the renderers need from a Status, unpacked once."""

    code: int
    message: str
    reason: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    violations: list[tuple[str, str]] = field(default_factory=list)
    retry_after: int | None = None
    http_status: int | None = None  # the error's own HTTP status, when it names one
    headers: dict[str, str] = field(default_factory=dict)  # the error's own HTTP headers
    body_fields: dict[str, str] = field(default_factory=dict)  # extra top-level body keys
    # Top-level body keys that replace the rendered ones (HTTP_BODY_JSON_KEY).
    body_json: dict[str, Any] = field(default_factory=dict)
    details: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)


def _unpack(packed: any_pb2.Any, msg: Any) -> bool:
    return packed.Is(msg.DESCRIPTOR) and packed.Unpack(msg)


def unpack_status(status: status_pb2.Status) -> ErrorParts:
    parts = ErrorParts(code=status.code, message=status.message)
    for packed in status.details:
        info = error_details_pb2.ErrorInfo()
        bad = error_details_pb2.BadRequest()
        retry = error_details_pb2.RetryInfo()
        if _unpack(packed, info):
            # Transport, not content: removed before any renderer sees metadata.
            raw_status = info.metadata.get(HTTP_STATUS_KEY)
            if raw_status is not None:
                del info.metadata[HTTP_STATUS_KEY]
            headers = {k[len(HTTP_HEADER_PREFIX):]: v for k, v in info.metadata.items()
                       if k.startswith(HTTP_HEADER_PREFIX)}
            for key in headers:
                del info.metadata[HTTP_HEADER_PREFIX + key]
            body_fields = {k[len(HTTP_BODY_PREFIX):]: v for k, v in info.metadata.items()
                           if k.startswith(HTTP_BODY_PREFIX)}
            for key in body_fields:
                del info.metadata[HTTP_BODY_PREFIX + key]
            raw_json = info.metadata.get(HTTP_BODY_JSON_KEY)
            if raw_json is not None:
                del info.metadata[HTTP_BODY_JSON_KEY]
            if parts.reason is None:
                # A value that could split the response is dropped.
                parts.headers = {k: v for k, v in headers.items()
                                 if not any(c in k + v for c in "\r\n\0")}
                parts.reason = info.reason
                parts.body_fields = body_fields
                parts.body_json = _json_object(raw_json)
                # Sorted: protobuf maps iterate in no stable order.
                parts.metadata = dict(sorted(info.metadata.items()))
                if raw_status is not None and _HTTP_STATUS_RE.fullmatch(raw_status):
                    parts.http_status = int(raw_status)
            parts.details.append((packed.type_url, message_to_json(info)))
        elif _unpack(packed, bad):
            parts.violations.extend((v.field, v.description) for v in bad.field_violations)
            parts.details.append((packed.type_url, message_to_json(bad)))
        elif _unpack(packed, retry):
            delay = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9
            parts.retry_after = max(1, math.ceil(delay))
            parts.details.append((packed.type_url, message_to_json(retry)))
        else:
            parts.details.append((packed.type_url, None))
    return parts


def _json_object(raw: str | None) -> dict[str, Any]:
    """The core's JSON body object; anything else (a bug) is dropped rather
    than rendered half."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _code_name(code: int) -> str:
    try:
        return str(code_pb2.Code.Name(code)).lower()
    except ValueError:
        return "unknown"


# --------------------------------------------------------------- renderers

BodyRenderer = Callable[[ErrorParts, int], dict[str, Any]]


def entrust_body(parts: ErrorParts, http_status: int) -> dict[str, Any]:
    parameters: list[dict[str, str]] = [
        {"field": f, "description": d} for f, d in parts.violations
    ]
    parameters.extend({"name": k, "value": v} for k, v in parts.metadata.items())
    return {
        "errorCode": parts.reason or _code_name(parts.code),
        "errorMessage": parts.message,
        "parameters": parameters,
    }


# LoginID's spec allows exactly these msgCodes, one per HTTP status class.
LOGINID_MSG_CODES: Mapping[int, str] = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
}


def loginid_msg_code(http_status: int) -> str:
    if http_status >= 500:
        return "internal_error"
    # 409, 413, 422, 429 and the rest of 4xx: the client must change the request.
    return LOGINID_MSG_CODES.get(http_status, "bad_request")


def loginid_body(parts: ErrorParts, http_status: int) -> dict[str, Any]:
    """`msgCode` is the spec's enum, derived from the HTTP status; the core's
    message (which names the specific problem) is `msg`."""
    return {"msg": parts.message, "msgCode": loginid_msg_code(http_status)}


# A value the bridge could not convert (a number for a string, a bad enum
# name): the consumer API's own codes (REQUIRED, SIZE, REGEX, IN, ...) are
# given by the core in metadata "error:<field>".
CONSUMER_TYPE_ERROR = "INVALID_TYPE"


def consumer_body(parts: ErrorParts, http_status: int) -> dict[str, Any]:
    """{message, syntaxErrors: {invalidFields: [{fieldName, error, params}]}};
    a 409 also names its `errorCode` (STATE_INVALID, CHANNEL_NOT_REGISTERED, ...)."""
    body: dict[str, Any] = {"message": parts.message}
    if http_status == 409 and parts.metadata.get("errorCode"):
        body["errorCode"] = parts.metadata["errorCode"]
    if parts.violations:
        invalid = []
        for name, _ in parts.violations:
            raw_params = parts.metadata.get(f"params:{name}")
            invalid.append({
                "params": raw_params.split(",") if raw_params else [],
                "fieldName": name,
                "error": parts.metadata.get(f"error:{name}", CONSUMER_TYPE_ERROR),
            })
        body["syntaxErrors"] = {"invalidFields": invalid}
    return body


def scim_type(parts: ErrorParts, http_status: int) -> str | None:
    """RFC 7644 section 3.12: scimType belongs to 400s, plus 409 "uniqueness".

    The core names it in metadata "scimType"; errors the bridge raises itself
    (bad JSON, a value of the wrong type) get theirs derived here.
    """
    given = parts.metadata.get("scimType") or None
    if http_status == 409:
        return given if given == "uniqueness" else None
    if http_status != 400:
        return None
    if given is not None:
        return given
    if parts.reason == "malformed_json":
        return "invalidSyntax"
    if parts.code == code_pb2.INVALID_ARGUMENT and parts.violations:
        return "invalidValue"
    return None


def scim_body(parts: ErrorParts, http_status: int) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [SCIM_ERROR_SCHEMA], "status": str(http_status)}
    kind = scim_type(parts, http_status)
    if kind is not None:
        body["scimType"] = kind
    body["detail"] = parts.message
    return body


def axidian_body(parts: ErrorParts, http_status: int) -> dict[str, Any]:
    return {"Message": parts.message, "ErrorCode": parts.reason or _code_name(parts.code)}


def code_message_body(parts: ErrorParts, http_status: int) -> dict[str, Any]:
    """{code, message, target}: `target` is the first offending field, when
    the core named one."""
    body: dict[str, Any] = {"code": parts.reason or _code_name(parts.code),
                            "message": parts.message}
    if parts.violations:
        body["target"] = parts.violations[0][0]
    return body


def gateway_body(parts: ErrorParts, http_status: int) -> dict[str, Any]:
    """grpc-gateway's shape, for services that name no vendor style."""
    details = [{"@type": url, **(body or {})} for url, body in parts.details]
    return {"code": parts.code, "message": parts.message, "details": details}


@dataclass(frozen=True, slots=True)
class _Style:
    body: BodyRenderer
    content_type: str = JSON
    # Sent with every 401 unless the caller gives the header itself; RFC 9110
    # wants a challenge on a 401 and SCIM clients look for Bearer's.
    unauthorized_headers: Mapping[str, str] = field(default_factory=dict)


_STYLES: Mapping[int, _Style] = {
    options_pb2.ERROR_STYLE_ENTRUST: _Style(entrust_body),
    options_pb2.ERROR_STYLE_LOGINID: _Style(loginid_body),
    options_pb2.ERROR_STYLE_CONSUMER: _Style(consumer_body),
    options_pb2.ERROR_STYLE_SCIM: _Style(scim_body, SCIM_JSON, {
        "WWW-Authenticate": 'Bearer realm="authcore"'}),
    options_pb2.ERROR_STYLE_AXIDIAN: _Style(axidian_body),
    options_pb2.ERROR_STYLE_CODE_MESSAGE: _Style(code_message_body),
}
_GATEWAY_STYLE = _Style(gateway_body)


def dump_json(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode("utf-8")


class ErrorRenderer:
    """Renders statuses in one ErrorStyle; one instance per service, built at startup."""

    __slots__ = ("_body", "_unauthorized", "content_type", "style")

    def __init__(self, style: int) -> None:
        self.style = style
        spec = _STYLES.get(style, _GATEWAY_STYLE)
        self._body, self.content_type = spec.body, spec.content_type
        self._unauthorized = spec.unauthorized_headers

    @staticmethod
    def _http_status(parts: ErrorParts, explicit: int | None) -> int:
        return explicit or parts.http_status or HTTP_STATUS_BY_CODE.get(parts.code, 500)

    def body(self, status: status_pb2.Status, http_status: int | None = None) -> dict[str, Any]:
        parts = unpack_status(status)
        return self._body(parts, self._http_status(parts, http_status))

    def render(self, status: status_pb2.Status, *, http_status: int | None = None,
               headers: Mapping[str, str] | None = None) -> Response:
        parts = unpack_status(status)
        code = self._http_status(parts, http_status)
        out_headers = {**parts.headers, **(headers or {})}
        # Retry-After makes sense on 429 (rate limit, lockout) and 503.
        if parts.retry_after is not None and code in (429, 503):
            out_headers["Retry-After"] = str(parts.retry_after)
        if code == 401 and self._unauthorized:
            present = {key.lower() for key in out_headers}
            out_headers.update((k, v) for k, v in self._unauthorized.items()
                               if k.lower() not in present)
        if code < 200 or code in (204, 304):
            return Response(status_code=code, headers=out_headers)  # HTTP forbids a body
        # A 5xx body carries the status message only: the core already made
        # it safe, and the bridge never adds exception text.
        body = self._body(parts, code)
        if parts.body_fields:
            body = {**body, **{k: v for k, v in parts.body_fields.items() if k not in body}}
        if parts.body_json:
            body = {**body, **parts.body_json}
        return Response(dump_json(body), status_code=code,
                        headers=out_headers, media_type=self.content_type)

    def render_error(self, error: AuthcoreError, *,
                     headers: Mapping[str, str] | None = None) -> Response:
        # error.http_status travels inside the status, as it does from the core.
        return self.render(error.to_status(), headers=headers)
