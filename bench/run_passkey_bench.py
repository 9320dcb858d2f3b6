"""Benchmark: passkey sign-in completion over gRPC vs raw py_webauthn verification.

In one run:

* Raw baseline, in this process, one thread: webauthn.verify_authentication_response
  (py_webauthn) in a loop over pre-generated ES256 assertions of one credential,
  for the same warmup + duration as the load, and the verifications per second.
* Full path: authcore (SQLite in a temporary data directory) as a subprocess.
  Users are registered with the software authenticator over Fido2Service
  RegInit/RegComplete, and for every planned call an AuthInit session is opened
  and answered with an assertion (setup, not measured). bench/load.py then
  replays the serialized AuthCompleteRequests
  (/authcore.v1.Fido2Service/AuthComplete, LoginID's /fido2/v2/auth/complete).

It prints the AuthComplete RPS, p50 and p99, the raw verification rate and the
ratio of the two. Target: the full gRPC path reaches at least 50% of the raw
verification rate on one core.

    .venv/bin/python bench/run_passkey_bench.py [--duration 5] [--concurrency 32] [--procs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import math
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
from google.protobuf import json_format
from load import LoadConfig, LoadResult, describe, percentile, run_load
from passkey_scenario import (
    METHOD,
    PasskeyCompleteScenario,
    PlannedAssertion,
    auth_complete_request,
)
from run_bench import Child, log, machine, pmap, start_authcore
from webauthn import verify_authentication_response

from authcore.v1 import fido2_pb2, fido2_pb2_grpc, management_pb2, management_pb2_grpc

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# `latest.json` is git-ignored wherever it is.
RESULTS = BENCH_DIR / "results" / "passkey" / "latest.json"
TARGET_RATIO = 0.5
RP_ID = "localhost"
ORIGIN = "http://localhost"
# Sessions live timeout_ms + 60 s; the maximum keeps the pool valid however
# long the setup takes.
TIMEOUT_MS = 600_000


def soft_webauthn() -> ModuleType:
    """tests/authcore_testkit/soft_webauthn.py: the software authenticator."""
    tests = str(REPO / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    return importlib.import_module("authcore_testkit.soft_webauthn")


# -- raw baseline: py_webauthn in process --------------------------------------


@dataclass(frozen=True)
class RawResult:
    name: str
    verifications: int
    seconds: float
    rate: float
    p50_ms: float
    p99_ms: float
    cpu_pct: float  # this process's CPU over the measured window, % of one core
    pool: int


def raw_assertions(count: int) -> tuple[bytes, list[tuple[bytes, dict[str, Any]]]]:
    """One ES256 credential (as the soft authenticator registers it with authcore)
    and `count` assertions, each for its own challenge, with rising sign counts."""
    sw = soft_webauthn()
    auth = sw.SoftAuthenticator()
    auth.create(options={"rp": {"id": RP_ID, "name": "bench"},
                         "user": {"id": sw.b64url(b"raw-bench-user"), "name": "raw"},
                         "challenge": sw.b64url(secrets.token_bytes(32))}, origin=ORIGIN)
    credential = auth.last_credential
    assert credential is not None
    out = []
    for _ in range(count):
        challenge = secrets.token_bytes(32)
        assertion = auth.get(options={"challenge": sw.b64url(challenge), "rpId": RP_ID},
                             origin=ORIGIN, credential_id=credential.credential_id)
        out.append((challenge, assertion))
    return credential.cose_public_key(), out


def raw_verify(duration: float, warmup: float, pool: int) -> RawResult:
    """verify_authentication_response in a closed loop on this thread, with the
    arguments authcore passes (origins as a list, UV not required since the
    default policy is "preferred", sign count 0: authcore checks it itself)."""
    public_key, assertions = raw_assertions(pool)
    # Every assertion verifies (and fails loudly if the setup is wrong).
    for challenge, assertion in assertions[:3]:
        verify_authentication_response(
            credential=assertion, expected_challenge=challenge, expected_rp_id=RP_ID,
            expected_origin=[ORIGIN], credential_public_key=public_key,
            credential_current_sign_count=0, require_user_verification=False)
    n = len(assertions)
    latencies: list[float] = []
    t_start = time.perf_counter()
    measure_from = t_start + warmup
    measure_to = measure_from + duration
    cpu_from: float | None = None
    wall_from = measure_from
    i = 0
    t1 = t_start
    while True:
        t0 = time.perf_counter()
        if t0 >= measure_to:
            break
        if cpu_from is None and t0 >= measure_from:
            cpu_from, wall_from = time.process_time(), t0
        challenge, assertion = assertions[i % n]
        i += 1
        verify_authentication_response(
            credential=assertion, expected_challenge=challenge, expected_rp_id=RP_ID,
            expected_origin=[ORIGIN], credential_public_key=public_key,
            credential_current_sign_count=0, require_user_verification=False)
        t1 = time.perf_counter()
        if t0 >= measure_from:
            latencies.append(t1 - t0)
    cpu_to = time.process_time()
    seconds = max(t1 - wall_from, 1e-9)
    latencies.sort()
    return RawResult(
        name="raw py_webauthn verify",
        verifications=len(latencies),
        seconds=seconds,
        rate=len(latencies) / seconds,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        cpu_pct=100.0 * (cpu_to - (cpu_from or cpu_to)) / seconds,
        pool=n,
    )


# -- setup over gRPC (not measured) ---------------------------------------------


@dataclass
class Prepared:
    application_id: str
    scenario: PasskeyCompleteScenario
    request_bytes: int
    stats: dict[str, Any] = field(default_factory=dict)


async def prepare(target: str, admin_key: str, args: argparse.Namespace) -> Prepared:
    sw = soft_webauthn()
    started = time.perf_counter()
    admin = (("authorization", f"Bearer {admin_key}"),)
    conc = args.setup_concurrency
    async with grpc.aio.insecure_channel(target) as channel:
        await asyncio.wait_for(channel.channel_ready(), 30.0)
        mgmt = management_pb2_grpc.ManagementServiceStub(channel)
        fido = fido2_pb2_grpc.Fido2ServiceStub(channel)

        created = await mgmt.CreateApplication(management_pb2.CreateApplicationRequest(
            name="passkey-bench",
            webauthn=management_pb2.WebAuthnSettings(rp_id=RP_ID, origins=[ORIGIN],
                                                     timeout_ms=TIMEOUT_MS),
            # The users sign themselves up (off by default); their names are
            # not email addresses, so no mailed code is needed.
            access=management_pb2.AccessSettings(self_sign_up=True),
        ), metadata=admin, timeout=30)
        app_id = created.application_id
        app = fido2_pb2.LoginIdApplication(id=app_id)

        names: list[str] = []
        authenticators: list[Any] = []  # SoftAuthenticator per user, one passkey each

        async def register(username: str) -> Any:
            init = await fido.RegInit(fido2_pb2.RegInitRequest(
                app=app, user=fido2_pb2.LoginIdUser(username=username), origin=ORIGIN),
                timeout=30)
            options = json_format.MessageToDict(init.registration_request_options)
            auth = sw.SoftAuthenticator()
            attestation = auth.create(options=options, origin=ORIGIN)
            response = attestation["response"]
            await fido.RegComplete(fido2_pb2.RegCompleteRequest(
                session=init.session,
                creation_result=fido2_pb2.CreationResult(
                    attestation_object=response["attestationObject"],
                    client_data_json=response["clientDataJSON"],
                    credential_id=attestation["rawId"],
                    transports=response["transports"]),
            ), timeout=30)
            return auth

        async def register_users(count: int) -> None:
            new = [f"passkey-bench-{i}" for i in range(len(names), count)]
            authenticators.extend(await pmap(register, new, conc))
            names.extend(new)

        async def auth_init(user: int) -> tuple[int, str, dict[str, Any]]:
            resp = await fido.AuthInit(fido2_pb2.AuthInitRequest(
                app=app, user=fido2_pb2.UserLogin(username=names[user]), origin=ORIGIN),
                timeout=30)
            return user, resp.session, json_format.MessageToDict(resp.assertion_options)

        # Enough users that a user's next call is a full round of users later
        # (never two calls of one user in flight: the sign count is a CAS).
        n_users = max(args.users or 0, 4 * args.concurrency * args.procs)
        t0 = time.perf_counter()
        await register_users(n_users)
        reg_rate = n_users / (time.perf_counter() - t0)

        # Probe how fast sessions are issued; that sizes the pool (one session
        # per call). These sessions are part of the pool.
        sessions: list[list[tuple[str, dict[str, Any]]]] = [[] for _ in range(n_users)]
        probe = [j % n_users for j in range(400)]
        t0 = time.perf_counter()
        for user, session, options in await pmap(auth_init, probe, conc):
            sessions[user].append((session, options))
        init_rate = len(probe) / (time.perf_counter() - t0)
        need = math.ceil(init_rate * (args.warmup + args.duration) * args.headroom)
        need = max(len(probe), min(need, args.max_calls))
        # More users rather than long per-user chains.
        want_users = max(n_users, math.ceil(need / args.calls_per_user))
        log(f"  registration ~{reg_rate:,.0f}/s, AuthInit ~{init_rate:,.0f}/s -> {need:,} calls, "
            f"{want_users:,} users")
        if want_users > n_users:
            await register_users(want_users)
            sessions += [[] for _ in range(want_users - n_users)]
            n_users = want_users

        base, extra = divmod(need, n_users)
        todo = [u for u in range(n_users)
                for _ in range(max(0, base + (u < extra) - len(sessions[u])))]
        log(f"  opening {len(todo):,} more AuthInit sessions ...")
        for user, session, options in await pmap(auth_init, todo, conc):
            sessions[user].append((session, options))

    # Issue order: round-robin over users. Signing in that same order gives each
    # user's assertions rising sign counts in the order they will be sent.
    t0 = time.perf_counter()
    plan: list[PlannedAssertion] = []
    rounds = max(len(s) for s in sessions)
    for k in range(rounds):
        for user in range(n_users):
            if k < len(sessions[user]):
                session, options = sessions[user][k]
                auth = authenticators[user]
                credential = auth.last_credential
                assertion = auth.get(options=options, origin=ORIGIN,
                                     credential_id=credential.credential_id)
                plan.append(PlannedAssertion(user=user,
                                             payload=auth_complete_request(session, assertion)))
    sign_seconds = time.perf_counter() - t0

    stats = {
        "setup_seconds": round(time.perf_counter() - started, 1),
        "registration_rate": round(reg_rate, 1),
        "auth_init_rate": round(init_rate, 1),
        "calls": len(plan),
        "users": n_users,
        "max_calls_per_user": rounds,
        "assertion_signing_seconds": round(sign_seconds, 2),
    }
    return Prepared(
        application_id=app_id,
        scenario=PasskeyCompleteScenario(name="gRPC AuthComplete", plan=tuple(plan)),
        request_bytes=round(sum(len(c.payload) for c in plan) / len(plan)),
        stats=stats,
    )


# -- report ---------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}%"


def _cpu_ms(cpu_pct: float | None, rate: float) -> str:
    return "?" if cpu_pct is None or rate <= 0 else f"{cpu_pct / 100 / rate * 1000:.3f}"


def table(raw: RawResult, grpc_result: LoadResult) -> str:
    head = (f"{'scenario':<26} {'rate/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs raw':>7} "
            f"{'CPU':>5} {'CPU ms/op':>9} {'load CPU':>8}  statuses")
    rows = [head, "-" * len(head)]
    rows.append(f"{raw.name:<26} {raw.rate:>8,.0f} {raw.p50_ms:>8.3f} {raw.p99_ms:>8.3f} "
                f"{1:>7.0%} {_pct(raw.cpu_pct):>5} {_cpu_ms(raw.cpu_pct, raw.rate):>9} "
                f"{'-':>8}  OK={raw.verifications}")
    r = grpc_result
    ratio = r.rps / raw.rate if raw.rate else 0.0
    codes = ", ".join(f"{k}={v}" for k, v in r.codes.items())
    flag = " (pool ran out)" if r.exhausted else ""
    rows.append(f"{r.scenario:<26} {r.rps:>8,.0f} {r.p50_ms:>8.3f} {r.p99_ms:>8.3f} "
                f"{ratio:>7.1%} {_pct(r.server_cpu_pct):>5} "
                f"{_cpu_ms(r.server_cpu_pct, r.rps):>9} {_pct(r.load_cpu_pct):>8}  "
                f"{codes}{flag}")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.5, help="unmeasured seconds first")
    parser.add_argument("--concurrency", type=int, default=32,
                        help="in-flight calls per load process")
    parser.add_argument("--procs", type=int, default=1,
                        help="load processes (default 1: the other core is the server's)")
    parser.add_argument("--pin", action="store_true",
                        help="pin the server and the raw loop to CPU 0, load to the other CPUs")
    parser.add_argument("--users", type=int, default=None,
                        help="users with one passkey each (default 4 x concurrency x procs, "
                             "more if the pool needs it)")
    parser.add_argument("--calls-per-user", type=int, default=16,
                        help="at most this many calls per user before adding users")
    parser.add_argument("--setup-concurrency", type=int, default=32)
    parser.add_argument("--headroom", type=float, default=2.0,
                        help="calls in the pool = AuthInit rate x run time x this")
    parser.add_argument("--max-calls", type=int, default=20000,
                        help="cap on pre-built AuthComplete requests")
    parser.add_argument("--raw-pool", type=int, default=500,
                        help="pre-generated assertions the raw loop cycles through")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--profile", type=Path, default=None, metavar="PATH",
                        help="run authcore under cProfile and write the stats to PATH "
                             "(slows it down: the ratio is then not comparable)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when the 50%% target is not met")
    args = parser.parse_args(argv)

    ncpu = os.cpu_count() or 1
    server_cpus: set[int] | None = None
    load_cpus: tuple[int, ...] | None = None
    if args.pin and ncpu >= 2:
        server_cpus = {0}
        load_cpus = tuple(range(1, ncpu))

    started = time.perf_counter()
    # 1. Raw baseline first, with nothing else running.
    log(f"raw: py_webauthn verify_authentication_response in-process "
        f"({args.warmup:g}s warmup + {args.duration:g}s) ...")
    affinity = os.sched_getaffinity(0)
    if server_cpus:
        os.sched_setaffinity(0, server_cpus)
    try:
        raw = raw_verify(args.duration, args.warmup, args.raw_pool)
    finally:
        os.sched_setaffinity(0, affinity)
    log(f"  {raw.name}: {raw.rate:,.0f}/s, p50 {raw.p50_ms:.3f} ms, p99 {raw.p99_ms:.3f} ms "
        f"({raw.verifications} in {raw.seconds:.1f}s, CPU {raw.cpu_pct:.0f}%)")

    # 2. The full path over gRPC.
    workdir = Path(tempfile.mkdtemp(prefix="authcore-passkey-bench-"))
    children: list[Child] = []
    try:
        log(f"authcore: starting (SQLite in {workdir / 'data'}) ...")
        admin_key = "bench-" + secrets.token_urlsafe(24)
        server, target, _ = start_authcore(workdir, admin_key, server_cpus, args.profile)
        children.append(server)
        log(f"authcore: listening on {target}; setup ...")
        prepared = asyncio.run(prepare(target, admin_key, args))
        log(f"  setup done in {prepared.stats['setup_seconds']}s "
            f"({prepared.stats['calls']:,} AuthComplete requests, "
            f"{prepared.stats['users']:,} users)")
        cfg = LoadConfig(target=target, procs=args.procs, concurrency=args.concurrency,
                         duration=args.duration, warmup=args.warmup, cpus=load_cpus)
        log(f"load: {prepared.scenario.name} ({METHOD}) ...")
        result = run_load(prepared.scenario, cfg, server.popen.pid)
        log("  " + describe(result))
        server.stop()
    finally:
        for child in children:
            child.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    ratio = result.rps / raw.rate if raw.rate else 0.0
    met = ratio >= TARGET_RATIO
    log("")
    log(f"authcore passkey AuthComplete over gRPC vs raw py_webauthn, SQLite | {ncpu} CPUs | "
        f"{args.procs} load process(es) x {args.concurrency} in flight | "
        f"{args.warmup:g}s warmup + {args.duration:g}s measured"
        f"{' | pinned' if server_cpus else ''}")
    log(f"ES256 passkeys; AuthComplete request ~{prepared.request_bytes} bytes; "
        f"{prepared.stats['users']:,} users; raw loop: 1 credential, {raw.pool} assertions, "
        f"one thread")
    log(table(raw, result))
    if result.unexpected:
        log(f"WARNING: {result.scenario}: {result.unexpected} calls ended with an unexpected "
            f"status (expected {', '.join(result.expected)})")
    if result.exhausted:
        log(f"WARNING: {result.scenario}: the request pool ran out before the end; "
            f"raise --headroom")
    log(f"gRPC AuthComplete {result.rps:,.0f} RPS (p50 {result.p50_ms:.2f} ms, "
        f"p99 {result.p99_ms:.2f} ms) / raw verify {raw.rate:,.0f}/s = {ratio:.1%}")
    log(f"target gRPC AuthComplete >= {TARGET_RATIO:.0%} of raw verify rate: "
        f"{'MET' if met else 'NOT MET'} ({ratio:.1%})")
    total = time.perf_counter() - started
    log(f"(total {total:.0f}s)")

    report = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "setup": prepared.stats,
        "target_ratio": TARGET_RATIO,
        "raw": asdict(raw),
        "grpc": result.as_dict(),
        "ratio": round(ratio, 4),
        "target_met": met,
        "total_seconds": round(total, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    log(f"results written to {args.output}")
    if args.strict and not met:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
