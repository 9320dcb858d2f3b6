"""OpenID Connect relying party: the network half (discovery, JWKS, the code
exchange), shared by every login that signs users in at an OpenID provider.

LoginID's OIDC login (flows/oidc_login.py) uses it today; Entrust's IDP
authenticators (issue 18) can call the same `RelyingParty` with their own
provider rows. The pure half (authorization URL, ID token rules) is
authcore.verify.oidc.

Discovery documents and key sets are cached per process: every replica
fetches its own, which costs one request per provider per hour and keeps
no shared state. A token signed by a key the cached set lacks (the
provider rotated) refetches the set once, at most every
`JWKS_REFETCH_SECONDS` per issuer however many logins ask at once (and a
failed try counts), so tokens with made-up key ids cannot make authcore
hammer the provider.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from authcore.errors import Unauthenticated, Unavailable
from authcore.verify.oidc import OidcVerificationError, VerifiedIdToken, verify_id_token

try:
    # Authlib's httpx integration runs on httpx2 where that is installed
    # (scim2-client[httpx2] brings it), else on httpx.
    import httpx2

    _HTTP_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, httpx2.HTTPError)
except ImportError:  # pragma: no cover - depends on the environment
    _HTTP_ERRORS = (httpx.HTTPError,)
# Network failures, and answers that are not a token response at all.
_TOKEN_ERRORS: tuple[type[Exception], ...] = (*_HTTP_ERRORS, ValueError)

log = logging.getLogger(__name__)

DISCOVERY_PATH = "/.well-known/openid-configuration"
METADATA_TTL_SECONDS = 3600.0
JWKS_TTL_SECONDS = 3600.0
JWKS_REFETCH_SECONDS = 30.0
HTTP_TIMEOUT = httpx.Timeout(5.0, connect=3.0)
# Authlib's client may be httpx2's, which takes a plain number.
TOKEN_TIMEOUT_SECONDS = 5.0
# A discovery document or key set is a few KB; anything far larger is not one.
MAX_DOCUMENT_BYTES = 512 * 1024
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
# users.email's width: a longer claim can name no account and cannot be stored.
MAX_EMAIL = 320


def secret_aad(provider_id: str) -> bytes:
    """The AAD of a provider's sealed client secret (oidc_providers row)."""
    return b"oidc_provider:" + provider_id.encode()


def issuer_violation(issuer: str) -> str | None:
    """Why an issuer URL is unusable, or None. https only, except on a
    loopback host (development and the tests); no query or fragment
    (OIDC Discovery 2: the issuer is a URL without them)."""
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an absolute https URL"
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        return "must be https (http only on localhost)"
    if parts.query or parts.fragment or parts.username or parts.password:
        return "must have no query, fragment or user info"
    return None


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of a discovery document a code-flow login uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_endpoint_auth_methods: tuple[str, ...]
    id_token_algorithms: tuple[str, ...]

    @classmethod
    def parse(cls, issuer: str, doc: Mapping[str, Any]) -> ProviderMetadata:
        # OIDC Discovery 4.3: the document's issuer must be exactly the one
        # asked for, or a provider could speak for another issuer.
        if doc.get("issuer") != issuer:
            raise _unavailable("the discovery document names another issuer")
        values = {}
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = doc.get(key)
            if not isinstance(value, str) or issuer_violation(value.split("?", 1)[0]):
                raise _unavailable(f"the discovery document has no usable {key}")
            values[key] = value
        methods = _strings(doc, "token_endpoint_auth_methods_supported", "client_secret_basic")
        algs = _strings(doc, "id_token_signing_alg_values_supported", "RS256")
        return cls(issuer=issuer, token_endpoint_auth_methods=methods,
                   id_token_algorithms=algs, **values)

    def auth_method(self, has_secret: bool) -> str:
        """How the client authenticates at the token endpoint: the secret in
        Basic auth (the default of RFC 6749 2.3.1), in the body when the
        provider only takes that, or none for a public client (PKCE only)."""
        if not has_secret:
            return "none"
        if ("client_secret_basic" not in self.token_endpoint_auth_methods
                and "client_secret_post" in self.token_endpoint_auth_methods):
            return "client_secret_post"
        return "client_secret_basic"


def _strings(doc: Mapping[str, Any], key: str, default: str) -> tuple[str, ...]:
    """A list-of-strings member of a discovery document (OIDC Discovery 3:
    JSON arrays of strings); absent or empty means the spec's default.
    Anything else is a broken document (503), not a crash (500)."""
    value = doc.get(key)
    if value is None or value == []:
        return (default,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _unavailable(f"the discovery document's {key} is not a list of strings")
    return tuple(value)


def _unavailable(detail: str) -> Unavailable:
    # The detail goes to the log, not to the browser: it may name internal hosts.
    log.warning("OpenID provider unusable: %s", detail)
    return Unavailable("The OpenID provider could not be used.", reason="provider_unavailable")


class RelyingParty:
    """One per process: discovery and JWKS caches and the outbound calls."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._metadata: dict[str, tuple[float, ProviderMetadata]] = {}
        self._jwks: dict[str, tuple[float, dict[str, Any]]] = {}
        # When the key set was last fetched, or a fetch tried, per issuer.
        self._jwks_tried: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False)

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self._http() as http:
                resp = await http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise _unavailable(f"GET {url}: {type(exc).__name__}") from None
        if resp.status_code != 200 or len(resp.content) > MAX_DOCUMENT_BYTES:
            raise _unavailable(f"GET {url}: HTTP {resp.status_code}, {len(resp.content)} bytes")
        try:
            data = resp.json()
        except ValueError:
            raise _unavailable(f"GET {url}: not JSON") from None
        if not isinstance(data, dict):
            raise _unavailable(f"GET {url}: not a JSON object")
        return data

    def _lock(self, issuer: str) -> asyncio.Lock:
        return self._locks.setdefault(issuer, asyncio.Lock())

    async def metadata(self, issuer: str) -> ProviderMetadata:
        """The provider's discovery document, cached for an hour."""
        now = self._clock()
        cached = self._metadata.get(issuer)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self._lock(issuer):  # one fetch when many logins start at once
            cached = self._metadata.get(issuer)
            if cached is not None and cached[0] > self._clock():
                return cached[1]
            doc = await self._get_json(issuer.rstrip("/") + DISCOVERY_PATH)
            meta = ProviderMetadata.parse(issuer, doc)
            self._metadata[issuer] = (self._clock() + METADATA_TTL_SECONDS, meta)
            return meta

    async def jwks(self, meta: ProviderMetadata, *, refresh: bool = False) -> dict[str, Any]:
        """The provider's key set, cached for JWKS_TTL_SECONDS. `refresh`
        (a token names a key the set lacks) refetches it, unless the set was
        fetched, or a fetch was tried, within JWKS_REFETCH_SECONDS."""
        issuer = meta.issuer
        if not self._jwks_stale(issuer, refresh):
            return self._jwks[issuer][1]
        async with self._lock(issuer):
            # Asked again once the lock is ours: the logins that queued
            # behind one fetch use its answer. Deciding only before the lock
            # let a burst of unknown kids, all past the check before the
            # first fetch returned, fetch the set once each.
            if not self._jwks_stale(issuer, refresh):
                return self._jwks[issuer][1]
            # Noted before the request: a provider that fails is not asked
            # more often than one that answers.
            self._jwks_tried[issuer] = self._clock()
            keys = await self._get_json(meta.jwks_uri)
            if not isinstance(keys.get("keys"), list):
                raise _unavailable("the JWKS has no keys")
            self._jwks[issuer] = (self._clock() + JWKS_TTL_SECONDS, keys)
            return keys

    def _jwks_stale(self, issuer: str, refresh: bool) -> bool:
        cached = self._jwks.get(issuer)
        if cached is None:
            return True
        now = self._clock()
        if refresh:
            return now - self._jwks_tried.get(issuer, -math.inf) >= JWKS_REFETCH_SECONDS
        return cached[0] <= now

    async def exchange_code(self, meta: ProviderMetadata, *, client_id: str,
                            client_secret: str | None, code: str, redirect_uri: str,
                            code_verifier: str) -> dict[str, Any]:
        """The token response for an authorization code (RFC 6749 4.1.3,
        with the PKCE verifier of RFC 7636 4.5), through Authlib."""
        client = AsyncOAuth2Client(
            client_id=client_id, client_secret=client_secret or None,
            token_endpoint_auth_method=meta.auth_method(bool(client_secret)),
            timeout=TOKEN_TIMEOUT_SECONDS, follow_redirects=False)
        try:
            async with client:
                token = await client.fetch_token(
                    meta.token_endpoint, grant_type="authorization_code", code=code,
                    redirect_uri=redirect_uri, code_verifier=code_verifier)
        except OAuthError as exc:
            # invalid_grant and friends: a code that is wrong, used or not ours.
            raise Unauthenticated("The OpenID provider refused the authorization code.",
                                  reason=f"token_{exc.error or 'error'}"[:64]) from None
        except _TOKEN_ERRORS as exc:
            raise _unavailable(f"token endpoint: {type(exc).__name__}") from None
        return dict(token)

    async def verify(self, meta: ProviderMetadata, *, id_token: str, client_id: str,
                     nonce: str, now: float) -> VerifiedIdToken:
        """verify_id_token against the provider's keys, refetched once when
        the token names a key the cached set lacks."""
        algorithms: Sequence[str] = meta.id_token_algorithms
        keys = await self.jwks(meta)
        for attempt in (0, 1):
            try:
                return verify_id_token(id_token=id_token, jwks=keys, issuer=meta.issuer,
                                       client_id=client_id, nonce=nonce, now=now,
                                       algorithms=algorithms)
            except OidcVerificationError as exc:
                if exc.reason != "unknown_key" or attempt:
                    raise
                keys = await self.jwks(meta, refresh=True)
        raise AssertionError("unreachable")
