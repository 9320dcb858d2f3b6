"""Descriptor-driven JSON <-> protobuf conversion for the REST bridge.

Not google.protobuf.json_format, because the vendors' JSON differs from proto3
JSON: enum values use their `(authcore.v1.json_value)` spelling, 64-bit
integers are numbers, scalars without presence are always written (so
`authenticationCompleted: false` appears), and request errors must name the
exact JSON path ("kbaChallenge.userQuestions[1].answer").

Per message type the codec builds a plan once (a list of per-field closures)
and reuses it; requests never walk descriptors again. A proto file may ask,
through `(authcore.v1.file)`, for case-insensitive request keys and for
responses without empty repeated fields (SCIM wants both); the plan bakes
that in too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from authcore.v1 import options_pb2
from rest_bridge.codec_scalars import (
    CodecError,
    Decoder,
    Encoder,
    InvalidValue,
    scalar_decoder,
    scalar_encoder,
    text_decoder,
)
from rest_bridge.codec_wkt import (
    NULL_IS_VALUE,
    WKT_DECODERS,
    WKT_ENCODERS,
    WKT_FROM_TEXT,
    WRAPPERS,
)
from rest_bridge.descriptors import descriptor_of, message_type, value_field

__all__ = [
    "CodecError",
    "field_to_json",
    "json_to_message",
    "message_to_json",
    "parse_scalar",
]

M = TypeVar("M", bound=Message)
MessageEncoder = Callable[[Any], Any]
MessageDecoder = Callable[[Any, Any], None]  # (json value, message to fill)
Writer = Callable[[Any, dict[str, Any]], None]
Reader = Callable[[Any, Any], None]

_T = FieldDescriptor
_ENCODERS: dict[Descriptor, MessageEncoder] = {}
_DECODERS: dict[Descriptor, MessageDecoder] = {}
_TEXT_PARSERS: dict[FieldDescriptor, Decoder] = {}


def _json_file_options(desc: Descriptor) -> Any:
    """The `(authcore.v1.file)` options of the file declaring `desc` (defaults if unset)."""
    opts = desc.file.GetOptions()
    if opts.HasExtension(options_pb2.file):
        return opts.Extensions[options_pb2.file]
    return options_pb2.FileOptions()


def is_map(field: FieldDescriptor) -> bool:
    return (field.type == _T.TYPE_MESSAGE and field.is_repeated
            and message_type(field).GetOptions().map_entry)


def is_real_oneof_member(field: FieldDescriptor) -> bool:
    """True for members of a written `oneof`, false for proto3 `optional`.

    proto3 `optional` becomes a synthetic one-field oneof named "_<field>".
    """
    oneof = field.containing_oneof
    return oneof is not None and not (len(oneof.fields) == 1 and oneof.name == "_" + field.name)


# ================================================================= output

def message_to_json(msg: Message) -> dict[str, Any]:
    """The JSON object of a message (a well-known type maps as proto3 JSON)."""
    out = _message_encoder(descriptor_of(msg))(msg)
    if not isinstance(out, dict):
        raise TypeError(f"{descriptor_of(msg).full_name} does not map to a JSON object")
    return out


def field_to_json(msg: Message, field: FieldDescriptor) -> Any:
    """One field's JSON value, even when unset (used for `response_body`)."""
    value = getattr(msg, field.name)
    if is_map(field):
        return _map_encoder(field)(value)
    enc = _element_encoder(field)
    if field.is_repeated:
        items = [v for v in value if v] if field.type == _T.TYPE_ENUM else value
        return [enc(v) for v in items] if enc else list(items)
    return enc(value) if enc else value


def _message_encoder(desc: Descriptor) -> MessageEncoder:
    encoder = _ENCODERS.get(desc)
    if encoder is None:
        encoder = WKT_ENCODERS.get(desc.full_name) or _object_encoder(desc)
        _ENCODERS[desc] = encoder
    return encoder


def _object_encoder(desc: Descriptor) -> MessageEncoder:
    omit_empty = _json_file_options(desc).json_omit_empty_repeated
    writers = tuple(_omit_if_empty(_writer(field), field.json_name)
                    if omit_empty and field.is_repeated else _writer(field)
                    for field in desc.fields)

    def encode(msg: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for write in writers:
            write(msg, out)
        return out

    return encode


def _element_encoder(field: FieldDescriptor) -> Encoder | None:
    if field.type == _T.TYPE_MESSAGE:
        sub = message_type(field)
        # Looked up at call time, so recursive message types need no ordering.
        return lambda value: _message_encoder(sub)(value)
    return scalar_encoder(field)


def _map_key_to_json(key: Any) -> str:
    if key is True or key is False:
        return "true" if key else "false"
    return str(key)


def _map_encoder(field: FieldDescriptor) -> Encoder:
    venc = _element_encoder(value_field(message_type(field)))
    if venc is None:
        return lambda value: {_map_key_to_json(k): v for k, v in value.items()}
    return lambda value: {_map_key_to_json(k): venc(v) for k, v in value.items()}


def _writer(field: FieldDescriptor) -> Writer:
    name, key = field.name, field.json_name
    if is_map(field):
        encode_map = _map_encoder(field)

        def write_map(msg: Any, out: dict[str, Any]) -> None:
            out[key] = encode_map(getattr(msg, name))

        return write_map
    enc = _element_encoder(field)
    is_enum = field.type == _T.TYPE_ENUM
    if field.is_repeated:
        return _repeated_writer(name, key, enc, drop_zero=is_enum)
    if field.has_presence:
        return _presence_writer(name, key, enc)
    if is_enum:
        assert enc is not None
        enum_enc = enc

        def write_enum(msg: Any, out: dict[str, Any]) -> None:
            value = getattr(msg, name)
            if value:  # UNSPECIFIED (0) without presence means "not given"
                out[key] = enum_enc(value)

        return write_enum
    if enc is None:
        def write_plain(msg: Any, out: dict[str, Any]) -> None:
            out[key] = getattr(msg, name)

        return write_plain
    scalar_enc = enc

    def write_scalar(msg: Any, out: dict[str, Any]) -> None:
        out[key] = scalar_enc(getattr(msg, name))

    return write_scalar


def _omit_if_empty(write: Writer, key: str) -> Writer:
    def write_nonempty(msg: Any, out: dict[str, Any]) -> None:
        write(msg, out)
        # Checked on the output, so a list of only UNSPECIFIED enums goes too.
        if not out[key]:
            del out[key]

    return write_nonempty


def _repeated_writer(name: str, key: str, enc: Encoder | None, *, drop_zero: bool) -> Writer:
    if drop_zero:
        assert enc is not None
        enum_enc = enc

        def write_enums(msg: Any, out: dict[str, Any]) -> None:
            out[key] = [enum_enc(v) for v in getattr(msg, name) if v]

        return write_enums
    if enc is None:
        def write_list(msg: Any, out: dict[str, Any]) -> None:
            out[key] = list(getattr(msg, name))

        return write_list
    item_enc = enc

    def write_items(msg: Any, out: dict[str, Any]) -> None:
        out[key] = [item_enc(v) for v in getattr(msg, name)]

    return write_items


def _presence_writer(name: str, key: str, enc: Encoder | None) -> Writer:
    if enc is None:
        def write_set(msg: Any, out: dict[str, Any]) -> None:
            if msg.HasField(name):
                out[key] = getattr(msg, name)

        return write_set
    value_enc = enc

    def write_set_encoded(msg: Any, out: dict[str, Any]) -> None:
        if msg.HasField(name):
            out[key] = value_enc(getattr(msg, name))

    return write_set_encoded


# ================================================================== input

def json_to_message(data: Any, cls: type[M], *, into: M | None = None) -> M:
    """Fill a message from parsed JSON; raises CodecError naming the bad field.

    Keys may be json names or proto names; unknown keys are ignored; null
    leaves a field unset. A key that is present replaces that field's value
    in `into`.
    """
    msg = cls() if into is None else into
    try:
        _message_decoder(descriptor_of(msg))(data, msg)
    except InvalidValue as err:
        raise err.to_codec_error() from None
    except RecursionError:
        raise CodecError("", "is nested too deeply") from None
    return msg


def parse_scalar(field: FieldDescriptor, raw: str) -> Any:
    """A path, query or header value converted to the field's (element) type."""
    parser = _TEXT_PARSERS.get(field)
    if parser is None:
        parser = _TEXT_PARSERS[field] = _text_parser(field)
    try:
        return parser(raw)
    except InvalidValue as err:
        raise CodecError(field.json_name, err.description) from None


def supports_text(field: FieldDescriptor) -> bool:
    """Whether parse_scalar can fill this field (or one element of it)."""
    if is_map(field):
        return False
    if field.type != _T.TYPE_MESSAGE:
        return True
    name = message_type(field).full_name
    return name in WKT_FROM_TEXT or name in WRAPPERS


def _text_parser(field: FieldDescriptor) -> Decoder:
    if field.type != _T.TYPE_MESSAGE:
        return text_decoder(field)
    desc = message_type(field)
    cls = message_factory.GetMessageClass(desc)
    if desc.full_name in WKT_FROM_TEXT:
        wkt = WKT_DECODERS[desc.full_name]

        def parse_wkt(raw: str) -> Message:
            out = cls()
            wkt(raw, out)
            return out

        return parse_wkt
    if desc.full_name in WRAPPERS:
        inner = text_decoder(value_field(desc))

        def parse_wrapper(raw: str) -> Message:
            out = cls()
            out.value = inner(raw)  # type: ignore[attr-defined]
            return out

        return parse_wrapper

    def unsupported(raw: str) -> Any:
        raise InvalidValue("cannot be given as text")

    return unsupported


def _message_decoder(desc: Descriptor) -> MessageDecoder:
    decoder = _DECODERS.get(desc)
    if decoder is None:
        decoder = WKT_DECODERS.get(desc.full_name) or _object_decoder(desc)
        _DECODERS[desc] = decoder
    return decoder


def _object_decoder(desc: Descriptor) -> MessageDecoder:
    readers: dict[str, Reader] = {}
    oneof_of: dict[str, tuple[str, str]] = {}  # key -> (oneof name, field name)
    for field in desc.fields:
        reader = _reader(field)
        # Proto names first so a json_name equal to another field's proto name wins.
        readers[field.name] = reader
        if is_real_oneof_member(field):
            member = (field.containing_oneof.name, field.name)  # type: ignore[union-attr]
            oneof_of[field.name] = oneof_of[field.json_name] = member
    for field in desc.fields:
        readers[field.json_name] = readers[field.name]
    folded = (_folded_keys(desc) if _json_file_options(desc).json_case_insensitive_keys
              else None)

    def decode(data: Any, msg: Any) -> None:
        if not isinstance(data, dict):
            raise InvalidValue("must be an object")
        chosen: dict[str, tuple[str, str]] | None = {} if oneof_of else None
        for key, value in data.items():
            known = key
            reader = readers.get(key)
            if reader is None:
                # Only a miss pays for casefold; errors still name the key as sent.
                alias = folded.get(key.casefold()) if folded is not None else None
                if alias is None:
                    continue  # unknown keys are tolerated
                known, reader = alias, readers[alias]
            try:
                if chosen is not None and value is not None and known in oneof_of:
                    _check_oneof(chosen, oneof_of[known], key)
                reader(msg, value)
            except InvalidValue as err:
                err.segments.append(key)
                raise
            except (ValueError, TypeError) as exc:
                # protobuf's last word, e.g. a string holding a lone surrogate.
                invalid = InvalidValue("has an invalid value")
                invalid.segments.append(key)
                raise invalid from exc

    return decode


def _folded_keys(desc: Descriptor) -> dict[str, str]:
    """Casefolded key -> the exact key it stands for.

    When two fields fold alike, json names beat proto names and earlier
    fields beat later ones, so the choice is stable and explainable.
    """
    out: dict[str, str] = {}
    for field in desc.fields:
        out.setdefault(field.json_name.casefold(), field.json_name)
    for field in desc.fields:
        out.setdefault(field.name.casefold(), field.name)
    return out


def _check_oneof(chosen: dict[str, tuple[str, str]], member: tuple[str, str], key: str) -> None:
    oneof, field_name = member
    other_field, other_key = chosen.setdefault(oneof, (field_name, key))
    if other_field != field_name:
        raise InvalidValue(f"cannot be set together with {other_key}")


def _element_decoder(field: FieldDescriptor) -> tuple[MessageDecoder | None, Decoder | None]:
    """(message decoder, scalar decoder): exactly one is set."""
    if field.type == _T.TYPE_MESSAGE:
        sub = message_type(field)
        return (lambda value, msg: _message_decoder(sub)(value, msg)), None
    return None, scalar_decoder(field)


def _reader(field: FieldDescriptor) -> Reader:
    if is_map(field):
        return _map_reader(field)
    if field.is_repeated:
        return _repeated_reader(field)
    name = field.name
    mdec, sdec = _element_decoder(field)
    if mdec is not None:
        null_is_value = message_type(field).full_name in NULL_IS_VALUE
        message_dec = mdec

        def read_message(msg: Any, value: Any) -> None:
            msg.ClearField(name)
            if value is None and not null_is_value:
                return
            sub = getattr(msg, name)
            message_dec(value, sub)
            sub.SetInParent()  # `{}` still marks the field as present

        return read_message
    assert sdec is not None
    scalar_dec = sdec

    def read_scalar(msg: Any, value: Any) -> None:
        if value is None:
            msg.ClearField(name)
        else:
            setattr(msg, name, scalar_dec(value))

    return read_scalar


def _repeated_reader(field: FieldDescriptor) -> Reader:
    name = field.name
    mdec, sdec = _element_decoder(field)
    null_items = mdec is not None and message_type(field).full_name in NULL_IS_VALUE

    def read_repeated(msg: Any, value: Any) -> None:
        if value is None:
            msg.ClearField(name)
            return
        if not isinstance(value, list):
            raise InvalidValue("must be an array")
        target = getattr(msg, name)
        del target[:]
        items: list[Any] = []
        for index, item in enumerate(value):
            try:
                if item is None and not null_items:
                    raise InvalidValue("must not be null")
                if mdec is not None:
                    mdec(item, target.add())
                else:
                    assert sdec is not None
                    items.append(sdec(item))
            except InvalidValue as err:
                err.segments.append(index)
                raise
        if items:
            target.extend(items)

    return read_repeated


def _map_key_decoder(field: FieldDescriptor) -> Decoder:
    if field.type == _T.TYPE_STRING:
        return lambda key: key
    # JSON object keys are strings; other key types parse like query values.
    return text_decoder(field)


def _map_reader(field: FieldDescriptor) -> Reader:
    name = field.name
    kdec = _map_key_decoder(message_type(field).fields_by_name["key"])
    mdec, sdec = _element_decoder(value_field(message_type(field)))

    def read_map(msg: Any, value: Any) -> None:
        if value is None:
            msg.ClearField(name)
            return
        if not isinstance(value, dict):
            raise InvalidValue("must be an object")
        target = getattr(msg, name)
        target.clear()
        for key, item in value.items():
            try:
                if item is None:
                    raise InvalidValue("must not be null")
                map_key = kdec(key)
                if mdec is not None:
                    mdec(item, target[map_key])
                else:
                    assert sdec is not None
                    target[map_key] = sdec(item)
            except InvalidValue as err:
                err.segments.append(key)
                raise

    return read_map
