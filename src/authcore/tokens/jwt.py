"""ES256 JWTs with ``kid`` headers, key rotation and a JWKS document."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

__all__ = [
    "SigningKey",
    "TokenError",
    "TokenSigner",
    "generate_signing_key",
    "jwk_thumbprint",
]

_ALG = "ES256"
_DEFAULT_TYP = "JWT"
# The signer owns these claims; letting callers set them would let a caller
# mint tokens that outlive their ttl or claim another issuer.
_RESERVED_CLAIMS = frozenset({"iat", "exp", "iss"})


def _load_private_key(private_pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(private_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("signing key must be an EC P-256 private key")
    return key


def _public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    raw = ECAlgorithm.to_jwk(public_key, as_dict=True)
    return {"kty": raw["kty"], "crv": raw["crv"], "x": raw["x"], "y": raw["y"]}


def jwk_thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 thumbprint of an EC public JWK (SHA-256, base64url, unpadded)."""
    required = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    # Kept out of repr so logging a key (or a config holding one) can't leak it.
    private_pem: bytes = field(repr=False)

    def public_jwk(self) -> dict[str, str]:
        jwk = _public_jwk(_load_private_key(self.private_pem).public_key())
        return {**jwk, "kid": self.kid, "use": "sig", "alg": _ALG}


def generate_signing_key() -> SigningKey:
    private_key = ec.generate_private_key(ec.SECP256R1())
    pem = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    return SigningKey(kid=jwk_thumbprint(_public_jwk(private_key.public_key())), private_pem=pem)


class TokenError(Exception):
    """Token rejected; ``reason`` is "expired_token" or "invalid_token"."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def _numeric_date(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    # bool is an int subclass; true/false is not a NumericDate.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError("invalid_token", f"{name} must be a number")
    return float(value)


class TokenSigner:
    """Signs with ``keys[0]``; verifies with any of ``keys`` (rotation window)."""

    def __init__(self, keys: Sequence[SigningKey], *, issuer: str) -> None:
        if not keys:
            raise ValueError("at least one signing key is required")
        if not issuer:
            raise ValueError("issuer must be non-empty")
        self._issuer = issuer
        self._active_kid = keys[0].kid
        # Parsed once: PEM parsing costs far more than an ES256 verify.
        self._signing_key = _load_private_key(keys[0].private_pem)
        self._verify_keys: dict[str, ec.EllipticCurvePublicKey] = {}
        jwks: list[dict[str, str]] = []
        for key in keys:
            if key.kid in self._verify_keys:
                raise ValueError(f"duplicate kid {key.kid!r}")
            public_key = _load_private_key(key.private_pem).public_key()
            self._verify_keys[key.kid] = public_key
            jwks.append({**_public_jwk(public_key), "kid": key.kid, "use": "sig", "alg": _ALG})
        self._jwks = jwks

    @property
    def issuer(self) -> str:
        return self._issuer

    def sign(
        self,
        claims: Mapping[str, Any],
        *,
        ttl_seconds: int,
        now: float | None = None,
        token_type: str = _DEFAULT_TYP,
    ) -> tuple[str, int]:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        reserved = _RESERVED_CLAIMS.intersection(claims)
        if reserved:
            raise ValueError(f"claims set by the signer: {sorted(reserved)}")
        iat = int(time.time() if now is None else now)
        exp = iat + ttl_seconds
        payload = {**claims, "iss": self._issuer, "iat": iat, "exp": exp}
        token = jwt.encode(
            payload,
            self._signing_key,
            algorithm=_ALG,
            headers={"kid": self._active_kid, "typ": token_type},
        )
        return token, exp

    def verify(
        self,
        token: str,
        *,
        audience: str | None = None,
        now: float | None = None,
        leeway: int = 0,
        token_type: str | None = None,
    ) -> dict[str, Any]:
        """Return the claims of a valid token or raise TokenError.

        A token carrying ``aud`` is rejected when ``audience`` is None: a token
        meant for someone specific must not be accepted by a generic check.
        ``token_type``, when given, must match the header ``typ``
        (case-insensitively) so one kind of token can't stand in for another.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError("invalid_token", "malformed token") from exc
        kid = header.get("kid")
        public_key = self._verify_keys.get(kid) if isinstance(kid, str) else None
        if public_key is None:
            raise TokenError("invalid_token", "unknown kid")
        if token_type is not None:
            typ = header.get("typ")
            if not isinstance(typ, str) or typ.lower() != token_type.lower():
                raise TokenError("invalid_token", "unexpected token type")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                public_key,
                algorithms=[_ALG],
                audience=audience,
                issuer=self._issuer,
                options={
                    "require": ["exp", "iat", "iss"],
                    # PyJWT reads the wall clock with no way to inject `now`,
                    # so the time claims are checked below against one clock.
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise TokenError("invalid_token", type(exc).__name__) from exc
        self._check_times(claims, now=time.time() if now is None else now, leeway=leeway)
        return claims

    @staticmethod
    def _check_times(claims: Mapping[str, Any], *, now: float, leeway: int) -> None:
        # Same boundaries as PyJWT: exp is exclusive, iat/nbf may not be in the future.
        exp = _numeric_date(claims, "exp")
        iat = _numeric_date(claims, "iat")
        if iat > now + leeway:
            raise TokenError("invalid_token", "iat is in the future")
        if "nbf" in claims and _numeric_date(claims, "nbf") > now + leeway:
            raise TokenError("invalid_token", "token not yet valid")
        if exp <= now - leeway:
            raise TokenError("expired_token")

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(jwk) for jwk in self._jwks]}
