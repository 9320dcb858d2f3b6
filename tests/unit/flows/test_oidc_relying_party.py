"""flows/oidc.RelyingParty against a real HTTP server on a loopback port
that serves a discovery document, a key set and a token endpoint, and
counts what it is asked: the key set is refetched for a token signed by a
rotated-in key, at most once per JWKS_REFETCH_SECONDS however many tokens
with unknown key ids arrive (one after another or all at once), a failed
refetch counts like a good one, concurrent logins share one fetch; and a
provider that answers nonsense is a 503 or 401, never an unexpected
exception (a 500). The relying party's clock is a counter the test moves;
everything else is real: sockets, HTTP, JSON, JOSE."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from authcore.errors import AuthcoreError, Unauthenticated, Unavailable
from authcore.flows.oidc import (
    JWKS_REFETCH_SECONDS,
    JWKS_TTL_SECONDS,
    ProviderMetadata,
    RelyingParty,
)
from authcore.verify.oidc import OidcVerificationError

CLIENT = "rp-client"
NONCE = "n-" + uuid.uuid4().hex
FLOOD = 40


def _key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig"}, private=True)


class ProviderServer:
    """Discovery, JWKS and token endpoint over real HTTP; `hits` counts
    requests per path. `keys` and `answers` may be changed between calls."""

    def __init__(self) -> None:
        self.keys: list[ECKey] = []
        # path -> (status, body) overriding the normal answer.
        self.answers: dict[str, tuple[int, bytes]] = {}
        self.hits: Counter[str] = Counter()
        # Each answer waits this long, so that concurrent callers overlap.
        self.delay = 0.05
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner._answer(self)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner._answer(self)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def discovery(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "authorization_endpoint": self.issuer + "/auth",
                "token_endpoint": self.issuer + "/token", "jwks_uri": self.issuer + "/jwks",
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"]}

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        with self._lock:
            self.hits[path] += 1
        time.sleep(self.delay)
        if path in self.answers:
            status, body = self.answers[path]
        elif path == "/.well-known/openid-configuration":
            status, body = 200, json.dumps(self.discovery()).encode()
        elif path == "/jwks":
            status, body = 200, json.dumps(
                {"keys": [k.as_dict(private=False) for k in self.keys]}).encode()
        else:
            status, body = 404, b'{"error": "not_found"}'
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def __enter__(self) -> ProviderServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def op() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        yield server


def id_token(op: ProviderServer, key: ECKey, *, kid: str | None = None) -> str:
    now = int(time.time())
    claims = {"iss": op.issuer, "sub": "subject-1", "aud": CLIENT, "nonce": NONCE,
              "iat": now, "exp": now + 300}
    header = {"alg": "ES256", "kid": kid or str(key.kid)}
    return jwt.encode(header, claims, key, algorithms=["ES256"])


async def verify(rp: RelyingParty, meta: ProviderMetadata, token: str) -> str:
    verified = await rp.verify(meta, id_token=token, client_id=CLIENT, nonce=NONCE,
                               now=time.time())
    return verified.subject


async def outcomes(rp: RelyingParty, meta: ProviderMetadata, tokens: list[str]
                   ) -> list[str]:
    """Each token's result, all verified at once: the subject or the
    failure's reason."""
    async def one(token: str) -> str:
        try:
            return await verify(rp, meta, token)
        except OidcVerificationError as exc:
            return exc.reason
        except AuthcoreError as exc:
            return exc.reason
    return list(await asyncio.gather(*(one(t) for t in tokens)))


# -- JWKS refetch ---------------------------------------------------------------------


async def test_a_rotated_in_key_is_accepted_after_one_refetch(op: ProviderServer) -> None:
    old, new = _key("old"), _key("new")
    op.keys = [old]
    clock = Clock()
    rp = RelyingParty(clock=clock)
    meta = await rp.metadata(op.issuer)
    assert await verify(rp, meta, id_token(op, old)) == "subject-1"
    assert op.hits["/jwks"] == 1

    # The provider rotates a few seconds after authcore fetched its set: the
    # set is younger than the refetch interval, so it counts as fresh and a
    # token of the new key is refused without asking.
    op.keys = [new, old]
    clock.now += JWKS_REFETCH_SECONDS / 2
    with pytest.raises(OidcVerificationError) as early:
        await verify(rp, meta, id_token(op, new))
    assert early.value.reason == "unknown_key" and op.hits["/jwks"] == 1

    # Once the interval is over, the unknown kid refetches the set once and
    # the token passes; the new set is cached from then on.
    clock.now += JWKS_REFETCH_SECONDS / 2 + 1
    assert await verify(rp, meta, id_token(op, new)) == "subject-1"
    assert op.hits["/jwks"] == 2
    assert await outcomes(rp, meta, [id_token(op, new), id_token(op, old)] * 5) == \
        ["subject-1"] * 10
    assert op.hits["/jwks"] == 2
    assert op.hits["/.well-known/openid-configuration"] == 1


async def test_a_flood_of_unknown_kids_refetches_at_most_once_per_interval(
        op: ProviderServer) -> None:
    known, stranger = _key("known"), _key("stranger")
    op.keys = [known]
    clock = Clock()
    rp = RelyingParty(clock=clock)
    meta = await rp.metadata(op.issuer)
    assert await verify(rp, meta, id_token(op, known)) == "subject-1"
    assert op.hits["/jwks"] == 1

    def flood() -> list[str]:
        return [id_token(op, stranger, kid=uuid.uuid4().hex) for _ in range(FLOOD)]

    # Within the interval: nothing is refetched, all at once or one by one.
    assert await outcomes(rp, meta, flood()) == ["unknown_key"] * FLOOD
    for token in flood()[:10]:
        assert await outcomes(rp, meta, [token]) == ["unknown_key"]
    assert op.hits["/jwks"] == 1

    # After it: all at once, one refetch between them (the tasks that queued
    # behind it use its answer), then none until the interval is over again.
    for expected in (2, 3):
        clock.now += JWKS_REFETCH_SECONDS + 1
        assert await outcomes(rp, meta, flood()) == ["unknown_key"] * FLOOD
        assert op.hits["/jwks"] == expected
        clock.now += JWKS_REFETCH_SECONDS / 2
        assert await outcomes(rp, meta, flood()) == ["unknown_key"] * FLOOD
        assert op.hits["/jwks"] == expected
    # A valid token still passes among them, from the cache.
    assert await outcomes(rp, meta, [id_token(op, known), *flood()[:5]]) == \
        ["subject-1"] + ["unknown_key"] * 5
    assert op.hits["/jwks"] == 3


async def test_a_failing_refetch_counts_against_the_limit(op: ProviderServer) -> None:
    known, stranger = _key("known"), _key("stranger")
    op.keys = [known]
    clock = Clock()
    rp = RelyingParty(clock=clock)
    meta = await rp.metadata(op.issuer)
    await verify(rp, meta, id_token(op, known))
    op.answers["/jwks"] = (503, b'{"error": "down"}')
    clock.now += JWKS_REFETCH_SECONDS + 1
    got = await outcomes(rp, meta, [id_token(op, stranger, kid=uuid.uuid4().hex)
                                    for _ in range(FLOOD)])
    # The one that asked learns the provider is unusable (503); the rest
    # are refused on the cached set, without asking again.
    assert sorted(set(got)) == ["provider_unavailable", "unknown_key"]
    assert got.count("provider_unavailable") == 1
    assert op.hits["/jwks"] == 2
    # The cached set still serves the known key.
    assert await verify(rp, meta, id_token(op, known)) == "subject-1"
    assert op.hits["/jwks"] == 2


async def test_concurrent_logins_share_one_fetch_of_each_document(op: ProviderServer) -> None:
    key = _key("k1")
    op.keys = [key]
    clock = Clock()
    rp = RelyingParty(clock=clock)
    metas = await asyncio.gather(*(rp.metadata(op.issuer) for _ in range(20)))
    assert op.hits["/.well-known/openid-configuration"] == 1
    assert await outcomes(rp, metas[0], [id_token(op, key)] * 20) == ["subject-1"] * 20
    assert op.hits["/jwks"] == 1
    # The hour is over: the set is fetched again, once for all of them.
    clock.now += JWKS_TTL_SECONDS + 1
    assert await outcomes(rp, metas[0], [id_token(op, key)] * 20) == ["subject-1"] * 20
    assert op.hits["/jwks"] == 2


# -- a provider that answers nonsense ---------------------------------------------------


@pytest.mark.parametrize("doc", [
    {"token_endpoint_auth_methods_supported": 5},
    {"token_endpoint_auth_methods_supported": "client_secret_basic"},
    {"id_token_signing_alg_values_supported": {"RS256": True}},
    {"id_token_signing_alg_values_supported": [None]},
    {"jwks_uri": 7},
    {"issuer": None},
])
async def test_a_broken_discovery_document_is_unavailable(
        op: ProviderServer, doc: dict[str, Any]) -> None:
    op.answers["/.well-known/openid-configuration"] = (
        200, json.dumps({**op.discovery(), **doc}).encode())
    with pytest.raises(Unavailable):
        await RelyingParty().metadata(op.issuer)


@pytest.mark.parametrize("body", [b"[]", b"[1, 2]", b"null", b'"text"', b"not json",
                                  json.dumps({"keys": "none"}).encode(),
                                  json.dumps({"keys": [1, 2]}).encode(),
                                  json.dumps({"keys": [{"kty": "EC"}]}).encode()])
async def test_a_broken_key_set_is_refused_cleanly(op: ProviderServer, body: bytes) -> None:
    op.answers["/jwks"] = (200, body)
    rp = RelyingParty()
    meta = await rp.metadata(op.issuer)
    try:
        await verify(rp, meta, id_token(op, _key("k1")))
    except (Unavailable, OidcVerificationError):
        pass
    else:
        raise AssertionError("a broken key set verified a token")


@pytest.mark.parametrize(("status", "body", "refused"), [
    (400, b'{"error": "invalid_grant"}', Unauthenticated),
    (401, b'{"error": "invalid_client"}', Unauthenticated),
    (200, b"[]", Unavailable),
    (200, b"null", Unavailable),
    (200, b'"token"', Unavailable),
    (200, b"{}", None),
    (200, b"not json", Unavailable),
    (200, b'{"access_token": 5, "token_type": "Bearer"}', None),
    (500, b"<html>oops</html>", Unavailable),
    (302, b"", Unavailable),
])
async def test_a_broken_token_response_is_refused_cleanly(
        op: ProviderServer, status: int, body: bytes,
        refused: type[AuthcoreError] | None) -> None:
    op.answers["/token"] = (status, body)
    rp = RelyingParty()
    meta = await rp.metadata(op.issuer)
    try:
        tokens = await rp.exchange_code(meta, client_id=CLIENT, client_secret="s",
                                        code="c", redirect_uri="http://127.0.0.1/cb",
                                        code_verifier="v" * 43)
    except AuthcoreError as exc:
        assert refused is not None and isinstance(exc, refused), exc
    else:
        # A token response without an ID token: the login refuses it next.
        assert refused is None and "id_token" not in tokens
