"""The one exception hierarchy of authcore.

Flows and services raise these. The error interceptor turns them into a gRPC
status carrying `google.rpc.Status` details (ErrorInfo with the stable reason
slug, BadRequest field violations, RetryInfo); the REST bridge renders that
status in each API's own style. Nothing else translates errors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

ERROR_DOMAIN = "authcore"
HTTP_STATUS_KEY = "http_status"
# ErrorInfo metadata keys "http_header:<Name>" become response headers of the
# REST error (e.g. the ETag a 304 must carry); gRPC clients see them as
# metadata of the error detail.
HTTP_HEADER_PREFIX = "http_header:"
# ErrorInfo metadata keys "http_body:<key>" become top-level keys of the REST
# error body, for APIs that document data in an error answer (the consumer
# API's temporary token on a 401 for an expired password).
HTTP_BODY_PREFIX = "http_body:"
# ErrorInfo metadata key whose value is a JSON object merged over the REST
# error body, replacing its keys, for APIs whose documented error answer is
# structured (LoginID MFA's 401 additional_auth_required carries MfaNext).
HTTP_BODY_JSON_KEY = "http_body_json"


class AuthcoreError(Exception):
    """Base class: a gRPC code, a stable snake_case reason and a safe message.

    The message goes to clients, so it never contains secrets or internals.
    """

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    default_reason = "error"
    # An HTTP status the API documents for this error where grpc-gateway's
    # table would give another (SCIM's 412 and 304, a lockout's 423). It
    # travels in ErrorInfo metadata under HTTP_STATUS_KEY; the REST bridge
    # honours it and gRPC clients still see `code`.
    http_status: int | None = None

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        field_violations: Sequence[tuple[str, str]] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.field_violations = tuple(field_violations)
        self.metadata = dict(metadata or {})

    def to_status(self) -> status_pb2.Status:
        details: list[any_pb2.Any] = []
        metadata = self.metadata
        if self.http_status is not None:
            metadata = {**metadata, HTTP_STATUS_KEY: str(self.http_status)}
        info = error_details_pb2.ErrorInfo(
            reason=self.reason, domain=ERROR_DOMAIN, metadata=metadata
        )
        details.append(_pack(info))
        if self.field_violations:
            bad = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                    for f, d in self.field_violations
                ]
            )
            details.append(_pack(bad))
        details.extend(self._extra_details())
        return status_pb2.Status(
            code=self.code.value[0], message=self.message, details=details
        )

    def _extra_details(self) -> list[any_pb2.Any]:
        return []


def _pack(msg: error_details_pb2.ErrorInfo | error_details_pb2.BadRequest
          | error_details_pb2.RetryInfo) -> any_pb2.Any:
    out = any_pb2.Any()
    out.Pack(msg)
    return out


class InvalidArgument(AuthcoreError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "invalid_argument"


class FailedPrecondition(AuthcoreError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "failed_precondition"


class Unauthenticated(AuthcoreError):
    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "unauthenticated"


class PermissionDenied(AuthcoreError):
    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "permission_denied"


class Locked(PermissionDenied):
    """An account or authenticator locked after failed attempts, where the
    API documents 423 Locked (the consumer API)."""

    http_status = 423
    default_reason = "account_locked"


class Conflict(FailedPrecondition):
    """The resource's state forbids the action (a step-up already in flight,
    a channel not registered): 409 where the API documents it."""

    http_status = 409
    default_reason = "state_invalid"


class NotFound(AuthcoreError):
    code = grpc.StatusCode.NOT_FOUND
    default_reason = "not_found"


class AlreadyExists(AuthcoreError):
    code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = "already_exists"


class Unimplemented(AuthcoreError):
    code = grpc.StatusCode.UNIMPLEMENTED
    default_reason = "unimplemented"


class Unavailable(AuthcoreError):
    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "unavailable"


class BadGateway(Unavailable):
    """An upstream service this call depends on (an application's external
    verifier) answered wrongly: gRPC UNAVAILABLE, HTTP 502."""

    default_reason = "bad_gateway"
    http_status = 502


class GatewayTimeout(AuthcoreError):
    """An upstream service did not answer in time: HTTP 504."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED
    default_reason = "gateway_timeout"
    http_status = 504


class ResourceExhausted(AuthcoreError):
    """Rate limited, or locked out; carries RetryInfo when a wait helps."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None,
                 reason: str | None = None,
                 metadata: Mapping[str, str] | None = None) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.retry_after = retry_after

    def _extra_details(self) -> list[any_pb2.Any]:
        if self.retry_after is None:
            return []
        seconds = max(1, math.ceil(self.retry_after))
        return [_pack(error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(seconds=seconds)))]


def internal_status() -> status_pb2.Status:
    """What a client sees for an unexpected exception: no traceback, no text."""
    info = error_details_pb2.ErrorInfo(reason="internal_error", domain=ERROR_DOMAIN)
    return status_pb2.Status(
        code=code_pb2.INTERNAL, message="internal error", details=[_pack(info)]
    )
