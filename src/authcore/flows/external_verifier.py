"""The HTTP call to an application's external verifier (EXTERNAL).

The exchange's format and signatures are verify/external.py's; this module
only sends, waits and maps transport failures onto authcore errors:
unreachable → 503 `external_verifier_unavailable`, no answer within the
configured timeout → 504 `external_verifier_timeout`, anything but a signed
200 answer for this request → 502 `external_verifier_bad_answer`. None of
them is a wrong answer, so none counts toward the lockout.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass

import httpx

from authcore.errors import BadGateway, GatewayTimeout, Unavailable
from authcore.verify.external import (
    SIGNATURE_HEADER,
    ExternalAnswerError,
    SignedVerifierRequest,
    VerifierAnswer,
    verify_verifier_answer,
)

log = logging.getLogger("authcore.external")

MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = "authcore-external-verifier/1"

# One client per event loop: a new AsyncClient builds a new TLS context
# (tens of milliseconds) and could not reuse connections.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary())


def _client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        # Redirects are not followed: the signature is for the configured URL.
        client = httpx.AsyncClient(follow_redirects=False, headers={"User-Agent": USER_AGENT})
        _clients[loop] = client
    return client


@dataclass(frozen=True)
class VerifierEndpoint:
    url: str
    key: bytes
    timeout_seconds: float


async def ask_verifier(endpoint: VerifierEndpoint, request: SignedVerifierRequest
                       ) -> VerifierAnswer:
    try:
        async with asyncio.timeout(endpoint.timeout_seconds):
            status, signature, body = await _post(endpoint, request)
    except (TimeoutError, httpx.TimeoutException):
        raise GatewayTimeout("The external verifier did not answer in time.",
                             reason="external_verifier_timeout") from None
    except httpx.HTTPError as exc:
        log.warning("external verifier %s unreachable: %s", endpoint.url, type(exc).__name__)
        raise Unavailable("The external verifier is unreachable.",
                          reason="external_verifier_unavailable") from None
    if status != 200:
        log.warning("external verifier %s answered HTTP %d", endpoint.url, status)
        raise _bad_answer()
    try:
        return verify_verifier_answer(key=endpoint.key, body=body, signature=signature,
                                      nonce=request.nonce)
    except ExternalAnswerError as exc:
        log.warning("external verifier %s: answer refused (%s)", endpoint.url, exc.reason)
        raise _bad_answer() from None


async def _post(endpoint: VerifierEndpoint, request: SignedVerifierRequest
                ) -> tuple[int, str, bytes]:
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: request.signature}
    async with _client().stream("POST", endpoint.url, content=request.body, headers=headers,
                                timeout=endpoint.timeout_seconds) as r:
        if r.status_code != 200:
            return r.status_code, "", b""
        chunks: list[bytes] = []
        size = 0
        async for chunk in r.aiter_bytes():
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                log.warning("external verifier %s: answer over %d bytes", endpoint.url,
                            MAX_ANSWER_BYTES)
                raise _bad_answer()
            chunks.append(chunk)
        return 200, r.headers.get(SIGNATURE_HEADER, ""), b"".join(chunks)


def _bad_answer() -> BadGateway:
    return BadGateway("The external verifier's answer was refused.",
                      reason="external_verifier_bad_answer")
