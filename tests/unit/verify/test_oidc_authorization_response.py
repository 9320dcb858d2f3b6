"""verify/oidc.verify_authorization_response: the callback an Entrust IDP
complete carries (OIDC Core 3.1.2.5, RFC 6749 4.1.2, RFC 9207)."""

from __future__ import annotations

import pytest

from authcore.verify.oidc import (
    OidcVerificationError,
    state_digest,
    verify_authorization_response,
)

ISSUER = "https://op.example.com"
STATE = "st-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
CALLBACK = "https://app.example.com/cb"


def check(response: str, state: str = STATE) -> str:
    return verify_authorization_response(response=response, state_digest_expected=state_digest(
        state), issuer=ISSUER).code


@pytest.mark.parametrize("response", [
    f"{CALLBACK}?code=abc&state={STATE}",
    f"{CALLBACK}?code=abc&state={STATE}&iss=https%3A%2F%2Fop.example.com",
    f"code=abc&state={STATE}",
    f"?code=abc&state={STATE}",
    f"{CALLBACK}#code=abc&state={STATE}",  # response_mode=fragment
    f"  {CALLBACK}?state={STATE}&code=abc  ",
])
def test_the_code_of_a_response_to_our_request(response: str) -> None:
    assert check(response) == "abc"


@pytest.mark.parametrize(("response", "reason"), [
    ("", "malformed_response"),
    ("x" * 9000, "malformed_response"),
    ("garbage", "malformed_response"),
    (f"{CALLBACK}?state={STATE}", "malformed_response"),
    (f"{CALLBACK}?code=abc", "malformed_response"),
    (f"{CALLBACK}?code=&state={STATE}", "malformed_response"),
    (f"{CALLBACK}?code=a&code=b&state={STATE}", "malformed_response"),
    (f"{CALLBACK}?code=abc&state={STATE}x", "invalid_state"),
    (f"{CALLBACK}?code=abc&state={STATE}&iss=https%3A%2F%2Fevil.example", "issuer_mismatch"),
    (f"{CALLBACK}?error=access_denied&state={STATE}", "provider_refused"),
    (f"{CALLBACK}?error=%3Cscript%3E", "provider_refused"),
])
def test_refusals(response: str, reason: str) -> None:
    with pytest.raises(OidcVerificationError) as err:
        check(response)
    assert err.value.reason == reason


def test_the_state_is_compared_by_digest() -> None:
    assert state_digest(STATE) != STATE and len(state_digest(STATE)) == 64
    with pytest.raises(OidcVerificationError):
        check(f"code=abc&state={STATE}", state="another")
