"""verify/oidc.verify_id_token against ID tokens made here with keys of our
own (OpenID Connect Core 1.0, section 3.1.3.7, "ID Token Validation"): each
rule the relying party must apply refuses the token that breaks it."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from authcore.verify.oidc import OidcVerificationError, verify_id_token

ISSUER = "https://op.example.com"
CLIENT = "rp-client"
NONCE = "n-0S6_WzA2Mj"
NOW = time.time()

SIGNING = RSAKey.generate_key(2048, parameters={"kid": "rs-1", "use": "sig"}, private=True)
OTHER = RSAKey.generate_key(2048, parameters={"kid": "rs-1", "use": "sig"}, private=True)
EC = ECKey.generate_key("P-256", parameters={"kid": "ec-1", "use": "sig"}, private=True)
JWKS = {"keys": [SIGNING.as_dict(private=False), EC.as_dict(private=False)]}


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"iss": ISSUER, "sub": "248289761001", "aud": CLIENT,
                            "nonce": NONCE, "iat": int(NOW), "exp": int(NOW) + 300,
                            "email": "jane@example.com", "email_verified": True}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def token(body: dict[str, Any], *, key: Any = SIGNING, alg: str = "RS256",
          kid: str | None = "rs-1") -> str:
    header: dict[str, Any] = {"alg": alg}
    if kid is not None:
        header["kid"] = kid
    return jwt.encode(header, body, key, algorithms=[alg])


def check(id_token: str, **kwargs: Any) -> Any:
    args: dict[str, Any] = {"id_token": id_token, "jwks": JWKS, "issuer": ISSUER,
                            "client_id": CLIENT, "nonce": NONCE, "now": NOW}
    args.update(kwargs)
    return verify_id_token(**args)


def test_a_valid_token_passes_with_rs256_and_es256() -> None:
    got = check(token(claims()))
    assert (got.subject, got.issuer, got.email, got.email_verified) == (
        "248289761001", ISSUER, "jane@example.com", True)
    assert check(token(claims(), key=EC, alg="ES256", kid="ec-1")).subject == "248289761001"


@pytest.mark.parametrize(("body", "reason"), [
    (claims(nonce="another-nonce"), "invalid_claims"),
    (claims(nonce=None), "invalid_claims"),
    (claims(aud="someone-else"), "invalid_claims"),
    (claims(iss="https://evil.example.com"), "invalid_claims"),
    (claims(sub=None), "invalid_claims"),
    # Several audiences: azp must name this client.
    (claims(aud=[CLIENT, "other"], azp="other"), "invalid_claims"),
    (claims(exp=int(NOW) - 120), "expired_token"),
])
def test_each_claim_rule_refuses(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(OidcVerificationError) as caught:
        check(token(body))
    assert caught.value.reason == reason


def test_several_audiences_with_our_azp_pass() -> None:
    assert check(token(claims(aud=[CLIENT, "other"], azp=CLIENT))).subject


def test_a_token_signed_by_another_key_is_refused() -> None:
    with pytest.raises(OidcVerificationError) as caught:
        check(token(claims(), key=OTHER))
    assert caught.value.reason == "bad_signature"


def test_unknown_kid_is_refused() -> None:
    with pytest.raises(OidcVerificationError) as caught:
        check(token(claims(), kid="rotated-away"))
    assert caught.value.reason == "unknown_key"


def test_alg_none_and_symmetric_algorithms_are_refused() -> None:
    # HS256 keyed with the client's own secret is what a confused RP accepts.
    secret = OctKey.import_key("a-client-secret-of-32-bytes-at-least!!")
    hs = jwt.encode({"alg": "HS256", "kid": "rs-1"}, claims(), secret, algorithms=["HS256"])
    _, body, _ = token(claims()).split(".")
    none_head = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=")
    for bad in (hs, f"{none_head.decode()}.{body}."):
        with pytest.raises(OidcVerificationError) as caught:
            check(bad)
        assert caught.value.reason == "unsupported_algorithm"


def test_malformed_tokens_are_refused() -> None:
    for bad in ("", "a.b", "not a token", token(claims())[:-10] + "@@@@"):
        with pytest.raises(OidcVerificationError):
            check(bad)


def test_email_verified_must_be_json_true() -> None:
    assert check(token(claims(email_verified="true"))).email_verified is False
    assert check(token(claims(email_verified=None))).email_verified is False
