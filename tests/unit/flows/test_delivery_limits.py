"""The delivery limits' settings and how they name an address (the API
behaviour is in tests/api/test_message_bombing.py)."""

from __future__ import annotations

import pytest

from authcore.config import DeliveryLimits, Settings
from authcore.flows.context import delivery_address


def test_defaults_and_environment() -> None:
    assert Settings.from_env({}).delivery_limits == DeliveryLimits(
        resend_seconds=30, per_address_per_hour=10, per_ip_per_hour=60)
    env = {"AUTHCORE_DELIVERY_RESEND_SECONDS": "0",
           "AUTHCORE_DELIVERY_ADDRESS_PER_HOUR": "3",
           "AUTHCORE_DELIVERY_IP_PER_HOUR": "7"}
    assert Settings.from_env(env).delivery_limits == DeliveryLimits(0, 3, 7)


@pytest.mark.parametrize("name", ["RESEND_SECONDS", "ADDRESS_PER_HOUR", "IP_PER_HOUR"])
def test_negative_limits_are_refused(name: str) -> None:
    settings = Settings.from_env({f"AUTHCORE_DELIVERY_{name}": "-1"})
    with pytest.raises(SystemExit, match=f"AUTHCORE_DELIVERY_{name}"):
        settings.check()


def test_one_phone_or_mailbox_however_written() -> None:
    phone = delivery_address("SMS", "+15551234567")
    assert delivery_address("SMS", "+1 (555) 123-4567") == phone
    assert delivery_address("VOICE", "+1-555-123-4567") == phone
    assert delivery_address("SMS", "+15551234568") != phone
    mail = delivery_address("EMAIL", "Ada@Example.com ")
    assert mail == delivery_address("EMAIL", "ada@example.com")
    # A device id is not a phone, even if it were all digits.
    assert delivery_address("PUSH", "15551234567") != phone
