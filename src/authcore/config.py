"""Settings, read once from the environment (AUTHCORE_*) and CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from authcore.limits.lockout import LockoutPolicy
from authcore.verify.password import Argon2Params


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from exc


SANDBOX_WARNING = ("SANDBOX MODE: no SMS is sent and every consumer one-time password is "
                   "123456. Never use this for real users.")


def _lockout(env: dict[str, str], base: LockoutPolicy) -> LockoutPolicy:
    failures = _int(env, "AUTHCORE_LOCKOUT_MAX_FAILURES", base.max_failures)
    seconds = _int(env, "AUTHCORE_LOCKOUT_SECONDS", base.lockout_seconds)
    if not 1 <= failures <= 1000:
        raise SystemExit("AUTHCORE_LOCKOUT_MAX_FAILURES must be between 1 and 1000.")
    if not 0 <= seconds <= 365 * 86400:
        raise SystemExit("AUTHCORE_LOCKOUT_SECONDS must be between 0 (never expires) "
                         "and 31536000.")
    return LockoutPolicy(max_failures=failures, lockout_seconds=seconds)


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from exc


def _bool(env: dict[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SystemExit(f"{name} must be 1 or 0, got {raw!r}")


def _path(env: dict[str, str], name: str) -> Path | None:
    raw = env.get(name)
    return Path(raw) if raw else None


def split_addr(addr: str) -> tuple[str, int]:
    """"host:port" (IPv6 hosts in brackets) as (host, port)."""
    host, _, port = addr.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"address must be host:port, got {addr!r}")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class RateLimits:
    """Requests allowed per minute to the authentication flows."""

    per_ip_per_minute: int = 600
    per_user_per_minute: int = 60


@dataclass(frozen=True)
class DeliveryLimits:
    """How often a code may be sent (flows/context.py `throttle_delivery`),
    against message bombing; 0 turns a limit off."""

    # Between two messages to one address (Okta's 30 s resend interval).
    resend_seconds: int = 30
    per_address_per_hour: int = 10
    # Per client IP: one client spraying many addresses (SMS pumping).
    per_ip_per_hour: int = 60


@dataclass(frozen=True)
class Delivery:
    """Where queued messages go (delivery/dispatcher.py). A medium with no
    channel keeps its messages `held` in the outbox, readable through the
    admin API: the development default."""

    # smtp://user:pass@host:587?starttls=true or smtps://user:pass@host:465
    # (credentials URL-encoded). Kept out of repr: it holds the password.
    smtp_url: str | None = field(default=None, repr=False)
    smtp_from: str | None = None
    smtp_timeout_seconds: float = 10.0
    # SMS and VOICE go to one gateway URL, PUSH to another, each request
    # signed with the shared secret (delivery/webhook.py).
    sms_webhook_url: str | None = field(default=None, repr=False)
    push_webhook_url: str | None = field(default=None, repr=False)
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_timeout_seconds: float = 10.0
    # A directory whose <kind>.subject / .txt / .html files replace the
    # built-in email templates (delivery/templates/).
    templates_dir: Path | None = None
    # How often each process looks for messages queued by other processes
    # (its own wake it at once).
    poll_seconds: float = 1.0
    # Retries: the first after about retry_seconds, doubling up to
    # retry_max_seconds, at most max_attempts sends in all.
    retry_seconds: float = 5.0
    retry_max_seconds: float = 300.0
    max_attempts: int = 8


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("./var")
    database_url: str | None = None
    grpc_addr: str = "127.0.0.1:50051"
    http_addr: str = "127.0.0.1:8080"
    admin_key: str | None = None
    master_key: str | None = None
    issuer: str = "authcore"
    rate_limits: RateLimits = field(default_factory=RateLimits)
    delivery_limits: DeliveryLimits = field(default_factory=DeliveryLimits)
    delivery: Delivery = field(default_factory=Delivery)
    argon2: Argon2Params = field(default_factory=Argon2Params)
    shutdown_grace_seconds: float = 10.0
    # The directory's lockout policy: one per user, whichever application
    # the failures come through (an application's own threshold would let
    # an attacker pick the most lenient one; application ids are public).
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    max_body_bytes: int = 1 << 20
    log_level: str = "INFO"
    # "text" (the default) or "json": one JSON object per line (authcore/logs.py).
    log_format: str = "text"
    # The URL clients reach this server at (SCIM's meta.location and
    # Location headers). Defaults to http://<http_addr>; set it behind a
    # load balancer or TLS terminator.
    public_url: str | None = None
    # Sandbox (AUTHCORE_SANDBOX=1): no SMS leaves the server and every
    # one-time password of the consumer API is 123456. For client
    # development only; refused on PostgreSQL.
    sandbox: bool = False
    # Sandbox only: a file holding a number of seconds added to the clock,
    # so tests (and client developers) can let tokens and lockouts expire.
    clock_offset_file: Path | None = None
    # Consumer API: the application whose policy (lockout) and name its
    # sessions use (created at first start), where logout sends users, how
    # long an idle auth token lives and how long access tokens live.
    consumer_application_id: str = "consumer"
    consumer_logout_url: str | None = None
    consumer_idle_seconds: int = 300
    consumer_access_token_seconds: int = 900
    # Axidian authenticateByWindowsToken: the keytab holding the HTTP
    # service key, optionally which principal of it to accept with, and the
    # realms whose users map to a UserId (default: the service's own realm).
    kerberos_keytab: Path | None = None
    kerberos_principal: str | None = None
    kerberos_realms: tuple[str, ...] = ()
    # SMARTCREDENTIALPUSH: the CA certificates (a PEM bundle, or the path of
    # one) that issue smart credentials; without it none can be registered.
    smart_credential_ca: str | None = None
    # And the CRLs of those CAs (a DER file, or PEM holding several): a
    # revoked credential can't register or answer (flows/revocation.py).
    smart_credential_crl: Path | None = None
    # Production topology: with a Redis URL, rate-limit and lockout counters
    # and short-lived challenge state live in Redis, so replicas share them.
    redis_url: str | None = None
    # Prefix of every Redis key, so deployments (or test servers) can share
    # one Redis.
    redis_key_prefix: str = "authcore:"
    # Redis replicas that must confirm a challenge claim or a counted
    # failure (WAIT) before it is answered, so a failover can't lose it
    # (store/redis_ha.py); 0: not waited for.
    redis_wait_replicas: int = 0
    # Worker processes sharing the gRPC and HTTP ports (SO_REUSEPORT);
    # 0 means one per CPU core.
    workers: int = 0
    # PostgreSQL connections each process keeps in each of its two pools (the
    # hot paths' asyncpg pool, and SQLAlchemy's, which bursts may grow by
    # twice as many more), so a process holds at most 4 x db_pool_size.
    db_pool_size: int = 10
    # /metrics (authcore/operations.py): None serves it on the HTTP port,
    # where it needs this token or an admin key; a host:port of its own
    # (e.g. 127.0.0.1:9464) serves it there, open unless the token is set.
    metrics_addr: str | None = None
    metrics_token: str | None = field(default=None, repr=False)
    # USER_CERTIFICATE (authcore/mtls.py): an HTTPS listener that asks for
    # client certificates signed by the CAs of `mtls_client_ca` (PEM
    # bundle), serving with `mtls_cert`/`mtls_key`.
    mtls_addr: str | None = None
    mtls_cert: Path | None = None
    mtls_key: Path | None = None
    mtls_client_ca: Path | None = None
    # Or behind a TLS-terminating proxy: the header carrying the verified
    # client certificate (URL-encoded PEM, nginx's $ssl_client_escaped_cert),
    # believed only from these addresses/networks, on the HTTP port.
    mtls_proxy_header: str | None = None
    mtls_trusted_proxies: tuple[str, ...] = ()
    # The CRLs of the client CAs (a DER file, or PEM holding several),
    # checked by authcore for the listener and the proxy header alike; needs
    # `mtls_client_ca`, whose CAs must sign them.
    mtls_crl: Path | None = None
    # How often the CRL files' mtime is looked at (they are re-read when it
    # changed).
    crl_reload_seconds: float = 30.0

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'authcore.db').resolve()}"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.http_addr}"

    @property
    def effective_workers(self) -> int:
        if self.workers > 0:
            return self.workers
        return _cores()

    @property
    def hashing_threads(self) -> int:
        """argon2 threads per worker: the workers together get one per core.
        More would only add threads competing for the CPU (and for each
        worker's GIL when they hand a result back), not hashes per second."""
        return max(1, _cores() // self.effective_workers)

    @property
    def logout_url(self) -> str:
        return self.consumer_logout_url or f"{self.base_url}/"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database's file; None for PostgreSQL or an in-memory one."""
        if not self.is_sqlite:
            return None
        database = make_url(self.effective_database_url).database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return Path(database)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        base = cls()
        return replace(
            base,
            data_dir=Path(env.get("AUTHCORE_DATA_DIR") or base.data_dir),
            database_url=env.get("AUTHCORE_DATABASE_URL") or None,
            grpc_addr=env.get("AUTHCORE_GRPC_ADDR") or base.grpc_addr,
            http_addr=env.get("AUTHCORE_HTTP_ADDR") or base.http_addr,
            admin_key=env.get("AUTHCORE_ADMIN_KEY") or None,
            master_key=env.get("AUTHCORE_MASTER_KEY") or None,
            issuer=env.get("AUTHCORE_ISSUER") or base.issuer,
            rate_limits=RateLimits(
                per_ip_per_minute=_int(env, "AUTHCORE_RATE_LIMIT_IP_PER_MINUTE",
                                       base.rate_limits.per_ip_per_minute),
                per_user_per_minute=_int(env, "AUTHCORE_RATE_LIMIT_USER_PER_MINUTE",
                                         base.rate_limits.per_user_per_minute),
            ),
            delivery_limits=DeliveryLimits(
                resend_seconds=_int(env, "AUTHCORE_DELIVERY_RESEND_SECONDS",
                                    base.delivery_limits.resend_seconds),
                per_address_per_hour=_int(env, "AUTHCORE_DELIVERY_ADDRESS_PER_HOUR",
                                          base.delivery_limits.per_address_per_hour),
                per_ip_per_hour=_int(env, "AUTHCORE_DELIVERY_IP_PER_HOUR",
                                     base.delivery_limits.per_ip_per_hour),
            ),
            delivery=Delivery(
                smtp_url=env.get("AUTHCORE_SMTP_URL") or None,
                smtp_from=env.get("AUTHCORE_SMTP_FROM") or None,
                smtp_timeout_seconds=_float(env, "AUTHCORE_SMTP_TIMEOUT_SECONDS",
                                            base.delivery.smtp_timeout_seconds),
                sms_webhook_url=env.get("AUTHCORE_SMS_WEBHOOK_URL") or None,
                push_webhook_url=env.get("AUTHCORE_PUSH_WEBHOOK_URL") or None,
                webhook_secret=env.get("AUTHCORE_WEBHOOK_SECRET") or None,
                webhook_timeout_seconds=_float(env, "AUTHCORE_WEBHOOK_TIMEOUT_SECONDS",
                                               base.delivery.webhook_timeout_seconds),
                templates_dir=_path(env, "AUTHCORE_DELIVERY_TEMPLATES_DIR"),
                poll_seconds=_float(env, "AUTHCORE_DELIVERY_POLL_SECONDS",
                                    base.delivery.poll_seconds),
                retry_seconds=_float(env, "AUTHCORE_DELIVERY_RETRY_SECONDS",
                                     base.delivery.retry_seconds),
                retry_max_seconds=_float(env, "AUTHCORE_DELIVERY_RETRY_MAX_SECONDS",
                                         base.delivery.retry_max_seconds),
                max_attempts=_int(env, "AUTHCORE_DELIVERY_MAX_ATTEMPTS",
                                  base.delivery.max_attempts),
            ),
            argon2=Argon2Params(
                time_cost=_int(env, "AUTHCORE_ARGON2_TIME_COST", base.argon2.time_cost),
                memory_cost_kib=_int(env, "AUTHCORE_ARGON2_MEMORY_KIB",
                                     base.argon2.memory_cost_kib),
                parallelism=_int(env, "AUTHCORE_ARGON2_PARALLELISM", base.argon2.parallelism),
            ),
            shutdown_grace_seconds=float(
                _int(env, "AUTHCORE_SHUTDOWN_GRACE_SECONDS", int(base.shutdown_grace_seconds))
            ),
            lockout=_lockout(env, base.lockout),
            log_level=env.get("AUTHCORE_LOG_LEVEL") or base.log_level,
            log_format=(env.get("AUTHCORE_LOG_FORMAT") or base.log_format).strip().lower(),
            public_url=(env.get("AUTHCORE_PUBLIC_URL") or "").rstrip("/") or None,
            sandbox=_bool(env, "AUTHCORE_SANDBOX"),
            clock_offset_file=_path(env, "AUTHCORE_CLOCK_OFFSET_FILE"),
            consumer_application_id=env.get("AUTHCORE_CONSUMER_APPLICATION_ID")
            or base.consumer_application_id,
            consumer_logout_url=env.get("AUTHCORE_CONSUMER_LOGOUT_URL") or None,
            consumer_idle_seconds=_int(env, "AUTHCORE_CONSUMER_IDLE_SECONDS",
                                       base.consumer_idle_seconds),
            consumer_access_token_seconds=_int(env, "AUTHCORE_CONSUMER_ACCESS_TOKEN_SECONDS",
                                               base.consumer_access_token_seconds),
            redis_url=env.get("AUTHCORE_REDIS_URL") or None,
            redis_key_prefix=env.get("AUTHCORE_REDIS_KEY_PREFIX") or base.redis_key_prefix,
            redis_wait_replicas=_int(env, "AUTHCORE_REDIS_WAIT_REPLICAS",
                                     base.redis_wait_replicas),
            workers=_int(env, "AUTHCORE_WORKERS", base.workers),
            db_pool_size=_int(env, "AUTHCORE_DB_POOL_SIZE", base.db_pool_size),
            metrics_addr=(env.get("AUTHCORE_METRICS_ADDR") or "").strip() or None,
            metrics_token=(env.get("AUTHCORE_METRICS_TOKEN") or "").strip() or None,
            mtls_addr=(env.get("AUTHCORE_MTLS_ADDR") or "").strip() or None,
            mtls_cert=_path(env, "AUTHCORE_MTLS_CERT"),
            mtls_key=_path(env, "AUTHCORE_MTLS_KEY"),
            mtls_client_ca=_path(env, "AUTHCORE_MTLS_CLIENT_CA"),
            mtls_proxy_header=(env.get("AUTHCORE_MTLS_PROXY_HEADER") or "").strip() or None,
            mtls_trusted_proxies=tuple(
                p.strip() for p in (env.get("AUTHCORE_MTLS_TRUSTED_PROXIES") or "").split(",")
                if p.strip()),
            mtls_crl=_path(env, "AUTHCORE_MTLS_CRL"),
            crl_reload_seconds=_float(env, "AUTHCORE_CRL_RELOAD_SECONDS",
                                      base.crl_reload_seconds),
            kerberos_keytab=_path(env, "AUTHCORE_KERBEROS_KEYTAB"),
            kerberos_principal=env.get("AUTHCORE_KERBEROS_PRINCIPAL") or None,
            kerberos_realms=tuple(r.strip() for r in
                                  (env.get("AUTHCORE_KERBEROS_REALMS") or "").split(",")
                                  if r.strip()),
            smart_credential_ca=(env.get("AUTHCORE_SMART_CREDENTIAL_CA") or "").strip() or None,
            smart_credential_crl=_path(env, "AUTHCORE_SMART_CREDENTIAL_CRL"),
        )

    def check(self) -> None:
        """Refuse combinations that must never run (SystemExit with why)."""
        if self.sandbox and not self.is_sqlite:
            raise SystemExit("AUTHCORE_SANDBOX is for development on SQLite; it is refused "
                             "with an external database, which means production.")
        if self.clock_offset_file is not None and not self.sandbox:
            raise SystemExit("AUTHCORE_CLOCK_OFFSET_FILE needs AUTHCORE_SANDBOX=1.")
        if self.workers < 0:
            raise SystemExit("AUTHCORE_WORKERS must be 0 (one per core) or more.")
        if self.db_pool_size < 1:
            raise SystemExit("AUTHCORE_DB_POOL_SIZE must be 1 or more.")
        if self.database_url:
            from authcore.store.pg_urls import sqlalchemy_url

            try:
                sqlalchemy_url(self.database_url)
            except ValueError as exc:  # a host list it can't use; never the URL itself
                raise SystemExit(f"AUTHCORE_DATABASE_URL: {exc}") from None
        if not 0 <= self.redis_wait_replicas <= 16:
            raise SystemExit("AUTHCORE_REDIS_WAIT_REPLICAS must be between 0 and 16.")
        if self.redis_wait_replicas and not self.redis_url:
            raise SystemExit("AUTHCORE_REDIS_WAIT_REPLICAS needs AUTHCORE_REDIS_URL.")
        self._check_metrics()
        self._check_mtls()
        limits = self.delivery_limits
        for name, value in (("RESEND_SECONDS", limits.resend_seconds),
                            ("ADDRESS_PER_HOUR", limits.per_address_per_hour),
                            ("IP_PER_HOUR", limits.per_ip_per_hour)):
            if value < 0:
                raise SystemExit(f"AUTHCORE_DELIVERY_{name} must be 0 (off) or more.")
        self._check_delivery()

    @property
    def separate_metrics_addr(self) -> str | None:
        """AUTHCORE_METRICS_ADDR when it is a listener of its own (not the
        HTTP address itself)."""
        if self.metrics_addr is None or self.metrics_addr == self.http_addr:
            return None
        return self.metrics_addr

    def _check_metrics(self) -> None:
        if self.metrics_token is not None and len(self.metrics_token.encode()) < 16:
            raise SystemExit("AUTHCORE_METRICS_TOKEN must be at least 16 bytes "
                             "(e.g. `openssl rand -hex 32`).")
        addr = self.separate_metrics_addr
        if addr is None:
            return
        try:
            port = split_addr(addr)[1]
        except SystemExit:
            raise SystemExit(f"AUTHCORE_METRICS_ADDR must be host:port (e.g. 127.0.0.1:9464), "
                             f"got {addr!r}") from None
        for name, other in (("AUTHCORE_GRPC_ADDR", self.grpc_addr),
                            ("AUTHCORE_HTTP_ADDR", self.http_addr)):
            if port != 0 and port == split_addr(other)[1]:
                raise SystemExit(f"AUTHCORE_METRICS_ADDR needs a port of its own; {port} is "
                                 f"{name}'s.")

    @property
    def user_certificates_enabled(self) -> bool:
        """A client certificate can reach authcore: its own mTLS listener
        or a trusted proxy's header."""
        return self.mtls_addr is not None or self.mtls_proxy_header is not None

    def _check_mtls(self) -> None:
        import ipaddress

        if self.mtls_addr is not None:
            try:
                port = split_addr(self.mtls_addr)[1]
            except SystemExit:
                raise SystemExit(f"AUTHCORE_MTLS_ADDR must be host:port, got "
                                 f"{self.mtls_addr!r}") from None
            for name, other in (("AUTHCORE_GRPC_ADDR", self.grpc_addr),
                                ("AUTHCORE_HTTP_ADDR", self.http_addr)):
                if port != 0 and port == split_addr(other)[1]:
                    raise SystemExit(f"AUTHCORE_MTLS_ADDR needs a port of its own; {port} "
                                     f"is {name}'s.")
            for name, path in (("AUTHCORE_MTLS_CERT", self.mtls_cert),
                               ("AUTHCORE_MTLS_KEY", self.mtls_key),
                               ("AUTHCORE_MTLS_CLIENT_CA", self.mtls_client_ca)):
                if path is None or not path.is_file():
                    raise SystemExit(f"AUTHCORE_MTLS_ADDR needs {name} (a PEM file).")
        if self.mtls_proxy_header is not None and not self.mtls_trusted_proxies:
            raise SystemExit("AUTHCORE_MTLS_PROXY_HEADER needs AUTHCORE_MTLS_TRUSTED_PROXIES "
                             "(the proxies' addresses): from anyone else the header would "
                             "be a forged certificate.")
        for proxy in self.mtls_trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise SystemExit(f"AUTHCORE_MTLS_TRUSTED_PROXIES: {proxy!r} is not an IP "
                                 "address or network.") from None
        self._check_crls()

    def _check_crls(self) -> None:
        if not self.crl_reload_seconds >= 0:
            raise SystemExit("AUTHCORE_CRL_RELOAD_SECONDS must be 0 (every check) or more.")
        if self.mtls_crl is not None:
            if not self.user_certificates_enabled:
                raise SystemExit("AUTHCORE_MTLS_CRL needs AUTHCORE_MTLS_ADDR or "
                                 "AUTHCORE_MTLS_PROXY_HEADER.")
            if self.mtls_client_ca is None or not self.mtls_client_ca.is_file():
                raise SystemExit("AUTHCORE_MTLS_CRL needs AUTHCORE_MTLS_CLIENT_CA (a PEM "
                                 "file): the CAs whose signatures the CRLs must carry.")
            if not self.mtls_crl.is_file():
                raise SystemExit("AUTHCORE_MTLS_CRL must be a file (DER or PEM CRLs).")
        if self.smart_credential_crl is not None:
            if not self.smart_credential_ca:
                raise SystemExit("AUTHCORE_SMART_CREDENTIAL_CRL needs "
                                 "AUTHCORE_SMART_CREDENTIAL_CA.")
            if not self.smart_credential_crl.is_file():
                raise SystemExit("AUTHCORE_SMART_CREDENTIAL_CRL must be a file (DER or PEM "
                                 "CRLs).")

    def _check_delivery(self) -> None:
        d = self.delivery
        if d.smtp_url and not d.smtp_from:
            raise SystemExit("AUTHCORE_SMTP_URL needs AUTHCORE_SMTP_FROM (the sender address).")
        if (d.sms_webhook_url or d.push_webhook_url) and not d.webhook_secret:
            raise SystemExit("AUTHCORE_SMS_WEBHOOK_URL / AUTHCORE_PUSH_WEBHOOK_URL need "
                             "AUTHCORE_WEBHOOK_SECRET (the requests' signing key).")
        # What delivery/webhook.WebhookChannel refuses, said before it starts
        # (not imported here: the supervisor loads settings only). The URL is
        # not echoed, it may hold credentials.
        if d.webhook_secret and len(d.webhook_secret.encode()) < 16:
            raise SystemExit("AUTHCORE_WEBHOOK_SECRET must be at least 16 bytes "
                             "(e.g. `openssl rand -hex 32`).")
        for name, url in (("SMS_WEBHOOK_URL", d.sms_webhook_url),
                          ("PUSH_WEBHOOK_URL", d.push_webhook_url)):
            if url and (urlsplit(url).scheme not in ("http", "https")
                        or not urlsplit(url).hostname):
                raise SystemExit(f"AUTHCORE_{name} must be an http:// or https:// URL "
                                 "with a host.")
        for name, seconds in (("SMTP_TIMEOUT_SECONDS", d.smtp_timeout_seconds),
                              ("WEBHOOK_TIMEOUT_SECONDS", d.webhook_timeout_seconds),
                              ("DELIVERY_POLL_SECONDS", d.poll_seconds),
                              ("DELIVERY_RETRY_SECONDS", d.retry_seconds),
                              ("DELIVERY_RETRY_MAX_SECONDS", d.retry_max_seconds)):
            if not 0 < seconds <= 86400:
                raise SystemExit(f"AUTHCORE_{name} must be more than 0 and at most 86400.")
        if not 1 <= d.max_attempts <= 100:
            raise SystemExit("AUTHCORE_DELIVERY_MAX_ATTEMPTS must be between 1 and 100.")
        if d.templates_dir is not None and not d.templates_dir.is_dir():
            raise SystemExit(f"AUTHCORE_DELIVERY_TEMPLATES_DIR {d.templates_dir} is not a "
                             "directory.")


def _cores() -> int:
    # The cores this process may run on (a container's cpuset), not the host's.
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)
