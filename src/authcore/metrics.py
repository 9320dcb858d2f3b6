"""Prometheus metrics: what the process counts, and the scrape's text.

The API (the functions below) is what the rest of authcore calls; keep the
names stable. Every call is on some request's path, so each costs a dict
lookup and one or two mmap writes: label children are looked up once per
label set and kept.

Under `authcore serve` the values live in PROMETHEUS_MULTIPROC_DIR
(authcore.metrics_dir, set before this module is imported), one file per
process, and `exposition()` sums every worker's; imported without it (unit
tests, scripts) they live in this process only.

Label values come from code, not from requests (RPC paths of the served
set, status code names, authenticator names); still, a family whose label
sets grow past MAX_LABEL_SETS folds new ones into "other", so a bug that
let a request choose a label could not grow the scrape without bound.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Callable
from typing import Any

import grpc
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

import authcore
from authcore.metrics_dir import ENV
from rest_bridge import ResolvedHandlers
from rest_bridge.context import AbortCall

__all__ = [
    "authentication",
    "db_pool_in_use",
    "delivery",
    "delivery_queue_depth",
    "exposition",
    "instrument",
    "lockout",
    "observe_rpc",
    "rate_limited",
    "redis_error",
]

# prometheus_client picks its value class when first imported; should a
# library have imported it before the directory was set, switch now, before
# any metric below exists.
if os.environ.get(ENV) and not getattr(values.ValueClass, "_multiprocess", False):
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]

MAX_LABEL_SETS = 2000
OTHER = "other"

# From a TOTP complete (a few ms) to a password login waiting for argon2 on
# a busy host (hundreds of ms), and the 10 s of a backend timeout.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

RPC_REQUESTS = Counter(
    "authcore_rpc_requests", "Calls answered, by transport (grpc, rest), RPC and gRPC status.",
    ["transport", "rpc", "code"])
RPC_SECONDS = Histogram(
    "authcore_rpc_duration_seconds", "Time to answer a call, by transport and RPC.",
    ["transport", "rpc"], buckets=LATENCY_BUCKETS)
AUTHENTICATIONS = Counter(
    "authcore_authentications",
    "Authentication decisions (audit events), by authenticator and outcome.",
    ["authenticator", "outcome"])
LOCKOUTS = Counter(
    "authcore_lockouts", "Failures that locked an authenticator, by authenticator.",
    ["authenticator"])
RATE_LIMITED = Counter(
    "authcore_rate_limited", "Requests refused by a rate limit, by scope (auth, delivery).",
    ["scope"])
DELIVERIES = Counter(
    "authcore_deliveries", "Outbox delivery attempts, by medium and outcome "
    "(sent, retry, failed, expired).", ["medium", "outcome"])
DELIVERY_QUEUE = Gauge(
    "authcore_delivery_queue_depth", "Messages waiting in the outbox for delivery.",
    multiprocess_mode="livemax")
REDIS_ERRORS = Counter(
    "authcore_redis_errors", "Redis commands that failed (unreachable, timeout, refused).")
DB_POOL_IN_USE = Gauge(
    "authcore_db_pool_in_use", "Database connections checked out of a pool (hot: the "
    "login paths' asyncpg pool; orm: SQLAlchemy's), summed over the workers.",
    ["pool"], multiprocess_mode="livesum")
INFO = Gauge("authcore_info", "Always 1; the version in a label.", ["version"],
             multiprocess_mode="max")
INFO.labels(authcore.__version__).set(1)

_CODE_NAMES: dict[int, str] = {code.value[0]: code.name for code in grpc.StatusCode}


class _Children:
    """One metric family's label children, looked up once per label set."""

    __slots__ = ("_children", "_family")

    def __init__(self, family: Any) -> None:
        self._family = family
        self._children: dict[tuple[str, ...], Any] = {}

    def get(self, *labels: str) -> Any:
        child = self._children.get(labels)
        if child is None:
            if len(self._children) >= MAX_LABEL_SETS:
                labels = (OTHER,) * len(labels)
                child = self._children.get(labels)
                if child is not None:
                    return child
            child = self._children[labels] = self._family.labels(*labels)
        return child


_authentications = _Children(AUTHENTICATIONS)
_lockouts = _Children(LOCKOUTS)
_rate_limited = _Children(RATE_LIMITED)
_deliveries = _Children(DELIVERIES)
_pools = _Children(DB_POOL_IN_USE)


# -- the API ----------------------------------------------------------------

def authentication(authenticator: str, outcome: str) -> None:
    """One authentication decision (flows/audit.py calls it for every
    authentication event it records)."""
    _authentications.get(authenticator or "none", outcome).inc()


def lockout(authenticator: str) -> None:
    """A failure that locked `authenticator` (the lock begins now)."""
    _lockouts.get(authenticator or "none").inc()


def rate_limited(scope: str) -> None:
    """A request refused by a rate limit: "auth" (per IP / per user on the
    authentication flows) or "delivery" (codes sent, flows/context.py)."""
    _rate_limited.get(scope).inc()


def delivery(medium: str, outcome: str, n: int = 1) -> None:
    """`n` delivery attempts: outcome sent, retry, failed or expired (the
    dispatcher expires messages of every medium in one statement, so those
    count under medium "any")."""
    _deliveries.get(medium, outcome).inc(n)


def delivery_queue_depth(n: int) -> None:
    """Messages waiting for delivery, as this process last counted them
    (the scrape shows the largest count of the live workers)."""
    DELIVERY_QUEUE.set(n)


def redis_error() -> None:
    REDIS_ERRORS.inc()


def db_pool_in_use(n: int, pool: str = "orm") -> None:
    """Connections this process has checked out of `pool` now."""
    _pools.get(pool).set(n)


_Observe = Callable[[str, float], None]
_observers: dict[tuple[str, str], _Observe] = {}


def observe_rpc(method: str, code: str, seconds: float, *, transport: str = "grpc") -> None:
    """One answered call of `method` (its path, "/pkg.Service/Method" or
    without the slash) with status `code` (a grpc.StatusCode name)."""
    key = (transport, method)
    observe = _observers.get(key)
    if observe is None:
        observe = _observers[key] = _rpc_observer(method.lstrip("/"), transport)
    observe(code, seconds)


def _rpc_observer(rpc: str, transport: str) -> _Observe:
    # The children are made at the first call, not at startup: a method
    # never called then adds no zero-valued series to every scrape.
    counts: dict[str, Any] = {}
    latency: list[Any] = []

    def observe(code: str, seconds: float) -> None:
        child = counts.get(code)
        if child is None:
            child = counts[code] = RPC_REQUESTS.labels(transport, rpc, code)
            if not latency:
                latency.append(RPC_SECONDS.labels(transport, rpc))
        child.inc()
        latency[0].observe(seconds)

    return observe


# -- RPC instrumentation --------------------------------------------------------

def instrument(resolved: ResolvedHandlers, transport: str) -> ResolvedHandlers:
    """`resolved` (server.build_runtime's methods, interceptors applied) with
    every unary-unary behaviour timed and counted under `transport`.

    Outside the whole interceptor chain, so the status is the one the client
    gets (after ErrorInterceptor) and the time includes the admin-key check.
    The gRPC server and the REST bridge each get their own instrumented copy,
    so a REST call is counted once, as "rest", under its RPC (never its raw
    path, which holds ids). Requests the bridge refuses before calling the
    RPC (malformed JSON, a body too large) are not counted here."""
    return ResolvedHandlers({path: _timed(path, handler, transport)
                             for path, handler in resolved.methods.items()})


def _timed(path: str, handler: grpc.RpcMethodHandler, transport: str) -> grpc.RpcMethodHandler:
    behavior = handler.unary_unary
    if handler.request_streaming or handler.response_streaming or behavior is None:
        return handler
    observe = _rpc_observer(path.lstrip("/"), transport)
    is_async = inspect.iscoroutinefunction(behavior)
    clock = time.perf_counter

    async def timed(request: Any, context: grpc.aio.ServicerContext) -> Any:
        start = clock()
        try:
            result = behavior(request, context)
            if is_async or inspect.isawaitable(result):
                result = await result
        except BaseException as exc:
            observe(_code_of(exc, context), clock() - start)
            raise
        observe("OK", clock() - start)
        return result

    return grpc.unary_unary_rpc_method_handler(
        timed, request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer)


def _code_of(exc: BaseException, context: Any) -> str:
    """The status a call that raised `exc` ends with."""
    if isinstance(exc, AbortCall):  # the REST bridge's in-process context
        return _CODE_NAMES.get(int(exc.status.code), "UNKNOWN")
    if isinstance(exc, asyncio.CancelledError):
        return "CANCELLED"
    # grpc.aio: the code given to context.abort (ErrorInterceptor's).
    try:
        code = context.code()
    except Exception:
        code = None
    if isinstance(code, grpc.StatusCode) and code is not grpc.StatusCode.OK:
        return str(code.name)
    return "UNKNOWN"


# -- the scrape -----------------------------------------------------------------

def exposition() -> tuple[bytes, str]:
    """The text a scrape gets, and its content type: every worker's values
    (summed; live gauges as their modes say) under `authcore serve`, else
    this process's. Reads one small file per worker: run it off the loop."""
    path = os.environ.get(ENV)
    if path:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
