"""Benchmark: authcore's hot paths over gRPC and REST, SQLite vs PostgreSQL + Redis.

In one run, on the same machine, one server at a time:

* Baselines: the bare grpc.aio echo (bench/echo_server.py) and a bare FastAPI
  echo under uvicorn (bench/fastapi_echo.py), with requests of the size of a
  TOKEN complete.
* For each storage mode, `sqlite` (a temporary data directory) and
  `postgres+redis` (a scratch PostgreSQL database, AUTHCORE_REDIS_URL on a
  flushed Redis database), `authcore serve` with --workers N (default: one
  per core), driven by bench/load.py over gRPC and over REST:
  TOKEN complete (TOTP), PASSWORD complete (argon2id at the server default,
  Keycloak's cost), passkey AuthComplete and SCIM GetUser; over gRPC only,
  TOKEN challenge (RequestUserChallenge) and a whole TOTP login (challenge +
  complete, counted as logins/s). For each: RPS, p50, p99, server CPU, the
  server's peak RSS (all its processes) and the ratio to the matching echo
  (gRPC to the gRPC echo, REST to the FastAPI echo).
* Password storm: 200 PASSWORD completes kept in flight next to a paced
  TOTP load; TOTP p99 loaded vs alone.
* --workers 1 vs --workers N on gRPC throughput (TOKEN complete, SCIM get).

It prints issue 14's targets as PASS / MISS lines; nothing is asserted, and
the exit status is 0 whatever they say (a mode that fails to run is reported
and skipped).

    .venv/bin/python bench/run_scale_bench.py            # full, ~10-15 min on 2 cores
    .venv/bin/python bench/run_scale_bench.py --quick    # smoke run, ~2-3 min (make bench)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import grpc
import redis
from load import (
    ConstantScenario,
    LoadConfig,
    LoadResult,
    RoundRobinScenario,
    Scenario,
    cpu_seconds,
    describe,
    memory_kib,
    process_tree,
    run_load,
)
from passkey_scenario import PasskeyCompleteScenario, rest_form
from run_bench import (
    Authcore,
    Child,
    accepted_token_pool,
    enroll_totp,
    free_port,
    issue_challenge,
    launch_authcore,
    log,
    machine,
    pmap,
    start_echo,
)
from run_passkey_bench import prepare as prepare_passkeys
from run_scim_bench import scratch_postgres
from scenarios import (
    CHALLENGE_METHOD,
    PASSWORD,
    PasswordCompleteScenario,
    PlannedCall,
    TokenCompleteScenario,
    TotpLoginScenario,
    challenge_request,
    complete_body,
    complete_request,
)

from authcore.config import Settings
from authcore.scim.v2 import scim_pb2, scim_pb2_grpc
from authcore.v1 import (
    authentication_pb2,
    authentication_pb2_grpc,
    authenticators_pb2,
    management_pb2,
    management_pb2_grpc,
)
from authcore.verify.password import hash_password, verify_password

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results" / "scale" / "latest.json"
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/9"
ECHO_GRPC = "/bench.Echo/Echo"
ECHO_REST = "POST /echo"
SCIM_GET = "/authcore.scim.v2.ScimService/GetUser"
# A challenge token is 43 characters (32 random bytes, base64url).
TOKEN_CHARS = 43

# Row names; the targets and the storm find their rows by these.
TOTP_ROW = "TOKEN complete (TOTP)"
CHALLENGE_ROW = "TOKEN challenge"
LOGIN_ROW = "TOTP login (challenge + complete)"
PASSWORD_ROW = "PASSWORD complete"
PASSKEY_ROW = "passkey AuthComplete"
SCIM_ROW = "SCIM GetUser"

# Issue 14's targets: a row's RPS (logins/s for the login row) as a share of
# the matching echo's RPS of the same run, by mode.
RATIO_TARGETS: dict[tuple[str, str], dict[str, float]] = {
    (TOTP_ROW, "grpc"): {"sqlite": 0.40, "postgres+redis": 0.25},
    (TOTP_ROW, "rest"): {"sqlite": 0.30, "postgres+redis": 0.20},
    (CHALLENGE_ROW, "grpc"): {"sqlite": 0.50, "postgres+redis": 0.30},
    (LOGIN_ROW, "grpc"): {"sqlite": 0.20, "postgres+redis": 0.12},
    (PASSKEY_ROW, "grpc"): {"sqlite": 0.30, "postgres+redis": 0.20},
    (SCIM_ROW, "grpc"): {"sqlite": 0.50, "postgres+redis": 0.30},
}
TARGET_STORM_P99 = 3.0
TARGET_LOGINS_PER_CORE = 15.0
TARGET_RSS_MB = 150.0

Metadata = tuple[tuple[str, str], ...]


# -- storage modes --------------------------------------------------------------


@dataclass(frozen=True)
class Mode:
    name: str  # "sqlite" or "postgres+redis"
    postgres: str | None = None  # base URL the scratch database is made on
    redis: str | None = None


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5)


@contextlib.contextmanager
def backing_store(mode: Mode, workdir: Path, tag: str) -> Iterator[dict[str, str]]:
    """The env of one server start: a new SQLite data directory, or a scratch
    PostgreSQL database (dropped afterwards) and a flushed Redis database.
    The data directory also holds the master key in both modes."""
    data_dir = workdir / f"data-{tag}"
    env = {"AUTHCORE_DATA_DIR": str(data_dir)}
    if mode.postgres is None:
        yield env
        return
    assert mode.redis is not None
    with scratch_postgres(mode.postgres, prefix="authcore_scale_bench") as url:
        client = redis_client(mode.redis)
        try:
            client.flushdb()
        finally:
            client.close()
        yield env | {"AUTHCORE_DATABASE_URL": url, "AUTHCORE_REDIS_URL": mode.redis}


def postgres_connections(base_url: str) -> tuple[int, int]:
    """(max_connections, connections in use) of the PostgreSQL server."""
    import asyncpg  # type: ignore[import-untyped]

    async def query() -> tuple[int, int]:
        conn = await asyncpg.connect(base_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            limit = int(await conn.fetchval("SHOW max_connections"))
            used = int(await conn.fetchval("SELECT count(*) FROM pg_stat_activity"))
            return limit, used
        finally:
            await conn.close()

    return asyncio.run(query())


def redis_keys(mode: Mode) -> int | None:
    if mode.redis is None:
        return None
    client = redis_client(mode.redis)
    try:
        return int(client.dbsize())
    finally:
        client.close()


# -- the server -------------------------------------------------------------------


def serve_help() -> str:
    out = subprocess.run([sys.executable, "-m", "authcore.cli", "serve", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    return out.stdout + out.stderr


@dataclass
class Server:
    authcore: Authcore
    workers: int
    pids: list[int] = field(default_factory=list)

    @property
    def child(self) -> Child:
        return self.authcore.child

    def refresh(self) -> list[int]:
        self.pids = process_tree(self.child.popen.pid)
        return self.pids

    def stop(self, logs: Path | None) -> None:
        """Stop it and keep its output (stdout + stderr) in `logs`/<name>.log."""
        self.child.stop()
        if logs is not None:
            logs.mkdir(parents=True, exist_ok=True)
            out = self.child.stdout() + "\n--- stderr ---\n" + self.child.stderr_tail(10**6)
            (logs / f"{self.child.name}.log").write_text(out)

    def memory(self) -> dict[str, Any]:
        """VmHWM (peak RSS) of each process of the server now, in MB."""
        hwm = {p: (memory_kib(p, "VmHWM") or 0) / 1024 for p in self.refresh()}
        rss = {p: (memory_kib(p) or 0) / 1024 for p in self.pids}
        return {"processes": len(hwm), "hwm_mb": {str(p): round(v, 1) for p, v in hwm.items()},
                "hwm_sum_mb": round(sum(hwm.values()), 1),
                "hwm_max_mb": round(max(hwm.values(), default=0.0), 1),
                "rss_sum_mb": round(sum(rss.values()), 1)}


def start_server(workdir: Path, admin_key: str, env: dict[str, str], workers: int,
                 workers_flag: bool, tag: str) -> Server:
    args = ["--workers", str(workers)] if workers_flag else []
    authcore = launch_authcore(workdir, admin_key, None, name=f"authcore-{tag}",
                               data_dir=Path(env["AUTHCORE_DATA_DIR"]), env=env, args=args,
                               workers=workers)
    server = Server(authcore=authcore, workers=workers)
    # Workers may come up after the first one prints "listening": wait until
    # the process tree stops growing (at most 20 s).
    deadline = time.monotonic() + 20.0
    seen, stable_since = 0, time.monotonic()
    while time.monotonic() < deadline:
        n = len(server.refresh())
        if n != seen:
            seen, stable_since = n, time.monotonic()
        elif time.monotonic() - stable_since > 1.5 and (not workers_flag or n >= workers):
            break
        time.sleep(0.25)
    return server


# -- setup over gRPC (not measured) --------------------------------------------------


@dataclass
class Pools:
    app_id: str
    drift: int
    scim_ids: list[str]
    passwords: tuple[str, ...]
    user_names: list[str]
    totp: dict[str, TokenCompleteScenario] = field(default_factory=dict)  # by transport
    password: dict[str, PasswordCompleteScenario] = field(default_factory=dict)
    passkey: dict[str, PasskeyCompleteScenario] = field(default_factory=dict)
    challenge: RoundRobinScenario | None = None  # TOKEN challenge, gRPC
    login: TotpLoginScenario | None = None  # whole TOTP logins, gRPC
    stats: dict[str, Any] = field(default_factory=dict)


class RoundRobin:
    """Stubs of one service on several channels (TCP connections), used in
    turn, so the setup calls are spread over all the server's workers."""

    def __init__(self, stubs: Sequence[Any]) -> None:
        self._stubs = list(stubs)
        self._next = itertools.count()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stubs[next(self._next) % len(self._stubs)], name)


@contextlib.asynccontextmanager
async def setup_stubs(target: str, channels: int) -> AsyncIterator[tuple[Any, Any, Any]]:
    """(management, authentication, SCIM) stubs over `channels` channels."""
    opened = [grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
              for _ in range(max(1, channels))]
    try:
        for channel in opened:
            await asyncio.wait_for(channel.channel_ready(), 30.0)
        yield (RoundRobin([management_pb2_grpc.ManagementServiceStub(c) for c in opened]),
               RoundRobin([authentication_pb2_grpc.AuthenticationServiceStub(c)
                           for c in opened]),
               RoundRobin([scim_pb2_grpc.ScimServiceStub(c) for c in opened]))
    finally:
        for channel in opened:
            await channel.close()


def admin_md(admin_key: str) -> Metadata:
    return (("authorization", f"Bearer {admin_key}"),)


async def create_application(mgmt: management_pb2_grpc.ManagementServiceStub,
                             admin: Metadata) -> tuple[str, int]:
    created = await mgmt.CreateApplication(management_pb2.CreateApplicationRequest(
        name="scale-bench",
        token_lifetimes=management_pb2.TokenLifetimes(challenge_seconds=86400),
    ), metadata=admin, timeout=30)
    return created.application_id, created.application.factor_settings.totp_drift_steps


async def create_scim_users(scim: scim_pb2_grpc.ScimServiceStub, admin: Metadata, count: int,
                            concurrency: int) -> tuple[list[str], list[str], tuple[str, ...]]:
    """SCIM users with a name, an email, a phone and a password (write-only,
    stored as an argon2id hash). Returns (SCIM ids, userNames, passwords)."""
    names = [f"scale-user-{i}@example.com" for i in range(count)]
    passwords = tuple(f"pw-{secrets.token_urlsafe(12)}" for _ in range(count))

    async def create(i: int) -> str:
        user = await scim.CreateUser(scim_pb2.CreateUserRequest(user=scim_pb2.User(
            user_name=names[i], display_name=f"Scale User {i}",
            name=scim_pb2.Name(given_name="Scale", family_name=f"User {i}"),
            emails=[scim_pb2.MultiValue(value=names[i], type="work", primary=True)],
            phone_numbers=[scim_pb2.MultiValue(value=f"+1555{i:07d}", type="mobile")],
            active=True, password=passwords[i])), metadata=admin, timeout=60)
        return str(user.id)

    ids = await pmap(create, list(range(count)), concurrency)
    return ids, names, passwords


async def probe_complete(authn: Any, token: str) -> None:
    """A TOKEN complete with a code that is almost surely wrong; any outcome."""
    request = authentication_pb2.AuthenticateUserChallengeRequest(
        authenticator=authenticators_pb2.AUTHENTICATOR_TYPE_TOKEN, response="000000")
    with contextlib.suppress(grpc.aio.AioRpcError):
        await authn.AuthenticateUserChallenge(request, metadata=(("authorization", token),),
                                              timeout=60)


async def password_pool(authn: authentication_pb2_grpc.AuthenticationServiceStub, app_id: str,
                        user_names: Sequence[str], passwords: tuple[str, ...], need: int,
                        concurrency: int, name: str, rest: bool) -> PasswordCompleteScenario:
    users = [i % len(user_names) for i in range(need)]
    tokens = await pmap(lambda u: issue_challenge(authn, app_id, user_names[u], PASSWORD),
                        users, concurrency)
    plan = tuple(PlannedCall(user=u, challenge=t) for u, t in zip(users, tokens, strict=True))
    return PasswordCompleteScenario(name=name, passwords=passwords, plan=plan, rest=rest)


def split_passkeys(pool: PasskeyCompleteScenario) -> dict[str, PasskeyCompleteScenario]:
    """First half of the pool for gRPC, second half (later sign counts) for
    REST, which must run after it."""
    half = len(pool.plan) // 2
    grpc_part = replace(pool, name=PASSKEY_ROW, plan=pool.plan[:half])
    rest_part = rest_form(replace(pool, plan=pool.plan[half:]), PASSKEY_ROW)
    return {"grpc": grpc_part, "rest": rest_part}


def argon2_verify_seconds(samples: int = 5) -> float:
    """Time of one argon2id verify at the server's default cost, in this process."""
    params = Settings().argon2
    encoded = hash_password(password="bench-password", params=params)
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        verify_password(password="bench-password", encoded_hash=encoded, params=params)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


async def prepare(server: Server, admin_key: str, args: argparse.Namespace,
                  *, full: bool, argon2_s: float) -> Pools:
    """Everything the measured runs use up: challenge pools for both
    transports, SCIM users with passwords, passkeys with signed assertions.
    With full=False only the TOTP gRPC pool and the SCIM users."""
    started = time.perf_counter()
    admin = admin_md(admin_key)
    conc = args.setup_concurrency
    run_s = args.warmup + args.duration
    async with setup_stubs(server.authcore.grpc_target, args.channels) as (mgmt, authn, scim):
        app_id, drift = await create_application(mgmt, admin)

        # Probe: how fast challenges are issued and completed (a wrong code
        # costs about what a right one does) sizes the pools, one call each.
        probe_users = [f"probe-{i}" for i in range(16)]
        await pmap(lambda u: enroll_totp(mgmt, admin, u), probe_users, conc)
        t0 = time.perf_counter()
        tokens = await pmap(lambda j: issue_challenge(authn, app_id, probe_users[j % 16]),
                            list(range(200)), conc)
        issue_rate = 200 / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        await pmap(lambda t: probe_complete(authn, t), tokens, conc)
        complete_rate = 200 / (time.perf_counter() - t0)
        rate = max(issue_rate, complete_rate)
        need = max(200, min(args.max_calls, math.ceil(rate * run_s * args.headroom)))
        log(f"  challenges: issued ~{issue_rate:,.0f}/s, completed ~{complete_rate:,.0f}/s "
            f"-> {need:,} calls per pool")

        ids, names, passwords = await create_scim_users(scim, admin, args.scim_users, conc)
        pools = Pools(app_id=app_id, drift=drift, scim_ids=ids, passwords=passwords,
                      user_names=names)
        min_users = 4 * args.concurrency * args.procs
        for transport in ("grpc", "rest") if full else ("grpc",):
            pools.totp[transport] = await accepted_token_pool(
                mgmt, authn, admin, app_id, drift=drift, need=need, min_users=min_users,
                concurrency=conc, prefix=f"totp-{transport}-", name=TOTP_ROW,
                rest=transport == "rest")
        if full:
            # Challenge requests use nothing up (a challenge is only spent by
            # its complete), so the TOTP complete users serve, in turn.
            pools.challenge = RoundRobinScenario(
                name=CHALLENGE_ROW, method=CHALLENGE_METHOD,
                payloads=tuple(challenge_request(app_id, u)
                               for u in pools.totp["grpc"].user_ids))
            # Logins need users of their own: each login spends a TOTP step
            # of its user, and the scenario must know every step already
            # used (see TotpLoginScenario). A login is a challenge and a
            # complete, so it goes at about the rate of the two in series.
            login_rate = 1 / (1 / issue_rate + 1 / complete_rate)
            logins = max(200, math.ceil(login_rate * run_s * args.headroom))
            # drift + 1 logins per user at once, plus one user per login in
            # flight, so a busy user never leaves a slot without one. A user
            # is cheap (no challenges issued beforehand), so --max-calls caps
            # users here, not logins.
            n_login = (min(args.max_calls, math.ceil(logins / (drift + 1)))
                       + args.concurrency * args.procs)
            logins = min(logins, (n_login - args.concurrency * args.procs) * (drift + 1))
            login_ids = [f"login-{i}" for i in range(n_login)]
            log(f"  enrolling {n_login:,} users for {LOGIN_ROW} (~{logins:,} logins) ...")
            login_secrets = await pmap(lambda u: enroll_totp(mgmt, admin, u), login_ids, conc)
            pools.login = TotpLoginScenario(name=LOGIN_ROW, application_id=app_id,
                                            user_ids=tuple(login_ids),
                                            secrets=tuple(login_secrets), drift_steps=drift)
            # argon2 bounds PASSWORD: at most one verify per core at a time.
            cores = os.cpu_count() or 1
            pw_need = math.ceil(cores / argon2_s * run_s * args.headroom) + args.concurrency
            log(f"  issuing {2 * pw_need:,} PASSWORD challenges ...")
            for transport in ("grpc", "rest"):
                pools.password[transport] = await password_pool(
                    authn, app_id, names, passwords, pw_need, conc, PASSWORD_ROW,
                    rest=transport == "rest")
    if full:
        log("  passkeys: registering users and signing assertions ...")
        # 8 users per call in flight (4 in a quick run): even a call stalled
        # for a while is back before its user's next assertion (a sign-count
        # CAS) is sent.
        # The pool is sized like the TOTP pools (not from the AuthInit rate),
        # once per transport.
        pk_args = argparse.Namespace(
            users=(4 if args.quick else 8) * args.concurrency * args.procs,
            concurrency=args.concurrency, procs=args.procs, setup_concurrency=conc,
            warmup=args.warmup, duration=args.duration, headroom=1000.0, max_calls=2 * need,
            calls_per_user=16)
        prepared = await prepare_passkeys(server.authcore.grpc_target, admin_key, pk_args)
        pools.passkey = split_passkeys(prepared.scenario)
        pools.stats["passkey"] = prepared.stats
    pools.stats.update({"setup_seconds": round(time.perf_counter() - started, 1),
                        "challenge_issue_rate": round(issue_rate, 1),
                        "challenge_complete_rate": round(complete_rate, 1),
                        "totp_drift_steps": drift,
                        "pools": {
                            **{f"totp/{t}": len(s.plan) for t, s in pools.totp.items()},
                            **{f"password/{t}": len(s.plan) for t, s in pools.password.items()},
                            **{f"passkey/{t}": len(s.plan) for t, s in pools.passkey.items()}},
                        "challenge_users": 0 if pools.challenge is None
                        else len(pools.challenge.payloads),
                        "login_users": 0 if pools.login is None else len(pools.login.user_ids)})
    return pools


async def storm_pools(server: Server, admin_key: str, pools: Pools, args: argparse.Namespace,
                      totp_rate: float, argon2_s: float, logins: Sequence[int]
                      ) -> tuple[list[TokenCompleteScenario], list[PasswordCompleteScenario]]:
    """A paced-TOTP pool for the run alone and one per storm, and a PASSWORD
    pool per storm (`logins` in flight)."""
    admin = admin_md(admin_key)
    conc = args.setup_concurrency
    run_s = args.storm_warmup + args.storm_duration
    need = math.ceil(totp_rate * run_s * 1.3) + 20
    cores = os.cpu_count() or 1
    async with setup_stubs(server.authcore.grpc_target, args.channels) as (mgmt, authn, _):
        totp: list[TokenCompleteScenario] = []
        for label in ["alone", *(f"{n} logins" for n in logins)]:
            totp.append(await accepted_token_pool(
                mgmt, authn, admin, pools.app_id, drift=pools.drift, need=need,
                min_users=args.storm_concurrency, concurrency=conc,
                prefix=f"storm-{label.replace(' ', '-')}-",
                name=f"TOTP paced ({label})"))
        passwords: list[PasswordCompleteScenario] = []
        for n in logins:
            pw_need = math.ceil(cores / argon2_s * run_s * 1.5) + n
            log(f"  issuing {pw_need:,} PASSWORD challenges for {n} in flight ...")
            passwords.append(await password_pool(
                authn, pools.app_id, pools.user_names, pools.passwords, pw_need, conc,
                f"PASSWORD x{n} in flight", rest=False))
    return totp, passwords


def run_storm(server: Server, admin_key: str, pools: Pools, args: argparse.Namespace,
              totp_rate: float, argon2_s: float) -> dict[str, Any]:
    """TOTP paced alone, then with `--storm-logins` PASSWORD completes kept in
    flight (closed loop), then (control) with only `--storm-control` in
    flight: enough to keep every hashing thread busy, so the CPU taken by
    argon2 is the same and only the number of waiting logins differs."""
    logins = [args.storm_logins] + ([args.storm_control] if args.storm_control else [])
    log(f"  storm setup: TOTP paced at {totp_rate:.0f}/s; PASSWORD in flight: "
        f"{', '.join(map(str, logins))} ...")
    totp, passwords = asyncio.run(storm_pools(server, admin_key, pools, args, totp_rate,
                                              argon2_s, logins))
    target = server.authcore.grpc_target
    paced = {"rate": totp_rate, "concurrency": args.storm_concurrency, "procs": 1,
             "warmup": args.storm_warmup, "duration": args.storm_duration,
             "call_timeout": 60.0}
    out: dict[str, Any] = {"totp_rate": totp_rate,
                           "alone": measure(totp[0], load_config(args, target, "grpc", **paced),
                                            server.refresh())}
    for n, t, pw in zip(logins, totp[1:], passwords, strict=True):
        log(f"  load: {t.name} + {pw.name} together ...")
        loaded, pw_result = measure_together(
            (t, load_config(args, target, "grpc", **paced)),
            (pw, load_config(args, target, "grpc", procs=1, concurrency=n,
                             warmup=args.storm_warmup, duration=args.storm_duration,
                             call_timeout=120.0)),
            server.refresh())
        out[f"loaded_{n}"] = loaded
        out[f"password_{n}"] = pw_result
    out["loaded"], out["password"] = out[f"loaded_{logins[0]}"], out[f"password_{logins[0]}"]
    return out


# -- measuring ------------------------------------------------------------------------


@dataclass
class Row:
    mode: str
    scenario: str
    transport: str
    result: LoadResult
    baseline: LoadResult | None
    workers: int

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline.rps:
            return None
        return self.result.rps / self.baseline.rps

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "scenario": self.scenario, "transport": self.transport,
                "workers": self.workers, **self.result.as_dict(),
                "ratio_to_echo": None if self.ratio is None else round(self.ratio, 4)}


def load_config(args: argparse.Namespace, target: str, transport: str, **kw: Any) -> LoadConfig:
    base = {"target": target, "procs": args.procs, "concurrency": args.concurrency,
            "duration": args.duration, "warmup": args.warmup,
            "transport": "http" if transport == "rest" else "grpc",
            "channels": args.channels}
    return LoadConfig(**(base | kw))


def measure(scenario: Scenario, cfg: LoadConfig, server_pids: Sequence[int]) -> LoadResult:
    log(f"  load: {scenario.name} [{cfg.transport}] ...")
    t0 = time.perf_counter()
    before = {p: cpu_seconds(p) for p in server_pids}
    result = run_load(scenario, cfg, list(server_pids))
    used = {p: (cpu_seconds(p) or 0.0) - (c or 0.0) for p, c in before.items()}
    log(f"    {describe(result)} ({time.perf_counter() - t0:.1f}s)")
    if len(used) > 1:
        # How the load spread over the workers (SO_REUSEPORT spreads connections).
        total = sum(used.values()) or 1e-9
        log("    CPU by server process: " + ", ".join(
            f"{p} {v / total:.0%}" for p, v in sorted(used.items(), key=lambda kv: -kv[1])))
    if result.unexpected:
        log(f"    WARNING: {result.unexpected} calls ended with an unexpected status "
            f"(expected {', '.join(result.expected)})")
    if result.exhausted:
        log("    WARNING: the pool ran out before the end of the window; raise --headroom")
    return result


def measure_together(a: tuple[Scenario, LoadConfig], b: tuple[Scenario, LoadConfig],
                     server_pids: Sequence[int]) -> tuple[LoadResult, LoadResult]:
    """Two loads at once (each its own worker processes), started together."""
    out: dict[int, LoadResult] = {}
    errors: list[BaseException] = []

    def run(i: int, scenario: Scenario, cfg: LoadConfig) -> None:
        try:
            out[i] = run_load(scenario, cfg, list(server_pids))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, *job)) for i, job in enumerate((a, b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    for r in out.values():
        log("    " + describe(r))
    return out[0], out[1]


def echo_baselines(workdir: Path, args: argparse.Namespace) -> dict[str, LoadResult]:
    """The gRPC and REST echo servers with requests of a TOKEN complete's size."""
    results: dict[str, LoadResult] = {}
    log("baseline: bare grpc.aio echo (bench/echo_server.py) ...")
    echo, target = start_echo(workdir, None)
    try:
        scenario = ConstantScenario(
            name="bare grpc.aio echo", method=ECHO_GRPC,
            payload=secrets.token_bytes(len(complete_request("123456"))),
            metadata=(("authorization", "e" * TOKEN_CHARS),))
        results["grpc"] = measure(scenario, load_config(args, target, "grpc"),
                                  [echo.popen.pid])
    finally:
        echo.stop()
    log("baseline: bare FastAPI echo (bench/fastapi_echo.py) ...")
    port = free_port()
    fastapi = Child("fastapi-echo", [sys.executable, str(BENCH_DIR / "fastapi_echo.py"),
                                     "--port", str(port)], dict(os.environ), workdir, None)
    try:
        fastapi.wait_for(["fastapi echo listening"], timeout=30.0)
        scenario = ConstantScenario(
            name="bare FastAPI echo", method=ECHO_REST, payload=complete_body("123456"),
            metadata=(("authorization", "e" * TOKEN_CHARS),), expected=("200",))
        results["rest"] = measure(scenario, load_config(args, f"127.0.0.1:{port}", "rest"),
                                  [fastapi.popen.pid])
    finally:
        fastapi.stop()
    return results


def scim_get(pools: Pools, admin_key: str, transport: str) -> ConstantScenario:
    user_id = pools.scim_ids[0]
    auth = (("authorization", f"Bearer {admin_key}"),)
    if transport == "rest":
        return ConstantScenario(name=SCIM_ROW, method=f"GET /scim/v2/Users/{user_id}",
                                payload=b"", metadata=auth, expected=("200",))
    return ConstantScenario(name=SCIM_ROW, method=SCIM_GET,
                            payload=scim_pb2.GetUserRequest(id=user_id).SerializeToString(),
                            metadata=auth)


@dataclass
class ModeReport:
    mode: Mode
    workers: int
    rows: list[Row] = field(default_factory=list)
    storm: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    single_worker: dict[str, LoadResult] = field(default_factory=dict)
    single_worker_memory: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)
    redis_keys: int | None = None
    postgres_connections: dict[str, int] = field(default_factory=dict)
    setup: dict[str, Any] = field(default_factory=dict)
    processes: int = 0
    seconds: float = 0.0


def run_mode(mode: Mode, workdir: Path, args: argparse.Namespace,
             baselines: dict[str, LoadResult], workers_flag: bool,
             argon2_s: float) -> ModeReport:
    started = time.perf_counter()
    report = ModeReport(mode=mode, workers=args.workers)
    admin_key = "bench-" + secrets.token_urlsafe(24)
    tag = mode.name.replace("+", "-")
    if mode.postgres:
        limit, used = postgres_connections(mode.postgres)
        # authcore's pool: 10 + 20 overflow connections per worker process.
        want = 30 * args.workers
        report.postgres_connections = {"max": limit, "in_use_before": used}
        log(f"[{mode.name}] PostgreSQL: {used} of {limit} connections in use; authcore may "
            f"open up to {want}")
        if limit - used < want:
            log("WARNING: other clients hold so many PostgreSQL connections that authcore may "
                "get 'too many clients' under load")
    with backing_store(mode, workdir, tag) as env:
        log(f"[{mode.name}] authcore serve, {args.workers} worker(s) ...")
        server = start_server(workdir, admin_key, env, args.workers, workers_flag, tag)
        try:
            pids = server.pids
            report.processes = len(pids)
            log(f"  listening on {server.authcore.grpc_target} (gRPC) and "
                f"{server.authcore.http_target} (REST); {len(pids)} process(es); setup ...")
            full = not args.storm_only
            pools = asyncio.run(prepare(server, admin_key, args, full=full, argon2_s=argon2_s))
            report.setup = pools.stats
            log(f"  setup done in {pools.stats['setup_seconds']}s")
            targets = {"grpc": server.authcore.grpc_target, "rest": server.authcore.http_target}
            # In this order per row: gRPC first (the passkey pool's REST half
            # has the later sign counts). The challenge and login rows are
            # gRPC only (load.py's flows are gRPC only).
            scenarios: list[tuple[str, dict[str, Scenario]]] = [
                (TOTP_ROW, dict(pools.totp)),
                (CHALLENGE_ROW, {"grpc": pools.challenge} if pools.challenge else {}),
                (LOGIN_ROW, {"grpc": pools.login} if pools.login else {}),
                (PASSWORD_ROW, dict(pools.password)),
                (PASSKEY_ROW, dict(pools.passkey)),
                (SCIM_ROW, {t: scim_get(pools, admin_key, t) for t in ("grpc", "rest")}),
            ]
            for name, by_transport in scenarios if full else []:
                for transport, scenario in by_transport.items():
                    result = measure(scenario, load_config(args, targets[transport], transport),
                                     server.refresh())
                    report.rows.append(Row(mode.name, name, transport, result,
                                           baselines.get(transport), args.workers))

            # Password storm.
            if args.storm_only:
                rate = args.storm_only
            else:
                totp_rps = next(r.result.rps for r in report.rows
                                if r.scenario == TOTP_ROW and r.transport == "grpc")
                rate = max(10.0, min(args.storm_rate_max, args.storm_rate_share * totp_rps))
            report.storm = run_storm(server, admin_key, pools, args, rate, argon2_s)
            report.memory = server.memory()
            report.redis_keys = redis_keys(mode)
        finally:
            server.stop(args.output.parent)
    if args.compare_workers and workers_flag and args.workers > 1:
        report.single_worker, report.single_worker_memory = single_worker_run(
            mode, workdir, args, workers_flag, argon2_s, tag)
    if args.profile is not None:
        report.profile = profile_run(mode, workdir, args, argon2_s)
    report.seconds = time.perf_counter() - started
    return report


def single_worker_run(mode: Mode, workdir: Path, args: argparse.Namespace, workers_flag: bool,
                      argon2_s: float, tag: str) -> tuple[dict[str, LoadResult], dict[str, Any]]:
    """--workers 1 on a fresh store: TOKEN complete and SCIM GetUser over gRPC."""
    admin_key = "bench-" + secrets.token_urlsafe(24)
    with backing_store(mode, workdir, tag + "-w1") as env:
        log(f"[{mode.name}] authcore serve --workers 1 ...")
        server = start_server(workdir, admin_key, env, 1, workers_flag, tag + "-w1")
        try:
            pools = asyncio.run(prepare(server, admin_key, args, full=False, argon2_s=argon2_s))
            target = server.authcore.grpc_target
            out = {
                TOTP_ROW: measure(pools.totp["grpc"], load_config(args, target, "grpc"),
                                  server.refresh()),
                SCIM_ROW: measure(scim_get(pools, admin_key, "grpc"),
                                  load_config(args, target, "grpc"), server.refresh()),
            }
            return out, server.memory()
        finally:
            server.stop(args.output.parent)


def profile_group(filename: str, func: str) -> str:
    """Which library (or kind of built-in) a profiled function belongs to."""
    if filename == "~":
        if "_socket.socket" in func:
            return "socket send/recv"
        if "epoll" in func:
            return "idle (epoll wait)"
        if "greenlet" in func:
            return "greenlet switch"
        return "other built-ins"
    path = filename.replace("\\", "/")
    if "/site-packages/" in path:
        parts = path.split("/site-packages/", 1)[1].split("/")
        top = parts[0].removesuffix(".py")
        return f"{top}/{parts[1]}" if top == "google" and len(parts) > 1 else top
    for marker, name in (("/src/authcore/", "authcore"), ("/src/rest_bridge/", "rest_bridge"),
                         ("/generated/", "generated protos"), ("/asyncio/", "asyncio")):
        if marker in path:
            return name
    return "stdlib (other)"


def profile_summary(path: Path, calls: int) -> list[tuple[str, float, float, float]]:
    """(group, seconds, share of busy time, ms per call) by own time, busiest first."""
    import pstats

    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    groups: dict[str, float] = {}
    for (filename, _, func), (_, _, own, _, _) in stats.items():
        key = profile_group(filename, func)
        groups[key] = groups.get(key, 0.0) + own
    idle = groups.pop("idle (epoll wait)", 0.0)
    busy = sum(groups.values()) or 1e-9
    rows = sorted(groups.items(), key=lambda kv: -kv[1])
    out = [(k, v, v / busy, 1000 * v / max(calls, 1)) for k, v in rows]
    out.append(("idle (epoll wait)", idle, 0.0, 0.0))
    return out


def profile_run(mode: Mode, workdir: Path, args: argparse.Namespace,
                argon2_s: float) -> dict[str, Any]:
    """One process (--workers 1) under cProfile: only the TOTP gRPC load is
    profiled (SIGUSR1 / SIGUSR2 around it, see run_bench.PROFILE_BOOT)."""
    admin_key = "bench-" + secrets.token_urlsafe(24)
    tag = mode.name.replace("+", "-") + "-prof"
    out_file = args.profile.resolve() / f"{tag}.prof"
    out_file.parent.mkdir(parents=True, exist_ok=True)
    with backing_store(mode, workdir, tag) as env:
        log(f"[{mode.name}] profile: authcore serve --workers 1 under cProfile ...")
        authcore = launch_authcore(workdir, admin_key, None, out_file, name=f"authcore-{tag}",
                                   data_dir=Path(env["AUTHCORE_DATA_DIR"]), env=env,
                                   workers=1)
        server = Server(authcore=authcore, workers=1)
        try:
            pools = asyncio.run(prepare(server, admin_key, args, full=False, argon2_s=argon2_s))
            server.child.popen.send_signal(signal.SIGUSR1)
            result = measure(pools.totp["grpc"],
                             load_config(args, authcore.grpc_target, "grpc"), server.refresh())
            server.child.popen.send_signal(signal.SIGUSR2)
        finally:
            server.stop(args.output.parent)
    # Every call of the profiled span, warmup included (the window alone is shorter).
    summary = profile_summary(out_file, round(result.rps * (args.warmup + args.duration)))
    return {"file": str(out_file), "result": result, "summary": summary}


# -- report ---------------------------------------------------------------------------


def _num(value: float | None, fmt: str = ",.0f") -> str:
    return "?" if value is None else format(value, fmt)


def table(baselines: dict[str, LoadResult], reports: Sequence[ModeReport]) -> str:
    w = max([22, *(len(r.scenario) for r in baselines.values()),
             *(len(row.scenario) for rep in reports for row in rep.rows)])
    head = (f"{'mode':<15} {'scenario':<{w}} {'api':<4} {'RPS':>7} {'p50 ms':>8} "
            f"{'p99 ms':>8} {'vs echo':>7} {'srv CPU':>7} {'RSS MB':>6}  statuses")
    rows = [head, "-" * len(head)]
    for transport, r in baselines.items():
        rows.append(f"{'-':<15} {r.scenario:<{w}} {transport:<4} {r.rps:>7,.0f} "
                    f"{r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {'100%':>7} "
                    f"{_num(r.server_cpu_pct)+'%':>7} {_num(r.server_rss_mb):>6}  "
                    + ", ".join(f"{k}={v}" for k, v in r.codes.items()))
    for rep in reports:
        for row in rep.rows:
            r = row.result
            ratio = "?" if row.ratio is None else f"{row.ratio:.1%}"
            flag = " (pool ran out)" if r.exhausted else ""
            rows.append(f"{row.mode:<15} {row.scenario:<{w}} {row.transport:<4} "
                        f"{r.rps:>7,.0f} "
                        f"{r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {ratio:>7} "
                        f"{_num(r.server_cpu_pct)+'%':>7} {_num(r.server_rss_mb):>6}  "
                        + ", ".join(f"{k}={v}" for k, v in r.codes.items()) + flag)
    return "\n".join(rows)


@dataclass
class Target:
    name: str
    met: bool | None  # None: not measured
    detail: str

    def line(self) -> str:
        verdict = {True: "PASS", False: "MISS", None: "NOT RUN"}[self.met]
        return f"{verdict:<7} {self.name}: {self.detail}"


def storm_target(rep: ModeReport, m: str) -> Target:
    alone, loaded = rep.storm["alone"], rep.storm["loaded"]
    x = loaded.p99_ms / alone.p99_ms if alone.p99_ms and loaded.calls else math.inf
    return Target(f"[{m}] password storm: TOTP p99 < {TARGET_STORM_P99:g}x unloaded",
                  x < TARGET_STORM_P99 and not loaded.unexpected,
                  f"{x:.2f}x (p99 {loaded.p99_ms:.1f} ms vs {alone.p99_ms:.1f} ms at "
                  f"{rep.storm['totp_rate']:.0f}/s; storm "
                  f"{rep.storm['password'].rps:.1f} logins/s)")


def ratio_target(rep: ModeReport, scenario: str, transport: str, share: float) -> Target:
    """One row's RPS against its echo; a row with unexpected statuses is a MISS
    whatever its rate (errors can be fast)."""
    m = rep.mode.name
    api = "gRPC" if transport == "grpc" else "REST"
    echo = "gRPC echo" if transport == "grpc" else "FastAPI echo"
    unit = "logins/s vs echo calls/s" if scenario == LOGIN_ROW else "RPS"
    name = f"[{m}] {scenario}, {api} >= {share:.0%} of the {echo}"
    row = next((r for r in rep.rows if r.scenario == scenario and r.transport == transport),
               None)
    if row is None or row.ratio is None or row.baseline is None:
        return Target(name, None, "not measured in this run")
    if not row.result.calls:
        return Target(name, None, "no call ended inside the measured window"
                      + (" (the pool ran out in the warmup: raise --max-calls or --headroom)"
                         if row.result.exhausted else ""))
    bad = row.result.unexpected
    detail = (f"{row.ratio:.1%} ({row.result.rps:,.0f} vs {row.baseline.rps:,.0f} {unit})"
              + (f"; {bad} unexpected statuses" if bad else "")
              + ("; pool ran out" if row.result.exhausted else ""))
    return Target(name, row.ratio >= share and not bad, detail)


def targets(baselines: dict[str, LoadResult], reports: Sequence[ModeReport],
            workers_flag: bool, args: argparse.Namespace) -> list[Target]:
    out: list[Target] = []
    cores = os.cpu_count() or 1
    for rep in reports:
        m = rep.mode.name
        if args.storm_only:
            out.append(storm_target(rep, m))
            continue
        for (scenario, transport), by_mode in RATIO_TARGETS.items():
            out.append(ratio_target(rep, scenario, transport, by_mode[m]))
        # The best PASSWORD rate measured: gRPC or REST with --concurrency in
        # flight, or the storm's control run (few in flight, TOTP beside it).
        runs = {f"{r.transport}, {r.result.concurrency} in flight": r.result.rps
                for r in rep.rows if r.scenario == PASSWORD_ROW}
        runs |= {f"storm control, {k.split('_')[1]} in flight": v.rps
                 for k, v in rep.storm.items()
                 if k.startswith("password_") and k != f"password_{args.storm_logins}"}
        best = max(runs, key=lambda k: runs[k])
        per_core = runs[best] / cores
        out.append(Target(f"[{m}] >= {TARGET_LOGINS_PER_CORE:g} password logins/s per core",
                          per_core >= TARGET_LOGINS_PER_CORE,
                          f"{per_core:.1f}/s per core ({runs[best]:.1f}/s on {cores} cores; "
                          f"best run: {best})"))
        out.append(storm_target(rep, m))
        workers = max(1, rep.workers if workers_flag else 1)
        peak = max((r.result.server_rss_mb or 0.0 for r in rep.rows), default=0.0)
        pss = max((r.result.server_pss_mb or 0.0 for r in rep.rows), default=0.0)
        hwm_max = rep.memory.get("hwm_max_mb", 0.0)
        # The largest worker's own peak, or the whole server's memory (PSS:
        # the supervisor included, the shared libraries counted once) per
        # worker, whichever is larger. Summed RSS would count each shared
        # library page once per process.
        per_worker = max(hwm_max, pss / workers)
        out.append(Target(f"[{m}] RSS < {TARGET_RSS_MB:g} MB per worker under load",
                          per_worker < TARGET_RSS_MB,
                          f"{per_worker:.0f} MB (largest process VmHWM {hwm_max:.0f} MB; "
                          f"sampled peak PSS of all {rep.memory.get('processes', '?')} processes "
                          f"{pss:.0f} MB / {workers} worker(s); summed RSS {peak:.0f} MB)"))
        # Not one of issue 14's targets; kept from issue 6.
        totp = next((r.result.rps for r in rep.rows
                     if r.scenario == TOTP_ROW and r.transport == "grpc"), 0.0)
        if rep.single_worker:
            one = rep.single_worker[TOTP_ROW].rps
            scim_one = rep.single_worker[SCIM_ROW].rps
            scim_many = next((r.result.rps for r in rep.rows
                              if r.scenario == SCIM_ROW and r.transport == "grpc"), 0.0)
            out.append(Target(f"[{m}] --workers {rep.workers} beats --workers 1 on gRPC",
                              totp > one,
                              f"TOTP {totp:,.0f} vs {one:,.0f} RPS "
                              f"({totp / max(one, 1e-9):.2f}x); SCIM get {scim_many:,.0f} vs "
                              f"{scim_one:,.0f} RPS ({scim_many / max(scim_one, 1e-9):.2f}x)"))
        else:
            why = ("`authcore serve` has no --workers" if not workers_flag
                   else "--quick, --no-compare-workers or --workers 1")
            out.append(Target(f"[{m}] --workers {rep.workers} beats --workers 1 on gRPC",
                              None, why))
    return out


def machine_load(seconds: float = 1.0) -> float:
    """CPU use of the whole machine over `seconds`, in % of one core."""
    def busy() -> tuple[float, float]:
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)
    b0, t0 = busy()
    time.sleep(seconds)
    b1, t1 = busy()
    cores = os.cpu_count() or 1
    return 100.0 * cores * (b1 - b0) / max(t1 - t0, 1e-9)


def one_line(exc: BaseException) -> str:
    """An exception as one line (an AioRpcError's str spans several)."""
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"gRPC {exc.code().name}: {exc.details()}"
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 s windows, 16 in flight, small pools, "
                             "no --workers 1 run")
    parser.add_argument("--modes", default="sqlite,postgres+redis",
                        help="comma-separated: sqlite, postgres+redis")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES,
                        help="server the scratch database is created on (asyncpg URL)")
    parser.add_argument("--redis", default=DEFAULT_REDIS,
                        help="Redis URL with a database index for the bench alone: FLUSHDB'd")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="authcore serve --workers (default: one per core)")
    parser.add_argument("--no-compare-workers", dest="compare_workers", action="store_false",
                        help="skip the --workers 1 comparison run")
    parser.add_argument("--duration", type=float, default=None, help="measured s (5; quick 1)")
    parser.add_argument("--warmup", type=float, default=None, help="unmeasured s (1.5; quick 0.3)")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="in-flight calls per load process (32; quick 16)")
    parser.add_argument("--procs", type=int, default=1, help="load processes")
    parser.add_argument("--channels", type=int, default=16,
                        help="gRPC channels (TCP connections) per load process, so that "
                             "SO_REUSEPORT spreads them over the workers")
    parser.add_argument("--headroom", type=float, default=None,
                        help="pool = probed rate x run time x this (1.5; quick 1.3)")
    parser.add_argument("--max-calls", type=int, default=None,
                        help="cap per pool (12000; quick 2000)")
    parser.add_argument("--setup-concurrency", type=int, default=32)
    parser.add_argument("--scim-users", type=int, default=32,
                        help="SCIM users (with passwords) for PASSWORD and SCIM get")
    parser.add_argument("--storm-logins", type=int, default=200,
                        help="PASSWORD completes kept in flight in the storm")
    parser.add_argument("--storm-rate-share", type=float, default=0.25,
                        help="paced TOTP rate in the storm, as a share of TOTP gRPC RPS")
    parser.add_argument("--storm-rate-max", type=float, default=100.0)
    parser.add_argument("--storm-concurrency", type=int, default=64,
                        help="cap on paced TOTP calls in flight")
    parser.add_argument("--storm-only", type=float, default=0.0, metavar="RATE",
                        help="only the password storm, TOTP paced at RATE/s (no table, no "
                             "echo baselines, no --workers 1 run): for quick iterations")
    parser.add_argument("--storm-control", type=int, default=8,
                        help="control run: this many PASSWORD in flight (0: skip)")
    parser.add_argument("--storm-warmup", type=float, default=None,
                        help="unmeasured s of the storm (3; quick 0.5)")
    parser.add_argument("--storm-duration", type=float, default=None,
                        help="measured s of the storm (8; quick 1.5)")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="also run TOTP gRPC on one process under cProfile per mode "
                             "and write DIR/<mode>-prof.prof (not part of the ratios)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    quick = args.quick
    args.duration = args.duration or (1.0 if quick else 5.0)
    args.warmup = args.warmup if args.warmup is not None else (0.3 if quick else 1.5)
    args.concurrency = args.concurrency or (16 if quick else 32)
    # A quick pool must still outlast its 1.3 s: at 300 (the old cap) a
    # server doing ~1,000 completes/s used the pool up inside the warmup and
    # the row measured nothing. 2000 covers ~1,200/s for a few seconds more
    # setup per pool.
    args.max_calls = args.max_calls or (2000 if quick else 12000)
    args.headroom = args.headroom or (1.3 if quick else 1.5)
    args.storm_warmup = args.storm_warmup or (0.5 if quick else 3.0)
    args.storm_duration = args.storm_duration or (1.5 if quick else 8.0)
    if args.storm_only:
        args.compare_workers = False
    if quick:
        args.compare_workers = False
        args.storm_control = 0
        args.scim_users = min(args.scim_users, 8)

    modes = []
    for name in (m.strip() for m in args.modes.split(",") if m.strip()):
        if name == "sqlite":
            modes.append(Mode("sqlite"))
        elif name == "postgres+redis":
            modes.append(Mode("postgres+redis", postgres=args.postgres, redis=args.redis))
        else:
            raise SystemExit(f"unknown mode {name!r}")

    started = time.perf_counter()
    cores = os.cpu_count() or 1
    help_text = serve_help()
    workers_flag = "--workers" in help_text
    redis_backend = (REPO / "src" / "authcore" / "limits" / "redis.py").exists()
    others = machine_load()
    log(f"machine: {cores} CPUs; other processes use {others:.0f}% of a core right now; "
        f"serve --workers: {'yes' if workers_flag else 'NO (one process)'}; "
        f"limits/redis.py: {'yes' if redis_backend else 'NO'}")
    if others > 20:
        log("WARNING: the machine is busy; the figures will be noisy")
    argon2_s = argon2_verify_seconds()
    log(f"argon2id verify at the server default ({Settings().argon2}): "
        f"{argon2_s * 1000:.1f} ms in this process -> at most {1 / argon2_s:.1f}/s per core")

    workdir = Path(tempfile.mkdtemp(prefix="authcore-scale-bench-"))
    reports: list[ModeReport] = []
    failed: dict[str, str] = {}
    try:
        baselines = {} if args.storm_only else echo_baselines(workdir, args)
        for mode in modes:
            # One mode failing (no PostgreSQL here, a server that won't start)
            # must not cost the other mode's figures: report it and go on.
            try:
                reports.append(run_mode(mode, workdir, args, baselines, workers_flag,
                                        argon2_s))
            except Exception as exc:
                failed[mode.name] = one_line(exc)
                traceback.print_exc(file=sys.stderr)
                log(f"[{mode.name}] FAILED, skipped: {failed[mode.name]}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    log("")
    log(f"authcore scale bench | {cores} CPUs | --workers {args.workers} "
        f"({'supported' if workers_flag else 'not supported: 1 process'}) | "
        f"{args.procs} load process(es) x {args.concurrency} in flight, "
        f"{args.channels} gRPC channel(s) | {args.warmup:g}s warmup + {args.duration:g}s | "
        f"other load at start {others:.0f}% of a core")
    log(table(baselines, reports))
    log("vs echo: RPS / the matching echo's RPS (gRPC rows: grpc.aio echo; REST rows: "
        "FastAPI echo). RSS: sampled peak, all server processes summed.")
    log(f"{LOGIN_ROW}: RPS is logins/s, two dependent calls each (RequestUserChallenge, "
        "then the complete with its token); OK only if both are.")
    for rep in reports:
        log("")
        log(f"[{rep.mode.name}] {rep.processes} server process(es); VmHWM "
            f"{rep.memory.get('hwm_mb')} MB; redis keys after the run: "
            f"{'-' if rep.redis_keys is None else rep.redis_keys}; setup "
            f"{rep.setup.get('setup_seconds')}s; mode total {rep.seconds:.0f}s")
        storm = rep.storm
        alone = storm["alone"]
        log(f"  storm: TOTP paced {storm['totp_rate']:.0f}/s alone: p50 {alone.p50_ms:.1f} / "
            f"p99 {alone.p99_ms:.1f} ms ({', '.join(f'{k}={v}' for k, v in alone.codes.items())})")
        for n in [args.storm_logins] + ([args.storm_control] if args.storm_control else []):
            t, pw = storm[f"loaded_{n}"], storm[f"password_{n}"]
            log(f"    with {n:>3} PASSWORD in flight: TOTP p50 {t.p50_ms:.1f} / p99 "
                f"{t.p99_ms:.1f} ms ({t.p99_ms / alone.p99_ms:.1f}x), "
                f"{', '.join(f'{k}={v}' for k, v in t.codes.items())}; PASSWORD "
                f"{pw.rps:.1f}/s, p50 {pw.p50_ms:.0f} ms, p99 {pw.p99_ms:.0f} ms, srv CPU "
                f"{_num(pw.server_cpu_pct)}%, RSS {_num(pw.server_rss_mb)} MB")
        if rep.profile:
            r = rep.profile["result"]
            log(f"  profile ({rep.profile['file']}): TOTP gRPC, 1 process under cProfile: "
                f"{r.rps:,.0f} RPS; own time by library, ms per call:")
            for group, seconds, share, per_call in rep.profile["summary"][:14]:
                log(f"    {group:<24} {seconds:7.2f} s {share:6.1%} {per_call:7.3f} ms")
        for name, r in rep.single_worker.items():
            log(f"  --workers 1: {name} gRPC {r.rps:,.0f} RPS, p50 {r.p50_ms:.1f}, "
                f"p99 {r.p99_ms:.1f} ms, srv CPU {_num(r.server_cpu_pct)}%")
    log("")
    found = targets(baselines, reports, workers_flag, args)
    found += [Target(f"[{m}] every target", None, f"the mode failed: {why}")
              for m, why in failed.items()]
    for t in found:
        log(t.line())
    total = time.perf_counter() - started
    log(f"(total {total:.0f}s)")

    report = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine() | {"other_load_pct_at_start": round(others)},
        "workers_flag": workers_flag,
        "redis_backend_file": redis_backend,
        "argon2_verify_ms": round(argon2_s * 1000, 2),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "baselines": {k: v.as_dict() for k, v in baselines.items()},
        "modes": [{
            "mode": rep.mode.name, "workers": rep.workers, "processes": rep.processes,
            "setup": rep.setup, "memory": rep.memory, "redis_keys": rep.redis_keys,
            "postgres_connections": rep.postgres_connections,
            "rows": [row.as_dict() for row in rep.rows],
            "storm": {k: (v.as_dict() if isinstance(v, LoadResult) else v)
                      for k, v in rep.storm.items()},
            "single_worker": {k: v.as_dict() for k, v in rep.single_worker.items()},
            "single_worker_memory": rep.single_worker_memory,
            "profile": {"file": rep.profile["file"],
                        "result": rep.profile["result"].as_dict(),
                        "summary": rep.profile["summary"]} if rep.profile else {},
            "seconds": round(rep.seconds, 1),
        } for rep in reports],
        "targets": [{"name": t.name, "met": t.met, "detail": t.detail} for t in found],
        "failed_modes": failed,
        "total_seconds": round(total, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    log(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
