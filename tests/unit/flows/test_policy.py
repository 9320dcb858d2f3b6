from __future__ import annotations

from authcore.flows.policy import AppPolicy


def test_defaults_are_the_documented_ones() -> None:
    p = AppPolicy()
    assert (p.max_failures, p.lockout_seconds) == (5, 1800)
    assert p.lockout.max_failures == 5
    assert p.violations() == []


def test_out_of_range_settings_are_reported() -> None:
    p = AppPolicy.from_json({"totp_drift_steps": 50, "otp_digits": 4, "unknown": 1})
    assert {name for name, _ in p.violations()} == {"totp_drift_steps", "otp_digits"}


def test_json_round_trip() -> None:
    p = AppPolicy(max_failures=3, challenge_seconds=60)
    assert AppPolicy.from_json(p.to_json()) == p
