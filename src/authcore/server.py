"""One process: the grpc.aio server and the REST bridge on one event loop.

The bridge calls the servicers in-process through the same interceptor chain
the gRPC server runs (no socket hop). SIGTERM or SIGINT starts a graceful
shutdown: health turns NOT_SERVING, both listeners stop accepting, and what
was already accepted is answered within `shutdown_grace_seconds` (the order,
and why, in authcore.drain).

With `--workers N` (N > 1) several such processes share the two ports; see
authcore.workers for the supervisor that starts and stops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
import signal
import socket
import ssl
import time
from dataclasses import dataclass, field

import grpc
import uvicorn
from cryptography import x509
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.routing import BaseRoute

from authcore import metrics
from authcore.axidian.v5 import logon_pb2, logon_pb2_grpc
from authcore.bootstrap import bootstrap
from authcore.config import SANDBOX_WARNING, Settings, split_addr
from authcore.consumer.v1 import consumer_pb2, consumer_pb2_grpc
from authcore.crypto.seal import Sealer, derive_key, load_or_create_master_key
from authcore.delivery import outbox
from authcore.delivery.channels import Channel
from authcore.delivery.dispatcher import Dispatcher
from authcore.delivery.setup import build_channels
from authcore.drain import (
    GOAWAY_SECONDS,
    CloseAfterResponse,
    DrainingUvicorn,
    GrpcGate,
)
from authcore.flows import aaguids
from authcore.flows.authentication import AuthenticationFlow
from authcore.flows.axidian import AxidianFlow
from authcore.flows.challenges import RedisChallengeStore
from authcore.flows.consumer import ConsumerFlow
from authcore.flows.context import Core, FileOffsetClock, hashing_executor
from authcore.flows.external_verifiers import ExternalVerifierAdmin
from authcore.flows.ghosts import RedisGhostLockouts
from authcore.flows.kerberos import startup_warning as kerberos_startup_warning
from authcore.flows.lockouts import RedisLockoutStore
from authcore.flows.loginid import LoginIdFlow
from authcore.flows.loginid_common import app_id_from_host
from authcore.flows.loginid_mfa import LoginIdMfaFlow
from authcore.flows.loginid_mgmt import LoginIdMgmtFlow
from authcore.flows.loginid_profile import LoginIdProfileFlow
from authcore.flows.magic_links import MagicLinkFlow
from authcore.flows.magic_links import prune as prune_magic_links
from authcore.flows.management import ManagementFlow
from authcore.flows.oidc_login import OidcLoginFlow
from authcore.flows.oidc_providers import OidcProviderAdmin
from authcore.flows.policy import WebAuthnPolicy
from authcore.flows.push_devices import PushDeviceFlow, smart_credential_bundle
from authcore.flows.push_devices import prune as prune_pushes
from authcore.flows.refresh import RefreshFlow
from authcore.flows.revocation import CrlFile
from authcore.flows.self_service import SelfServiceFlow
from authcore.flows.self_values import SelfValuesFlow
from authcore.flows.user_certificate import UserCertificateFlow
from authcore.interceptors import AdminAuthInterceptor, ErrorInterceptor
from authcore.limits.memory import MemoryRateLimiter
from authcore.limits.redis import RedisRateLimiter
from authcore.mtls import (
    PeerCertificateProtocol,
    client_ssl_context,
    code_route,
    from_proxy,
    mtls_app,
)
from authcore.operations import MetricsAccess, Readiness, metrics_app, migration_heads, stop_watch
from authcore.operations import routes as operation_routes
from authcore.scim.v2 import scim_pb2, scim_pb2_grpc
from authcore.services.authentication import AuthenticationService
from authcore.services.axidian import LogonService, TemplateSessionService
from authcore.services.consumer import ConsumerService
from authcore.services.external_verifiers import ExternalVerifierService
from authcore.services.fido2 import Fido2Service
from authcore.services.fido2_mfa import Fido2MfaService
from authcore.services.fido2_profile import Fido2MgmtService, Fido2ProfileService
from authcore.services.magic_links import MagicLinkService
from authcore.services.management import ManagementService
from authcore.services.oidc import Fido2OidcService, OidcProviderService
from authcore.services.push_devices import PushDeviceService
from authcore.services.scim import ScimService
from authcore.services.self_service import SelfService, SelfValuesService
from authcore.store.db import create_engine, session_factory
from authcore.store.hot import HotDb
from authcore.store.hot.postgres import PostgresHot
from authcore.store.hot.redis import RedisHot
from authcore.store.hot.sqlite import SqliteHot
from authcore.store.models import Application
from authcore.store.redis import RedisKeys, durability_warnings
from authcore.store.redis import connect as connect_redis
from authcore.store.redis_ha import replica_warnings
from authcore.store.write_lock import SqliteWriteLock
from authcore.tokens.jwt import TokenSigner
from authcore.v1 import (
    authentication_pb2,
    authentication_pb2_grpc,
    external_verifiers_pb2,
    external_verifiers_pb2_grpc,
    fido2_mfa_pb2,
    fido2_mfa_pb2_grpc,
    fido2_mgmt_pb2,
    fido2_mgmt_pb2_grpc,
    fido2_oidc_pb2,
    fido2_oidc_pb2_grpc,
    fido2_pb2,
    fido2_pb2_grpc,
    fido2_profile_pb2,
    fido2_profile_pb2_grpc,
    magic_links_pb2,
    magic_links_pb2_grpc,
    management_pb2,
    management_pb2_grpc,
    oidc_providers_pb2,
    oidc_providers_pb2_grpc,
    push_devices_pb2,
    push_devices_pb2_grpc,
    self_service_pb2,
    self_service_pb2_grpc,
)
from authcore.workers import READY, announce
from rest_bridge import InProcessInvoker, create_app, generic_handlers_for, resolve_handlers
from rest_bridge.cors import CachedOrigins, CorsPolicy
from rest_bridge.pages import page_routes
from rest_bridge.request_ids import RequestIds

# How often each worker drops the text of old outbox messages.
OUTBOX_PRUNE_SECONDS = 300.0

log = logging.getLogger("authcore.server")

SERVICES = (
    authentication_pb2.DESCRIPTOR.services_by_name["AuthenticationService"],
    management_pb2.DESCRIPTOR.services_by_name["ManagementService"],
    fido2_pb2.DESCRIPTOR.services_by_name["Fido2Service"],
    fido2_profile_pb2.DESCRIPTOR.services_by_name["Fido2ProfileService"],
    fido2_mgmt_pb2.DESCRIPTOR.services_by_name["Fido2MgmtService"],
    fido2_oidc_pb2.DESCRIPTOR.services_by_name["Fido2OidcService"],
    oidc_providers_pb2.DESCRIPTOR.services_by_name["OidcProviderService"],
    external_verifiers_pb2.DESCRIPTOR.services_by_name["ExternalVerifierService"],
    fido2_mfa_pb2.DESCRIPTOR.services_by_name["Fido2MfaService"],
    self_service_pb2.DESCRIPTOR.services_by_name["SelfService"],
    self_service_pb2.DESCRIPTOR.services_by_name["SelfValuesService"],
    push_devices_pb2.DESCRIPTOR.services_by_name["PushDeviceService"],
    magic_links_pb2.DESCRIPTOR.services_by_name["MagicLinkService"],
    scim_pb2.DESCRIPTOR.services_by_name["ScimService"],
    consumer_pb2.DESCRIPTOR.services_by_name["ConsumerService"],
    logon_pb2.DESCRIPTOR.services_by_name["LogonService"],
    logon_pb2.DESCRIPTOR.services_by_name["TemplateSessionService"],
)


@dataclass
class Runtime:
    core: Core
    engine: AsyncEngine
    # The servicers' handlers and the interceptor chain, as built...
    handlers: list[grpc.GenericRpcHandler]
    interceptors: list[grpc.aio.ServerInterceptor]
    # ...and the two applied once per method of SERVICES: what the gRPC server
    # and the REST bridge both serve, with no interceptor run per call.
    resolved: grpc.GenericRpcHandler
    new_admin_key: str | None
    new_application_id: str | None
    # Set in the production topology (AUTHCORE_REDIS_URL); closed at shutdown.
    redis: Redis | None = None
    # The delivery channels by medium (delivery/setup.py); none: all held.
    channels: dict[str, Channel] = field(default_factory=dict)


async def _open_redis(settings: Settings) -> Redis | None:
    if not settings.redis_url:
        return None
    try:
        client = connect_redis(settings.redis_url)
    except ValueError as exc:
        raise SystemExit(f"AUTHCORE_REDIS_URL is not a valid Redis URL: {exc}") from None
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        # Not fatal: requests that need Redis get 503 until it answers, and
        # the client reconnects by itself.
        log.warning("Redis (AUTHCORE_REDIS_URL) does not answer yet: %s", exc)
    else:
        for warning in [*await durability_warnings(client),
                        *await replica_warnings(client, settings.redis_wait_replicas)]:
            log.warning("%s", warning)
    return client


def open_hot_db(settings: Settings, write_lock: SqliteWriteLock | None) -> HotDb:
    """The hot paths' raw-driver store for the configured database."""
    if settings.is_sqlite:
        path = settings.sqlite_file
        if path is None or write_lock is None:
            raise SystemExit("authcore needs an SQLite database file, not an in-memory one.")
        return SqliteHot(path, write_lock)
    return PostgresHot(settings.effective_database_url, pool_size=settings.db_pool_size)


async def build_runtime(settings: Settings) -> Runtime:
    settings.check()
    engine = create_engine(settings.effective_database_url, pool_size=settings.db_pool_size)
    db = session_factory(engine)
    master = load_or_create_master_key(path=settings.data_dir / "master.key",
                                       env_value=settings.master_key)
    sealer = Sealer(master)
    boot = await bootstrap(settings, db, sealer, now=time.time())
    await asyncio.to_thread(aaguids.preload)
    redis = await _open_redis(settings)
    write_lock = SqliteWriteLock(settings.sqlite_file) if settings.is_sqlite else None
    channels = build_channels(settings)
    core = Core(
        settings=settings,
        db=db,
        sealer=sealer,
        code_key=derive_key(master, purpose="code-hmac"),
        signer=TokenSigner(boot.signing_keys, issuer=settings.issuer),
        limiter=MemoryRateLimiter(),
        hot=open_hot_db(settings, write_lock),
        outbox=outbox.Outbox(sealer, media=channels),
        executor=hashing_executor(settings.hashing_threads),
        write_lock=write_lock,
    )
    if settings.clock_offset_file is not None:
        core.clock = FileOffsetClock(settings.clock_offset_file)
    core.mtls_crls, core.smart_credential_crls = _crl_files(settings)
    if redis is not None:
        # Production topology: counters and challenge state shared by replicas.
        keys = RedisKeys(settings.redis_key_prefix)
        core.limiter = RedisRateLimiter(redis, keys=keys)
        acks = settings.redis_wait_replicas
        core.lockouts = RedisLockoutStore(redis, keys=keys, ack_replicas=acks)
        core.ghosts = RedisGhostLockouts(redis, keys=keys, ack_replicas=acks)
        core.challenges = RedisChallengeStore(redis, keys=keys, ack_replicas=acks)
        core.redis_hot = RedisHot(redis, keys=keys, ack_replicas=acks)
    axidian = AxidianFlow(core)
    loginid = LoginIdFlow(core)
    handlers = [
        *generic_handlers_for(AuthenticationService(AuthenticationFlow(core)),
                              authentication_pb2_grpc.add_AuthenticationServiceServicer_to_server),
        *generic_handlers_for(ManagementService(ManagementFlow(core)),
                              management_pb2_grpc.add_ManagementServiceServicer_to_server),
        *generic_handlers_for(Fido2Service(loginid),
                              fido2_pb2_grpc.add_Fido2ServiceServicer_to_server),
        *generic_handlers_for(Fido2ProfileService(LoginIdProfileFlow(loginid)),
                              fido2_profile_pb2_grpc.add_Fido2ProfileServiceServicer_to_server),
        *generic_handlers_for(Fido2MgmtService(LoginIdMgmtFlow(loginid)),
                              fido2_mgmt_pb2_grpc.add_Fido2MgmtServiceServicer_to_server),
        *generic_handlers_for(Fido2OidcService(OidcLoginFlow(core)),
                              fido2_oidc_pb2_grpc.add_Fido2OidcServiceServicer_to_server),
        *generic_handlers_for(OidcProviderService(OidcProviderAdmin(core)),
                              oidc_providers_pb2_grpc.add_OidcProviderServiceServicer_to_server),
        *generic_handlers_for(ExternalVerifierService(ExternalVerifierAdmin(core)),
                              external_verifiers_pb2_grpc.add_ExternalVerifierServiceServicer_to_server),
        *generic_handlers_for(Fido2MfaService(LoginIdMfaFlow(core), RefreshFlow(core)),
                              fido2_mfa_pb2_grpc.add_Fido2MfaServiceServicer_to_server),
        *generic_handlers_for(SelfService(SelfServiceFlow(core)),
                              self_service_pb2_grpc.add_SelfServiceServicer_to_server),
        *generic_handlers_for(SelfValuesService(SelfValuesFlow(SelfServiceFlow(core))),
                              self_service_pb2_grpc.add_SelfValuesServiceServicer_to_server),
        *generic_handlers_for(PushDeviceService(PushDeviceFlow(core)),
                              push_devices_pb2_grpc.add_PushDeviceServiceServicer_to_server),
        *generic_handlers_for(MagicLinkService(MagicLinkFlow(core)),
                              magic_links_pb2_grpc.add_MagicLinkServiceServicer_to_server),
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
                                                      AdminAuthInterceptor(core.hot)]
    # Both decide by the method path alone, so the chain runs once per method
    # here rather than on every call (see rest_bridge.resolve_handlers).
    resolved = await resolve_handlers(
        handlers, interceptors,
        (f"/{svc.full_name}/{m.name}" for svc in SERVICES for m in svc.methods))
    return Runtime(core=core, engine=engine, handlers=handlers, interceptors=interceptors,
                   resolved=resolved, new_admin_key=boot.new_admin_key,
                   new_application_id=boot.new_application_id, redis=redis,
                   channels=channels)


@dataclass(frozen=True)
class WorkerRole:
    """How a worker started by `authcore.workers.supervise` runs `serve`."""

    # Written READY once both listeners accept; the supervisor waits for it.
    ready_fd: int
    # The supervisor's bootstrap made the demo application (shown on the demo
    # page); the worker's own bootstrap finds it already there.
    demo_application_id: str | None = None


def freeze_startup_objects() -> int:
    """Move everything built so far (modules, protobuf descriptors, SQLAlchemy
    mappers, routes) out of the garbage collector's reach; returns how many
    objects are frozen.

    They live as long as the process, yet every full collection walked them
    all: timed with gc callbacks during a password storm, those passes took
    120-230 ms per worker, and every request in flight stalled for as long
    (the storm's TOTP p99 outliers). Afterwards a full pass walks only what
    requests allocate. Collected first so that no garbage is frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


async def serve(settings: Settings, *, worker: WorkerRole | None = None) -> None:
    """Serve until SIGTERM/SIGINT. Alone (`worker` None) the ports are this
    process's; as one of several workers they are shared (SO_REUSEPORT) and
    the supervisor announces and bootstraps."""
    rt = await build_runtime(settings)
    if settings.sandbox and worker is None:
        log.warning(SANDBOX_WARNING)
    if (kerberos_warning := kerberos_startup_warning(settings)) is not None:
        log.warning("%s", kerberos_warning)
    # Alone, a taken port must fail loudly, not be shared with whoever holds it.
    # No interceptors: rt.resolved has them applied already.
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0 if worker is None else 1)])
    # The gRPC server's calls pass a gate that holds them while a shutdown
    # quietens the clients (authcore.drain); the REST bridge's do not.
    gate = GrpcGate()
    # Each transport counts its own calls (authcore.metrics.instrument).
    server.add_generic_rpc_handlers([gate.wrap(metrics.instrument(rt.resolved, "grpc"))])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [s.full_name for s in SERVICES]
    reflection.enable_server_reflection(
        [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    try:
        grpc_port = server.add_insecure_port(settings.grpc_addr)
    except RuntimeError:
        grpc_port = 0
    if grpc_port == 0:
        raise SystemExit(f"cannot bind gRPC to {settings.grpc_addr}")
    sockets = None if worker is None else reuse_port_sockets(settings.http_addr)
    readiness = Readiness(engine=rt.engine, heads=migration_heads(), redis=rt.redis,
                          hot=rt.core.hot)
    await server.start()
    # Overall ("") and per service: what /readyz says, kept so by `watching`.
    health_names = ["", *names]
    await readiness.apply(health_servicer, health_names, await readiness.check())

    demo_application_id = (rt.new_application_id if worker is None
                           else worker.demo_application_id)
    # RequestIds outside FastAPI, so that its own 500s carry X-Request-Id too.
    app = CloseAfterResponse(RequestIds(create_app(
        InProcessInvoker([metrics.instrument(rt.resolved, "rest")]), SERVICES,
        max_body_bytes=settings.max_body_bytes, title="authcore",
        cors=cors_policy(rt.core.db),
        pages=[*page_routes(demo_application_id=demo_application_id),
               *operation_routes(readiness, _main_port_metrics_access(settings, rt.core.hot)),
               *_proxied_certificate_routes(settings, rt.core)])))
    host, port = split_addr(settings.http_addr)
    web = DrainingUvicorn(uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, lifespan="off",
        server_header=False,
    ), grace_seconds=settings.shutdown_grace_seconds)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    web_task = asyncio.create_task(web.serve(sockets=sockets))
    while not web.started:
        if web_task.done():
            await web_task
            raise SystemExit(f"cannot bind HTTP to {settings.http_addr}")
        await asyncio.sleep(0.02)
    metrics_web, metrics_task = await _start_metrics_listener(settings, readiness, rt.core.hot,
                                                              shared=worker is not None)
    mtls_web, mtls_task = await _start_mtls_listener(settings, rt.core, shared=worker is not None)
    watching = asyncio.create_task(readiness.watch(health_servicer, health_names))

    freeze_startup_objects()
    orphan_watch: asyncio.Task[None] | None = None
    if worker is None:
        announce(settings, grpc_port, new_admin_key=rt.new_admin_key,
                 new_application_id=rt.new_application_id)
    else:
        with contextlib.suppress(OSError):  # the supervisor is gone: the watch stops us
            os.write(worker.ready_fd, READY)
        os.close(worker.ready_fd)
        orphan_watch = asyncio.create_task(_stop_when_orphaned(stop))
    pruning = asyncio.create_task(_prune_outbox(rt.core))
    dispatcher, dispatching = _start_dispatcher(rt)
    await stop.wait()
    deadline = loop.time() + settings.shutdown_grace_seconds
    pruning.cancel()
    if dispatcher is not None:
        # No new claims; sends under way finish while the listeners drain.
        dispatcher.stop()
    log.info("shutting down: finishing in-flight calls (grace %.0fs)",
             settings.shutdown_grace_seconds)
    if orphan_watch is not None:
        orphan_watch.cancel()
    # The order is authcore.drain's: hold new gRPC calls and answers; HTTP
    # stops accepting and answers with Connection: close; once the gRPC
    # clients are quiet, stop() sends the GOAWAY; the held calls go on.
    gate.hold()
    readiness.draining = True  # /readyz: 503 "draining"
    await stop_watch(watching)
    await health_servicer.enter_graceful_shutdown()
    app.closing = True
    web.deadline = deadline
    web.should_exit = True
    if metrics_web is not None:
        metrics_web.deadline = deadline
        metrics_web.should_exit = True
    if mtls_web is not None:
        mtls_web.deadline = deadline
        mtls_web.should_exit = True
    await gate.quiet()
    grpc_stop = asyncio.create_task(server.stop(max(0.0, deadline - loop.time())))
    await asyncio.sleep(GOAWAY_SECONDS)
    gate.release()
    await asyncio.gather(grpc_stop, web_task, *([metrics_task] if metrics_task else []),
                         *([mtls_task] if mtls_task else []), return_exceptions=True)
    await rt.engine.dispose()
    if dispatcher is not None and dispatching is not None:
        await _stop_dispatcher(dispatcher, dispatching, max(1.0, deadline - loop.time()))
    await rt.core.hot.close()
    if rt.redis is not None:
        await rt.redis.aclose()
    if rt.core.executor is not None:
        rt.core.executor.shutdown(wait=False)
    if rt.core.write_lock is not None:
        rt.core.write_lock.close()
    log.info("stopped")


def _main_port_metrics_access(settings: Settings, hot: HotDb) -> MetricsAccess | None:
    """/metrics on the HTTP port (no AUTHCORE_METRICS_ADDR of its own):
    never open there, the port faces the clients."""
    if settings.separate_metrics_addr is not None:
        return None
    return MetricsAccess(token=settings.metrics_token, hot=hot)


async def _start_metrics_listener(
    settings: Settings, readiness: Readiness, hot: HotDb, *, shared: bool,
) -> tuple[DrainingUvicorn | None, asyncio.Task[None] | None]:
    """AUTHCORE_METRICS_ADDR's listener (/metrics, /healthz, /readyz), shared
    by the workers like the HTTP port; open unless AUTHCORE_METRICS_TOKEN is
    set (the operator chose the interface)."""
    addr = settings.separate_metrics_addr
    if addr is None:
        return None, None
    access = MetricsAccess(token=settings.metrics_token, hot=hot,
                           open=settings.metrics_token is None)
    host, port = split_addr(addr)
    web = DrainingUvicorn(uvicorn.Config(
        metrics_app(readiness, access), host=host, port=port, log_config=None,
        access_log=False, lifespan="off", server_header=False,
    ), grace_seconds=settings.shutdown_grace_seconds)
    sockets = reuse_port_sockets(addr) if shared else None
    task = asyncio.create_task(web.serve(sockets=sockets))
    while not web.started:
        if task.done():
            await task
            raise SystemExit(f"cannot bind metrics to {addr}")
        await asyncio.sleep(0.02)
    return web, task


def _crl_files(settings: Settings) -> tuple[CrlFile | None, CrlFile | None]:
    """AUTHCORE_MTLS_CRL's and AUTHCORE_SMART_CREDENTIAL_CRL's lists, loaded
    now (SystemExit when they can't be), re-read as they change."""
    mtls = smart = None
    if settings.mtls_crl is not None:
        assert settings.mtls_client_ca is not None  # Settings.check
        try:
            cas = x509.load_pem_x509_certificates(settings.mtls_client_ca.read_bytes())
        except (OSError, ValueError) as exc:
            raise SystemExit(f"AUTHCORE_MTLS_CLIENT_CA cannot be loaded: {exc}") from None
        mtls = CrlFile(settings.mtls_crl, setting="AUTHCORE_MTLS_CRL", cas=cas,
                       reload_seconds=settings.crl_reload_seconds)
        mtls.load()
    if settings.smart_credential_crl is not None:
        assert settings.smart_credential_ca is not None  # Settings.check
        try:
            anchors = list(smart_credential_bundle(settings.smart_credential_ca))
        except (OSError, ValueError):
            raise SystemExit("AUTHCORE_SMART_CREDENTIAL_CA holds no readable PEM "
                             "certificate.") from None
        smart = CrlFile(settings.smart_credential_crl, setting="AUTHCORE_SMART_CREDENTIAL_CRL",
                        cas=anchors, reload_seconds=settings.crl_reload_seconds)
        smart.load()
    return mtls, smart


def _proxied_certificate_routes(settings: Settings, core: Core) -> list[BaseRoute]:
    """USER_CERTIFICATE's endpoint on the HTTP port, for a TLS-terminating
    proxy that forwards the client certificate (authcore/mtls.py)."""
    if settings.mtls_proxy_header is None:
        return []
    return [code_route(UserCertificateFlow(core),
                       from_proxy(settings.mtls_proxy_header, settings.mtls_trusted_proxies))]


async def _start_mtls_listener(
    settings: Settings, core: Core, *, shared: bool,
) -> tuple[DrainingUvicorn | None, asyncio.Task[None] | None]:
    """AUTHCORE_MTLS_ADDR's HTTPS listener (USER_CERTIFICATE's code
    endpoint, authcore/mtls.py), shared by the workers like the HTTP port."""
    addr = settings.mtls_addr
    if addr is None:
        return None, None
    assert settings.mtls_cert and settings.mtls_key and settings.mtls_client_ca
    try:
        context = client_ssl_context(cert=str(settings.mtls_cert), key=str(settings.mtls_key),
                                     client_ca=str(settings.mtls_client_ca))
    except (OSError, ssl.SSLError) as exc:
        raise SystemExit(f"AUTHCORE_MTLS_CERT/KEY/CLIENT_CA cannot be loaded: {exc}") from None
    host, port = split_addr(addr)
    web = DrainingUvicorn(uvicorn.Config(
        mtls_app(UserCertificateFlow(core)), host=host, port=port, log_config=None,
        access_log=False, lifespan="off", server_header=False, http=PeerCertificateProtocol,
        ssl_context_factory=lambda _config, _default: context,
    ), grace_seconds=settings.shutdown_grace_seconds)
    sockets = reuse_port_sockets(addr) if shared else None
    task = asyncio.create_task(web.serve(sockets=sockets))
    while not web.started:
        if task.done():
            await task
            raise SystemExit(f"cannot bind mTLS to {addr}")
        await asyncio.sleep(0.02)
    return web, task


def _start_dispatcher(rt: Runtime) -> tuple[Dispatcher | None, asyncio.Task[None] | None]:
    """Every serving process delivers (delivery/dispatcher.py); with no
    channel configured there is nothing to deliver and no task."""
    if not rt.channels:
        return None, None
    # The flows' clock stamps the rows (the sandbox's may run ahead), so it
    # decides what is due and expired too.
    dispatcher = Dispatcher(hot=rt.core.hot, outbox=rt.core.outbox, channels=rt.channels,
                            settings=rt.core.settings.delivery, clock=rt.core.clock)
    return dispatcher, asyncio.create_task(dispatcher.run())


async def _stop_dispatcher(dispatcher: Dispatcher, task: asyncio.Task[None],
                           seconds: float) -> None:
    """Let the sends under way finish (their timeouts bound them); a send
    still going after `seconds` is cancelled, and its lease hands the
    message to another process later."""
    try:
        await asyncio.wait_for(asyncio.shield(task), seconds)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    except Exception as exc:
        log.warning("delivery: the dispatcher stopped with %s", type(exc).__name__)
    await dispatcher.close()


async def _prune_outbox(core: Core) -> None:
    """Every few minutes, old outbox messages lose their text (their codes):
    the table would otherwise keep every code ever sent. Each worker runs
    it; the statement is idempotent."""
    while True:
        try:
            pruned = await outbox.prune(core.hot, now=time.time())
            if pruned:
                log.info("outbox: dropped the text of %d old message(s)", pruned)
            await prune_pushes(core.hot, now=time.time())
            await prune_magic_links(core.hot, now=time.time())
        except Exception as exc:  # a database outage must not end the loop
            log.warning("outbox pruning failed: %s", type(exc).__name__)
        await asyncio.sleep(OUTBOX_PRUNE_SECONDS)


def reuse_port_sockets(addr: str) -> list[socket.socket]:
    """The HTTP listening sockets of one worker, bound with SO_REUSEPORT so
    every worker binds the same address (uvicorn listens on them). As
    asyncio's create_server(host, port) would: every address the host
    resolves to, IPv6 v6-only, an address family the host lacks skipped."""
    host, port = split_addr(addr)
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise SystemExit(f"cannot bind HTTP to {addr}: {exc}") from exc
    sockets: list[socket.socket] = []
    failure: OSError | None = None
    for family, kind, proto, _, sockaddr in dict.fromkeys(infos):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(sockaddr)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRNOTAVAIL:
                failure = exc
                continue
            for other in sockets:
                other.close()
            raise SystemExit(f"cannot bind HTTP to {addr}: {exc.strerror}") from exc
        sockets.append(sock)
    if not sockets:
        raise SystemExit(f"cannot bind HTTP to {addr}: {failure}")
    return sockets


async def _stop_when_orphaned(stop: asyncio.Event) -> None:
    """A worker whose supervisor died (SIGKILL, OOM) stops instead of holding
    the ports with nobody to stop it."""
    parent = os.getppid()
    while True:
        await asyncio.sleep(1.0)
        if os.getppid() != parent:
            break
    log.warning("the supervisor (pid %d) is gone; shutting down", parent)
    stop.set()


# Browser SDKs call these from the customer's site; admin paths never allow it.
CORS_PATH_PREFIXES = ("/fido2/v2/", "/api/web/")
CORS_EXCLUDED_PREFIXES = ("/api/admin/",)
# How long the allowed-origin set is reused before it is read again: short,
# so a new or edited application's origins work within seconds on every
# replica; long enough that CORS costs one query per replica per TTL, not one
# per request.
CORS_ORIGINS_TTL_SECONDS = 5.0


def cors_policy(db: async_sessionmaker[AsyncSession]) -> CorsPolicy:
    """A preflight carries no body, so the body can't name the application.
    A host that names one (`<appId>.<domain>`, as LoginID's web SDK is
    configured; flows.loginid_common.app_id_from_host) allows that application's
    WebAuthn origins alone, and a host of an unknown application none. Any
    other host allows the union of every application's origins."""

    async def load() -> dict[str, set[str]]:
        async with db() as session:
            rows = (await session.execute(select(Application.id, Application.settings))).all()
        origins: dict[str, set[str]] = {}
        for app_id, app_settings in rows:
            try:
                origins[app_id] = set(WebAuthnPolicy.from_settings(app_settings or {}).origins)
            except (TypeError, ValueError):
                continue  # one malformed application must not disable CORS for all
        return origins

    check = CachedOrigins(load, scope_of=app_id_from_host, ttl_seconds=CORS_ORIGINS_TTL_SECONDS)
    return CorsPolicy(allowed_origin=check,
                      path_prefixes=CORS_PATH_PREFIXES,
                      excluded_prefixes=CORS_EXCLUDED_PREFIXES)
