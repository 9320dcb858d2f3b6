"""Proto comments from the descriptor set, for OpenAPI descriptions.

Runtime descriptors carry no comments; generated/authcore.binpb (protoc
--include_source_info) does. Without it the docs simply lack descriptions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from google.protobuf import descriptor_pb2

import authcore

logger = logging.getLogger(__name__)

# In a checkout: src/authcore/__init__.py -> the repository root ->
# generated/authcore.binpb. Installed from a wheel: next to authcore's
# __init__.py (setup.py copies it there).
_CHECKOUT_SET = Path(authcore.__file__).resolve().parents[2] / "generated" / "authcore.binpb"
DEFAULT_DESCRIPTOR_SET = (_CHECKOUT_SET if _CHECKOUT_SET.is_file()
                          else Path(authcore.__file__).resolve().parent / "authcore.binpb")

# Field numbers of FileDescriptorProto / DescriptorProto / ... used in
# SourceCodeInfo.Location.path.
_FILE_MESSAGE, _FILE_ENUM, _FILE_SERVICE = 4, 5, 6
_MESSAGE_FIELD, _MESSAGE_NESTED, _MESSAGE_ENUM = 2, 3, 4
_ENUM_VALUE = 2
_SERVICE_METHOD = 2


def _clean(comment: str) -> str:
    # protoc keeps the space after "//" on every line.
    lines = [line[1:] if line.startswith(" ") else line for line in comment.splitlines()]
    return "\n".join(lines).strip()


def load_comments(path: Path | None = None) -> Mapping[str, str]:
    """Leading comments keyed by full name (fields as "pkg.Message.field")."""
    source = path or DEFAULT_DESCRIPTOR_SET
    try:
        files = descriptor_pb2.FileDescriptorSet.FromString(source.read_bytes()).file
    except (OSError, ValueError) as err:
        logger.warning("no proto comments for the API docs (%s): %s", source, err)
        return {}
    out: dict[str, str] = {}
    for file in files:
        located = {tuple(loc.path): _clean(loc.leading_comments)
                   for loc in file.source_code_info.location if loc.leading_comments}
        prefix = f"{file.package}." if file.package else ""

        def put(name: str, location: tuple[int, ...], comments: dict[str, str] = out,
                located: dict[tuple[int, ...], str] = located) -> None:
            text = located.get(location)
            if text:
                comments[name] = text

        def enum(e: descriptor_pb2.EnumDescriptorProto, name: str,
                 location: tuple[int, ...]) -> None:
            put(name, location)
            for i, value in enumerate(e.value):
                # Enum values are scoped like siblings of their enum.
                put(f"{name}.{value.name}", (*location, _ENUM_VALUE, i))

        def message(m: descriptor_pb2.DescriptorProto, name: str,
                    location: tuple[int, ...]) -> None:
            put(name, location)
            for i, f in enumerate(m.field):
                put(f"{name}.{f.name}", (*location, _MESSAGE_FIELD, i))
            for i, nested in enumerate(m.nested_type):
                message(nested, f"{name}.{nested.name}", (*location, _MESSAGE_NESTED, i))
            for i, e in enumerate(m.enum_type):
                enum(e, f"{name}.{e.name}", (*location, _MESSAGE_ENUM, i))

        for i, m in enumerate(file.message_type):
            message(m, prefix + m.name, (_FILE_MESSAGE, i))
        for i, e in enumerate(file.enum_type):
            enum(e, prefix + e.name, (_FILE_ENUM, i))
        for i, s in enumerate(file.service):
            put(prefix + s.name, (_FILE_SERVICE, i))
            for j, rpc in enumerate(s.method):
                put(f"{prefix}{s.name}.{rpc.name}", (_FILE_SERVICE, i, _SERVICE_METHOD, j))
    return out


def summary_and_description(comment: str | None) -> tuple[str | None, str | None]:
    """First line as the summary, the rest (if any) as the description."""
    if not comment:
        return None, None
    first, _, rest = comment.partition("\n")
    return first.strip() or None, rest.strip() or None
