from __future__ import annotations

import pytest

from authcore.errors import PermissionDenied
from authcore.flows.policy import (
    AppPolicy,
    MagicLinkPolicy,
    SelfServicePolicy,
    grant,
    page_url_problem,
)


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


# -- Magic Link settings --------------------------------------------------------

ORIGINS = ("https://rp.example", "http://localhost:8080", "https://[::1]:8443")


@pytest.mark.parametrize("url", [
    "https://rp.example/magic", "https://RP.example:443/m?x=1", "http://localhost:8080/m",
    "https://[::1]:8443/m",
])
def test_page_urls_on_the_origins(url: str) -> None:
    assert page_url_problem(url, ORIGINS) is None


@pytest.mark.parametrize("url, problem", [
    ("", "is required"),
    ("https://rp.example/" + "x" * 2048, "is required"),
    ("http://rp.example/m", "must be https"),
    ("https://evil.example/m", "not on an origin"),
    ("https://rp.example:8443/m", "not on an origin"),
    ("http://localhost:9999/m", "not on an origin"),
    ("https://rp.example/m#frag", "no fragment"),
    ("https://u:p@rp.example/m", "no fragment or user info"),
    ("https://rp.example/m x", "no fragment"),
    ("/magic", "absolute URL"),
    ("javascript:alert(1)", "absolute URL"),
    ("https://rp.example:99999/m", "not a valid URL"),
    ("https://[::1/m", "not a valid URL"),
])
def test_page_urls_refused(url: str, problem: str) -> None:
    found = page_url_problem(url, ORIGINS)
    assert found is not None and problem in found, found


def test_magic_link_policy() -> None:
    p = MagicLinkPolicy()
    assert (p.link_url, p.redirect_url, p.lifetime_seconds) == ("", "", 600)
    assert p.violations(ORIGINS) == []
    stored = {"magicLink": {"link_url": "https://rp.example/m", "lifetime_seconds": 3601,
                            "redirect_url": "https://evil.example/", "unknown": 1}}
    p = MagicLinkPolicy.from_settings(stored)
    assert MagicLinkPolicy.from_settings({"magicLink": p.to_json()}) == p
    assert {name for name, _ in p.violations(ORIGINS)} == {"lifetime_seconds", "redirect_url"}
    assert {name for name, _ in p.violations(())} == {"lifetime_seconds", "redirect_url",
                                                      "link_url"}


def test_magic_link_is_a_second_factor() -> None:
    assert grant(application_id="a", allowed=["PASSWORD_AND_SECONDFACTOR"],
                 factors=["PASSWORD", "MAGICLINK"]).factors == ("PASSWORD", "MAGICLINK")
    with pytest.raises(PermissionDenied):
        grant(application_id="a", allowed=["PASSWORD"], factors=["MAGICLINK"])
