"""Logging: the request context every log line and audit row can name, the
text and JSON formats, and the one setup every process (single server,
supervisor, `--prepare` child, worker) runs.

A request's context (its id, RPC, client IP, application, final status)
lives in one contextvar holding a small mutable object. The transport that
receives the request creates it: `rest_bridge.request_ids.RequestIds` for
REST, `authcore.interceptors.ErrorInterceptor` for gRPC. REST calls reach
the gRPC handlers in-process on the same task, so the interceptor finds the
bridge's context and adds to it instead of starting another. Every log line
emitted inside the request reads it when it is formatted (handlers here are
synchronous, so that is the emitting task), and `flows.audit` writes its id
to each audit row. Nothing is read or built unless a line is actually
written: the hot paths pay one contextvar set/reset and a random id.

Access lines (`authcore.access`, one per request, written by the
transport that created the context) are DEBUG for successes and INFO for
refusals and errors, for the reason the hot paths' success audit lines are
DEBUG (NOTES.md "Hot paths"): a formatted write per login was a measurable
share of the call. A failed call's INFO access line replaces the line the
error interceptor used to write, so failures cost no more than before.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from contextvars import ContextVar, Token
from typing import Any, Final

# Header (REST) and metadata key (gRPC) of the request id.
REQUEST_ID_HEADER: Final = "x-request-id"
REQUEST_ID_MAX_CHARS: Final = 64  # audit_events.request_id is String(64)
FORMATS: Final = ("text", "json")

LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s %(message)s"
# With several processes writing to one stream, each line says which.
LOG_FORMAT_WORKERS: Final = "%(asctime)s %(levelname)s [%(process)d] %(name)s %(message)s"

# Loggers that AUTHCORE_LOG_LEVEL sets as given. Everything else (uvicorn,
# grpc, asyncio, aiosqlite, aiosmtplib, httpx, ...) logs at INFO or above even
# when DEBUG is asked for: at DEBUG aiosqlite logs every statement with its
# parameters and aiosmtplib the SMTP dialogue, AUTH line included.
OWN_LOGGERS: Final = ("authcore", "rest_bridge")

access_log = logging.getLogger("authcore.access")

# Visible ASCII only: no spaces, controls or non-ASCII, so an id can go into
# a header, a text log line and the audit column as it is.
_VALID_ID = re.compile(rf"[!-~]{{1,{REQUEST_ID_MAX_CHARS}}}")


def new_request_id() -> str:
    """16 hex characters from the OS's random source. Request ids are not
    secrets, but being unguessable costs nothing (~0.6 us) and keeps them
    from colliding across workers and replicas."""
    return os.urandom(8).hex()


def accept_request_id(sent: str | None) -> str:
    """The client's id when it is usable (1-64 visible ASCII characters),
    else a new one: a bad id is replaced, not refused."""
    if sent and _VALID_ID.fullmatch(sent):
        return sent
    return new_request_id()


class RequestContext:
    """What log lines inside one request say about it. `status` and `reason`
    are set when the call has an outcome (the gRPC status name, and the
    error's reason slug); `client_ip` is read from the gRPC peer only when a
    line needs it."""

    __slots__ = ("_client_ip", "_grpc_context", "application_id", "reason",
                 "request_id", "rpc", "status", "transport")

    def __init__(self, request_id: str, *, transport: str, rpc: str | None = None,
                 client_ip: str | None = None, grpc_context: Any = None) -> None:
        self.request_id = request_id
        self.transport = transport
        self.rpc = rpc
        self._client_ip = client_ip
        self._grpc_context = grpc_context
        self.application_id: str | None = None
        self.status: str | None = None
        self.reason: str | None = None

    @property
    def client_ip(self) -> str | None:
        if self._client_ip is None and self._grpc_context is not None:
            self._client_ip = ip_from_peer(self._grpc_context.peer() or "")
            self._grpc_context = None
        return self._client_ip

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"request_id": self.request_id}
        if self.rpc:
            out["rpc"] = self.rpc
        ip = self.client_ip
        if ip:
            out["client_ip"] = ip
        if self.application_id:
            out["application_id"] = self.application_id
        if self.status is not None:
            out["status"] = self.status
        if self.reason:
            out["reason"] = self.reason
        return out


_current: ContextVar[RequestContext | None] = ContextVar("authcore_request", default=None)


def current() -> RequestContext | None:
    return _current.get()


def current_request_id() -> str | None:
    ctx = _current.get()
    return ctx.request_id if ctx is not None else None


def enter(ctx: RequestContext) -> Token[RequestContext | None]:
    return _current.set(ctx)


def leave(token: Token[RequestContext | None]) -> None:
    _current.reset(token)


def note_application(application_id: str | None) -> None:
    """The application a request turned out to be for (the audit writer
    knows it once the flow has resolved it)."""
    if application_id:
        ctx = _current.get()
        if ctx is not None:
            ctx.application_id = application_id


def ip_from_peer(peer: str) -> str | None:
    """The address of a gRPC peer string: "ipv4:1.2.3.4:5" → "1.2.3.4"."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    return peer or None


def log_access(ctx: RequestContext, started: float, **fields: Any) -> None:
    """The request's one access line: DEBUG when it succeeded, INFO
    otherwise. `started` is its time.perf_counter() at arrival; `fields` are
    transport specifics (http_status, http_method, path)."""
    http_status = fields.get("http_status")
    failed = (ctx.status not in (None, "OK") if http_status is None
              else http_status >= 400)
    level = logging.INFO if failed else logging.DEBUG
    if not access_log.isEnabledFor(level):
        return
    duration_ms = round((time.perf_counter() - started) * 1000.0, 3)
    if http_status is None:
        message = "%s %s %s %.1fms"
        args: tuple[Any, ...] = (ctx.transport, ctx.rpc, ctx.status, duration_ms)
    else:
        message = "%s %s %s %s %s %.1fms"
        args = (ctx.transport, fields.get("http_method"), fields.get("path"), http_status,
                ctx.rpc or "-", duration_ms)
    if ctx.reason:
        message += " reason=%s"
        args += (ctx.reason,)
    access_log.log(level, message, *args,
                   extra={"request": ctx,
                          "access": {"transport": ctx.transport, "duration_ms": duration_ms,
                                     **fields}})


# --------------------------------------------------------------- formats

def rfc3339(created: float) -> str:
    """UTC with milliseconds: 2026-12-07T10:11:12.345Z."""
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def _request_of(record: logging.LogRecord) -> RequestContext | None:
    """The request a record was logged in: named by the record (access
    lines), else the current one. The handlers `setup` installs format
    synchronously, in the emitting task, so the latter is the emitter's."""
    ctx = record.__dict__.get("request")
    return ctx if isinstance(ctx, RequestContext) else _current.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, pid, the
    request's fields when inside one, the access line's, and the traceback
    (`exc_info`) as one string. ASCII-only output: no U+2028 or other
    character a line-based reader might split on."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        ctx = _request_of(record)
        if ctx is not None:
            out.update(ctx.fields())
        access = record.__dict__.get("access")
        if isinstance(access, dict):
            out.update(access)
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc_info"] = record.exc_text
        if record.stack_info:
            out["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    """The classic format; a line written inside a request ends with its id."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ctx = _request_of(record)
        if ctx is None:
            return text
        return f"{text} request_id={ctx.request_id}"


def setup(*, level: str, fmt: str, with_pid: bool = False) -> None:
    """Configure the root logger of this process once (replacing any
    handler): one stderr handler in `fmt`, authcore's loggers at `level`,
    libraries at `level` but never below INFO. uvicorn's and grpc's Python
    loggers have no handlers of their own here and propagate to it; Python
    warnings are routed through it too. (grpc's C core writes its own rare
    lines to stderr, outside Python logging; GRPC_VERBOSITY controls them.)"""
    wanted = logging.getLevelName(level.strip().upper())
    if not isinstance(wanted, int):
        raise SystemExit(f"AUTHCORE_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, "
                         f"not {level!r}.")
    if fmt not in FORMATS:
        raise SystemExit(f"AUTHCORE_LOG_FORMAT must be text or json, not {fmt!r}.")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         TextFormatter(LOG_FORMAT_WORKERS if with_pid else LOG_FORMAT))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(wanted, logging.INFO))
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(wanted)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "grpc"):
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    logging.captureWarnings(True)
