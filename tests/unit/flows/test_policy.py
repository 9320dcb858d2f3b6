from __future__ import annotations

import pytest

from authcore.errors import PermissionDenied
from authcore.flows.policy import AppPolicy, SelfServicePolicy, grant


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


def test_mfa_factors_is_one_or_two() -> None:
    assert AppPolicy().mfa_factors == 1
    assert AppPolicy.from_json({"mfa_factors": 2}).violations() == []
    for bad in (0, 3):
        assert [n for n, _ in AppPolicy.from_json({"mfa_factors": bad}).violations()] == [
            "mfa_factors"]


def test_grant_of_several_different_factors_needs_each_allowed() -> None:
    both = grant(application_id="a", allowed=["PASSKEY", "OTP"], factors=["PASSKEY", "OTP"])
    assert both.factors == ("PASSKEY", "OTP")


def test_grant_of_idp_and_a_second_factor() -> None:
    # IDP_AND_SECONDFACTOR grants IDP + a second factor on its own...
    done = grant(application_id="a", allowed=["IDP_AND_SECONDFACTOR"], factors=["IDP", "OTP"])
    assert done.factors == ("IDP", "OTP")
    # ...and without it two factors each allowed still do (LoginID's rule).
    grant(application_id="a", allowed=["IDP", "OTP"], factors=["IDP", "OTP"])
    with pytest.raises(PermissionDenied):
        grant(application_id="a", allowed=["IDP_AND_SECONDFACTOR"], factors=["IDP"])
    with pytest.raises(PermissionDenied):
        grant(application_id="a", allowed=["IDP_AND_SECONDFACTOR"],
              factors=["IDP", "PASSKEY"])


@pytest.mark.parametrize(("allowed", "factors"), [
    (["PASSKEY"], ["PASSKEY", "OTP"]),                                 # one not allowed
    (["PASSKEY", "OTP"], ["OTP", "OTP"]),                              # not different
    (["PASSWORD", "OTP", "PASSKEY"], ["PASSWORD", "OTP", "PASSKEY"]),  # with a password
    (["PASSWORD", "OTP"], ["PASSWORD", "OTP"]),                        # that is P2F's rule
])
def test_grant_refuses_other_sequences(allowed: list[str], factors: list[str]) -> None:
    with pytest.raises(PermissionDenied):
        grant(application_id="a", allowed=allowed, factors=factors)


def test_self_service_is_off_by_default() -> None:
    p = SelfServicePolicy.from_settings({})
    assert p.editable_values == () and p.offline_tokens_enabled is False
    assert p.violations() == []


def test_self_service_round_trip_and_bounds() -> None:
    p = SelfServicePolicy(editable_values=("email", "title"), offline_tokens_enabled=True,
                          offline_iterations=10)
    assert SelfServicePolicy.from_settings({"selfService": p.to_json()}) == p
    bad = SelfServicePolicy.from_settings({"selfService": {
        "editable_values": ["email", "shoeSize"], "offline_iterations": 0,
        "offline_private_salt_length": 7, "offline_minor_size": 30, "offline_max_size": 20}})
    assert {name for name, _ in bad.violations()} == {
        "editable_values", "offline_iterations", "offline_private_salt_length",
        "offline_minor_size"}
