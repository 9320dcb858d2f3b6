from __future__ import annotations

from authcore.flows.policy import AppPolicy


def test_defaults_are_the_documented_ones() -> None:
    p = AppPolicy()
    assert (p.session_seconds, p.challenge_seconds) == (3600, 300)
    assert (p.self_sign_up, p.hide_user_existence) == (False, False)
    assert p.violations() == []


def test_out_of_range_settings_are_reported() -> None:
    p = AppPolicy.from_json({"totp_drift_steps": 50, "otp_digits": 4, "unknown": 1})
    assert {name for name, _ in p.violations()} == {"totp_drift_steps", "otp_digits"}


def test_json_round_trip() -> None:
    p = AppPolicy(session_seconds=120, challenge_seconds=60, self_sign_up=True,
                  hide_user_existence=True)
    assert AppPolicy.from_json(p.to_json()) == p


def test_a_stored_lockout_policy_is_ignored() -> None:
    # Rows written before the lockout policy became the directory's.
    p = AppPolicy.from_json({"max_failures": 1000, "lockout_seconds": 1, "session_seconds": 60})
    assert p == AppPolicy(session_seconds=60)
    assert "max_failures" not in p.to_json()
