"""Typed accessors for descriptor attributes the protobuf stubs mark optional.

The stubs type `FieldDescriptor.message_type` as Optional and `DESCRIPTOR`
as a union with upb classes; these helpers state the invariant once.
"""

from __future__ import annotations

from typing import cast

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message


def message_type(field: FieldDescriptor) -> Descriptor:
    desc = field.message_type
    if desc is None:
        raise TypeError(f"{field.full_name} is not a message field")
    return desc


def enum_type(field: FieldDescriptor) -> EnumDescriptor:
    desc = field.enum_type
    if desc is None:
        raise TypeError(f"{field.full_name} is not an enum field")
    return desc


def descriptor_of(msg: Message) -> Descriptor:
    return cast(Descriptor, msg.DESCRIPTOR)


def value_field(desc: Descriptor) -> FieldDescriptor:
    """The `value` field of a map entry or wrapper type."""
    return desc.fields_by_name["value"]
