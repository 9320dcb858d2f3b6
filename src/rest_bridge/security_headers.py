"""Headers every REST response carries, as a raw ASGI wrapper (no
per-request Starlette middleware objects on the hot REST paths).

- `X-Content-Type-Options: nosniff` on every response.
- `Cache-Control: no-store` and `Pragma: no-cache` unless the response set
  its own Cache-Control: the API's answers carry tokens, seeds, codes and
  user data, which no browser or proxy cache may keep (RFC 6749 section 5.1).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ALWAYS = [(b"x-content-type-options", b"nosniff")]
_NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                names = {name.lower() for name, _ in headers}
                headers += [h for h in _ALWAYS if h[0] not in names]
                if b"cache-control" not in names:
                    headers += [h for h in _NO_STORE if h[0] not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
