"""SCIM failures as authcore errors: the scimType of RFC 7644 section 3.12
travels as ErrorInfo metadata, which the bridge's SCIM style renders."""

from __future__ import annotations

import re

from pydantic import ValidationError
from scim2_models import SCIMException

from authcore.errors import (
    HTTP_HEADER_PREFIX,
    AlreadyExists,
    AuthcoreError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unimplemented,
)

SCIM_TYPE_KEY = "scimType"


class PreconditionFailed(FailedPrecondition):
    """If-Match named another version of the resource."""

    default_reason = "version_mismatch"
    http_status = 412


class NotModified(FailedPrecondition):
    """If-None-Match named the current version: the client's copy is fresh.
    A 304 carries the ETag a 200 would have (RFC 9110 section 15.4.5)."""

    default_reason = "not_modified"
    http_status = 304

    def __init__(self, etag: str) -> None:
        super().__init__("not modified", metadata={HTTP_HEADER_PREFIX + "ETag": etag})


def _snake(scim_type: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", scim_type).lower()


def bad_request(scim_type: str, message: str) -> InvalidArgument:
    """A 400 with one of RFC 7644's scimTypes, e.g. invalidFilter."""
    return InvalidArgument(message, reason=_snake(scim_type),
                           metadata={SCIM_TYPE_KEY: scim_type})


def uniqueness(message: str) -> AlreadyExists:
    return AlreadyExists(message, reason="uniqueness", metadata={SCIM_TYPE_KEY: "uniqueness"})


def not_found(resource: str, resource_id: str) -> NotFound:
    # The id is the client's own input; echoing a bounded copy helps them.
    return NotFound(f"{resource} {resource_id[:64]!r} not found", reason="not_found")


def from_scim_exception(exc: SCIMException) -> AuthcoreError:
    detail = exc.detail
    if exc.status == 404:
        return NotFound(detail, reason="not_found")
    if exc.status == 409:
        return uniqueness(detail)
    if exc.status == 412:
        return PreconditionFailed(detail)
    if exc.status == 501:
        return Unimplemented(detail)
    return bad_request(exc.scim_type or "invalidValue", detail)


def from_validation_error(exc: ValidationError) -> AuthcoreError:
    """The first problem pydantic found, with the scimType scim2-models gave
    it (`scim_invalidPath`...), else invalidValue (a wrong type, a missing
    required attribute)."""
    first = exc.errors(include_url=False)[0]
    kind = str(first.get("type", ""))
    scim_type = kind[len("scim_"):] if kind.startswith("scim_") and kind != "scim_error" \
        else "invalidValue"
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "Operations")
    message = str(first.get("msg", "invalid value"))
    return bad_request(scim_type, f"{where}: {message}" if where else message)


def translate(exc: Exception) -> AuthcoreError:
    if isinstance(exc, SCIMException):
        return from_scim_exception(exc)
    if isinstance(exc, ValidationError):
        return from_validation_error(exc)
    raise exc
