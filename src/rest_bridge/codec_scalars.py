"""Scalar and enum conversions shared by the JSON codec and path/query parsing.

Leaf converters raise `InvalidValue` with a description only; the containers
that call them add the JSON path while the exception unwinds, so the success
path never pays for building paths.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor

from authcore.v1 import options_pb2
from rest_bridge.descriptors import enum_type

Encoder = Callable[[Any], Any]
Decoder = Callable[[Any], Any]


class CodecError(Exception):
    """A request value that does not fit its field.

    `field_path` is the JSON path as the client wrote it, e.g.
    "kbaChallenge.userQuestions[1].answer"; `description` a short sentence
    such as "must be a string".
    """

    def __init__(self, field_path: str, description: str) -> None:
        super().__init__(f"{field_path}: {description}" if field_path else description)
        self.field_path = field_path
        self.description = description


class InvalidValue(Exception):
    """Internal: a leaf failure whose path segments accumulate while unwinding.

    Segments are appended innermost first; `path()` renders them outermost first.
    Deliberately not a ValueError so the codec can tell it apart from
    protobuf's own ValueErrors.
    """

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description
        self.segments: list[str | int] = []

    def path(self) -> str:
        out: list[str] = []
        for seg in reversed(self.segments):
            if isinstance(seg, int):
                out.append(f"[{seg}]")
            elif out:
                out.append(f".{seg}")
            else:
                out.append(seg)
        return "".join(out)

    def to_codec_error(self) -> CodecError:
        return CodecError(self.path(), self.description)


T = FieldDescriptor
_INT_RANGES: dict[int, tuple[int, int, str]] = {
    T.TYPE_INT32: (-(1 << 31), (1 << 31) - 1, "int32"),
    T.TYPE_SINT32: (-(1 << 31), (1 << 31) - 1, "int32"),
    T.TYPE_SFIXED32: (-(1 << 31), (1 << 31) - 1, "int32"),
    T.TYPE_UINT32: (0, (1 << 32) - 1, "uint32"),
    T.TYPE_FIXED32: (0, (1 << 32) - 1, "uint32"),
    T.TYPE_INT64: (-(1 << 63), (1 << 63) - 1, "int64"),
    T.TYPE_SINT64: (-(1 << 63), (1 << 63) - 1, "int64"),
    T.TYPE_SFIXED64: (-(1 << 63), (1 << 63) - 1, "int64"),
    T.TYPE_UINT64: (0, (1 << 64) - 1, "uint64"),
    T.TYPE_FIXED64: (0, (1 << 64) - 1, "uint64"),
}
_INT64_TYPES = frozenset(
    {T.TYPE_INT64, T.TYPE_SINT64, T.TYPE_SFIXED64, T.TYPE_UINT64, T.TYPE_FIXED64}
)
_FLOAT_TYPES = frozenset({T.TYPE_FLOAT, T.TYPE_DOUBLE})
_FLOAT32_MAX = 3.4028234663852886e38
# re.ASCII: \d would otherwise accept Arabic-Indic and other Unicode digits.
_INT_RE = re.compile(r"[+-]?\d+", re.ASCII)
_FLOAT_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


# ----------------------------------------------------------------- enums

class EnumTable:
    """Both directions of one enum, with the vendor spelling (json_value) first."""

    __slots__ = ("from_json", "numbers", "to_json")

    def __init__(self, enum: EnumDescriptor) -> None:
        self.to_json: dict[int, str] = {}
        self.from_json: dict[str, int] = {}
        for value in enum.values:
            self.from_json.setdefault(value.name, value.number)
        for value in enum.values:
            opts = value.GetOptions()
            spelling = value.name
            if opts.HasExtension(options_pb2.json_value):
                spelling = opts.Extensions[options_pb2.json_value] or value.name
                # The vendor spelling wins over a proto name that happens to collide.
                self.from_json[spelling] = value.number
            # The first value with a number owns it (allow_alias keeps the first).
            self.to_json.setdefault(value.number, spelling)
        self.numbers = frozenset(self.to_json)

    def encode(self, number: int) -> str | int:
        # Open enums can carry numbers this build does not know; keep them visible.
        return self.to_json.get(number, number)

    def decode(self, value: Any) -> int:
        if isinstance(value, str):
            number = self.from_json.get(value)
            if number is None:
                raise InvalidValue(f"unknown value {value!r}")
            return number
        if isinstance(value, int) and not isinstance(value, bool):
            if value not in self.numbers:
                raise InvalidValue(f"unknown value {value}")
            return value
        raise InvalidValue("must be a string")


_ENUM_TABLES: dict[EnumDescriptor, EnumTable] = {}


def enum_table(enum: EnumDescriptor) -> EnumTable:
    table = _ENUM_TABLES.get(enum)
    if table is None:
        table = _ENUM_TABLES[enum] = EnumTable(enum)
    return table


# --------------------------------------------------------------- encoding

def _float_to_json(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _float32_to_json(value: float) -> float | str:
    if not math.isfinite(value):
        return _float_to_json(value)
    # A float field reads back as the double nearest the float32; print the
    # shortest decimal that still round-trips through float32, as proto3 JSON does.
    packed = struct.pack("<f", value)
    for precision in range(6, 10):
        candidate = float(f"{value:.{precision}g}")
        if struct.pack("<f", candidate) == packed:
            return candidate
    return value


def _bytes_to_json(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def scalar_encoder(field: FieldDescriptor) -> Encoder | None:
    """The JSON encoder of a non-message field's value; None means identity."""
    kind = field.type
    if kind == T.TYPE_ENUM:
        return enum_table(enum_type(field)).encode
    if kind == T.TYPE_BYTES:
        return _bytes_to_json
    if kind == T.TYPE_DOUBLE:
        return _float_to_json
    if kind == T.TYPE_FLOAT:
        return _float32_to_json
    # Strings, booleans and every integer width (int64 stays a JSON number:
    # the vendors' clients expect numbers, unlike proto3 JSON's strings).
    return None


# --------------------------------------------------------------- decoding

def _int_decoder(kind: int) -> Decoder:
    low, high, label = _INT_RANGES[kind]
    accepts_strings = kind in _INT64_TYPES

    def decode(value: Any) -> int:
        if isinstance(value, bool):
            raise InvalidValue("must be an integer")
        if isinstance(value, int):
            number = value
        elif isinstance(value, float):
            if not value.is_integer():
                raise InvalidValue("must be an integer")
            number = int(value)
        elif accepts_strings and isinstance(value, str) and _INT_RE.fullmatch(value):
            # proto3 JSON writes 64-bit integers as strings; accept them back.
            number = int(value)
        else:
            raise InvalidValue("must be an integer")
        if not low <= number <= high:
            raise InvalidValue(f"out of range for {label}")
        return number

    return decode


def _float_decoder(kind: int) -> Decoder:
    single = kind == T.TYPE_FLOAT

    def decode(value: Any) -> float:
        if isinstance(value, bool):
            raise InvalidValue("must be a number")
        if isinstance(value, int | float):
            try:
                number = float(value)
            except OverflowError:
                raise InvalidValue("out of range") from None
        elif isinstance(value, str) and value in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[value]
        else:
            raise InvalidValue("must be a number")
        if single and math.isfinite(number) and abs(number) > _FLOAT32_MAX:
            raise InvalidValue("out of range for float")
        return number

    return decode


def _decode_bool(value: Any) -> bool:
    if value is True or value is False:
        return value
    raise InvalidValue("must be a boolean")


def _decode_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise InvalidValue("must be a string")


def decode_base64(value: str) -> bytes:
    # proto3 JSON accepts standard and URL-safe alphabets, padded or not.
    text = value.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidValue("must be base64") from None


def _decode_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return decode_base64(value)
    raise InvalidValue("must be a base64 string")


def scalar_decoder(field: FieldDescriptor) -> Decoder:
    """The JSON decoder of a non-message field's value (one element if repeated)."""
    kind = field.type
    if kind == T.TYPE_STRING:
        return _decode_string
    if kind == T.TYPE_BOOL:
        return _decode_bool
    if kind in _INT_RANGES:
        return _int_decoder(kind)
    if kind in _FLOAT_TYPES:
        return _float_decoder(kind)
    if kind == T.TYPE_BYTES:
        return _decode_bytes
    if kind == T.TYPE_ENUM:
        return enum_table(enum_type(field)).decode
    raise TypeError(f"{field.full_name} is not a scalar field")


# ------------------------------------------------- strings (path and query)

def _int_from_text(kind: int) -> Decoder:
    low, high, label = _INT_RANGES[kind]

    def parse(raw: str) -> int:
        if not _INT_RE.fullmatch(raw):
            raise InvalidValue("must be an integer")
        number = int(raw)
        if not low <= number <= high:
            raise InvalidValue(f"out of range for {label}")
        return number

    return parse


def _float_from_text(kind: int) -> Decoder:
    decode = _float_decoder(kind)

    def parse(raw: str) -> float:
        if raw in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[raw]
        # float() alone would take "nan", "inf", " 1" and "1_0".
        if not _FLOAT_RE.fullmatch(raw):
            raise InvalidValue("must be a number")
        result: float = decode(float(raw))
        return result

    return parse


def _bool_from_text(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise InvalidValue("must be true or false")


def _enum_from_text(table: EnumTable) -> Decoder:
    def parse(raw: str) -> int:
        number = table.from_json.get(raw)
        if number is not None:
            return number
        if _INT_RE.fullmatch(raw) and int(raw) in table.numbers:
            return int(raw)
        raise InvalidValue(f"unknown value {raw!r}")

    return parse


def _identity(raw: str) -> str:
    return raw


def text_decoder(field: FieldDescriptor) -> Decoder:
    """Parser of a non-message field's value given as text (path, query, header)."""
    kind = field.type
    if kind == T.TYPE_STRING:
        return _identity
    if kind == T.TYPE_BOOL:
        return _bool_from_text
    if kind in _INT_RANGES:
        return _int_from_text(kind)
    if kind in _FLOAT_TYPES:
        return _float_from_text(kind)
    if kind == T.TYPE_BYTES:
        return decode_base64
    if kind == T.TYPE_ENUM:
        return _enum_from_text(enum_table(enum_type(field)))
    raise TypeError(f"{field.full_name} is not a scalar field")
