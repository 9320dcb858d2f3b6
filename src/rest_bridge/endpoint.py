"""The one generic endpoint: HTTP request -> RPC request -> RPC -> HTTP response.

`RoutePlan` holds everything one binding needs, resolved at startup
(message class, field setters, renderer, options), so a request only runs
precomputed closures.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from authcore import logs
from authcore.errors import AuthcoreError, InvalidArgument, internal_status
from rest_bridge.codec import (
    CodecError,
    field_to_json,
    json_to_message,
    message_to_json,
    parse_scalar,
)
from rest_bridge.codec_scalars import scalar_encoder
from rest_bridge.errors import ErrorRenderer, RequestTooLarge, dump_json
from rest_bridge.invoker import CallError, Invoker, method_path
from rest_bridge.routes import Binding, FieldChain

logger = logging.getLogger(__name__)

# Request headers forwarded as gRPC metadata (Starlette keys are lower-case).
FORWARDED_HEADERS = ("authorization", "user-agent", "x-request-id")
FORWARDED_HOST = "x-forwarded-host"
Setter = Callable[[Message, str], None]
HeaderGetter = Callable[[Message], str | None]
# What a header value may hold: no CR/LF/NUL (header injection) and nothing
# Starlette cannot encode as latin-1.
_HEADER_VALUE_RE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


def invalid_value(err: CodecError, label: str | None = None) -> InvalidArgument:
    path = label if label is not None else err.field_path
    if not path:
        return InvalidArgument(f"request body {err.description}")
    return InvalidArgument(f"invalid {path}: {err.description}",
                           field_violations=[(path, err.description)])


def _setter(chain: FieldChain, label: str) -> Setter:
    """Assigns a text value (path, query, header) to the field at the end of chain."""
    parents = tuple(f.name for f in chain[:-1])
    leaf = chain[-1]
    name = leaf.name
    repeated = leaf.is_repeated
    message_leaf = leaf.type == FieldDescriptor.TYPE_MESSAGE

    def assign(msg: Message, raw: str) -> None:
        try:
            value = parse_scalar(leaf, raw)
        except CodecError as err:
            raise invalid_value(err, label) from None
        target: Any = msg
        for parent in parents:
            target = getattr(target, parent)
        if repeated:
            getattr(target, name).append(value)
        elif message_leaf:
            getattr(target, name).CopyFrom(value)
        else:
            setattr(target, name, value)

    return assign


def _response_header_getter(chain: FieldChain) -> HeaderGetter:
    """Reads the scalar at the end of chain as header text; None when unset or empty."""
    parents = tuple(f.name for f in chain[:-1])
    leaf = chain[-1]
    name = leaf.name
    presence = leaf.has_presence
    encode = scalar_encoder(leaf)  # enums in their JSON spelling, bytes as base64

    def get(msg: Message) -> str | None:
        target: Any = msg
        for parent in parents:
            if not target.HasField(parent):
                return None
            target = getattr(target, parent)
        if presence and not target.HasField(name):
            return None
        value = getattr(target, name)
        if not presence and not value:
            return None  # a proto3 default is indistinguishable from unset
        if encode is not None:
            value = encode(value)
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return text or None

    return get


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON does not.
    raise ValueError(f"invalid JSON constant {name}")


# An empty body, told apart from a JSON null.
NO_BODY: Any = object()


def parse_json(raw: bytes) -> Any:
    """The parsed body, or NO_BODY when the body is empty."""
    if not raw.strip():
        return NO_BODY
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # includes JSONDecodeError and bad UTF-8
        raise InvalidArgument("request body is not valid JSON",
                              reason="malformed_json") from None


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"request body exceeds {limit} bytes")
    # Count while streaming too: a chunked body declares no length.
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class RoutePlan:
    """Serves one binding."""

    def __init__(self, binding: Binding, invoker: Invoker, renderer: ErrorRenderer,
                 max_body_bytes: int) -> None:
        self.binding = binding
        self._invoker = invoker
        self._renderer = renderer
        self._limit = max_body_bytes
        self._method = binding.method
        self._rpc = method_path(binding.method)
        self._request_cls = message_factory.GetMessageClass(binding.method.input_type)
        self._body_star = binding.body == "*"
        self._body_key = binding.body_field.json_name if binding.body_field else None
        self._path = tuple((p.name, _setter(p.chain, p.label)) for p in binding.path_params)
        self._query = {key: _setter(chain, key) for key, chain in binding.query_params.items()}
        self._headers = tuple((h.key, _setter((h.field,), h.header))
                              for h in binding.header_params)
        self._status = binding.success_status
        self._empty = binding.empty_response_body
        self._body_required = binding.body_required
        self._response_field = binding.response_field
        self._response_headers = tuple((h.header, _response_header_getter(h.chain))
                                       for h in binding.response_headers)
        self._header_only = tuple(h.chain[0].json_name for h in binding.response_headers
                                  if h.header_only)

    async def handle(self, request: Request) -> Response:
        ctx = logs.current()  # rest_bridge.request_ids made it
        if ctx is not None:
            ctx.rpc = self._rpc  # also named when the bridge refuses the request
        try:
            message = await self._build(request)
            client = request.client
            response = await self._invoker.unary(
                self._method, message, metadata=self._metadata(request, ctx),
                peer=client.host if client else "")
            return self._respond(response)
        except AuthcoreError as err:  # the bridge refused the request
            return self._renderer.render_error(err)
        except CallError as err:  # the core answered with an error
            return self._renderer.render(err.status)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is listening any more
        except Exception:
            # A bridge bug: still one JSON error in the API's style, no details.
            logger.exception("REST bridge failure in %s", self._method.full_name)
            return self._renderer.render(internal_status())

    @staticmethod
    def _metadata(request: Request, ctx: logs.RequestContext | None
                  ) -> list[tuple[str, str]]:
        headers = request.headers
        pairs = [(key, value) for key in FORWARDED_HEADERS
                 if (value := headers.get(key)) is not None]
        # The host the client asked for: a proxy's X-Forwarded-Host, else Host.
        host = headers.get(FORWARDED_HOST) or headers.get("host")
        if host:
            pairs.append((FORWARDED_HOST, host))
        if ctx is not None:
            # The id this request answers with, not the raw header (which may
            # have been replaced): a RemoteInvoker's core logs the same one.
            pairs = [(k, v) for k, v in pairs if k != logs.REQUEST_ID_HEADER]
            pairs.append((logs.REQUEST_ID_HEADER, ctx.request_id))
        return pairs

    async def _build(self, request: Request) -> Message:
        message: Message = self._request_cls()
        if self._body_star or self._body_key:
            data = parse_json(await read_body(request, self._limit))
            if data is NO_BODY and self._body_required:
                raise InvalidArgument("request body is required", reason="missing_body")
            try:
                if self._body_star:
                    if data is NO_BODY:
                        data = {}  # an empty POST body means "no fields"
                    elif not isinstance(data, dict):
                        raise InvalidArgument("request body must be a JSON object")
                    json_to_message(data, self._request_cls, into=message)
                elif data is not NO_BODY:
                    json_to_message({self._body_key: data}, self._request_cls, into=message)
            except CodecError as err:
                raise invalid_value(err) from None
        if not self._body_star and self._query:
            for key, value in request.query_params.multi_items():
                assign = self._query.get(key)
                if assign is not None:
                    assign(message, value)
        path_params = request.path_params
        for name, assign in self._path:
            assign(message, path_params[name])  # path parameters override the body
        headers = request.headers
        for key, assign in self._headers:
            header = headers.get(key)
            if header is not None:
                assign(message, header)
        return message

    def _respond(self, response: Message) -> Response:
        headers = self._headers_from(response) if self._response_headers else None
        if self._empty:
            return Response(status_code=self._status, headers=headers)
        if self._response_field is not None:
            body = field_to_json(response, self._response_field)
        else:
            body = message_to_json(response)
            for key in self._header_only:
                body.pop(key, None)
        # SCIM answers application/scim+json, everything else application/json.
        return Response(dump_json(body), status_code=self._status, headers=headers,
                        media_type=self._renderer.content_type)

    def _headers_from(self, response: Message) -> dict[str, str]:
        out: dict[str, str] = {}
        for header, get in self._response_headers:
            value = get(response)
            if value is None:
                continue
            if not _HEADER_VALUE_RE.fullmatch(value):
                # Dropped rather than failing a call that succeeded.
                logger.warning("%s: response header %s has a value HTTP cannot carry",
                               self._method.full_name, header)
                continue
            out[header] = value
        return out
