"""Request ids and access lines for REST, as a raw ASGI wrapper (like
security_headers: no per-request Starlette middleware objects).

Wrap the whole application, outside FastAPI's own error middleware, so its
500s carry the header too. Each HTTP request gets an authcore.logs request
context: the id from `X-Request-Id` when usable, else a new one. The
in-process gRPC handlers run on the same task and complete that context,
so the audit rows and log lines of the call name this id. Every response
the application sends carries `X-Request-Id`; after it, one access line
(DEBUG below 400, INFO from 400 up). Responses uvicorn makes itself (a
malformed HTTP request, for one) never reach the application and have none.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authcore import logs

_HEADER = logs.REQUEST_ID_HEADER.encode()


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        sent = None
        for name, value in scope["headers"]:
            if name == _HEADER:
                sent = value.decode("latin-1")
                break
        client = scope.get("client")
        ctx = logs.RequestContext(logs.accept_request_id(sent), transport="http",
                                  client_ip=client[0] if client else None)
        header = (_HEADER, ctx.request_id.encode())
        http_status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal http_status
            if message["type"] == "http.response.start":
                http_status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        token = logs.enter(ctx)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # Nothing sent means an exception escaped: uvicorn answers 500.
            logs.log_access(ctx, started, http_status=http_status or 500,
                            http_method=scope["method"], path=scope["path"])
            logs.leave(token)
