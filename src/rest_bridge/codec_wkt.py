"""Well-known types in JSON, mapped as proto3 JSON maps them.

Exceptions to proto3 JSON, on purpose: Timestamps print seconds precision
when nanos is 0 and milliseconds otherwise (what the vendors send), and
Int64Value/UInt64Value print numbers like every other 64-bit integer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date
from typing import Any

from google.protobuf import struct_pb2
from google.protobuf.message import Message

from rest_bridge.codec_scalars import InvalidValue, scalar_decoder, scalar_encoder
from rest_bridge.descriptors import descriptor_of, value_field

WktEncoder = Callable[[Any], Any]
WktDecoder = Callable[[Any, Any], None]  # (json value, message to fill)

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MIN_SECONDS = -62135596800  # 0001-01-01T00:00:00Z
_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z
_MAX_DURATION_SECONDS = 315576000000
_TIMESTAMP_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:[Zz]|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)
_DURATION_RE = re.compile(r"(-)?(\d+)(?:\.(\d{1,9}))?s", re.ASCII)


# ------------------------------------------------------------- Timestamp

def format_timestamp(seconds: int, nanos: int) -> str:
    if not (_MIN_SECONDS <= seconds <= _MAX_SECONDS and 0 <= nanos < 1_000_000_000):
        raise ValueError("Timestamp out of range")
    days, rest = divmod(seconds, 86400)
    day = date.fromordinal(_EPOCH_ORDINAL + days)
    hour, rest = divmod(rest, 3600)
    minute, second = divmod(rest, 60)
    # Not strftime: %Y does not zero-pad years below 1000 on every platform.
    text = (f"{day.year:04d}-{day.month:02d}-{day.day:02d}"
            f"T{hour:02d}:{minute:02d}:{second:02d}")
    if nanos:
        text += f".{nanos // 1_000_000:03d}"
    return text + "Z"


def parse_timestamp(value: Any) -> tuple[int, int]:
    if not isinstance(value, str):
        raise InvalidValue("must be an RFC 3339 timestamp string")
    match = _TIMESTAMP_RE.fullmatch(value)
    if match is None:
        raise InvalidValue("must be an RFC 3339 timestamp")
    year, month, mday, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    try:
        ordinal = date(year, month, mday).toordinal()
    except ValueError:
        raise InvalidValue("must be an RFC 3339 timestamp") from None
    if hour > 23 or minute > 59 or second > 59:
        raise InvalidValue("must be an RFC 3339 timestamp")
    fraction = match.group(7) or ""
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    offset = 0
    if match.group(8):
        offset_hours, offset_minutes = int(match.group(9)), int(match.group(10))
        if offset_hours > 23 or offset_minutes > 59:
            raise InvalidValue("must be an RFC 3339 timestamp")
        offset = (offset_hours * 3600 + offset_minutes * 60) * (1 if match.group(8) == "+" else -1)
    seconds = ((ordinal - _EPOCH_ORDINAL) * 86400 + hour * 3600 + minute * 60 + second
               - offset)
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        raise InvalidValue("is out of range")
    return seconds, nanos


def _encode_timestamp(msg: Any) -> str:
    return format_timestamp(msg.seconds, msg.nanos)


def _decode_timestamp(value: Any, msg: Any) -> None:
    msg.seconds, msg.nanos = parse_timestamp(value)


# -------------------------------------------------------------- Duration

def _encode_duration(msg: Any) -> str:
    seconds: int = msg.seconds
    nanos: int = msg.nanos
    sign = "-" if seconds < 0 or nanos < 0 else ""
    seconds, nanos = abs(seconds), abs(nanos)
    if nanos == 0:
        return f"{sign}{seconds}s"
    if nanos % 1_000_000 == 0:
        fraction = f"{nanos // 1_000_000:03d}"
    elif nanos % 1000 == 0:
        fraction = f"{nanos // 1000:06d}"
    else:
        fraction = f"{nanos:09d}"
    return f"{sign}{seconds}.{fraction}s"


def _decode_duration(value: Any, msg: Any) -> None:
    if not isinstance(value, str):
        raise InvalidValue("must be a duration string such as \"1.5s\"")
    match = _DURATION_RE.fullmatch(value)
    if match is None:
        raise InvalidValue("must be a duration such as \"1.5s\"")
    seconds = int(match.group(2))
    nanos = int((match.group(3) or "").ljust(9, "0"))
    if seconds > _MAX_DURATION_SECONDS:
        raise InvalidValue("is out of range")
    if match.group(1):
        seconds, nanos = -seconds, -nanos
    msg.seconds, msg.nanos = seconds, nanos


# ------------------------------------------------------------- FieldMask

def _camel(path: str) -> str:
    head, *rest = path.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _snake(path: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), path)


def _encode_field_mask(msg: Any) -> str:
    return ",".join(".".join(_camel(p) for p in path.split(".")) for path in msg.paths)


def _decode_field_mask(value: Any, msg: Any) -> None:
    if not isinstance(value, str):
        raise InvalidValue("must be a string")
    msg.paths.extend(".".join(_snake(p) for p in path.split("."))
                     for path in value.split(",") if path)


# ------------------------------------------------- Struct, Value, ListValue

def _encode_value(msg: Any) -> Any:
    kind = msg.WhichOneof("kind")
    if kind == "number_value":
        number: float = msg.number_value
        if not math.isfinite(number):
            return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
        # Integral numbers print without ".0", as a JavaScript client would.
        if number.is_integer() and abs(number) < 2 ** 53:
            return int(number)
        return number
    if kind == "string_value":
        return msg.string_value
    if kind == "bool_value":
        return msg.bool_value
    if kind == "struct_value":
        return _encode_struct(msg.struct_value)
    if kind == "list_value":
        return _encode_list(msg.list_value)
    return None  # null_value, or no kind set


def _encode_struct(msg: Any) -> dict[str, Any]:
    return {key: _encode_value(value) for key, value in msg.fields.items()}


def _encode_list(msg: Any) -> list[Any]:
    return [_encode_value(value) for value in msg.values]


def _decode_value(value: Any, msg: Any) -> None:
    if value is None:
        msg.null_value = struct_pb2.NULL_VALUE
    elif value is True or value is False:
        msg.bool_value = value
    elif isinstance(value, int | float):
        try:
            msg.number_value = float(value)
        except OverflowError:
            raise InvalidValue("out of range") from None
    elif isinstance(value, str):
        msg.string_value = value
    elif isinstance(value, dict):
        _decode_struct(value, msg.struct_value)
    elif isinstance(value, list):
        _decode_list(value, msg.list_value)
    else:
        raise InvalidValue("must be a JSON value")


def _decode_struct(value: Any, msg: Any) -> None:
    if not isinstance(value, dict):
        raise InvalidValue("must be an object")
    msg.Clear()
    for key, item in value.items():
        try:
            _decode_value(item, msg.fields[key])
        except InvalidValue as err:
            err.segments.append(key)
            raise


def _decode_list(value: Any, msg: Any) -> None:
    if not isinstance(value, list):
        raise InvalidValue("must be an array")
    msg.Clear()
    for index, item in enumerate(value):
        try:
            _decode_value(item, msg.values.add())
        except InvalidValue as err:
            err.segments.append(index)
            raise


# ---------------------------------------------------------- Empty, wrappers

def _encode_empty(msg: Any) -> dict[str, Any]:
    return {}


def _decode_empty(value: Any, msg: Any) -> None:
    if not isinstance(value, dict):
        raise InvalidValue("must be an object")


def _wrapper_codec(msg_cls: type[Message]) -> tuple[WktEncoder, WktDecoder]:
    field = value_field(descriptor_of(msg_cls()))
    enc = scalar_encoder(field)
    dec = scalar_decoder(field)

    def encode(msg: Any) -> Any:
        return msg.value if enc is None else enc(msg.value)

    def decode(value: Any, msg: Any) -> None:
        msg.value = dec(value)

    return encode, decode


def _build_tables() -> tuple[dict[str, WktEncoder], dict[str, WktDecoder]]:
    from google.protobuf import wrappers_pb2

    encoders: dict[str, WktEncoder] = {
        "google.protobuf.Timestamp": _encode_timestamp,
        "google.protobuf.Duration": _encode_duration,
        "google.protobuf.FieldMask": _encode_field_mask,
        "google.protobuf.Struct": _encode_struct,
        "google.protobuf.Value": _encode_value,
        "google.protobuf.ListValue": _encode_list,
        "google.protobuf.Empty": _encode_empty,
    }
    decoders: dict[str, WktDecoder] = {
        "google.protobuf.Timestamp": _decode_timestamp,
        "google.protobuf.Duration": _decode_duration,
        "google.protobuf.FieldMask": _decode_field_mask,
        "google.protobuf.Struct": _decode_struct,
        "google.protobuf.Value": _decode_value,
        "google.protobuf.ListValue": _decode_list,
        "google.protobuf.Empty": _decode_empty,
    }
    for cls in (wrappers_pb2.DoubleValue, wrappers_pb2.FloatValue, wrappers_pb2.Int64Value,
                wrappers_pb2.UInt64Value, wrappers_pb2.Int32Value, wrappers_pb2.UInt32Value,
                wrappers_pb2.BoolValue, wrappers_pb2.StringValue, wrappers_pb2.BytesValue):
        name = cls.DESCRIPTOR.full_name
        encoders[name], decoders[name] = _wrapper_codec(cls)
    return encoders, decoders


WKT_ENCODERS, WKT_DECODERS = _build_tables()
# Fields of these types take their JSON string form from a path or query parameter.
WKT_FROM_TEXT = frozenset({
    "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask",
})
WRAPPERS = frozenset(name for name in WKT_ENCODERS if name.endswith("Value")
                     and name not in ("google.protobuf.Value", "google.protobuf.ListValue"))
# A JSON null for these means a value, not "unset".
NULL_IS_VALUE = frozenset({"google.protobuf.Value"})
