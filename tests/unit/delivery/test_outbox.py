from __future__ import annotations

from authcore.delivery.outbox import mask_email, mask_phone


def test_mask_email_keeps_domain_and_edges() -> None:
    assert mask_email("ada.lovelace@example.com") == "a***********@example.com"
    assert mask_email("ab@example.com") == "a*@example.com"
    assert "lovelace" not in mask_email("ada.lovelace@example.com")


def test_mask_phone_keeps_last_four() -> None:
    assert mask_phone("+15551234567") == "********4567"
    assert mask_phone("123") == "***"
