"""One process: the grpc.aio server and the REST bridge on one event loop.

The bridge calls the servicers in-process through the same interceptor chain
the gRPC server runs (no socket hop). SIGTERM or SIGINT starts a graceful
shutdown: health turns NOT_SERVING, both listeners stop accepting, in-flight
calls get `shutdown_grace_seconds` to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
import uvicorn
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from authcore.axidian.v5 import logon_pb2, logon_pb2_grpc
from authcore.bootstrap import bootstrap
from authcore.config import Settings
from authcore.consumer.v1 import consumer_pb2, consumer_pb2_grpc
from authcore.crypto.seal import Sealer, derive_key, load_or_create_master_key
from authcore.flows import aaguids
from authcore.flows.authentication import AuthenticationFlow
from authcore.flows.axidian import AxidianFlow
from authcore.flows.consumer import ConsumerFlow
from authcore.flows.context import Core, FileOffsetClock
from authcore.flows.loginid import LoginIdFlow
from authcore.flows.management import ManagementFlow
from authcore.flows.policy import WebAuthnPolicy
from authcore.flows.self_service import SelfServiceFlow
from authcore.interceptors import AdminAuthInterceptor, ErrorInterceptor
from authcore.limits.memory import MemoryRateLimiter
from authcore.scim.v2 import scim_pb2, scim_pb2_grpc
from authcore.services.authentication import AuthenticationService
from authcore.services.axidian import LogonService, TemplateSessionService
from authcore.services.consumer import ConsumerService
from authcore.services.fido2 import Fido2Service
from authcore.services.management import ManagementService
from authcore.services.scim import ScimService
from authcore.services.self_service import SelfService
from authcore.store.db import create_engine, session_factory
from authcore.store.models import Application
from authcore.tokens.jwt import TokenSigner
from authcore.v1 import (
    authentication_pb2,
    authentication_pb2_grpc,
    fido2_pb2,
    fido2_pb2_grpc,
    management_pb2,
    management_pb2_grpc,
    self_service_pb2,
    self_service_pb2_grpc,
)
from rest_bridge import InProcessInvoker, create_app, generic_handlers_for
from rest_bridge.cors import CachedOrigins, CorsPolicy
from rest_bridge.pages import page_routes

log = logging.getLogger("authcore.server")

SERVICES = (
    authentication_pb2.DESCRIPTOR.services_by_name["AuthenticationService"],
    management_pb2.DESCRIPTOR.services_by_name["ManagementService"],
    fido2_pb2.DESCRIPTOR.services_by_name["Fido2Service"],
    self_service_pb2.DESCRIPTOR.services_by_name["SelfService"],
    scim_pb2.DESCRIPTOR.services_by_name["ScimService"],
    consumer_pb2.DESCRIPTOR.services_by_name["ConsumerService"],
    logon_pb2.DESCRIPTOR.services_by_name["LogonService"],
    logon_pb2.DESCRIPTOR.services_by_name["TemplateSessionService"],
)


def split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"address must be host:port, got {addr!r}")
    return host.strip("[]"), int(port)


@dataclass
class Runtime:
    core: Core
    engine: AsyncEngine
    handlers: list[grpc.GenericRpcHandler]
    interceptors: list[grpc.aio.ServerInterceptor]
    new_admin_key: str | None
    new_application_id: str | None


async def build_runtime(settings: Settings) -> Runtime:
    settings.check()
    engine = create_engine(settings.effective_database_url)
    db = session_factory(engine)
    master = load_or_create_master_key(path=settings.data_dir / "master.key",
                                       env_value=settings.master_key)
    sealer = Sealer(master)
    boot = await bootstrap(settings, db, sealer, now=time.time())
    await asyncio.to_thread(aaguids.preload)
    core = Core(
        settings=settings,
        db=db,
        sealer=sealer,
        code_key=derive_key(master, purpose="code-hmac"),
        signer=TokenSigner(boot.signing_keys, issuer=settings.issuer),
        limiter=MemoryRateLimiter(),
        executor=ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2),
                                    thread_name_prefix="authcore-hash"),
        write_lock=asyncio.Lock() if settings.is_sqlite else None,
    )
    if settings.clock_offset_file is not None:
        core.clock = FileOffsetClock(settings.clock_offset_file)
    axidian = AxidianFlow(core)
    handlers = [
        *generic_handlers_for(AuthenticationService(AuthenticationFlow(core)),
                              authentication_pb2_grpc.add_AuthenticationServiceServicer_to_server),
        *generic_handlers_for(ManagementService(ManagementFlow(core)),
                              management_pb2_grpc.add_ManagementServiceServicer_to_server),
        *generic_handlers_for(Fido2Service(LoginIdFlow(core)),
                              fido2_pb2_grpc.add_Fido2ServiceServicer_to_server),
        *generic_handlers_for(SelfService(SelfServiceFlow(core)),
                              self_service_pb2_grpc.add_SelfServiceServicer_to_server),
        *generic_handlers_for(ScimService(core),
                              scim_pb2_grpc.add_ScimServiceServicer_to_server),
        *generic_handlers_for(ConsumerService(ConsumerFlow(core)),
                              consumer_pb2_grpc.add_ConsumerServiceServicer_to_server),
        *generic_handlers_for(LogonService(axidian),
                              logon_pb2_grpc.add_LogonServiceServicer_to_server),
        *generic_handlers_for(TemplateSessionService(axidian),
                              logon_pb2_grpc.add_TemplateSessionServiceServicer_to_server),
    ]
    # Outermost first: errors raised by the auth check are rendered too.
    interceptors: list[grpc.aio.ServerInterceptor] = [ErrorInterceptor(),
                                                      AdminAuthInterceptor(db)]
    return Runtime(core=core, engine=engine, handlers=handlers, interceptors=interceptors,
                   new_admin_key=boot.new_admin_key,
                   new_application_id=boot.new_application_id)


class _Uvicorn(uvicorn.Server):
    # The process owns the signals; uvicorn must not install its own.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(settings: Settings) -> None:
    rt = await build_runtime(settings)
    if settings.sandbox:
        log.warning("SANDBOX MODE: no SMS is sent and every consumer one-time password is "
                    "123456. Never use this for real users.")
    server = grpc.aio.server(interceptors=rt.interceptors,
                             options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers(rt.handlers)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [s.full_name for s in SERVICES]
    reflection.enable_server_reflection(
        [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    grpc_port = server.add_insecure_port(settings.grpc_addr)
    if grpc_port == 0:
        raise SystemExit(f"cannot bind gRPC to {settings.grpc_addr}")
    await server.start()
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    app = create_app(InProcessInvoker(rt.handlers, rt.interceptors), SERVICES,
                     max_body_bytes=settings.max_body_bytes, title="authcore",
                     cors=cors_policy(rt.core.db),
                     pages=page_routes(demo_application_id=rt.new_application_id))
    host, port = split_addr(settings.http_addr)
    web = _Uvicorn(uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, lifespan="off",
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        server_header=False,
    ))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    web_task = asyncio.create_task(web.serve())
    while not web.started:
        if web_task.done():
            await web_task
            raise SystemExit(f"cannot bind HTTP to {settings.http_addr}")
        await asyncio.sleep(0.02)

    _announce(settings, grpc_port, rt)
    await stop.wait()
    log.info("shutting down: finishing in-flight calls (grace %.0fs)",
             settings.shutdown_grace_seconds)
    await health_servicer.enter_graceful_shutdown()
    web.should_exit = True
    await asyncio.gather(server.stop(settings.shutdown_grace_seconds), web_task,
                         return_exceptions=True)
    await rt.engine.dispose()
    if rt.core.executor is not None:
        rt.core.executor.shutdown(wait=False)
    log.info("stopped")


# Browser SDKs call these from the customer's site; admin paths never allow it.
CORS_PATH_PREFIXES = ("/fido2/v2/", "/api/web/")
CORS_EXCLUDED_PREFIXES = ("/api/admin/",)
# How long the allowed-origin set is reused before it is read again: short,
# so a new or edited application's origins work within seconds on every
# replica; long enough that CORS costs one query per replica per TTL, not one
# per request.
CORS_ORIGINS_TTL_SECONDS = 5.0


def cors_policy(db: async_sessionmaker[AsyncSession]) -> CorsPolicy:
    """A preflight carries no body, so the application isn't known: the
    allowed origins are the union of every application's WebAuthn origins."""

    async def load() -> Iterable[str]:
        async with db() as session:
            rows = (await session.execute(select(Application.settings))).scalars().all()
        origins: set[str] = set()
        for app_settings in rows:
            try:
                origins.update(WebAuthnPolicy.from_settings(app_settings or {}).origins)
            except (TypeError, ValueError):
                continue  # one malformed application must not disable CORS for all
        return origins

    return CorsPolicy(allowed_origin=CachedOrigins(load, ttl_seconds=CORS_ORIGINS_TTL_SECONDS),
                      path_prefixes=CORS_PATH_PREFIXES,
                      excluded_prefixes=CORS_EXCLUDED_PREFIXES)


def _announce(settings: Settings, grpc_port: int, rt: Runtime) -> None:
    lines: list[Any] = [
        f"authcore listening: gRPC {split_addr(settings.grpc_addr)[0]}:{grpc_port}, "
        f"HTTP {settings.http_addr}",
        f"database: {'SQLite in ' + str(settings.data_dir) if settings.is_sqlite else 'external'}",
    ]
    if rt.new_admin_key:
        # Shown once, on the terminal only (never through logging).
        lines.append(f"admin key (shown once): {rt.new_admin_key}")
    if rt.new_application_id:
        lines.append(f"demo applicationId: {rt.new_application_id}")
    print("\n".join(str(x) for x in lines), file=sys.stdout, flush=True)
