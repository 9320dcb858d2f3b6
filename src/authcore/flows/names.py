"""Vendor spellings of the proto enums the flows work with."""

from __future__ import annotations

from authcore.v1 import authenticators_pb2 as common

_PREFIX = "AUTHENTICATOR_TYPE_"

# Every AuthenticatorType in the Entrust spec's order (the proto's order).
AUTHENTICATOR_ORDER: tuple[str, ...] = tuple(
    v.name.removeprefix(_PREFIX)
    for v in common.AuthenticatorType.DESCRIPTOR.values
    if v.number != 0
)

OTP_DELIVERY: dict[int, str] = {
    v.number: v.name.removeprefix("OTP_DELIVERY_TYPE_")
    for v in common.OTPDeliveryType.DESCRIPTOR.values
    if v.number != 0
}


def type_name(value: int) -> str:
    """AUTHENTICATOR_TYPE_PASSWORD → "PASSWORD"; "" for unset or unknown."""
    try:
        name = common.AuthenticatorType.Name(value)
    except ValueError:
        return ""
    return "" if value == 0 else name.removeprefix(_PREFIX)


def type_value(name: str) -> int:
    return common.AuthenticatorType.Value(_PREFIX + name)  # type: ignore[no-any-return]
