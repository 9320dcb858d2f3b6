"""Benchmark: authcore's TOKEN complete (TOTP) over gRPC vs a bare grpc.aio echo.

Starts authcore (SQLite in a temporary data directory) as a subprocess, enrolls
users with TOTP tokens and pre-creates one challenge per planned call (setup,
not measured), then drives AuthenticateUserChallenge with bench/load.py:

* TOKEN complete (accepted): the right code; every call succeeds and gets a
  session JWT.
* TOKEN complete (wrong code): a wrong code against a fresh challenge; every
  call runs the whole path and is rejected (UNAUTHENTICATED).

In the same run it drives bench/echo_server.py with a request of the same
serialized size and the same metadata size, with the same load settings, and
prints RPS, p50 and p99 of each and the ratio to the echo RPS. Target: TOKEN
complete reaches at least 50% of the bare echo RPS.

    .venv/bin/python bench/run_bench.py [--duration 5] [--concurrency 32] [--procs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
from load import ConstantScenario, LoadConfig, LoadResult, describe, run_load
from scenarios import PlannedCall, TokenCompleteScenario, complete_request

from authcore.v1 import (
    authentication_pb2,
    authentication_pb2_grpc,
    authenticators_pb2,
    management_pb2,
    management_pb2_grpc,
)

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results" / "latest.json"
TARGET_RATIO = 0.5
ECHO_METHOD = "/bench.Echo/Echo"

Metadata = tuple[tuple[str, str], ...]
T = TypeVar("T")
R = TypeVar("R")


def log(message: str) -> None:
    print(message, file=sys.stdout, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- subprocesses -------------------------------------------------------------


class Child:
    """A server subprocess whose stdout/stderr go to files (no pipe to fill)."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], workdir: Path,
                 cpus: set[int] | None) -> None:
        self.name = name
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.popen = subprocess.Popen(list(argv), env=env, cwd=REPO, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=err)
        if cpus:
            os.sched_setaffinity(self.popen.pid, cpus)

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr_tail(self, lines: int = 30) -> str:
        text = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_for(self, needles: Iterable[str], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        wanted = list(needles)
        while True:
            text = self.stdout()
            if all(n in text for n in wanted):
                return text
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode} before it "
                                   f"was ready:\n{self.stderr_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s:\n"
                                   f"{self.stderr_tail()}")
            time.sleep(0.1)

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=5.0)


# `python -m cProfile` writes its file at interpreter exit, but `authcore serve`
# leaves with os._exit after a clean stop; this runs authcore.cli.main under
# cProfile and writes the file on either way out. argv: PATH, then authcore's.
# SIGUSR1 starts a fresh profile (dropping what came before, e.g. the setup),
# SIGUSR2 stops it; the file holds the profile as it is at exit.
PROFILE_BOOT = """
import cProfile, os, signal, sys
out = sys.argv.pop(1)
prof = [cProfile.Profile()]
def restart(*_):
    prof[0].disable()
    prof[0] = cProfile.Profile()
    prof[0].enable()
signal.signal(signal.SIGUSR1, restart)
signal.signal(signal.SIGUSR2, lambda *_: prof[0].disable())
def dump():
    prof[0].disable()
    prof[0].dump_stats(out)
exit_now = os._exit
def dump_and_exit(code):
    dump()
    exit_now(code)
os._exit = dump_and_exit
from authcore.cli import main
prof[0].enable()
try:
    code = main(sys.argv[1:])
finally:
    dump()
sys.exit(code)
"""


@dataclass
class Authcore:
    child: Child
    grpc_target: str
    http_target: str
    demo_application_id: str


def launch_authcore(workdir: Path, admin_key: str, cpus: set[int] | None,
                    profile: Path | None = None, *, name: str = "authcore",
                    data_dir: Path | None = None, env: dict[str, str] | None = None,
                    args: Sequence[str] = (), workers: int = 1) -> Authcore:
    """`authcore serve` with SQLite in `data_dir` (default workdir/data) unless
    `env` says otherwise, rate limits off, WARNING logs and `workers` worker
    processes (AUTHCORE_WORKERS; `args` may add `--workers N` too)."""
    grpc_addr = f"127.0.0.1:{free_port()}"
    http_addr = f"127.0.0.1:{free_port()}"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHCORE_")}
    full_env.update({
        "AUTHCORE_DATA_DIR": str(data_dir or workdir / "data"),
        "AUTHCORE_ADMIN_KEY": admin_key,
        "AUTHCORE_GRPC_ADDR": grpc_addr,
        "AUTHCORE_HTTP_ADDR": http_addr,
        "AUTHCORE_RATE_LIMIT_IP_PER_MINUTE": "100000000",
        "AUTHCORE_RATE_LIMIT_USER_PER_MINUTE": "100000000",
        # The most the directory's lockout policy allows: the wrong-code
        # users must not lock out.
        "AUTHCORE_LOCKOUT_MAX_FAILURES": "1000",
        "AUTHCORE_LOG_LEVEL": "WARNING",
        "AUTHCORE_SHUTDOWN_GRACE_SECONDS": "2",
        "AUTHCORE_WORKERS": str(workers),
        **(env or {}),
    })
    argv = [sys.executable, "-m", "authcore.cli", "serve", *args]
    if profile is not None:
        # cProfile of the event-loop thread; written when the server exits.
        argv = [sys.executable, "-c", PROFILE_BOOT, str(profile.resolve()), "serve", *args]
    child = Child(name, argv, full_env, workdir, cpus)
    text = child.wait_for(["authcore listening", "demo applicationId:"], timeout=90.0)
    match = re.search(r"demo applicationId:\s*(\S+)", text)
    return Authcore(child=child, grpc_target=grpc_addr, http_target=http_addr,
                    demo_application_id=match.group(1) if match else "")


def start_authcore(workdir: Path, admin_key: str, cpus: set[int] | None,
                   profile: Path | None = None) -> tuple[Child, str, str]:
    """Returns (process, gRPC target, demo application id)."""
    server = launch_authcore(workdir, admin_key, cpus, profile)
    return server.child, server.grpc_target, server.demo_application_id


def start_echo(workdir: Path, cpus: set[int] | None) -> tuple[Child, str]:
    port = free_port()
    child = Child("echo", [sys.executable, str(BENCH_DIR / "echo_server.py"), "--port",
                           str(port)], dict(os.environ), workdir, cpus)
    child.wait_for(["echo listening"], timeout=30.0)
    return child, f"127.0.0.1:{port}"


# -- setup over gRPC (not measured) -------------------------------------------


async def pmap(fn: Callable[[T], Awaitable[R]], items: Sequence[T], concurrency: int) -> list[R]:
    sem = asyncio.Semaphore(concurrency)

    async def one(item: T) -> R:
        async with sem:
            return await fn(item)

    return list(await asyncio.gather(*(one(x) for x in items)))


@dataclass
class Prepared:
    application_id: str
    drift_steps: int
    accepted: TokenCompleteScenario
    wrong: TokenCompleteScenario
    stats: dict[str, Any] = field(default_factory=dict)


async def enroll_totp(mgmt: management_pb2_grpc.ManagementServiceStub, admin: Metadata,
                      user_id: str) -> str:
    """CreateUser + CreateToken(TOTP); returns the base32 secret."""
    await mgmt.CreateUser(management_pb2.CreateUserRequest(user_id=user_id),
                          metadata=admin, timeout=30)
    token = await mgmt.CreateToken(management_pb2.CreateTokenRequest(
        user_id=user_id, type=management_pb2.TOKEN_KIND_TOTP), metadata=admin, timeout=30)
    return str(token.secret)


async def issue_challenge(authn: authentication_pb2_grpc.AuthenticationServiceStub,
                          app_id: str, user_id: str,
                          authenticator: int = authenticators_pb2.AUTHENTICATOR_TYPE_TOKEN
                          ) -> str:
    """RequestUserChallenge; returns the single-use challenge token."""
    resp = await authn.RequestUserChallenge(
        authentication_pb2.RequestUserChallengeRequest(
            authenticator=authenticator, application_id=app_id, user_id=user_id),
        timeout=30)
    return str(resp.authenticated.token)


async def accepted_token_pool(mgmt: management_pb2_grpc.ManagementServiceStub,
                              authn: authentication_pb2_grpc.AuthenticationServiceStub,
                              admin: Metadata, app_id: str, *, drift: int, need: int,
                              min_users: int, concurrency: int, prefix: str = "bench-a",
                              name: str = "TOKEN complete (accepted)",
                              rest: bool = False) -> TokenCompleteScenario:
    """Users with TOTP tokens and `need` challenges for right codes.

    A user can pass once per time step, and the server accepts steps
    now-drift .. now+drift. Each user gets drift+1 calls with the codes of
    steps now+0 .. now+drift at call time: increasing, so never a replay, and
    still accepted if the server's clock moves to the next step while the
    call is in flight (a code of now-1 would not be). Enough users that one
    user's calls are never in flight together (`min_users`)."""
    per_user = drift + 1
    n_ok = max(math.ceil(need / per_user), min_users)
    ok_ids = [f"{prefix}{i}" for i in range(n_ok)]
    log(f"  enrolling {n_ok:,} users for {name} ...")
    ok_secrets = await pmap(lambda u: enroll_totp(mgmt, admin, u), ok_ids, concurrency)
    order = [(k, u) for k in range(per_user) for u in range(n_ok)]
    log(f"  issuing {len(order):,} challenges for {name} ...")
    ok_tokens = await pmap(lambda u: issue_challenge(authn, app_id, ok_ids[u]),
                           [u for _, u in order], concurrency)
    plan = tuple(PlannedCall(user=u, challenge=t, offset=k)
                 for (k, u), t in zip(order, ok_tokens, strict=True))
    return TokenCompleteScenario(name=name, secrets=tuple(ok_secrets), plan=plan,
                                 wrong_code=False, drift_steps=drift, rest=rest,
                                 user_ids=tuple(ok_ids))


async def prepare(target: str, admin_key: str, args: argparse.Namespace) -> Prepared:
    started = time.perf_counter()
    admin = (("authorization", f"Bearer {admin_key}"),)
    conc = args.setup_concurrency
    async with grpc.aio.insecure_channel(target) as channel:
        await asyncio.wait_for(channel.channel_ready(), 30.0)
        mgmt = management_pb2_grpc.ManagementServiceStub(channel)
        authn = authentication_pb2_grpc.AuthenticationServiceStub(channel)

        created = await mgmt.CreateApplication(management_pb2.CreateApplicationRequest(
            name="bench",
            token_lifetimes=management_pb2.TokenLifetimes(challenge_seconds=86400),
        ), metadata=admin, timeout=30)
        app_id = created.application_id
        drift = created.application.factor_settings.totp_drift_steps

        async def enroll(user_id: str) -> str:
            return await enroll_totp(mgmt, admin, user_id)

        async def challenge(user_id: str) -> str:
            return await issue_challenge(authn, app_id, user_id)

        # Wrong-code pool, first part: also measures how fast the server
        # issues challenges, which sizes the pools (a call uses up one).
        wrong_ids = [f"bench-w{i}" for i in range(64)]
        t0 = time.perf_counter()
        wrong_secrets = await pmap(enroll, wrong_ids, conc)
        enroll_rate = len(wrong_ids) / (time.perf_counter() - t0)
        probe = [wrong_ids[j % len(wrong_ids)] for j in range(400)]
        t0 = time.perf_counter()
        wrong_tokens = await pmap(challenge, probe, conc)
        challenge_rate = len(probe) / (time.perf_counter() - t0)
        need = math.ceil(challenge_rate * (args.warmup + args.duration) * args.headroom)
        need = max(len(probe), min(need, args.max_calls))
        log(f"  challenge issue rate ~{challenge_rate:,.0f}/s, enroll ~{enroll_rate:,.0f}/s "
            f"-> {need:,} calls per scenario")

        # Wrong-code pool: at most ~500 failures per user, far below the
        # 1000 that would lock them.
        n_wrong = max(len(wrong_ids), math.ceil(need / 500))
        extra = [f"bench-w{i}" for i in range(len(wrong_ids), n_wrong)]
        wrong_secrets += await pmap(enroll, extra, conc)
        wrong_ids += extra
        rest = [wrong_ids[j % n_wrong] for j in range(len(probe), need)]
        wrong_tokens += await pmap(challenge, rest, conc)
        index = {u: i for i, u in enumerate(wrong_ids)}
        wrong_plan = tuple(PlannedCall(user=index[u], challenge=t)
                           for u, t in zip(probe + rest, wrong_tokens, strict=True))

        accepted = await accepted_token_pool(
            mgmt, authn, admin, app_id, drift=drift, need=need,
            min_users=4 * args.concurrency * args.procs, concurrency=conc)

    stats = {
        "setup_seconds": round(time.perf_counter() - started, 1),
        "challenge_issue_rate": round(challenge_rate, 1),
        "enroll_rate": round(enroll_rate, 1),
        "calls_per_scenario": need,
        "accepted_users": len(accepted.secrets),
        "accepted_challenges": len(accepted.plan),
        "wrong_code_users": n_wrong,
        "wrong_code_challenges": len(wrong_plan),
        "totp_drift_steps": drift,
    }
    return Prepared(
        application_id=app_id,
        drift_steps=drift,
        accepted=accepted,
        wrong=TokenCompleteScenario(name="TOKEN complete (wrong code)",
                                    secrets=tuple(wrong_secrets), plan=wrong_plan,
                                    wrong_code=True, drift_steps=drift),
        stats=stats,
    )


# -- report -------------------------------------------------------------------


def table(results: Sequence[LoadResult], echo: LoadResult) -> str:
    head = (f"{'scenario':<28} {'RPS':>7} {'p50 ms':>8} {'p99 ms':>8} {'vs echo':>8} "
            f"{'srv CPU':>8} {'load CPU':>8}  statuses")
    rows = [head, "-" * len(head)]
    for r in results:
        ratio = r.rps / echo.rps if echo.rps else 0.0
        codes = ", ".join(f"{k}={v}" for k, v in r.codes.items())
        flag = " (pool ran out)" if r.exhausted else ""
        rows.append(f"{r.scenario:<28} {r.rps:>7,.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} "
                    f"{ratio:>8.0%} {_pct(r.server_cpu_pct):>8} {_pct(r.load_cpu_pct):>8}  "
                    f"{codes}{flag}")
    return "\n".join(rows)


def _pct(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}%"


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.5, help="unmeasured seconds first")
    parser.add_argument("--concurrency", type=int, default=32,
                        help="in-flight calls per load process")
    parser.add_argument("--procs", type=int, default=1,
                        help="load processes (default 1: the other core is the server's)")
    parser.add_argument("--pin", action="store_true",
                        help="pin servers to CPU 0 and load processes to the other CPUs")
    parser.add_argument("--setup-concurrency", type=int, default=32)
    parser.add_argument("--headroom", type=float, default=2.0,
                        help="challenges per scenario = issue rate x run time x this")
    parser.add_argument("--max-calls", type=int, default=40000,
                        help="cap on pre-created challenges per scenario")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--profile", type=Path, default=None, metavar="PATH",
                        help="run authcore under cProfile and write the stats to PATH "
                             "(slows it down: ratios are then not comparable)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when the 50%% target is not met")
    args = parser.parse_args(argv)

    ncpu = os.cpu_count() or 1
    server_cpus: set[int] | None = None
    load_cpus: tuple[int, ...] | None = None
    if args.pin and ncpu >= 2:
        server_cpus = {0}
        load_cpus = tuple(range(1, ncpu))

    workdir = Path(tempfile.mkdtemp(prefix="authcore-bench-"))
    children: list[Child] = []
    started = time.perf_counter()
    try:
        log(f"authcore: starting (SQLite in {workdir / 'data'}) ...")
        admin_key = "bench-" + secrets.token_urlsafe(24)
        server, target, demo_app = start_authcore(workdir, admin_key, server_cpus,
                                                    args.profile)
        children.append(server)
        log(f"authcore: listening on {target} (demo applicationId {demo_app or '?'}); setup ...")
        prepared = asyncio.run(prepare(target, admin_key, args))
        log(f"  setup done in {prepared.stats['setup_seconds']}s")

        cfg = LoadConfig(target=target, procs=args.procs, concurrency=args.concurrency,
                         duration=args.duration, warmup=args.warmup, cpus=load_cpus)
        results: list[LoadResult] = []
        for scenario in (prepared.accepted, prepared.wrong):
            log(f"load: {scenario.name} ...")
            results.append(run_load(scenario, cfg, server.popen.pid))
            log("  " + describe(results[-1]))
        server.stop()

        log("echo: starting bench/echo_server.py ...")
        echo_server, echo_target = start_echo(workdir, server_cpus)
        children.append(echo_server)
        token_len = len(prepared.accepted.plan[0].challenge)
        echo_scenario = ConstantScenario(
            name="bare grpc.aio echo", method=ECHO_METHOD,
            # Same request size and metadata size as a TOKEN complete call.
            payload=secrets.token_bytes(len(complete_request("123456"))),
            metadata=(("authorization", "e" * token_len),),
        )
        log(f"load: {echo_scenario.name} ...")
        echo = run_load(echo_scenario, LoadConfig(
            target=echo_target, procs=args.procs, concurrency=args.concurrency,
            duration=args.duration, warmup=args.warmup, cpus=load_cpus), echo_server.popen.pid)
        log("  " + describe(echo))
        echo_server.stop()
    finally:
        for child in children:
            child.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    accepted, wrong = results
    ratios = {r.scenario: (r.rps / echo.rps if echo.rps else 0.0) for r in results}
    met = {name: ratio >= TARGET_RATIO for name, ratio in ratios.items()}
    log("")
    log(f"authcore TOKEN complete (TOTP) over gRPC, SQLite | {ncpu} CPUs | "
        f"{args.procs} load process(es) x {args.concurrency} in flight | "
        f"{args.warmup:g}s warmup + {args.duration:g}s measured"
        f"{' | pinned' if server_cpus else ''}")
    log(f"request: {len(complete_request('123456'))} bytes + authorization metadata "
        f"({len(prepared.accepted.plan[0].challenge)} chars); echo sends the same sizes")
    log(table([echo, accepted, wrong], echo))
    for r in results:
        if r.unexpected:
            log(f"WARNING: {r.scenario}: {r.unexpected} calls ended with an unexpected "
                f"status (expected {', '.join(r.expected)})")
        if r.exhausted:
            log(f"WARNING: {r.scenario}: the challenge pool ran out before the end; "
                f"raise --headroom")
    for name, ok in met.items():
        log(f"target {name} >= {TARGET_RATIO:.0%} of echo RPS: "
            f"{'MET' if ok else 'NOT MET'} ({ratios[name]:.0%})")
    total = time.perf_counter() - started
    log(f"(total {total:.0f}s)")

    report = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "setup": prepared.stats,
        "target_ratio": TARGET_RATIO,
        "echo": echo.as_dict(),
        "scenarios": [r.as_dict() | {"ratio_to_echo": round(ratios[r.scenario], 4),
                                     "target_met": met[r.scenario]} for r in results],
        "target_met": met[accepted.scenario],
        "total_seconds": round(total, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    log(f"results written to {args.output}")
    if args.strict and not met[accepted.scenario]:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
