from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from authcore.tokens.jwt import (
    SigningKey,
    TokenError,
    TokenSigner,
    generate_signing_key,
)

ISSUER = "https://auth.example.test"
NOW = 1_700_000_000


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def private_key(key: SigningKey) -> ec.EllipticCurvePrivateKey:
    private = serialization.load_pem_private_key(key.private_pem, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    return private


def independent_thumbprint(key: SigningKey) -> str:
    """RFC 7638 §3.2 for EC keys, built by hand from the curve point."""
    numbers = private_key(key).public_key().public_numbers()
    x = b64url(numbers.x.to_bytes(32, "big"))
    y = b64url(numbers.y.to_bytes(32, "big"))
    canonical = f'{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}'
    return b64url(hashlib.sha256(canonical.encode()).digest())


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return generate_signing_key()


@pytest.fixture(scope="module")
def other_key() -> SigningKey:
    return generate_signing_key()


@pytest.fixture
def signer(key: SigningKey) -> TokenSigner:
    return TokenSigner([key], issuer=ISSUER)


def reason(exc: pytest.ExceptionInfo[TokenError]) -> str:
    return exc.value.reason


def test_round_trip(signer: TokenSigner, key: SigningKey) -> None:
    token, exp = signer.sign({"sub": "user-1", "scope": "a b"}, ttl_seconds=300, now=NOW)
    assert exp == NOW + 300
    claims = signer.verify(token, now=NOW + 10)
    assert claims == {
        "sub": "user-1",
        "scope": "a b",
        "iss": ISSUER,
        "iat": NOW,
        "exp": NOW + 300,
    }
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "ES256", "kid": key.kid, "typ": "JWT"}


def test_default_clock(signer: TokenSigner) -> None:
    token, exp = signer.sign({"sub": "u"}, ttl_seconds=60)
    assert abs(exp - (time.time() + 60)) < 5
    assert signer.verify(token)["sub"] == "u"


def test_kid_is_rfc7638_thumbprint(key: SigningKey) -> None:
    assert key.kid == independent_thumbprint(key)
    assert len(key.kid) == 43  # unpadded base64url of a SHA-256 digest


def test_generated_keys_differ(key: SigningKey, other_key: SigningKey) -> None:
    assert key.kid != other_key.kid
    assert key.private_pem != other_key.private_pem


def test_signing_key_repr_hides_private_pem(key: SigningKey) -> None:
    assert b"PRIVATE" in key.private_pem
    assert "PRIVATE" not in repr(key)


def test_public_jwk(key: SigningKey) -> None:
    jwk = key.public_jwk()
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("EC", "P-256", "sig", "ES256")
    assert jwk["kid"] == key.kid
    assert "d" not in jwk


def test_token_type_header(signer: TokenSigner) -> None:
    token, _ = signer.sign({"sub": "u"}, ttl_seconds=60, now=NOW, token_type="at+jwt")
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    assert signer.verify(token, now=NOW, token_type="at+JWT")["sub"] == "u"
    with pytest.raises(TokenError) as exc:
        signer.verify(token, now=NOW, token_type="refresh+jwt")
    assert reason(exc) == "invalid_token"


def test_expired(signer: TokenSigner) -> None:
    token, exp = signer.sign({"sub": "u"}, ttl_seconds=60, now=NOW)
    assert signer.verify(token, now=exp - 1)["sub"] == "u"
    with pytest.raises(TokenError) as exc:
        signer.verify(token, now=exp)
    assert reason(exc) == "expired_token"
    assert signer.verify(token, now=exp + 5, leeway=10)["sub"] == "u"


def test_expired_with_default_clock(signer: TokenSigner) -> None:
    token, _ = signer.sign({"sub": "u"}, ttl_seconds=60, now=time.time() - 3600)
    with pytest.raises(TokenError) as exc:
        signer.verify(token)
    assert reason(exc) == "expired_token"


def test_issued_in_future_rejected(signer: TokenSigner) -> None:
    token, _ = signer.sign({"sub": "u"}, ttl_seconds=600, now=NOW + 120)
    with pytest.raises(TokenError) as exc:
        signer.verify(token, now=NOW)
    assert reason(exc) == "invalid_token"
    assert signer.verify(token, now=NOW, leeway=120)["sub"] == "u"


def test_nbf_respected(signer: TokenSigner) -> None:
    token, _ = signer.sign({"sub": "u", "nbf": NOW + 50}, ttl_seconds=600, now=NOW)
    with pytest.raises(TokenError) as exc:
        signer.verify(token, now=NOW + 10)
    assert reason(exc) == "invalid_token"
    assert signer.verify(token, now=NOW + 50)["sub"] == "u"


@pytest.mark.parametrize("part", [0, 1, 2])
def test_tampered(signer: TokenSigner, part: int) -> None:
    token, _ = signer.sign({"sub": "user-1"}, ttl_seconds=300, now=NOW)
    pieces = token.split(".")
    if part == 1:
        pieces[1] = b64url(
            b'{"sub":"admin","iss":"%s","iat":%d,"exp":%d}'
            % (
                ISSUER.encode(),
                NOW,
                NOW + 300,
            )
        )
    else:
        # Flip a bit in the middle (the last char may carry only padding bits).
        chars = list(pieces[part])
        mid = len(chars) // 2
        chars[mid] = "A" if chars[mid] != "A" else "B"
        pieces[part] = "".join(chars)
    with pytest.raises(TokenError) as exc:
        signer.verify(".".join(pieces), now=NOW)
    assert reason(exc) == "invalid_token"


def test_tampered_and_expired_is_invalid_not_expired(signer: TokenSigner) -> None:
    token, exp = signer.sign({"sub": "u"}, ttl_seconds=60, now=NOW)
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{sig[:-6]}AAAAAA"
    with pytest.raises(TokenError) as exc:
        signer.verify(forged, now=exp + 100)
    assert reason(exc) == "invalid_token"


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "a.b", "...."])
def test_garbage(signer: TokenSigner, garbage: str) -> None:
    with pytest.raises(TokenError) as exc:
        signer.verify(garbage, now=NOW)
    assert reason(exc) == "invalid_token"


def test_foreign_key_rejected(signer: TokenSigner, other_key: SigningKey) -> None:
    foreign = TokenSigner([other_key], issuer=ISSUER)
    token, _ = foreign.sign({"sub": "u"}, ttl_seconds=60, now=NOW)
    with pytest.raises(TokenError) as exc:
        signer.verify(token, now=NOW)
    assert reason(exc) == "invalid_token"


def test_foreign_key_claiming_our_kid_rejected(
    signer: TokenSigner, key: SigningKey, other_key: SigningKey
) -> None:
    impostor = TokenSigner(
        [SigningKey(kid=key.kid, private_pem=other_key.private_pem)], issuer=ISSUER
    )
    token, _ = impostor.sign({"sub": "u"}, ttl_seconds=60, now=NOW)
    assert jwt.get_unverified_header(token)["kid"] == key.kid
    with pytest.raises(TokenError) as exc:
        signer.verify(token, now=NOW)
    assert reason(exc) == "invalid_token"


def test_missing_kid_rejected(signer: TokenSigner, key: SigningKey) -> None:
    private = private_key(key)
    token = jwt.encode(
        {"sub": "u", "iss": ISSUER, "iat": NOW, "exp": NOW + 60},
        private,
        algorithm="ES256",
    )
    with pytest.raises(TokenError) as exc:
        signer.verify(token, now=NOW)
    assert reason(exc) == "invalid_token"


def test_rotation(key: SigningKey, other_key: SigningKey) -> None:
    old_signer = TokenSigner([key], issuer=ISSUER)
    old_token, _ = old_signer.sign({"sub": "u"}, ttl_seconds=60, now=NOW)

    rotated = TokenSigner([other_key, key], issuer=ISSUER)
    assert rotated.verify(old_token, now=NOW)["sub"] == "u"
    new_token, _ = rotated.sign({"sub": "v"}, ttl_seconds=60, now=NOW)
    assert jwt.get_unverified_header(new_token)["kid"] == other_key.kid
    assert rotated.verify(new_token, now=NOW)["sub"] == "v"

    # Once the old key is retired, its tokens stop verifying.
    retired = TokenSigner([other_key], issuer=ISSUER)
    with pytest.raises(TokenError) as exc:
        retired.verify(old_token, now=NOW)
    assert reason(exc) == "invalid_token"


def _claims() -> dict[str, Any]:
    return {"sub": "u", "iss": ISSUER, "iat": NOW, "exp": NOW + 60}


def test_alg_none_rejected(signer: TokenSigner, key: SigningKey) -> None:
    token = jwt.encode(_claims(), "", algorithm="none", headers={"kid": key.kid})
    with pytest.raises(TokenError) as exc:
        signer.verify(token, now=NOW)
    assert reason(exc) == "invalid_token"


def test_hs256_key_confusion_rejected(signer: TokenSigner, key: SigningKey) -> None:
    # Classic attack: HMAC-sign with the *public* key as the shared secret.
    # Built by hand because PyJWT itself refuses a PEM as an HMAC secret.
    public_pem = jwt.PyJWK(key.public_jwk()).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64url(b'{"alg":"HS256","kid":"%s","typ":"JWT"}' % key.kid.encode())
    body = b64url(json.dumps(_claims()).encode())
    sig = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    token = f"{header}.{body}.{b64url(sig)}"
    with pytest.raises(TokenError) as exc:
        signer.verify(token, now=NOW)
    assert reason(exc) == "invalid_token"


def test_wrong_issuer_rejected(key: SigningKey) -> None:
    token, _ = TokenSigner([key], issuer="https://evil.test").sign(
        {"sub": "u"}, ttl_seconds=60, now=NOW
    )
    with pytest.raises(TokenError) as exc:
        TokenSigner([key], issuer=ISSUER).verify(token, now=NOW)
    assert reason(exc) == "invalid_token"


@pytest.mark.parametrize("missing", ["exp", "iat", "iss"])
def test_required_claims(signer: TokenSigner, key: SigningKey, missing: str) -> None:
    private = private_key(key)
    claims = _claims()
    del claims[missing]
    token = jwt.encode(claims, private, algorithm="ES256", headers={"kid": key.kid})
    with pytest.raises(TokenError) as exc:
        signer.verify(token, now=NOW)
    assert reason(exc) == "invalid_token"


def test_non_numeric_exp_rejected(signer: TokenSigner, key: SigningKey) -> None:
    private = private_key(key)
    claims = {**_claims(), "exp": "9999999999"}
    token = jwt.encode(claims, private, algorithm="ES256", headers={"kid": key.kid})
    with pytest.raises(TokenError) as exc:
        signer.verify(token, now=NOW)
    assert reason(exc) == "invalid_token"


def test_audience(signer: TokenSigner) -> None:
    token, _ = signer.sign({"sub": "u", "aud": "client-a"}, ttl_seconds=60, now=NOW)
    assert signer.verify(token, audience="client-a", now=NOW)["aud"] == "client-a"
    for audience in ("client-b", None):
        with pytest.raises(TokenError) as exc:
            signer.verify(token, audience=audience, now=NOW)
        assert reason(exc) == "invalid_token"
    plain, _ = signer.sign({"sub": "u"}, ttl_seconds=60, now=NOW)
    with pytest.raises(TokenError):
        signer.verify(plain, audience="client-a", now=NOW)


def test_reserved_claims_refused(signer: TokenSigner) -> None:
    for name in ("iat", "exp", "iss"):
        with pytest.raises(ValueError):
            signer.sign({name: 1}, ttl_seconds=60, now=NOW)
    with pytest.raises(ValueError):
        signer.sign({}, ttl_seconds=0, now=NOW)


def test_constructor_validation(key: SigningKey) -> None:
    with pytest.raises(ValueError):
        TokenSigner([], issuer=ISSUER)
    with pytest.raises(ValueError):
        TokenSigner([key, key], issuer=ISSUER)
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError):
        TokenSigner([SigningKey(kid="p384", private_pem=p384)], issuer=ISSUER)


def test_jwks_validates_with_pyjwk(key: SigningKey, other_key: SigningKey) -> None:
    signer = TokenSigner([other_key, key], issuer=ISSUER)
    jwks = signer.jwks()
    assert [k["kid"] for k in jwks["keys"]] == [other_key.kid, key.kid]
    assert all("d" not in k for k in jwks["keys"])

    key_set = jwt.PyJWKSet.from_dict(jwks)
    assert len(key_set.keys) == 2
    token, _ = signer.sign({"sub": "u"}, ttl_seconds=60, now=NOW)
    for jwk in jwks["keys"]:
        parsed = jwt.PyJWK(jwk)
        assert parsed.key_id == jwk["kid"]
        assert parsed.algorithm_name == "ES256"
        assert parsed.public_key_use == "sig"

    # A third party verifying with only the published JWKS accepts our token.
    published = key_set[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(
        token, published, algorithms=["ES256"], issuer=ISSUER, options={"verify_exp": False}
    )
    assert claims["sub"] == "u"
    # ... and the published thumbprint-kid matches the key it names.
    assert key.kid == independent_thumbprint(key)
    assert signer.jwks() == jwks
    jwks["keys"].clear()
    assert len(signer.jwks()["keys"]) == 2
