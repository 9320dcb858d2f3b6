"""Multi-process grpc.aio load generator.

N worker processes (spawned, not forked: the parent may already be using
gRPC) each open one channel and keep C unary calls in flight for
warmup + duration seconds, as fast as the server answers (closed loop). A
*scenario* decides what each call sends: it yields (method path, serialized
request bytes, metadata) per call, and may run out (a finite pool of
single-use credentials), which ends that worker's measurement early.

Calls completing inside the measured window count towards RPS and the
latency percentiles, whatever their status; statuses are tallied so a
scenario can say which ones it expects.

Two transports (LoadConfig.transport):

* "grpc": a call is (method path, serialized request, metadata); each worker
  opens `channels` channels (separate TCP connections, so a server with
  several SO_REUSEPORT workers gets load on more than one of them).
* "http": a call is ("VERB /path", body bytes, headers) over plain HTTP/1.1
  keep-alive, one connection per in-flight call; the status is the HTTP
  status code ("200"). A small asyncio protocol, not an HTTP library, so
  the client costs as little CPU as possible.

With `rate` set the load is open-loop: calls start at that total rate (at
most `concurrency` in flight per worker) and latency counts from the
planned start, so a stalled server is not hidden by a waiting client. The
calls that count are those due inside the measured window, however late they
come back (up to `call_timeout`, which then ends them).

A scenario may also yield *flows* instead of calls (gRPC only): a generator
that yields calls one after another, is sent each call's (status, response
bytes), and returns the status of the whole flow. A flow takes one in-flight
slot from its first call to its last and counts as one "call" (its latency
is the whole flow's), so a multi-step login is measured as logins/s.

Standalone, it drives a constant request:

    python bench/load.py --target 127.0.0.1:50061 --method /bench.Echo/Echo \\
        --payload-size 10 --concurrency 32 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import multiprocessing as mp
import os
import queue as queue_mod
import sys
import threading
import time
from collections import Counter
from collections.abc import Generator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import grpc

Metadata = tuple[tuple[str, str], ...]
Call = tuple[str, bytes, Metadata]
# A call's status name ("OK", grpc.StatusCode.X.name) and response bytes
# (b"" unless OK).
Reply = tuple[str, bytes]
# Dependent calls run back to back on one slot: each reply is sent into the
# generator, which yields the next call or returns the flow's status.
Flow = Generator[Call, Reply, str]
Item = Call | Flow


class Scenario(Protocol):
    """What to send. Must be picklable: it is shipped to the worker processes."""

    @property
    def name(self) -> str: ...

    @property
    def expected(self) -> tuple[str, ...]:
        """Status code names (grpc.StatusCode.X.name) that count as expected."""
        ...

    def calls(self, worker: int, workers: int, start: float, end: float) -> Iterator[Item]:
        """The calls (or flows) of one worker, in issue order. `start`/`end` are
        the wall-clock (time.time()) bounds of its run, warmup included. Each item
        is taken just before its call is issued, so it may depend on the current
        time."""
        ...


@dataclass(frozen=True)
class ConstantScenario:
    """The same request on every call."""

    name: str
    method: str
    payload: bytes
    metadata: Metadata = ()
    expected: tuple[str, ...] = ("OK",)

    def calls(self, worker: int, workers: int, start: float, end: float) -> Iterator[Call]:
        call = (self.method, self.payload, self.metadata)
        while True:
            yield call


@dataclass(frozen=True)
class RoundRobinScenario:
    """Several fixed requests (say, one per user), sent in turn. Each worker
    starts at its own offset, so the workers don't move in lockstep."""

    name: str
    method: str
    payloads: tuple[bytes, ...]
    metadata: Metadata = ()
    expected: tuple[str, ...] = ("OK",)

    def calls(self, worker: int, workers: int, start: float, end: float) -> Iterator[Call]:
        n = len(self.payloads)
        i = (worker * n) // max(1, workers)
        while True:
            yield self.method, self.payloads[i % n], self.metadata
            i += 1


@dataclass(frozen=True)
class LoadConfig:
    target: str
    procs: int = 1
    concurrency: int = 32
    duration: float = 5.0
    warmup: float = 1.5
    call_timeout: float = 10.0
    connect_timeout: float = 30.0
    # CPU affinity of the worker processes (None: leave to the scheduler).
    cpus: tuple[int, ...] | None = None
    transport: str = "grpc"  # or "http"
    channels: int = 1  # gRPC channels (TCP connections) per worker process
    rate: float | None = None  # open loop: total calls/s over all workers


@dataclass
class WorkerResult:
    worker: int
    latencies: list[float] = field(default_factory=list)  # seconds
    codes: dict[str, int] = field(default_factory=dict)
    window: float = 0.0  # seconds actually measured
    wall_from: float = 0.0  # the measured window in time.time()
    wall_to: float = 0.0
    exhausted: bool = False
    error: str | None = None


@dataclass(frozen=True)
class LoadResult:
    scenario: str
    procs: int
    concurrency: int
    duration: float
    warmup: float
    calls: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    codes: dict[str, int]
    expected: tuple[str, ...]
    unexpected: int
    exhausted: bool
    measured_seconds: float
    # Mean CPU use over the measured window, in % of one core (None: unknown).
    server_cpu_pct: float | None = None
    load_cpu_pct: float | None = None
    # Highest sampled VmRSS of the server's processes, summed, during the run.
    server_rss_mb: float | None = None
    # The same for PSS (shared pages split between the processes sharing
    # them): the memory the server really adds to the machine.
    server_pss_mb: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["expected"] = list(self.expected)
        return out


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending sequence (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# -- worker process -----------------------------------------------------------


class _GrpcSlot:
    """One in-flight call's way to the server over a (shared) gRPC channel."""

    def __init__(self, channel: grpc.aio.Channel, stubs: dict[str, Any], timeout: float) -> None:
        self.channel = channel
        self.stubs = stubs  # per channel
        self.timeout = timeout

    async def call(self, method: str, payload: bytes, metadata: Metadata) -> str:
        return (await self.reply(method, payload, metadata))[0]

    async def reply(self, method: str, payload: bytes, metadata: Metadata) -> Reply:
        stub = self.stubs.get(method)
        if stub is None:
            # None (de)serializers: bytes in, bytes out.
            stub = self.stubs[method] = self.channel.unary_unary(method)
        try:
            response = await stub(payload, metadata=metadata or None, timeout=self.timeout)
            return "OK", bytes(response)
        except grpc.aio.AioRpcError as exc:
            return str(exc.code().name), b""

    async def close(self) -> None:
        pass


class _HttpProtocol(asyncio.Protocol):
    """HTTP/1.1 client side of one keep-alive connection, one request at a time."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, chunked = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        body = end + 4
        if chunked:
            last = self.buffer.find(b"0\r\n\r\n", body)
            if last < 0:
                return
            consumed = last + 5
        else:
            if len(self.buffer) < body + length:
                return
            consumed = body + length
        del self.buffer[:consumed]
        waiter.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed by the server"))


class _HttpSlot:
    """One keep-alive connection; reconnects after the server closes it."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.authority = f"{host}:{port}"
        self.proto: _HttpProtocol | None = None
        self.requests: dict[tuple[str, bytes, Metadata], bytes] = {}

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(_HttpProtocol, self.host, self.port)
        self.proto = proto

    def encode(self, method: str, payload: bytes, metadata: Metadata) -> bytes:
        key = (method, payload, metadata)
        data = self.requests.get(key)
        if data is None:
            verb, _, path = method.partition(" ")
            head = [f"{verb} {path} HTTP/1.1", f"host: {self.authority}"]
            names = {k.lower() for k, _ in metadata}
            if payload or verb not in ("GET", "HEAD", "DELETE"):
                head.append(f"content-length: {len(payload)}")
                if "content-type" not in names:
                    head.append("content-type: application/json")
            head += [f"{k}: {v}" for k, v in metadata]
            data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload
            if len(self.requests) < 64:  # constant scenarios: build once
                self.requests[key] = data
        return data

    async def call(self, method: str, payload: bytes, metadata: Metadata) -> str:
        if self.proto is None or self.proto.closed:
            await self.connect()
        proto = self.proto
        assert proto is not None and proto.transport is not None
        proto.waiter = asyncio.get_running_loop().create_future()
        proto.transport.write(self.encode(method, payload, metadata))
        try:
            return str(await asyncio.wait_for(proto.waiter, self.timeout))
        except TimeoutError:
            proto.transport.close()
            return "TIMEOUT"
        except ConnectionError:
            return "CONNECTION_CLOSED"

    async def reply(self, method: str, payload: bytes, metadata: Metadata) -> Reply:
        # The protocol keeps no response bodies (it stays cheap); flows that
        # need them are gRPC only.
        raise NotImplementedError("flows (dependent calls) are gRPC only")

    async def close(self) -> None:
        if self.proto is not None and self.proto.transport is not None:
            self.proto.transport.close()


async def _perform(slot: _GrpcSlot | _HttpSlot, item: Item) -> str:
    """One call, or one flow's calls back to back; the status of the whole."""
    if isinstance(item, tuple):
        return await slot.call(*item)
    try:
        call = next(item)
        while True:
            call = item.send(await slot.reply(*call))
    except StopIteration as stop:
        return str(stop.value)
    finally:
        # A flow cut short (cancelled at the end of the window) runs its
        # `finally` now, not whenever the generator is collected.
        item.close()


async def _drive(index: int, workers: int, scenario: Scenario, cfg: LoadConfig,
                 barrier: Any) -> WorkerResult:
    result = WorkerResult(worker=index)
    channels: list[grpc.aio.Channel] = []
    slots: list[_GrpcSlot | _HttpSlot] = []
    try:
        if cfg.transport == "http":
            host, _, port = cfg.target.rpartition(":")
            for _ in range(cfg.concurrency):
                http = _HttpSlot(host.strip("[]"), int(port), cfg.call_timeout)
                await asyncio.wait_for(http.connect(), cfg.connect_timeout)
                slots.append(http)
        else:
            # A local subchannel pool per channel: separate TCP connections.
            options = [("grpc.use_local_subchannel_pool", 1)] if cfg.channels > 1 else None
            channels = [grpc.aio.insecure_channel(cfg.target, options=options)
                        for _ in range(max(1, cfg.channels))]
            for channel in channels:
                await asyncio.wait_for(channel.channel_ready(), cfg.connect_timeout)
            stubs: list[dict[str, Any]] = [{} for _ in channels]
            slots = [_GrpcSlot(channels[i % len(channels)], stubs[i % len(channels)],
                               cfg.call_timeout) for i in range(cfg.concurrency)]
        # Every worker connected before anyone starts: the windows line up.
        await asyncio.to_thread(barrier.wait, cfg.connect_timeout)
        await _measure(index, workers, scenario, cfg, slots, result)
    finally:
        for slot in slots:
            await slot.close()
        for channel in channels:
            await channel.close()
    return result


async def _measure(index: int, workers: int, scenario: Scenario, cfg: LoadConfig,
                   slots: Sequence[_GrpcSlot | _HttpSlot], result: WorkerResult) -> None:
    wall = time.time()
    t_start = time.perf_counter()
    result.wall_from = wall + cfg.warmup
    measure_from = t_start + cfg.warmup
    measure_to = measure_from + cfg.duration
    items = iter(scenario.calls(index, workers, wall, wall + cfg.warmup + cfg.duration))
    # (completed at, or due at when paced; latency; code)
    done: list[tuple[float, float, str]] = []
    exhausted_at: float | None = None

    def take(t0: float) -> Item | None:
        nonlocal exhausted_at
        try:
            return next(items)
        except StopIteration:
            if exhausted_at is None:
                exhausted_at = t0
            return None

    async def runner(slot: _GrpcSlot | _HttpSlot) -> None:
        # Closed loop: the next call starts when this one ends.
        while True:
            t0 = time.perf_counter()
            if t0 >= measure_to:
                return
            call = take(t0)
            if call is None:
                return
            code = await _perform(slot, call)
            t1 = time.perf_counter()
            done.append((t1, t1 - t0, code))

    async def paced(rate: float) -> None:
        # Open loop: call k is due at t_start + k / rate, whatever came back.
        idle: asyncio.Queue[_GrpcSlot | _HttpSlot] = asyncio.Queue()
        for slot in slots:
            idle.put_nowait(slot)
        pending: set[asyncio.Task[None]] = set()

        async def one(slot: _GrpcSlot | _HttpSlot, call: Item, due: float) -> None:
            try:
                code = await _perform(slot, call)
                t1 = time.perf_counter()
                # Counted by when it was due, not when it came back: a call
                # held up past the window still counts, with its latency.
                done.append((due, t1 - due, code))
            finally:
                idle.put_nowait(slot)

        k = 0
        while True:
            due = t_start + k / rate
            if due >= measure_to:
                break
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            slot = await idle.get()  # at most `concurrency` in flight
            call = take(due)
            if call is None:
                idle.put_nowait(slot)
                break
            task = asyncio.create_task(one(slot, call, due))
            pending.add(task)
            task.add_done_callback(pending.discard)
            k += 1
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    if cfg.rate:
        # Calls due in the window count however late they return: wait for them.
        tasks = [asyncio.create_task(paced(cfg.rate / workers))]
        limit = cfg.warmup + cfg.duration + cfg.call_timeout + 5.0
    else:
        # A call still in flight at the end of the window would not count:
        # cancel it rather than wait for it.
        tasks = [asyncio.create_task(runner(slot)) for slot in slots]
        limit = cfg.warmup + cfg.duration + 0.1
    _, pending = await asyncio.wait(tasks, timeout=limit)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    window_end = measure_to
    if exhausted_at is not None and exhausted_at < measure_to:
        result.exhausted = True
        window_end = exhausted_at
    codes: Counter[str] = Counter()
    for completed, latency, code in done:
        if measure_from <= completed <= window_end:
            result.latencies.append(latency)
            codes[code] += 1
    result.codes = dict(codes)
    result.window = max(0.0, window_end - measure_from)
    result.wall_to = result.wall_from + result.window


def _worker_entry(index: int, workers: int, scenario: Scenario, cfg: LoadConfig,
                  barrier: Any, out: Any) -> None:
    try:
        if cfg.cpus:
            os.sched_setaffinity(0, cfg.cpus)
        result = asyncio.run(_drive(index, workers, scenario, cfg, barrier))
    except BaseException as exc:
        result = WorkerResult(worker=index, error=f"{type(exc).__name__}: {exc}")
    out.put(result)


# -- parent -------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, all its threads (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants that are alive now (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, ()))
    return tree


def memory_kib(pid: int, field: str = "VmRSS") -> int | None:
    """A memory figure of /proc/<pid>/status in KiB: VmRSS (now) or VmHWM (peak)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def pss_kib(pid: int) -> int | None:
    """Proportional set size in KiB (/proc/<pid>/smaps_rollup): each shared
    page counted once across the processes that map it, not once in each."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class CpuSampler(threading.Thread):
    """Samples the CPU time of some processes every `interval` seconds, and
    the summed VmRSS of the groups named in `rss`."""

    def __init__(self, pids: dict[str, list[int]], interval: float = 0.1,
                 rss: Sequence[str] = ()) -> None:
        super().__init__(daemon=True, name="cpu-sampler")
        self.pids = pids
        self.interval = interval
        self.samples: list[tuple[float, dict[str, float]]] = []
        self.rss = tuple(rss)
        self.rss_peak_kib: dict[str, int] = {}
        self.pss_peak_kib: dict[str, int] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            sample: dict[str, float] = {}
            for group, pids in self.pids.items():
                times = [cpu_seconds(p) for p in pids]
                if all(t is not None for t in times):
                    sample[group] = sum(t for t in times if t is not None)
            for group in self.rss:
                total = sum(memory_kib(p) or 0 for p in self.pids.get(group, ()))
                self.rss_peak_kib[group] = max(self.rss_peak_kib.get(group, 0), total)
                pss = sum(pss_kib(p) or 0 for p in self.pids.get(group, ()))
                self.pss_peak_kib[group] = max(self.pss_peak_kib.get(group, 0), pss)
            self.samples.append((time.time(), sample))
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=2.0)

    def percent(self, group: str, start: float, end: float) -> float | None:
        """Mean CPU use of a group between two time.time() instants, in % of a core."""
        inside = [(t, s[group]) for t, s in self.samples if start <= t <= end and group in s]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return None
        (t0, c0), (t1, c1) = inside[0], inside[-1]
        return 100.0 * (c1 - c0) / (t1 - t0)


def run_load(scenario: Scenario, cfg: LoadConfig,
             server_pid: int | Sequence[int] | None = None) -> LoadResult:
    """Run the scenario with `cfg.procs` worker processes; merge their results.
    With `server_pid` (one pid, or several: a server's process tree), the
    server's CPU use over the measured window and its peak RSS are reported."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    barrier = ctx.Barrier(cfg.procs)
    workers = [
        ctx.Process(target=_worker_entry, name=f"load-{i}", daemon=True,
                    args=(i, cfg.procs, scenario, cfg, barrier, out))
        for i in range(cfg.procs)
    ]
    results: list[WorkerResult] = []
    deadline = (time.monotonic() + 2 * cfg.connect_timeout + cfg.warmup + cfg.duration
                + cfg.call_timeout + 30.0)
    sampler: CpuSampler | None = None
    try:
        for proc in workers:
            proc.start()
        pids = {"load": [p.pid for p in workers if p.pid is not None]}
        if server_pid is not None:
            pids["server"] = ([server_pid] if isinstance(server_pid, int)
                              else list(server_pid))
        sampler = CpuSampler(pids, rss=("server",))
        sampler.start()
        while len(results) < len(workers):
            try:
                results.append(out.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue_mod.Empty:
                raise RuntimeError(f"load workers did not report within the deadline "
                                   f"({len(results)}/{len(workers)} done)") from None
    finally:
        if sampler is not None:
            sampler.stop()
        for proc in workers:
            proc.join(timeout=5.0)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5.0)
    errors = [r.error for r in results if r.error]
    if errors:
        raise RuntimeError("load worker failed: " + "; ".join(errors))
    merged = merge(scenario, cfg, results)
    start = max(r.wall_from for r in results)
    end = min(r.wall_to for r in results)
    assert sampler is not None
    rss = sampler.rss_peak_kib.get("server")
    pss = sampler.pss_peak_kib.get("server")
    return dataclasses.replace(merged, server_cpu_pct=sampler.percent("server", start, end),
                               load_cpu_pct=sampler.percent("load", start, end),
                               server_rss_mb=rss / 1024 if rss else None,
                               server_pss_mb=pss / 1024 if pss else None)


def merge(scenario: Scenario, cfg: LoadConfig, results: Sequence[WorkerResult]) -> LoadResult:
    latencies = sorted(x for r in results for x in r.latencies)
    codes: Counter[str] = Counter()
    for r in results:
        codes.update(r.codes)
    # Each worker's rate over its own window, summed: a worker that ran out of
    # calls early does not dilute the others.
    rps = sum(len(r.latencies) / r.window for r in results if r.window > 0)
    unexpected = sum(n for code, n in codes.items() if code not in scenario.expected)
    mean = sum(latencies) / len(latencies) if latencies else 0.0
    return LoadResult(
        scenario=scenario.name,
        procs=cfg.procs,
        concurrency=cfg.concurrency,
        duration=cfg.duration,
        warmup=cfg.warmup,
        calls=len(latencies),
        rps=rps,
        p50_ms=percentile(latencies, 50) * 1000,
        p90_ms=percentile(latencies, 90) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        max_ms=(latencies[-1] * 1000) if latencies else 0.0,
        mean_ms=mean * 1000,
        codes=dict(sorted(codes.items())),
        expected=tuple(scenario.expected),
        unexpected=unexpected,
        exhausted=any(r.exhausted for r in results),
        measured_seconds=max((r.window for r in results), default=0.0),
    )


def describe(result: LoadResult) -> str:
    codes = ", ".join(f"{k}={v}" for k, v in result.codes.items()) or "none"
    line = (f"{result.scenario}: {result.rps:,.0f} RPS, p50 {result.p50_ms:.2f} ms, "
            f"p99 {result.p99_ms:.2f} ms ({result.calls} calls in "
            f"{result.measured_seconds:.1f}s; {codes})")
    cpu = [f"{who} CPU {pct:.0f}%" for who, pct in (("server", result.server_cpu_pct),
                                                     ("load", result.load_cpu_pct))
           if pct is not None]
    if result.server_rss_mb is not None:
        cpu.append(f"server RSS {result.server_rss_mb:.0f} MB")
    if cpu:
        line += " [" + ", ".join(cpu) + "]"
    if result.exhausted:
        line += " [call pool exhausted early]"
    return line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Drive a constant unary request.")
    parser.add_argument("--target", required=True, help="host:port (loopback)")
    parser.add_argument("--method", required=True,
                        help="gRPC: full method path, /pkg.Svc/Method; --http: 'POST /path'")
    parser.add_argument("--http", action="store_true", help="HTTP/1.1 instead of gRPC")
    parser.add_argument("--channels", type=int, default=1, help="gRPC channels per process")
    parser.add_argument("--rate", type=float, default=None, help="open loop: calls/s in all")
    parser.add_argument("--payload-size", type=int, default=10, help="request bytes")
    parser.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--procs", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument("--server-pid", type=int, default=None,
                        help="report this process's CPU use over the measured window")
    args = parser.parse_args(argv)
    metadata: Metadata = tuple((k, v) for k, _, v in (m.partition("=") for m in args.metadata))
    scenario = ConstantScenario(name=args.method, method=args.method,
                                payload=b"x" * args.payload_size, metadata=metadata)
    cfg = LoadConfig(target=args.target, procs=args.procs, concurrency=args.concurrency,
                     duration=args.duration, warmup=args.warmup,
                     transport="http" if args.http else "grpc", channels=args.channels,
                     rate=args.rate)
    if args.http:
        scenario = dataclasses.replace(scenario, expected=("200",))
    print(describe(run_load(scenario, cfg, args.server_pid)), file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
