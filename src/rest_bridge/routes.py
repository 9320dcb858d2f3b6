"""HttpRule bindings read from service descriptors, once, at startup.

A `Binding` is one REST route of one RPC: the main google.api.http rule or
one of its additional_bindings, with every field lookup resolved. Both the
request handling and the OpenAPI generator work from these.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from google.api import annotations_pb2, http_pb2
from google.protobuf.descriptor import (
    Descriptor,
    FieldDescriptor,
    MethodDescriptor,
    ServiceDescriptor,
)

from authcore.v1 import options_pb2
from rest_bridge.codec import is_map, supports_text
from rest_bridge.descriptors import message_type

logger = logging.getLogger(__name__)

FieldChain = tuple[FieldDescriptor, ...]
# {field.path} or {field.path=pattern} in a google.api path template.
_VARIABLE_RE = re.compile(r"\{([^{}=]+)(?:=([^{}]*))?\}")
# An HTTP field name (RFC 9110 token).
_HEADER_NAME_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HTTP_KINDS = ("get", "put", "post", "delete", "patch")
# How deep the query string may reach into nested messages ("a.b.c").
_QUERY_DEPTH = 3


@dataclass(frozen=True, slots=True)
class PathParam:
    name: str          # Starlette's parameter name (p0, p1, ...: templates may use dots)
    label: str         # the template's field path, e.g. "user_id"; named in errors and docs
    chain: FieldChain  # request fields from the top-level message to the leaf


@dataclass(frozen=True, slots=True)
class HeaderParam:
    header: str        # as the option spells it, e.g. "Authorization"
    key: str           # lower-case, as Starlette stores headers
    field: FieldDescriptor


@dataclass(frozen=True, slots=True)
class ResponseHeaderParam:
    header: str        # as the option spells it, e.g. "ETag"
    path: str          # the option's dotted field path, e.g. "meta.version"
    chain: FieldChain  # response fields from the top-level message to the scalar leaf
    header_only: bool = False  # left out of the JSON body


@dataclass(frozen=True, slots=True)
class Binding:
    service: ServiceDescriptor
    method: MethodDescriptor
    index: int                    # 0 for the main rule, then 1.. for additional bindings
    http_method: str
    template: str                 # the google.api template as written
    route_path: str               # Starlette path
    openapi_path: str             # OpenAPI path, variables named by their labels
    literal_prefix: str           # the template up to its first variable
    path_params: tuple[PathParam, ...]
    body: str                     # "", "*" or a top-level field name
    body_field: FieldDescriptor | None
    response_field: FieldDescriptor | None
    query_params: dict[str, FieldChain] = field(default_factory=dict)
    header_params: tuple[HeaderParam, ...] = ()
    response_headers: tuple[ResponseHeaderParam, ...] = ()
    success_status: int = 200
    empty_response_body: bool = False
    body_required: bool = False
    error_style: int = 0
    admin_scope: str | None = None
    deprecated: bool = False

    @property
    def operation_id(self) -> str:
        base = f"{self.service.name}_{self.method.name}"
        return base if self.index == 0 else f"{base}_{self.index}"

    @property
    def query_keys(self) -> list[tuple[str, FieldChain]]:
        """Query parameters as documented: json names only, no proto-name aliases."""
        return [(key, chain) for key, chain in self.query_params.items()
                if key == ".".join(f.json_name for f in chain)]


def error_style_of(service: ServiceDescriptor) -> int:
    opts = service.GetOptions()
    if not opts.HasExtension(options_pb2.service):
        return 0  # ERROR_STYLE_UNSPECIFIED
    style: int = opts.Extensions[options_pb2.service].error_style
    return style


def bindings_for(services: Iterable[ServiceDescriptor]) -> list[Binding]:
    """Every binding of every method, most specific paths first."""
    out: list[Binding] = []
    for service in services:
        style = error_style_of(service)
        for method in service.methods:
            opts = method.GetOptions()
            if not opts.HasExtension(annotations_pb2.http):
                continue
            rule = opts.Extensions[annotations_pb2.http]
            rules = [rule, *rule.additional_bindings]
            out.extend(_binding(service, method, r, i, style) for i, r in enumerate(rules))
    # Starlette takes the first full match: literal segments must beat variables,
    # so "/users/me" is tried before "/users/{user_id}".
    out.sort(key=lambda b: [0 if "{" not in seg else 1 for seg in b.template.split("/")])
    return _drop_duplicates(out)


def _drop_duplicates(bindings: list[Binding]) -> list[Binding]:
    seen: dict[tuple[str, str], Binding] = {}
    kept: list[Binding] = []
    for binding in bindings:
        key = (binding.http_method, _VARIABLE_RE.sub("{}", binding.template))
        first = seen.setdefault(key, binding)
        if first is not binding:
            logger.warning("%s %s of %s is shadowed by %s", binding.http_method,
                           binding.template, binding.method.full_name, first.method.full_name)
            continue
        kept.append(binding)
    return kept


def _rule_kind(rule: http_pb2.HttpRule) -> tuple[str, str]:
    kind = rule.WhichOneof("pattern")
    if kind in _HTTP_KINDS:
        return kind.upper(), getattr(rule, kind)
    if kind == "custom":
        return rule.custom.kind.upper(), rule.custom.path
    raise ValueError(f"HttpRule without a pattern: {rule}")


def _binding(service: ServiceDescriptor, method: MethodDescriptor, rule: http_pb2.HttpRule,
             index: int, style: int) -> Binding:
    http_method, template = _rule_kind(rule)
    request = method.input_type
    params, route_path, openapi_path = _parse_template(template, request, method)
    body_field = None
    if rule.body and rule.body != "*":
        body_field = _top_field(request, rule.body, method, "body")
    response_field = None
    if rule.response_body:
        response_field = _top_field(method.output_type, rule.response_body, method,
                                    "response_body")
    options = method.GetOptions().Extensions[options_pb2.method]
    headers = tuple(_header_param(request, h.header, h.field, method) for h in options.headers)
    response_headers = tuple(_response_header(method, h.header, h.field, h.header_only)
                             for h in options.response_headers)
    query: dict[str, FieldChain] = {}
    if rule.body != "*":
        excluded_top = {rule.body} if body_field else set()
        excluded_top.update(h.field.name for h in headers)
        excluded = {tuple(f.name for f in p.chain) for p in params}
        query = _query_map(request, excluded_top, excluded)
    return Binding(
        service=service, method=method, index=index, http_method=http_method,
        template=template, route_path=route_path, openapi_path=openapi_path,
        literal_prefix=template.split("{", 1)[0], path_params=params,
        body=rule.body, body_field=body_field, response_field=response_field,
        query_params=query, header_params=headers, response_headers=response_headers,
        success_status=options.success_status or 200,
        empty_response_body=options.empty_response_body, error_style=style,
        body_required=options.body_required,
        admin_scope=(options.admin_scope or None)
        if options.auth == options_pb2.AUTH_KIND_ADMIN_KEY else None,
        deprecated=method.GetOptions().deprecated,
    )


def _top_field(desc: Descriptor, name: str, method: MethodDescriptor,
               what: str) -> FieldDescriptor:
    found = desc.fields_by_name.get(name)
    if found is None:
        raise ValueError(f"{method.full_name}: {what} names unknown field {name!r}")
    return found


def _parse_template(template: str, request: Descriptor, method: MethodDescriptor,
                    ) -> tuple[tuple[PathParam, ...], str, str]:
    params: list[PathParam] = []
    route_parts: list[str] = []
    openapi_parts: list[str] = []
    last = 0
    for match in _VARIABLE_RE.finditer(template):
        label, pattern = match.group(1).strip(), match.group(2) or ""
        chain = _field_chain(request, label, method)
        name = f"p{len(params)}"
        params.append(PathParam(name=name, label=label, chain=chain))
        literal = template[last:match.start()]
        # A multi-segment pattern ("{name=projects/*/keys/*}") spans slashes.
        converter = ":path" if "/" in pattern or "**" in pattern else ""
        route_parts.append(literal + "{" + name + converter + "}")
        openapi_parts.append(literal + "{" + label + "}")
        last = match.end()
    route_parts.append(template[last:])
    openapi_parts.append(template[last:])
    return tuple(params), "".join(route_parts), "".join(openapi_parts)


def _resolve_path(desc: Descriptor, path: str, what: str,
                  method: MethodDescriptor) -> FieldChain:
    """The fields a dotted proto field path walks through, each but the last a
    singular message field."""
    chain: list[FieldDescriptor] = []
    names = path.split(".")
    for position, name in enumerate(names):
        found = desc.fields_by_name.get(name)
        if found is None:
            raise ValueError(f"{method.full_name}: {what} {path!r} names no field")
        chain.append(found)
        if position < len(names) - 1:
            if found.type != FieldDescriptor.TYPE_MESSAGE or found.is_repeated:
                raise ValueError(
                    f"{method.full_name}: {what} {path!r} crosses a non-message field")
            desc = message_type(found)
    return tuple(chain)


def _field_chain(request: Descriptor, label: str, method: MethodDescriptor) -> FieldChain:
    chain = _resolve_path(request, label, "path variable", method)
    leaf = chain[-1]
    if leaf.is_repeated or not supports_text(leaf):
        raise ValueError(f"{method.full_name}: path variable {label!r} is not a scalar")
    return chain


def _response_header(method: MethodDescriptor, header: str,
                     path: str, header_only: bool = False) -> ResponseHeaderParam:
    if not _HEADER_NAME_RE.fullmatch(header):
        raise ValueError(f"{method.full_name}: response header {header!r} is not a header name")
    chain = _resolve_path(method.output_type, path, f"response header {header}", method)
    leaf = chain[-1]
    # A header carries one text value: no lists, no messages.
    if leaf.is_repeated or leaf.type == FieldDescriptor.TYPE_MESSAGE:
        raise ValueError(f"{method.full_name}: response header {header}: {path!r} "
                         "is not a scalar field")
    if header_only and len(chain) != 1:
        raise ValueError(f"{method.full_name}: response header {header}: header_only "
                         "needs a top-level field")
    return ResponseHeaderParam(header=header, path=path, chain=chain, header_only=header_only)


def _header_param(request: Descriptor, header: str, field_name: str,
                  method: MethodDescriptor) -> HeaderParam:
    found = _top_field(request, field_name, method, f"header {header}")
    if not supports_text(found):
        raise ValueError(f"{method.full_name}: header {header} cannot fill {field_name}")
    return HeaderParam(header=header, key=header.lower(), field=found)


def _query_map(request: Descriptor, excluded_top: set[str],
               excluded: set[tuple[str, ...]]) -> dict[str, FieldChain]:
    out: dict[str, FieldChain] = {}

    def walk(desc: Descriptor, chain: FieldChain, visiting: Sequence[Descriptor]) -> None:
        for f in desc.fields:
            if not chain and f.name in excluded_top:
                continue
            full = (*chain, f)
            if tuple(x.name for x in full) in excluded or is_map(f):
                continue
            if supports_text(f):
                out[".".join(x.json_name for x in full)] = full
                out.setdefault(".".join(x.name for x in full), full)
            elif (not f.is_repeated and len(full) < _QUERY_DEPTH
                  and message_type(f) not in visiting):
                walk(message_type(f), full, (*visiting, message_type(f)))

    walk(request, (), (request,))
    return out
