"""OpenID Connect relying party: the authorization request and the ID token.

Pure: no network, no database. The caller fetches discovery and the JWKS
(authcore.flows.oidc) and passes them in. The URL and the PKCE challenge are
Authlib's (RFC 6749 / RFC 7636), the JOSE work joserfc's, the ID token
rules Authlib's `CodeIDToken` (OIDC Core 3.1.3.7): nothing here parses or
signs JOSE by hand.

Failure reasons (``OidcVerificationError.reason``):

* ``malformed_token`` - not a compact JWS, or its payload is not a JSON object.
* ``unsupported_algorithm`` - ``alg`` is ``none``, symmetric (HS*), or unknown.
* ``unknown_key`` - the header's ``kid`` is not in the JWKS (refetch it once).
* ``bad_signature`` - the signature does not verify.
* ``invalid_claims`` - iss, aud, azp, nonce or sub is wrong or missing.
* ``expired_token`` - ``exp`` is past (beyond the leeway).
* ``invalid_parameters`` - the caller's own input is unusable.
* ``malformed_response`` - an authorization response without one code and one
  state, or with repeated parameters (the client's mistake, not a wrong answer).
* ``invalid_state`` - the response's state is not the request's.
* ``issuer_mismatch`` - the response's ``iss`` (RFC 9207) is another issuer.
* ``provider_refused`` - the provider answered with an ``error``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    DecodeError,
    ExpiredTokenError,
    InvalidKeyIdError,
    InvalidPayloadError,
    JoseError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import KeySet

from authcore.verify.errors import VerificationError

__all__ = [
    "ALLOWED_ALGORITHMS",
    "AuthorizationRequest",
    "AuthorizationResponse",
    "OidcVerificationError",
    "VerifiedIdToken",
    "generate_authorization_request",
    "state_digest",
    "verify_authorization_response",
    "verify_id_token",
]


class OidcVerificationError(VerificationError):
    """Raised by every failure in this module."""


# Asymmetric signatures only: "none" proves nothing, and HS* would make the
# client secret the verification key (any holder of it could mint tokens).
ALLOWED_ALGORITHMS: Final = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                             "ES256", "ES384", "ES512", "EdDSA", "Ed25519")
# Clock skew tolerated on exp/iat/nbf, in seconds.
DEFAULT_LEEWAY: Final = 60
# 32 random bytes each: RFC 7636 asks for at least 256 bits of entropy in
# the verifier; the nonce gets the same.
_RANDOM_BYTES: Final = 32


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the browser, and what to keep server-side for the callback."""

    url: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class VerifiedIdToken:
    """A valid ID token's subject and the claims a login needs."""

    subject: str
    issuer: str
    email: str | None
    email_verified: bool
    claims: dict[str, Any] = field(repr=False)


def generate_authorization_request(
    *, authorization_endpoint: str, client_id: str, redirect_uri: str,
    scopes: Sequence[str], state: str, extra: Mapping[str, str] | None = None,
) -> AuthorizationRequest:
    """An authorization code request (OIDC Core 3.1.2.1) with a fresh nonce
    and a PKCE S256 challenge (RFC 7636); `state` is the caller's opaque
    handle on the server-side record."""
    if not authorization_endpoint or not client_id or not redirect_uri or not state:
        raise OidcVerificationError("invalid_parameters", "endpoint, client, redirect and "
                                    "state are required")
    if "openid" not in scopes:
        raise OidcVerificationError("invalid_parameters", "scopes must include openid")
    nonce = secrets.token_urlsafe(_RANDOM_BYTES)
    verifier = secrets.token_urlsafe(_RANDOM_BYTES)
    url = prepare_grant_uri(
        authorization_endpoint, client_id, "code", redirect_uri=redirect_uri,
        scope=" ".join(scopes), state=state, nonce=nonce,
        code_challenge=create_s256_code_challenge(verifier), code_challenge_method="S256",
        **dict(extra or {}))
    return AuthorizationRequest(url=url, nonce=nonce, code_verifier=verifier)


@dataclass(frozen=True)
class AuthorizationResponse:
    """The code of an authorization response whose state was the request's."""

    code: str = field(repr=False)


# Longer than any code or state a provider sends; a bound on what is parsed.
MAX_RESPONSE_CHARS: Final = 8192
_ERROR_CODE = re.compile(r"[a-z_]{1,64}")


def state_digest(state: str) -> str:
    """What the server keeps of a state: its SHA-256, so a leaked record
    cannot be answered with."""
    return hashlib.sha256(state.encode()).hexdigest()


def verify_authorization_response(
    *, response: str, state_digest_expected: str, issuer: str,
) -> AuthorizationResponse:
    """Check an authorization response (OIDC Core 3.1.2.5, RFC 6749 4.1.2),
    given as the callback URL the provider redirected to or its query
    string: exactly one code and one state, the state's digest equal to the
    stored one (constant time), `iss` (RFC 9207) equal to the issuer when
    present, and no `error` (RFC 6749 4.1.2.1)."""
    if not response or len(response) > MAX_RESPONSE_CHARS:
        raise OidcVerificationError("malformed_response", "empty or too long")
    text = response.strip()
    if "://" in text:
        parts = urlsplit(text)
        # A provider using response_mode=fragment puts it after '#'.
        text = parts.query or parts.fragment
    text = text.lstrip("?#")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True,
                          max_num_fields=16)
    except ValueError:
        raise OidcVerificationError("malformed_response", "not a query string") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise OidcVerificationError("malformed_response", f"{key} is repeated")
        params[key] = value
    state = params.get("state", "")
    matches = bool(state) and hmac.compare_digest(state_digest(state), state_digest_expected)
    if "error" in params:
        error = params["error"]
        code = error if _ERROR_CODE.fullmatch(error) else "error"
        raise OidcVerificationError("provider_refused", f"the provider answered {code}")
    if not params.get("code") or not state:
        raise OidcVerificationError("malformed_response", "code and state are required")
    if not matches:
        raise OidcVerificationError("invalid_state", "the state is not the request's")
    if "iss" in params and params["iss"] != issuer:
        raise OidcVerificationError("issuer_mismatch", "the response names another issuer")
    return AuthorizationResponse(code=params["code"])


def token_header(id_token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, unverified (to pick the key)."""
    try:
        return dict(jws.extract_compact(id_token.encode()).headers())
    except (JoseError, ValueError, UnicodeError) as exc:
        raise OidcVerificationError("malformed_token", str(exc)) from None


def verify_id_token(
    *, id_token: str, jwks: Mapping[str, Any], issuer: str, client_id: str, nonce: str,
    now: float, leeway: int = DEFAULT_LEEWAY,
    algorithms: Sequence[str] = ALLOWED_ALGORITHMS,
) -> VerifiedIdToken:
    """Check an ID token from the token endpoint: signature by a key of the
    provider's JWKS, iss equal to the issuer, aud containing the client
    (azp equal to it when there are several audiences), the nonce sent in
    the authorization request, exp in the future and iat not in it (both
    within `leeway`)."""
    if not nonce or not issuer or not client_id:
        raise OidcVerificationError("invalid_parameters", "issuer, client and nonce are required")
    allowed = [a for a in algorithms if a in ALLOWED_ALGORITHMS]
    header = token_header(id_token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in allowed:
        raise OidcVerificationError("unsupported_algorithm", f"alg {alg!r} is not accepted")
    try:
        keys = KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise OidcVerificationError("invalid_parameters", f"unusable JWKS: {exc}") from None
    kid = header.get("kid")
    try:
        keys.get_by_kid(kid if isinstance(kid, str) else None)
    except InvalidKeyIdError:
        raise OidcVerificationError("unknown_key", f"no key for kid {kid!r}") from None
    try:
        token = jwt.decode(id_token, keys, algorithms=allowed)
    except BadSignatureError:
        raise OidcVerificationError("bad_signature", "the signature does not verify") from None
    except UnsupportedAlgorithmError as exc:
        raise OidcVerificationError("unsupported_algorithm", str(exc)) from None
    except InvalidKeyIdError:
        raise OidcVerificationError("unknown_key", f"no key for kid {kid!r}") from None
    except (DecodeError, InvalidPayloadError, JoseError, ValueError) as exc:
        raise OidcVerificationError("malformed_token", str(exc)) from None
    claims = CodeIDToken(
        token.claims, token.header,
        options={"iss": {"essential": True, "value": issuer},
                 "aud": {"essential": True, "value": client_id},
                 "sub": {"essential": True},
                 "nonce": {"essential": True, "value": nonce}},
        params={"nonce": nonce, "client_id": client_id})
    try:
        claims.validate(now=int(now), leeway=leeway)
    except ExpiredTokenError:
        raise OidcVerificationError("expired_token", "the ID token has expired") from None
    except ClaimError as exc:
        raise OidcVerificationError("invalid_claims", str(exc)) from None
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        # OIDC Core 2: at most 255 ASCII characters.
        raise OidcVerificationError("invalid_claims", "sub must be 1-255 characters")
    email = claims.get("email")
    return VerifiedIdToken(
        subject=subject, issuer=issuer,
        email=email if isinstance(email, str) and email else None,
        # Only a JSON true counts: a string such as "false" is truthy.
        email_verified=claims.get("email_verified") is True,
        claims=dict(claims))
