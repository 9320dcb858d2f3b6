"""Operations endpoints: /healthz, /readyz, /metrics, and the gRPC health
service's status, all per worker process.

* `/healthz` answers 200 while the process's event loop runs; no I/O.
* `/readyz` is `Readiness.check()`: the database answers a short query, its
  schema is at the migrations' head, and Redis (where configured) answers a
  PING. 503 with the failed checks named otherwise, and 503 "draining" once
  a shutdown began. Results are reused for `CACHE_SECONDS` and concurrent
  probes share one check, so a probe storm costs the database nothing.
* gRPC health: `Readiness.watch` re-checks every `WATCH_SECONDS` and sets
  "" and every service SERVING or NOT_SERVING to match; the drain sets
  NOT_SERVING for good (health.enter_graceful_shutdown).
* `/metrics`: authcore.metrics' text. On the main HTTP port it needs
  `Authorization: Bearer` with AUTHCORE_METRICS_TOKEN or an admin key
  holding the "metrics", "admin" or "*" scope; on its own address
  (AUTHCORE_METRICS_ADDR) it is open unless AUTHCORE_METRICS_TOKEN is set.

Failure bodies name the check and an error class (ConnectionRefusedError,
timeout), never an exception's text: that may hold host names or a DSN.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import hmac
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grpc_health.v1 import health, health_pb2
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from authcore import metrics
from authcore.interceptors import hash_admin_key
from authcore.store.db import MIGRATIONS
from authcore.store.hot import HotDb
from authcore.store.hot import queries as hq
from authcore.store.redis import Throttle

log = logging.getLogger("authcore.operations")

DATABASE_TIMEOUT_SECONDS = 1.5
REDIS_TIMEOUT_SECONDS = 1.0
# A /readyz answer is reused this long (per worker).
CACHE_SECONDS = 1.0
# How often each worker re-checks for the gRPC health status and samples
# its pools for the metrics.
WATCH_SECONDS = 2.0
# Admin key scopes that may read /metrics.
METRICS_SCOPES = frozenset({"metrics", "admin", "*"})

NOT_CHECKED = {"ok": False, "error": "not_checked"}


def migration_heads(versions: Path = MIGRATIONS / "versions") -> frozenset[str]:
    """The head revision(s) of the migration scripts, read from their
    `revision` / `down_revision` assignments without importing Alembic
    (about 10 MB of every worker's memory; see store/db.alembic_config)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in sorted(versions.glob("*.py")):
        found: dict[str, Any] = {}
        for node in ast.parse(script.read_text(encoding="utf-8")).body:
            target = value = None
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                target, value = node.target.id, node.value
            elif (isinstance(node, ast.Assign) and len(node.targets) == 1
                  and isinstance(node.targets[0], ast.Name)):
                target, value = node.targets[0].id, node.value
            if target in ("revision", "down_revision") and value is not None:
                found[target] = ast.literal_eval(value)
        if "revision" not in found:
            continue
        revisions.add(str(found["revision"]))
        down = found.get("down_revision")
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, (tuple, list)):
            parents.update(str(d) for d in down)
    return frozenset(revisions - parents)


@dataclass(frozen=True)
class Report:
    ready: bool
    checks: dict[str, dict[str, Any]]
    draining: bool = False

    @property
    def failed(self) -> list[str]:
        return [name for name, result in self.checks.items() if not result.get("ok")]

    def body(self) -> dict[str, Any]:
        if self.draining:
            return {"status": "draining", "checks": self.checks}
        if self.ready:
            return {"status": "ready", "checks": self.checks}
        return {"status": "not_ready", "failed": self.failed, "checks": self.checks}


def _error_name(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    # The DBAPI's own class says more than SQLAlchemy's wrapper.
    orig = getattr(exc, "orig", None)
    inner = orig.__cause__ if orig is not None and orig.__cause__ is not None else orig
    return type(inner if inner is not None else exc).__name__


@dataclass
class Readiness:
    """One worker's readiness: the checks, their cache, the drain flag."""

    engine: AsyncEngine
    heads: frozenset[str]
    redis: Redis | None = None
    hot: HotDb | None = None
    draining: bool = False
    _last: tuple[float, Report] | None = field(default=None, repr=False)
    _running: asyncio.Task[Report] | None = field(default=None, repr=False)
    _log: Throttle = field(default_factory=lambda: Throttle(30.0), repr=False)

    async def check(self, *, max_age: float = CACHE_SECONDS) -> Report:
        if self.draining:
            return Report(ready=False, checks={}, draining=True)
        loop = asyncio.get_running_loop()
        if self._last is not None and loop.time() - self._last[0] < max_age:
            return self._last[1]
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._check())
        # Shielded: a probe that disconnects must not cancel the others' check.
        report = await asyncio.shield(self._running)
        self._last = (loop.time(), report)
        return report

    async def _check(self) -> Report:
        database, migrations = await self._database()
        checks = {"database": database, "migrations": migrations}
        if self.redis is not None:
            checks["redis"] = await self._redis(self.redis)
        report = Report(ready=all(c["ok"] for c in checks.values()), checks=checks)
        if not report.ready:
            self._log.log(log, "not ready: %s", ", ".join(
                f"{name} ({checks[name].get('error', 'failed')})" for name in report.failed))
        return report

    async def _database(self) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                try:
                    found = frozenset((await conn.execute(
                        text("SELECT version_num FROM alembic_version"))).scalars().all())
                except Exception as exc:
                    # The database answers, but has no schema of ours.
                    return {"ok": True}, {"ok": False, "error": _error_name(exc),
                                          "expected": sorted(self.heads)}
        except Exception as exc:
            return {"ok": False, "error": _error_name(exc)}, dict(NOT_CHECKED)
        migrations: dict[str, Any] = {"ok": found == self.heads, "revision": sorted(found)}
        if found != self.heads:
            migrations["expected"] = sorted(self.heads)
        return {"ok": True}, migrations

    async def _redis(self, client: Redis) -> dict[str, Any]:
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
                await client.ping()
        except Exception as exc:
            metrics.redis_error()
            return {"ok": False, "error": _error_name(exc)}
        return {"ok": True}

    def sample_pools(self) -> None:
        """The pools' connections in use, for authcore_db_pool_in_use."""
        checkedout = getattr(self.engine.pool, "checkedout", None)
        if callable(checkedout):
            metrics.db_pool_in_use(int(checkedout()), "orm")
        if self.hot is not None:
            in_use = self.hot.connections_in_use()
            if in_use is not None:
                metrics.db_pool_in_use(in_use, "hot")

    async def apply(self, servicer: health.aio.HealthServicer, names: Iterable[str],
                    report: Report) -> None:
        status = (health_pb2.HealthCheckResponse.SERVING if report.ready
                  else health_pb2.HealthCheckResponse.NOT_SERVING)
        for name in names:
            await servicer.set(name, status)

    async def watch(self, servicer: health.aio.HealthServicer, names: Sequence[str], *,
                    interval: float = WATCH_SECONDS) -> None:
        """Keep the gRPC health status equal to readiness until cancelled."""
        serving: bool | None = None
        while True:
            try:
                report = await self.check(max_age=0.0)
                if report.ready != serving and not self.draining:
                    await self.apply(servicer, names, report)
                    if serving is not None and report.ready:
                        log.info("gRPC health: SERVING again")
                    elif serving is not None:
                        log.warning("gRPC health: NOT_SERVING (%s)", ", ".join(report.failed))
                    serving = report.ready
                self.sample_pools()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the watch must outlive any one failure
                self._log.log(log, "readiness watch failed: %s", type(exc).__name__)
            await asyncio.sleep(interval)


# -- HTTP ---------------------------------------------------------------------

_JSON_HEADERS = {"Cache-Control": "no-store"}


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers=_JSON_HEADERS)


@dataclass(frozen=True)
class MetricsAccess:
    """Who may read /metrics: the bearer token (AUTHCORE_METRICS_TOKEN), and
    on the main port also admin keys with a METRICS_SCOPES scope. `open`:
    anyone (its own address, no token configured)."""

    token: str | None = field(default=None, repr=False)
    hot: HotDb | None = None
    open: bool = False

    async def refusal(self, request: Request) -> Response | None:
        if self.open:
            return None
        value = request.headers.get("authorization", "").strip()
        if value[:7].lower() != "bearer " or not value[7:].strip():
            return _refuse(401, "missing_token", "/metrics needs 'Authorization: Bearer "
                           "<token>' (AUTHCORE_METRICS_TOKEN, or an admin key).")
        presented = value[7:].strip()
        if self.token is not None and hmac.compare_digest(presented.encode(),
                                                          self.token.encode()):
            return None
        if self.hot is None:
            return _refuse(401, "invalid_token", "The token is not valid.")
        try:
            scopes = await hq.admin_key_scopes(self.hot, hash_admin_key(presented))
        except Exception as exc:
            log.warning("/metrics: cannot check the admin key: %s", _error_name(exc))
            return _refuse(503, "backend_unavailable", "The database is unavailable to check "
                           "the admin key; AUTHCORE_METRICS_TOKEN works without it.")
        if scopes is None:
            return _refuse(401, "invalid_token", "The token is not valid.")
        if not METRICS_SCOPES.intersection(scopes):
            return _refuse(403, "insufficient_scope", "The admin key needs the 'metrics', "
                           "'admin' or '*' scope.")
        return None


def _refuse(status: int, reason: str, message: str) -> Response:
    headers = dict(_JSON_HEADERS)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return JSONResponse({"error": reason, "message": message}, status_code=status,
                        headers=headers)


def routes(readiness: Readiness, access: MetricsAccess | None) -> list[BaseRoute]:
    """GET /healthz, /readyz and, when `access` is given, /metrics."""

    async def readyz(request: Request) -> Response:
        report = await readiness.check()
        return JSONResponse(report.body(), status_code=200 if report.ready else 503,
                            headers=_JSON_HEADERS)

    async def metrics_text(request: Request) -> Response:
        assert access is not None
        refusal = await access.refusal(request)
        if refusal is not None:
            return refusal
        body, content_type = await asyncio.to_thread(metrics.exposition)
        return Response(body, media_type=content_type, headers=_JSON_HEADERS)

    found: list[BaseRoute] = [
        Route("/healthz", _healthz, methods=["GET"], include_in_schema=False),
        Route("/readyz", readyz, methods=["GET"], include_in_schema=False),
    ]
    if access is not None:
        found.append(Route("/metrics", metrics_text, methods=["GET"], include_in_schema=False))
    return found


def metrics_app(readiness: Readiness, access: MetricsAccess) -> Starlette:
    """The app of the AUTHCORE_METRICS_ADDR listener: the three endpoints
    and nothing else."""
    return Starlette(routes=routes(readiness, access))


async def stop_watch(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
