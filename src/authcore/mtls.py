"""USER_CERTIFICATE's mutual-TLS endpoint: POST /api/web/v1/certificate/code.

Not an RPC (DESIGN.md section 2's exception: what gRPC cannot express): its
input is the TLS session's verified client certificate. It is served

* on AUTHCORE_MTLS_ADDR, an HTTPS listener of its own that requires a client
  certificate chaining to AUTHCORE_MTLS_CLIENT_CA (the handshake fails
  otherwise, before any HTTP), shared by `serve --workers` processes like
  the HTTP port; and/or
* on the HTTP port when AUTHCORE_MTLS_PROXY_HEADER is set, for a TLS
  terminator that verified the certificate itself and forwards it URL-encoded
  (nginx's $ssl_client_escaped_cert). The header is believed only from the
  peer addresses of AUTHCORE_MTLS_TRUSTED_PROXIES; from anyone else it is
  refused (403 untrusted_proxy), never ignored into a second chance.

Body: {"challenge": <userCertificateChallenge.challenge>, "codeChallenge":
base64url(SHA-256(verifier)), "codeChallengeMethod": "S256" (optional)}.
Answer: {"code": ..., "expires": epoch ms}. Errors in Entrust's style.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from authcore.errors import AuthcoreError, InvalidArgument, PermissionDenied, Unauthenticated
from authcore.flows.user_certificate import UserCertificateFlow
from authcore.interceptors import unexpected_error_status
from authcore.v1 import options_pb2
from rest_bridge.errors import ErrorRenderer, dump_json
from rest_bridge.request_ids import RequestIds

PATH = "/api/web/v1/certificate/code"
MAX_BODY_BYTES = 16 * 1024
# Where the TLS listener puts the peer certificate (the ASGI TLS extension's
# shape: PEM, the client's own certificate first).
TLS_EXTENSION = "tls"

_renderer = ErrorRenderer(options_pb2.ERROR_STYLE_ENTRUST)

CertificateSource = Callable[[Request], bytes]


class PeerCertificateProtocol(H11Protocol):
    """uvicorn's h11 protocol, adding the verified peer certificate to every
    request's scope: uvicorn itself passes neither the transport nor the TLS
    extension to the application."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
        inner = self.app

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            extensions = dict(scope.get("extensions") or {})
            extensions[TLS_EXTENSION] = {"client_cert_chain": chain}
            scope["extensions"] = extensions
            await inner(scope, receive, send)

        self.app = app


def client_ssl_context(*, cert: str, key: str, client_ca: str) -> ssl.SSLContext:
    """TLS 1.2+, a client certificate required and checked against the CAs."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(cafile=client_ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    # Revocation (AUTHCORE_MTLS_CRL) is checked by the endpoint
    # (flows/revocation.py), not here with OpenSSL's VERIFY_CRL_CHECK_LEAF
    # and the CRLs in load_verify_locations: a context's CRLs can't be
    # replaced while it serves (a new CRL would need a restart), a revoked
    # certificate would fail the handshake with no Entrust-style answer nor
    # audit row, and a stale CRL would fail every handshake opaquely.
    return ctx


def from_tls(request: Request) -> bytes:
    chain = (request.scope.get("extensions") or {}).get(TLS_EXTENSION, {}).get(
        "client_cert_chain") or []
    if not chain:
        # Only reachable if the listener was built without CERT_REQUIRED.
        raise Unauthenticated("A client certificate is required.",
                              reason="certificate_required")
    return str(chain[0]).encode()


def from_proxy(header: str, trusted: tuple[str, ...]) -> CertificateSource:
    networks = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def source(request: Request) -> bytes:
        value = request.headers.get(header)
        peer = request.client.host if request.client else ""
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            address = None
        if address is None or not any(address in n for n in networks):
            # Said, not ignored: a client that sends the header to the open
            # port is either misconfigured or forging.
            raise PermissionDenied(
                "Client certificates are accepted only through the trusted TLS proxy.",
                reason="untrusted_proxy")
        if not value:
            raise Unauthenticated("The proxy forwarded no client certificate.",
                                  reason="certificate_required")
        return unquote(value).encode()

    return source


async def _body(request: Request) -> dict[str, Any]:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY_BYTES:
            raise InvalidArgument("The request body is too large.", reason="invalid_body")
    try:
        body = json.loads(data or b"null")
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("The request body is not JSON.", reason="invalid_body") from None
    if not isinstance(body, dict):
        raise InvalidArgument("The request body must be a JSON object.", reason="invalid_body")
    for name in ("challenge", "codeChallenge", "codeChallengeMethod"):
        if name in body and not isinstance(body[name], str):
            raise InvalidArgument(f"{name} must be a string.", reason="invalid_value",
                                  field_violations=[(name, "must be a string")])
    if body.get("codeChallengeMethod", "S256") != "S256":
        raise InvalidArgument("codeChallengeMethod must be S256.", reason="invalid_value",
                              field_violations=[("codeChallengeMethod", "must be S256")])
    return body


def code_route(flow: UserCertificateFlow, certificate: CertificateSource) -> Route:
    async def endpoint(request: Request) -> Response:
        try:
            der = certificate(request)
            body = await _body(request)
            issued = await flow.issue_code(
                certificate=der, challenge=body.get("challenge", ""),
                code_challenge=body.get("codeChallenge", ""),
                client_ip=request.client.host if request.client else "")
        except AuthcoreError as exc:
            return _renderer.render_error(exc)
        except Exception as exc:
            # What the gRPC interceptor makes of it: 503 for a backend that
            # is down, a logged 500 with no detail otherwise.
            return _renderer.render(unexpected_error_status(exc, PATH))
        return Response(dump_json({"code": issued.code, "expires": int(issued.expires_at * 1000)}),
                        media_type="application/json",
                        headers={"Cache-Control": "no-store"})

    return Route(PATH, endpoint, methods=["POST"])


def mtls_app(flow: UserCertificateFlow) -> ASGIApp:
    """The mTLS listener's application: this one route, nothing else; with
    X-Request-Id, which the audit rows carry, as on the HTTP port."""
    return RequestIds(Starlette(routes=[code_route(flow, from_tls)]))
