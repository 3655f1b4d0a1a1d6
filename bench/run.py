#!/usr/bin/env python3
"""expstream benchmarks: every workload, expstream side by side with its peers, in one run.

    bench/run.sh            full run (minutes): writes bench/results/latest.json and the results
                            section of BENCHMARKS.md
    bench/run.sh --quick    a few seconds per workload, small N: proves every workload still works
                            (exit 1 when one breaks); asserts nothing about speed

Run through bench/run.sh (it raises RLIMIT_NOFILE, builds the C++ tools, installs bench extras)
with the project's venv Python. Needs PostgreSQL at BENCH_DATABASE_URL (default: the server of
EXPSTREAM_TEST_DATABASE_URL, else postgresql://postgres@127.0.0.1:5432, database expstream_bench,
created when missing; quick mode uses expstream_bench_quick, dropped and recreated each run).

All load goes to 127.0.0.1. Servers are pinned to CPU 0 and the load generator to CPU 1 when there
are two or more CPUs. CPU costs come from /proc (user + system time of the server process, all its
threads), which hold on a busy machine where wall-clock times do not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import platform
import queue
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import timeit
import traceback
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from workloads import (
    breakdowns as breakdowns_workload,
)  # bench/workloads/ (this script's directory is on sys.path)
from workloads import metrics as metrics_workload

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BUILD = BENCH / "build"
LOADGEN = BUILD / "loadgen"
FLOOR = BUILD / "floor_server"
RESULTS = BENCH / "results"
WORK = RESULTS / "work"
VENV_BIN = ROOT / ".venv" / "bin"
PY = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1
SERVER_CPU = "0" if NCPU >= 2 else None
LOADGEN_CPU = "1" if NCPU >= 2 else None

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/expstream_bench"
SERVER_FILTER: set[str] = set()

# expstream runs with authentication on, as in production: a fixed bench secret, one read token for
# every subscriber (`?token=`) and one write token for ingest (Authorization: Bearer). The stream
# caps per token (50) and per address (1,000) are raised, since every subscriber here is one token
# on 127.0.0.1; the checks still run on every connection.
JWT_SECRET = "bench-secret-" + "0123456789abcdef" * 4
EXPSTREAM_ENV = {
    "EXPSTREAM_JWT_SECRET": JWT_SECRET,
    "EXPSTREAM_WS_MAX_CONNECTIONS_PER_TOKEN": "1000000",
    "EXPSTREAM_WS_MAX_CONNECTIONS_PER_ADDRESS": "1000000",
}
_tokens: dict[str, str] = {}


def token(scope: str) -> str:
    if scope not in _tokens:
        from expstream.auth import issue_token

        _tokens[scope] = issue_token(
            JWT_SECRET,
            subject=f"bench-{scope}",
            scope=scope,  # type: ignore[arg-type]
            experiments=["*"],
            ttl_seconds=7 * 86400,
        )
    return _tokens[scope]


def auth_header() -> str:
    return f"Authorization: Bearer {token('write')}"


VARIANTS = [("control", "Control", True), ("green", "Green button", False), ("blue", "Blue button", False)]
SNAPSHOT_PREFIX = '{"event":"results_update"'


@dataclass
class Plan:
    quick: bool
    fanout_ns: list[int]
    rounds: int
    latency_conns: int
    latency_rate: float
    latency_count: int
    ingest: list[tuple[int, int]]  # (batch size, batches)
    history: list[int]
    history_reps: dict[int, int]
    micro_number: int
    profile_n: int  # subscribers in the --profile fan-out
    warm_conns: int = 50
    settle: float = 1.0  # seconds between "all connected" and the RSS sample


FULL = Plan(
    quick=False,
    fanout_ns=[1000, 5000, 10000],
    rounds=20,
    latency_conns=1000,
    latency_rate=4.0,
    latency_count=400,  # every subscriber sees each call about at once: at 40 calls, p99 was the slowest call
    ingest=[(1000, 100), (10000, 20)],
    history=[10**3, 10**5, 10**7],
    history_reps={10**3: 30, 10**5: 10, 10**7: 3},
    micro_number=100_000,
    profile_n=5000,
)
QUICK = Plan(
    quick=True,
    fanout_ns=[200],
    rounds=3,
    latency_conns=100,
    latency_rate=4.0,
    latency_count=4,
    ingest=[(1000, 3), (10000, 1)],
    history=[10**3],
    history_reps={10**3: 5},
    micro_number=2000,
    profile_n=100,
    warm_conns=0,
    settle=0.2,
)


def database_url(quick: bool) -> str:
    """BENCH_DATABASE_URL, else the tests' server (EXPSTREAM_TEST_DATABASE_URL) or 127.0.0.1:5432
    with database expstream_bench; quick mode uses expstream_bench_quick, recreated every run."""
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        admin = os.environ.get("EXPSTREAM_TEST_DATABASE_URL", DEFAULT_DB)
        url = urllib.parse.urlparse(admin)._replace(path="/expstream_bench").geturl()
    if quick:
        u = urllib.parse.urlparse(url)
        url = u._replace(path=u.path.rstrip("/") + "_quick").geturl()
    return url


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pin(cpu: str | None) -> list[str]:
    return ["taskset", "-c", cpu] if cpu is not None and shutil.which("taskset") else []


class WorkloadBroken(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# /proc probes


def proc_cpu_stat(pid: int) -> float:
    """utime + stime of the whole process (all threads), seconds, 1/CLK_TCK resolution."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_cpu_sched(pid: int) -> float:
    """On-CPU time summed over the live threads, nanosecond resolution (schedstat)."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return float("nan")
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
    return total / 1e9


def thread_cpu_sched(pid: int, tid: int) -> float:
    try:
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return float("nan")


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------------------------
# PostgreSQL


class Db:
    def __init__(self, url: str) -> None:
        self.url = url
        u = urllib.parse.urlparse(url)
        self.name = u.path.lstrip("/") or "expstream_bench"
        self.admin = u._replace(path="/postgres").geturl()

    def psql(self, sql: str, url: str | None = None, timeout: float = 1800) -> list[list[str]]:
        out = subprocess.run(
            ["psql", url or self.url, "-X", "-v", "ON_ERROR_STOP=1", "-At", "-F", "\t", "-c", sql],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}\n{sql[:300]}")
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    def ensure(self, fresh: bool = False) -> None:
        if fresh:
            self.psql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)', url=self.admin)
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.name}'", url=self.admin)
        if not exists:
            self.psql(f'CREATE DATABASE "{self.name}"', url=self.admin)
        from expstream import _core

        core = _core.Service(self.url, threads=1, tick_seconds=3600.0)
        try:
            core.migrate()
        finally:
            core.stop()

    def create_experiment(self, name: str, status: str = "active") -> str:
        """An experiment as POST /experiments makes one without `metrics`: three variants and the
        default metric, conversion (without a metric, conversions would move no total and push nothing)."""
        rows = self.psql(
            "WITH e AS (INSERT INTO experiments (name, status, activated_at) "
            f"VALUES ('{name}', '{status}', now()) RETURNING id), "
            "v AS (INSERT INTO variants (experiment_id, position, key, name, is_control) "
            "SELECT e.id, x.p, x.k, x.n, x.c FROM e, (VALUES "
            + ", ".join(f"({i}, '{k}', '{n}', {str(c).lower()})" for i, (k, n, c) in enumerate(VARIANTS))
            + ") AS x(p, k, n, c)), "
            "m AS (INSERT INTO metrics (experiment_id, position, key, name, kind, event_type, role, direction) "
            "SELECT e.id, 0, 'conversion', 'Conversion', 'proportion', 'conversion', 'primary', 'increase' FROM e) "
            "SELECT id FROM e"
        )
        return rows[0][0]

    def backend_pids(self) -> list[int]:
        rows = self.psql(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [int(r[0]) for r in rows]


# ---------------------------------------------------------------------------------------------
# Servers


@dataclass
class ServerSpec:
    name: str
    kind: str  # expstream | seed | node | pyws | floor
    argv: Callable[[int], list[str]]
    env: dict[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def uses_db(self) -> bool:
        return self.kind in ("expstream", "seed")


class Server:
    def __init__(self, spec: ServerSpec, db: Db, cpu: str | None = SERVER_CPU) -> None:
        self.spec = spec
        self.db = db
        self.port = free_port()
        WORK.mkdir(parents=True, exist_ok=True)
        self.log_path = WORK / f"server-{spec.name}-{self.port}.log"
        env = {**os.environ, "DATABASE_URL": db.url, "PYTHONUNBUFFERED": "1", **spec.env}
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            pin(cpu) + spec.argv(self.port),
            env=env,
            cwd=ROOT,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.proc.pid  # taskset execs the command: same pid
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise WorkloadBroken(
                    f"{spec.name} exited at start ({self.proc.returncode}); see {self.log_path}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                break
            time.sleep(0.05)
        else:
            self.stop()
            raise WorkloadBroken(f"{spec.name} did not listen within 60 s; see {self.log_path}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu(self) -> dict[str, float]:
        sample = {
            "stat": proc_cpu_stat(self.pid),
            "sched": proc_cpu_sched(self.pid),
            "db": 0.0,
            "main": thread_cpu_sched(self.pid, self.pid),
        }
        if self.spec.uses_db:
            sample["db"] = db_cpu(self.db)
        return sample

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log_file.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def db_cpu(db: Db) -> float:
    """CPU of the PostgreSQL backends serving the bench database, found by their process titles
    ("postgres: [CLUSTER:] USER DB HOST(PORT) STATE"): no query, so sampling costs nothing on the database."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                title = f.read().split(b"\0")[0].decode(errors="replace")
            parts = title.split()
            if parts and parts[0] == "postgres:" and db.name in parts[1:5]:
                total += proc_cpu_stat(int(entry))
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError, ValueError):
            pass
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_json(
    port: int, method: str, path: str, body: Any = None, timeout: float = 60, scope: str = "write"
) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"content-type": "application/json", "authorization": f"Bearer {token(scope)}"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


# ---------------------------------------------------------------------------------------------
# Load generator


class Loadgen:
    def __init__(self, args: list[str], label: str) -> None:
        self.label = label
        self.stderr_path = WORK / f"loadgen-{label}.log"
        self.cmd = pin(LOADGEN_CPU) + [str(LOADGEN)] + [str(a) for a in args]
        self.proc = subprocess.Popen(
            self.cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.stderr_path, "wb"),
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait(self, event: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise WorkloadBroken(
                    f"{self.label}: no '{event}' from the load generator within {timeout:.0f} s"
                )
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(5)
                raise WorkloadBroken(
                    f"{self.label}: load generator exited ({self.proc.returncode}) before '{event}'; "
                    f"see {self.stderr_path}"
                )
            msg = json.loads(line)
            if msg.get("event") == event:
                return msg

    def send(self, command: str) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()

    def close(self, timeout: float = 120) -> int:
        self.send("close")
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait(10)


def ws_target(server: Server, experiment_id: str | None) -> tuple[str, list[str]]:
    """(subscriber path, trigger options) for one server."""
    if server.spec.kind in ("expstream", "seed"):
        assert experiment_id is not None
        path = f"/api/v1/ws/experiments/{experiment_id}/results"
        if server.spec.kind == "expstream":
            path += f"?token={token('read')}"
        return path, [
            "--trigger-method",
            "POST",
            "--trigger-path",
            f"/api/v1/experiments/{experiment_id}/assignments",
            # New users spread over the variants as real traffic is: all in one arm would (rightly)
            # trip expstream's sample-ratio-mismatch alarm.
            "--trigger-body",
            '{"assignments":[{"user_id":"fan-{i}","variant_key":"{cycle}"}]}',
            "--cycle",
            ",".join(k for k, _, _ in VARIANTS),
            "--header",
            auth_header(),
        ]
    return "/ws", ["--trigger-method", "GET", "--trigger-path", "/trigger"]


def fanout_once(server: Server, n: int, rounds: int, label: str, settle: float = 1.0) -> dict[str, Any]:
    """One fan-out measurement: connect n, sample RSS and CPU, run the rounds, sample again."""
    eid = server.db.create_experiment(f"bench-fanout-{label}") if server.spec.uses_db else None
    path, trigger = ws_target(server, eid)
    args = [
        "--port",
        server.port,
        "--path",
        path,
        "--mode",
        "fanout",
        "--conns",
        n,
        "--rounds",
        rounds,
        "--gap-ms",
        50,
        "--control",
        *trigger,
        # Alerts and lifecycle events are not deliveries.
        "--match-prefix",
        SNAPSHOT_PREFIX,
    ]
    rss0 = rss_kb(server.pid)
    cpu0 = server.cpu()
    lg = Loadgen(args, label)
    try:
        connected = lg.wait("connected", timeout=300)
        cpu1 = server.cpu()
        if connected.get("error"):
            raise WorkloadBroken(f"{label}: {connected['error']}")
        time.sleep(settle)
        rss1 = rss_kb(server.pid)
        cpu2 = server.cpu()
        lg.send("go")
        result = lg.wait("result", timeout=rounds * 70 + 30)
        cpu3 = server.cpu()
    finally:
        rc = lg.close()
    if not server.alive():
        raise WorkloadBroken(f"{label}: the server died; see {server.log_path}")
    deliveries = int(result.get("deliveries", 0))
    expected = n * rounds
    out: dict[str, Any] = {
        "server": server.spec.name,
        "kind": server.spec.kind,
        "n": n,
        "rounds": rounds,
        "ok": bool(result.get("ok")) and rc == 0 and deliveries == expected,
        "error": result.get("error"),
        "deliveries": deliveries,
        "expected_deliveries": expected,
        "extras": result.get("extras"),
        "other_messages": result.get("other_messages"),
        "pings_answered": result.get("pings_answered"),
        "connect_seconds": connected.get("connect_seconds"),
        "connect_cpu_per_conn_us": (cpu1["sched"] - cpu0["sched"]) / n * 1e6,
        "rss_before_kb": rss0,
        "rss_connected_kb": rss1,
        "mem_per_conn_bytes": (rss1 - rss0) * 1024 / n,
        "last_p50_ms": ms(result.get("last_p50")),
        "last_p99_ms": ms(result.get("last_p99")),
        "delivery_p50_ms": ms(result.get("delivery_p50")),
        "delivery_p99_ms": ms(result.get("delivery_p99")),
        "deliveries_per_second": result.get("deliveries_per_second"),
        "server_cpu_seconds": cpu3["sched"] - cpu2["sched"],
        "server_cpu_seconds_stat": cpu3["stat"] - cpu2["stat"],
        "db_cpu_seconds": cpu3["db"] - cpu2["db"],
        "main_thread_cpu_seconds": cpu3["main"] - cpu2["main"],
        "loadgen_cpu_seconds": result.get("loadgen_cpu_seconds"),
        "wall_seconds": result.get("wall_seconds"),
        "round_last_ms": [round(x * 1000, 2) for x in result.get("round_last_seconds", [])],
    }
    # /proc/PID/stat counts exited threads too (anyio's workers exit after 10 s idle) but only in
    # 1/CLK_TCK steps; schedstat is exact but only sums live threads. stat when it is >= 0.5 s.
    out["server_cpu_seconds_sched"] = out["server_cpu_seconds"]
    out["server_cpu_seconds"] = best_cpu(cpu2, cpu3)
    d = max(deliveries, 1)
    out["cpu_per_msg_us"] = out["server_cpu_seconds"] / d * 1e6
    out["cpu_per_msg_us_stat"] = out["server_cpu_seconds_stat"] / d * 1e6
    out["loadgen_cpu_per_msg_us"] = (out["loadgen_cpu_seconds"] or 0) / d * 1e6
    if not out["ok"]:
        raise WorkloadBroken(
            f"{label}: {deliveries}/{expected} deliveries, loadgen exit {rc}, error {result.get('error')}"
        )
    return out


def best_cpu(a: dict[str, float], b: dict[str, float]) -> float:
    stat = b["stat"] - a["stat"]
    sched = b["sched"] - a["sched"]
    # schedstat loses exited threads (it can even go down): then, or for long windows, take stat.
    return stat if stat >= 0.5 or sched < stat - 0.03 else sched


def ms(v: Any) -> float | None:
    return None if v is None else float(v) * 1000


def warm_up(server: Server, plan: Plan, label: str) -> None:
    if plan.warm_conns <= 0:
        return
    fanout_once(server, plan.warm_conns, 2, f"{label}-warmup", settle=0.0)
    time.sleep(0.5)


# ---------------------------------------------------------------------------------------------
# Server specs


FANOUT_ENV = {"RESULTS_PUSH_MIN_INTERVAL_SECONDS": "0", "RESULTS_STREAM_INTERVAL_SECONDS": "3600"}


def expstream_serve(name: str = "expstream") -> ServerSpec:
    return ServerSpec(
        name,
        "expstream",
        lambda port: [PY, "-m", "expstream.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**EXPSTREAM_ENV, **FANOUT_ENV},
        note="`expstream serve` (uvloop, httptools, websockets-sansio, deflate off, auth on), push interval 0",
    )


def expstream_defaults() -> ServerSpec:
    return ServerSpec(
        "expstream (defaults)",
        "expstream",
        lambda port: [PY, "-m", "expstream.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=dict(EXPSTREAM_ENV),
        note="`expstream serve` with default settings (push interval 0.2 s)",
    )


def peer_specs(payload: Path) -> list[ServerSpec]:
    return [
        ServerSpec(
            "seed-style",
            "seed",
            lambda port: [
                str(VENV_BIN / "uvicorn"),
                "app:app",
                "--app-dir",
                str(BENCH / "peers" / "seed_style"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            note="FastAPI ConnectionManager, send_json per subscriber, asyncpg aggregate per change (uvicorn defaults)",
        ),
        ServerSpec(
            "node-ws",
            "node",
            lambda port: [
                "node",
                str(BENCH / "peers" / "node-ws" / "server.js"),
                "--port",
                str(port),
                "--payload",
                str(payload),
            ],
            note="Node.js ws, the same snapshot Buffer sent to every client",
        ),
        ServerSpec(
            "py-websockets",
            "pyws",
            lambda port: [
                PY,
                str(BENCH / "peers" / "py_websockets" / "server.py"),
                "--port",
                str(port),
                "--payload",
                str(payload),
            ],
            note="websockets library server, broadcast(), uvloop",
        ),
        ServerSpec(
            "floor",
            "floor",
            lambda port: [str(FLOOR), "--port", str(port), "--payload", str(payload)],
            note="C++ epoll, one write() of pre-framed bytes per socket",
        ),
    ]


# ---------------------------------------------------------------------------------------------
# Workloads


def run_fanout(plan: Plan, db: Db, payload: Path, results: dict[str, Any]) -> None:
    specs = [expstream_serve(), *peer_specs(payload)]
    specs = [s for s in specs if not SERVER_FILTER or s.name in SERVER_FILTER]
    rows = results.setdefault("fanout", [])
    for spec in specs:
        for n in plan.fanout_ns:
            label = f"fanout-{spec.name}-{n}"
            log(f"fan-out: {spec.name}, {n} subscribers x {plan.rounds} updates")
            try:
                with Server(spec, db) as server:
                    warm_up(server, plan, label)
                    row = fanout_once(server, n, plan.rounds, label, settle=plan.settle)
                    row["note"] = spec.note
                    rows.append(row)
                    log(
                        f"  cpu/msg {row['cpu_per_msg_us']:.2f} us, last p50 {row['last_p50_ms']:.1f} ms, "
                        f"{row['deliveries_per_second']:.0f} deliveries/s, {row['mem_per_conn_bytes'] / 1024:.1f} KiB/conn"
                    )
            except WorkloadBroken as exc:
                broken(results, label, exc)
                rows.append({"server": spec.name, "kind": spec.kind, "n": n, "ok": False, "error": str(exc)})


def run_latency(plan: Plan, db: Db, results: dict[str, Any]) -> None:
    """Ingest-to-screen on `expstream serve` with default settings, then ingest throughput on the
    same server."""
    n = plan.latency_conns
    label = f"latency-{n}"
    log(
        f"ingest-to-screen: {n} subscribers, {plan.latency_count} single-event ingest calls at {plan.latency_rate}/s"
    )
    try:
        with Server(expstream_defaults(), db) as server:
            warm_up(server, plan, label)
            row = latency_once(plan, db, server, server, label)
            row["note"] = server.spec.note
            results["latency"] = row
            check_latency(row, plan, label)
            for batch, batches in plan.ingest:
                run_ingest(server, db, batch, batches, results)
    except WorkloadBroken as exc:
        broken(results, label, exc)


def latency_once(plan: Plan, db: Db, subscribers: Server, ingest: Server, label: str) -> dict[str, Any]:
    """plan.latency_conns subscribers on one server, single-event ingest calls through another (or the
    same): latency = HTTP call sent -> a subscriber's receipt of a snapshot whose seq covers it."""
    n = plan.latency_conns
    eid = db.create_experiment("bench-latency")
    users = [{"user_id": f"lat-{i}", "variant_key": VARIANTS[i % 3][0]} for i in range(plan.latency_count)]
    http_json(ingest.port, "POST", f"/api/v1/experiments/{eid}/assignments", {"assignments": users})
    time.sleep(plan.settle)
    args = [
        "--port",
        subscribers.port,
        "--http-port",
        ingest.port,
        "--path",
        f"/api/v1/ws/experiments/{eid}/results?token={token('read')}",
        "--mode",
        "latency",
        "--header",
        auth_header(),
        "--match-prefix",
        SNAPSHOT_PREFIX,
        "--conns",
        n,
        "--rate",
        plan.latency_rate,
        "--count",
        plan.latency_count,
        "--control",
        "--trigger-method",
        "POST",
        "--trigger-path",
        f"/api/v1/experiments/{eid}/events",
        "--trigger-body",
        '{"events":[{"user_id":"lat-{i}","type":"conversion"}]}',
    ]
    lg = Loadgen(args, label)
    try:
        connected = lg.wait("connected", timeout=300)
        if connected.get("error"):
            raise WorkloadBroken(f"{label}: {connected['error']}")
        time.sleep(plan.settle)
        cpu0 = subscribers.cpu()
        ingest0 = ingest.cpu() if ingest is not subscribers else cpu0
        lg.send("go")
        result = lg.wait("result", timeout=plan.latency_count / plan.latency_rate + 60)
        cpu1 = subscribers.cpu()
        ingest1 = ingest.cpu() if ingest is not subscribers else cpu1
    finally:
        rc = lg.close()
    row = {
        "server": subscribers.spec.name,
        "n": n,
        "rate_per_s": plan.latency_rate,
        "calls": result.get("calls"),
        "samples": result.get("samples"),
        "ok": bool(result.get("ok")) and rc == 0,
        "error": result.get("error"),
        "unexpected_seq": result.get("unexpected_seq"),
        "p50_ms": ms(result.get("p50")),
        "p90_ms": ms(result.get("p90")),
        "p99_ms": ms(result.get("p99")),
        "max_ms": ms(result.get("max")),
        "last_p50_ms": ms(result.get("last_p50")),
        "last_p99_ms": ms(result.get("last_p99")),
        "server_cpu_seconds": best_cpu(cpu0, cpu1),
        "db_cpu_seconds": cpu1["db"] - cpu0["db"],
        "loadgen_cpu_seconds": result.get("loadgen_cpu_seconds"),
        "experiment_id": eid,
    }
    if ingest is not subscribers:
        row["ingest_server_cpu_seconds"] = best_cpu(ingest0, ingest1)
    return row


def check_latency(row: dict[str, Any], plan: Plan, label: str) -> None:
    if not row["ok"] or row["samples"] != plan.latency_conns * plan.latency_count:
        raise WorkloadBroken(
            f"{label}: {row['samples']}/{plan.latency_conns * plan.latency_count} receipts, "
            f"error {row['error']}"
        )
    log(
        f"  p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms (to last subscriber p99 {row['last_p99_ms']:.1f} ms)"
    )


def cross_node_specs() -> tuple[ServerSpec, ServerSpec]:
    """(node A, node B): two `expstream serve` processes with the single-node latency run's default
    settings, each with its own node id, and the periodic tick off, so every push B makes for A's
    ingest comes from a change notice."""
    base = expstream_defaults()
    env = {**base.env, "RESULTS_STREAM_INTERVAL_SECONDS": "3600"}
    return (
        replace(base, name="expstream node A (ingest)", env={**env, "EXPSTREAM_NODE_ID": "bench-node-a"}),
        replace(
            base, name="expstream node B (subscribers)", env={**env, "EXPSTREAM_NODE_ID": "bench-node-b"}
        ),
    )


def run_cross_node(plan: Plan, db: Db, results: dict[str, Any]) -> None:
    """The latency workload across two server processes on one database: the subscribers on node B, the
    ingest calls through node A, so every push to them goes ingest -> NOTIFY -> B's listener -> B's push."""
    n = plan.latency_conns
    label = f"cross-node-{n}"
    log(
        f"ingest-to-screen across nodes: {n} subscribers on node B, {plan.latency_count} single-event ingest "
        f"calls through node A at {plan.latency_rate}/s"
    )
    spec_a, spec_b = cross_node_specs()
    try:
        # B holds the subscribers on the servers' CPU, as the single node does. A only answers the ingest
        # calls (a few per second), so it shares the load generator's CPU rather than B's: in production
        # the nodes are separate machines.
        with Server(spec_b, db) as node_b, Server(spec_a, db, cpu=LOADGEN_CPU) as node_a:
            warm_up(node_b, plan, label)
            row = latency_once(plan, db, node_b, node_a, label)
            row.update(
                server="expstream (defaults), 2 nodes: ingest via A, subscribers on B",
                note="`expstream serve` × 2 on one database, default settings but no periodic tick; "
                "subscribers on node B, ingest calls through node A",
            )
            listener = http_json(node_b.port, "GET", "/health/details", scope="admin")["listener"]
            row["node_b_notices_received"] = listener["notices_received"]
            results["cross_node"] = row
            check_latency(row, plan, label)
            # Without a periodic tick, B can only have pushed A's changes because it heard of them.
            if not listener["connected"] or listener["notices_received"] < plan.latency_count:
                raise WorkloadBroken(
                    f"{label}: node B heard {listener['notices_received']} change notices for "
                    f"{plan.latency_count} ingest calls (listener connected: {listener['connected']})"
                )
    except WorkloadBroken as exc:
        broken(results, label, exc)


def ingest_once(server: Server, db: Db, batch: int, batches: int, label: str) -> dict[str, Any]:
    eid = db.create_experiment(f"bench-{label}")
    assigned = min(10_000, batch * batches)
    http_json(
        server.port,
        "POST",
        f"/api/v1/experiments/{eid}/assignments",
        {"assignments": [{"user_id": f"u{i}", "variant_key": VARIANTS[i % 3][0]} for i in range(assigned)]},
    )
    args = [
        "--port",
        server.port,
        "--mode",
        "ingest",
        "--ingest-path",
        f"/api/v1/experiments/{eid}/events",
        "--batch",
        batch,
        "--batches",
        batches,
        "--users",
        100_000,
        "--http-conc",
        2,
        "--prefix",
        label,
        "--header",
        auth_header(),
        "--control",
    ]
    lg = Loadgen(args, label)
    try:
        lg.wait("connected", timeout=120)
        cpu0 = server.cpu()
        lg.send("go")
        result = lg.wait("result", timeout=batches * 60 + 30)
        cpu1 = server.cpu()
    finally:
        rc = lg.close()
    events = int(result.get("events") or 0)
    stored = int(db.psql(f"SELECT count(*) FROM events WHERE experiment_id = '{eid}'")[0][0])
    row = {
        "batch": batch,
        "batches": batches,
        "events": events,
        "stored": stored,
        "ok": bool(result.get("ok")) and rc == 0 and stored == batch * batches,
        "error": result.get("error"),
        "events_per_second": result.get("events_per_second"),
        "batch_p50_ms": ms(result.get("batch_p50")),
        "batch_p99_ms": ms(result.get("batch_p99")),
        "server_cpu_seconds": best_cpu(cpu0, cpu1),
        "db_cpu_seconds": cpu1["db"] - cpu0["db"],
        "loadgen_cpu_seconds": result.get("loadgen_cpu_seconds"),
    }
    row["server_cpu_per_event_us"] = row["server_cpu_seconds"] / max(events, 1) * 1e6
    row["db_cpu_per_event_us"] = row["db_cpu_seconds"] / max(events, 1) * 1e6
    if not row["ok"]:
        raise WorkloadBroken(f"{label}: stored {stored} of {batch * batches} events; error {row['error']}")
    return row


def run_ingest(server: Server, db: Db, batch: int, batches: int, results: dict[str, Any]) -> None:
    label = f"ingest-{batch}"
    log(f"ingest: {batches} batches of {batch} conversion events, 2 in flight")
    try:
        row = ingest_once(server, db, batch, batches, label)
        results.setdefault("ingest", []).append(row)
        log(
            f"  {row['events_per_second']:.0f} events/s (server {row['server_cpu_per_event_us']:.1f} us cpu/event, "
            f"db {row['db_cpu_per_event_us']:.1f} us cpu/event)"
        )
    except WorkloadBroken as exc:
        broken(results, label, exc)


# The snapshot query before running totals (issue #5), as the store ran it: every snapshot
# re-aggregated the experiment's whole history. Kept verbatim as the peer of the running totals.
OLD_COUNTS_FROM = (
    "FROM variants v LEFT JOIN assignments a ON a.experiment_id = v.experiment_id AND a.variant_id = v.id "
    "LEFT JOIN (SELECT DISTINCT user_id FROM events WHERE experiment_id = $1::uuid AND type = 'conversion') c "
    "ON c.user_id = a.user_id WHERE v.experiment_id = $1::uuid GROUP BY v.id"
)
OLD_SNAPSHOT_SQL = (
    "SELECT v.key, v.name, v.is_control, count(a.user_id), count(a.user_id) FILTER "
    f"(WHERE c.user_id IS NOT NULL), v.weight, v.min_p {OLD_COUNTS_FROM} ORDER BY v.position"
)
# What a snapshot reads now: running totals kept by ingest, one row per (variant, metric) with the
# variant's participants (the core's metric read, joined to its variant read).
TOTALS_SQL = (
    "SELECT m.position, v.position, v.participants, coalesce(s.sum, 0)::float8, coalesce(s.sum_squares, 0)::float8, "
    "coalesce(s.cross_products, 0)::float8, s.min_p FROM metrics m JOIN variants v ON v.experiment_id = m.experiment_id "
    "LEFT JOIN metric_sums s ON s.variant_id = v.id AND s.metric = m.key WHERE m.experiment_id = $1::uuid "
    "ORDER BY m.position, v.position"
)
# An experiment's default metric (what POST /experiments gives one without `metrics`), as the core's tuple.
CONVERSION_METRIC = (
    "conversion",
    "Conversion",
    "proportion",
    "conversion",
    "primary",
    "increase",
    None,
    "",
    "",
)


def with_id(sql: str, eid: str) -> str:
    return sql.replace("$1::uuid", f"'{eid}'::uuid")


def recount_participants_sql(eid: str) -> str:
    """Sets one experiment's participants from a recount of its raw rows (the old query's count)."""
    return with_id(
        "UPDATE variants u SET participants = t.p FROM (SELECT v.id, count(a.user_id) AS p "
        f"{OLD_COUNTS_FROM}) t WHERE u.id = t.id",
        eid,
    )


async def _set_metrics(url: str, eid: str, metrics: list[Any]) -> None:
    from expstream import _core
    from expstream.service import CoreService

    core = _core.Service(url, threads=1, tick_seconds=3600.0)
    service = CoreService(core, lambda d: None)
    try:
        await service.set_metrics(eid, metrics)
    finally:
        service.close()


def recount_metrics(db: Db, eid: str) -> None:
    """The core's own recount of an experiment's metric totals (user_totals, metric_sums) from its raw
    rows: what redefining a draft's metrics does (PUT /metrics). The experiment is a draft for it and
    gets its status back; one without metrics (loaded with SQL) gets the default one, conversion."""
    status = db.psql(f"SELECT status FROM experiments WHERE id = '{eid}'")[0][0]
    rows = db.psql(
        "SELECT key, name, kind, coalesce(event_type, ''), role, direction, coalesce(cap::text, ''), "
        f"coalesce(numerator, ''), coalesce(denominator, '') FROM metrics WHERE experiment_id = '{eid}' "
        "ORDER BY position"
    )
    metrics = [(*r[:6], float(r[6]) if r[6] else None, *r[7:]) for r in rows] or [CONVERSION_METRIC]
    db.psql(f"UPDATE experiments SET status = 'draft' WHERE id = '{eid}'")
    try:
        asyncio.run(_set_metrics(db.url, eid, metrics))
    finally:
        db.psql(f"UPDATE experiments SET status = '{status}' WHERE id = '{eid}'")


def load_history(db: Db, events: int, reuse: bool) -> tuple[str, float | None]:
    """An experiment with `events` conversion events: as many assigned users (3 variants), and the
    events on the first 10 % of them (10 each), i.e. a 10 % conversion rate in every variant."""
    name = f"bench-history-{events}"
    if reuse:
        rows = db.psql(f"SELECT id FROM experiments WHERE name = '{name}' ORDER BY created_at LIMIT 1")
        if rows:
            return rows[0][0], None
    db.psql(f"DELETE FROM experiments WHERE name = '{name}'")  # its trigger deletes the raw rows too
    converters = max(events // 10, 1)
    eid = str(uuid.uuid4())
    t0 = time.monotonic()
    db.psql(
        "BEGIN; SET LOCAL synchronous_commit = off;"
        "INSERT INTO experiments (id, name, status, activated_at) "
        f"VALUES ('{eid}', '{name}', 'draft', now() - interval '7 days');"
        "INSERT INTO variants (experiment_id, position, key, name, is_control) "
        f"SELECT '{eid}', x.p, x.k, x.n, x.c FROM (VALUES (0, 'control', 'Control', true), "
        "(1, 'green', 'Green button', false), (2, 'blue', 'Blue button', false)) AS x(p, k, n, c);"
        "INSERT INTO assignments (experiment_id, user_id, variant_id) "
        f"SELECT '{eid}', 'u' || lpad(g::text, 9, '0'), v.id FROM generate_series(0, {events - 1}) g "
        f"JOIN variants v ON v.experiment_id = '{eid}' AND v.position = g % 3;"
        "INSERT INTO events (experiment_id, user_id, type) "
        f"SELECT '{eid}', 'u' || lpad(u::text, 9, '0'), 'conversion' "
        f"FROM generate_series(0, {converters - 1}) u, generate_series(1, {events // converters}) k;"
        # Raw rows written past ingest: the participants it keeps are set here, in the same
        # transaction, from a recount (statistics first, so the recount's plan fits the sizes); the
        # metric totals by the core's own recount, below, while the experiment is still a draft.
        "ANALYZE assignments; ANALYZE events;"
        f"{recount_participants_sql(eid)};"
        "COMMIT;",
        timeout=3600,
    )
    recount_metrics(db, eid)
    db.psql(f"UPDATE experiments SET status = 'active' WHERE id = '{eid}'")
    db.psql("VACUUM (ANALYZE) assignments", timeout=3600)
    db.psql("VACUUM (ANALYZE) events", timeout=3600)
    rows = db.psql(f"SELECT id FROM experiments WHERE name = '{name}'")
    return rows[0][0], time.monotonic() - t0


def verify_totals(db: Db, eid: str) -> tuple[int, str]:
    """`expstream verify EID`: 0 when the running totals match a recount of the raw rows, 1 on drift."""
    out = subprocess.run(
        [PY, "-m", "expstream.cli", "verify", eid],
        env={**os.environ, "DATABASE_URL": db.url},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    said = (out.stdout.strip() or out.stderr.strip()).splitlines()
    return out.returncode, said[-1] if said else ""


def ensure_totals(db: Db, eid: str, label: str) -> str:
    """Checks the running totals after a load; an experiment loaded before they existed (or by an older
    bench, which left them at 0) is fixed in place rather than reloaded. Returns what was done."""
    rc, said = verify_totals(db, eid)
    if rc == 0:
        return "verified"
    if rc != 1:
        raise WorkloadBroken(f"{label}: expstream verify failed ({rc}): {said}")
    log(f"  running totals drifted ({said}): recounting")
    db.psql(
        f"BEGIN; SET LOCAL synchronous_commit = off; {recount_participants_sql(eid)}; COMMIT;", timeout=3600
    )
    recount_metrics(db, eid)
    rc, said = verify_totals(db, eid)
    if rc != 0:
        raise WorkloadBroken(f"{label}: running totals still drift after a recount: {said}")
    return "recounted"


async def timed_sql(conn: Any, sql: str, eid: str, reps: int) -> tuple[list[float], list[Any]]:
    """One untimed call (plan, buffers), then reps timed round trips."""
    rows = await conn.fetch(sql, eid)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        rows = await conn.fetch(sql, eid)
        times.append(time.perf_counter() - t0)
    return times, rows


async def measure_history(db: Db, eid: str, reps: int) -> dict[str, Any]:
    """The snapshot as served (CoreService.snapshot), then the old full-scan query and today's totals
    query alone, the same number of times on the same data."""
    import asyncpg

    from expstream import _core
    from expstream.service import CoreService

    core = _core.Service(db.url, threads=2, tick_seconds=3600.0)
    service = CoreService(core, lambda d: None)
    try:
        text = await service.snapshot(eid)  # warm: connection, plan cache, buffers
        await service.snapshot(eid)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            text = await service.snapshot(eid)
            times.append(time.perf_counter() - t0)
    finally:
        service.close()
    # As the old store ran it: a parameterized statement, planned for the actual id every time.
    try:
        conn = await asyncpg.connect(db.url, server_settings={"plan_cache_mode": "force_custom_plan"})
        try:
            old_times, old_rows = await timed_sql(conn, OLD_SNAPSHOT_SQL, eid, reps)
            totals_times, _ = await timed_sql(conn, TOTALS_SQL, eid, reps)
        finally:
            await conn.close()
    except (OSError, asyncpg.PostgresError) as exc:
        raise WorkloadBroken(f"old snapshot query: {exc}") from exc
    return {
        "times": times,
        "snapshot": json.loads(text),
        "old_times": old_times,
        "old_counts": [(r[0], r[3], r[4]) for r in old_rows],
        "totals_times": totals_times,
    }


def run_history(plan: Plan, db: Db, results: dict[str, Any]) -> None:
    rows = results.setdefault("history", [])
    for events in plan.history:
        label = f"history-{events}"
        try:
            log(f"snapshot cost: {events:,} events (loading if needed)")
            eid, load_s = load_history(db, events, reuse=not plan.quick)
            totals = ensure_totals(db, eid, label)
            counts = db.psql(
                f"SELECT (SELECT count(*) FROM assignments WHERE experiment_id = '{eid}'), "
                f"(SELECT count(*) FROM events WHERE experiment_id = '{eid}')"
            )[0]
            reps = plan.history_reps.get(events, 5)
            m = asyncio.run(measure_history(db, eid, reps))
            snap = m["snapshot"]
            if snap.get("total_participants") != int(counts[0]):
                raise WorkloadBroken(
                    f"{label}: snapshot says {snap.get('total_participants')} participants, table {counts[0]}"
                )
            new_counts = [(v["key"], v["participant_count"], v["conversion_count"]) for v in snap["variants"]]
            if new_counts != m["old_counts"]:
                raise WorkloadBroken(f"{label}: snapshot counts {new_counts}, old query {m['old_counts']}")
            times, old = m["times"], m["old_times"]
            row = {
                "events": int(counts[1]),
                "assignments": int(counts[0]),
                "reps": reps,
                "median_ms": statistics.median(times) * 1000,
                "min_ms": min(times) * 1000,
                "max_ms": max(times) * 1000,
                "old_median_ms": statistics.median(old) * 1000,
                "old_min_ms": min(old) * 1000,
                "old_max_ms": max(old) * 1000,
                "totals_query_median_ms": statistics.median(m["totals_times"]) * 1000,
                "old_vs_new": statistics.median(old) / statistics.median(times),
                "load_seconds": load_s,
                "totals": totals,
                "ok": True,
            }
            if events >= 10**5 or plan.quick:
                plan_text = db.psql(
                    "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) " + with_id(OLD_SNAPSHOT_SQL, eid),
                    timeout=600,
                )
                row["explain"] = [r[0] for r in plan_text]
            rows.append(row)
            log(
                f"  median {row['median_ms']:.2f} ms over {reps}; old full-scan query {row['old_median_ms']:.2f} ms "
                f"({row['old_vs_new']:.1f}x); totals {totals}, "
                + (f"loaded in {load_s:.1f} s" if load_s else "reused")
            )
        except (WorkloadBroken, RuntimeError) as exc:
            broken(results, label, exc)
            rows.append({"events": events, "ok": False, "error": str(exc)})


_NORMAL = statistics.NormalDist()


def _t_upper(alpha_half: float, dof: float) -> float:
    """Student t quantile t.ppf(1 - alpha_half, dof): the normal quantile with the Cornish-Fisher
    expansion (Abramowitz & Stegun 26.7.5); at these sample sizes (dof ~ 10^5) exact to ~1e-15."""
    z = _NORMAL.inv_cdf(1.0 - alpha_half)
    z2 = z * z
    g1 = (z2 + 1) * z / 4
    g2 = ((5 * z2 + 16) * z2 + 3) * z / 96
    g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384
    g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160
    return z + g1 / dof + g2 / dof**2 + g3 / dof**3 + g4 / dof**4


def _srm_sequential_p(counts: list[int], concentration: float = 100.0) -> float:
    """The core's anytime-valid SRM p-value (Lindon & Malek 2022) at equal shares: min(1, 1/BF),
    BF the Dirichlet-multinomial mixture (prior concentration x share) over the multinomial."""
    share = 1.0 / len(counts)
    prior = concentration * share
    log_bf = math.lgamma(concentration) - math.lgamma(concentration + sum(counts))
    log_bf += sum(math.lgamma(prior + x) - math.lgamma(prior) - x * math.log(share) for x in counts)
    return 1.0 if log_bf <= 0 else min(1.0, math.exp(-log_bf))


def py_snapshot_json(
    experiment_id: str,
    status: str,
    variants: list[tuple[str, str, bool, int, int]],
    days_running: int,
    seq: int,
    alpha: float,
) -> str:
    """expstream._core.snapshot_json (method "fixed", Holm-Bonferroni, equal weights) in plain Python:
    pooled z-test p-values (math.erfc), Welch t intervals on lift and difference, Holm adjustment,
    chance to win, the SRM chi-square test, and json.dumps."""
    control = next((v for v in variants if v[2]), None)
    control_rate = (control[4] / control[3] if control[3] > 0 else 0.0) if control else 0.0
    rows: list[dict[str, Any]] = []
    treatments: list[int] = []
    total = 0
    for i, v in enumerate(variants):
        key, name, is_control, n, c = v
        rate = c / n if n > 0 else 0.0
        total += n
        row: dict[str, Any] = {
            "key": key,
            "name": name,
            "participant_count": n,
            "conversion_count": c,
            "conversion_rate": rate,
            "relative_lift": None,
            "p_value": None,
            "is_control": is_control,
            "weight": 1.0,
            "lift_ci": None,
            "difference_ci": None,
            "p_value_adjusted": None,
            "chance_to_win": None,
            "is_significant": False,
        }
        if v is control:
            row["relative_lift"] = 0.0
        elif control is not None:
            treatments.append(i)
            if control_rate > 0:
                row["relative_lift"] = (rate - control_rate) / control_rate
            na, ca = control[3], control[4]
            if na > 0 and n > 0:
                pooled = (ca + c) / (na + n)
                if 0.0 < pooled < 1.0:
                    se = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / n))
                    if se > 0:
                        z = (c / n - ca / na) / se
                        row["p_value"] = min(1.0, max(0.0, math.erfc(abs(z) / math.sqrt(2.0))))
                ma, mb = ca / na, c / n
                if 0 < ma < 1 and 0 < mb < 1:
                    va, vb = ma * (1 - ma), mb * (1 - mb)
                    sa, sb = va / na, vb / n
                    dof = (sb + sa) ** 2 / (sb * sb / (n - 1) + sa * sa / (na - 1))
                    q = _t_upper(alpha / 2, dof)
                    lift, lift_var = (mb - ma) / ma, vb / (ma * ma * n) + va * mb * mb / (ma**4 * na)
                    diff, diff_var = mb - ma, sb + sa
                    hw = q * math.sqrt(lift_var)
                    row["lift_ci"] = [lift - hw, lift + hw]
                    hw = q * math.sqrt(diff_var)
                    row["difference_ci"] = [diff - hw, diff + hw]
                    row["chance_to_win"] = min(
                        1.0, max(0.0, 0.5 * math.erfc(-lift / math.sqrt(lift_var) / math.sqrt(2)))
                    )
        rows.append(row)
    holm = len(treatments) >= 2
    if holm:
        ps = [rows[i]["p_value"] for i in treatments]
        order = sorted(range(len(ps)), key=lambda k: 1.0 if ps[k] is None else ps[k])
        running = 0.0
        for rank, k in enumerate(order):
            value = 1.0 if ps[k] is None else ps[k]
            running = max(running, min(1.0, value * (len(ps) - rank)))
            if ps[k] is not None:
                rows[treatments[k]]["p_value_adjusted"] = min(1.0, max(0.0, running))
    else:
        for i in treatments:
            rows[i]["p_value_adjusted"] = rows[i]["p_value"]
    significant = False
    for i in treatments:
        r = rows[i]
        r["is_significant"] = bool(
            r["p_value_adjusted"] is not None
            and r["p_value_adjusted"] < alpha
            and r["lift_ci"] is not None
            and not (r["lift_ci"][0] <= 0.0 <= r["lift_ci"][1])
            and r["difference_ci"] is not None
            and not (r["difference_ci"][0] <= 0.0 <= r["difference_ci"][1])
        )
        significant = significant or r["is_significant"]
    srm_p = _srm_sequential_p([v[3] for v in variants]) if total > 0 and len(variants) >= 2 else None
    return json.dumps(
        {
            "event": "results_update",
            "experiment_id": experiment_id,
            "timestamp": dt.datetime.now(dt.UTC).isoformat(),
            "status": status,
            "variants": rows,
            "total_participants": total,
            "days_running": days_running,
            "is_significant": significant,
            "seq": seq,
            "analysis": {
                "method": "fixed",
                "alpha": alpha,
                "sequential_tuning": None,
                "correction": "holm-bonferroni" if holm else "none",
            },
            "srm": {"p_value": srm_p, "mismatch": srm_p is not None and srm_p < 0.001},
        },
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def _same(a: Any, b: Any, path: str = "") -> str | None:
    """None when two parsed snapshots agree (floats to 1e-9 relative), else where they differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{path}: keys {sorted(set(a) ^ set(b))}"
        for k in a:
            if k == "timestamp":
                continue
            if (d := _same(a[k], b[k], f"{path}.{k}")) is not None:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: lengths"
        for i, (x, y) in enumerate(zip(a, b)):
            if (d := _same(x, y, f"{path}[{i}]")) is not None:
                return d
        return None
    if (
        isinstance(a, (int, float))
        and isinstance(b, (int, float))
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return None if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15) else f"{path}: {a} vs {b}"
    return None if a == b else f"{path}: {a!r} vs {b!r}"


MICRO_ARGS = (
    "6f1c2b9e-3d4a-4b5c-8d7e-9f0a1b2c3d4e",
    "active",
    [
        ("control", "Control", True, 48213, 4821),
        ("green", "Green button", False, 48190, 5302),
        ("blue", "Blue button", False, 48177, 4890),
    ],
    12,
    98231,
    0.05,
)


def run_micro(plan: Plan, results: dict[str, Any]) -> None:
    from expstream import _core

    log("core micro-benchmark: 3-variant snapshot, C++ core vs plain Python")
    label = "micro"
    try:
        cpp = json.loads(_core.snapshot_json(*MICRO_ARGS, method="fixed", correction="holm"))
        py = json.loads(py_snapshot_json(*MICRO_ARGS))
        if (diff := _same(cpp, py)) is not None:
            raise WorkloadBroken(f"micro: C++ and Python snapshots differ at {diff}")
        number = plan.micro_number
        t_cpp = (
            min(
                timeit.repeat(
                    lambda: _core.snapshot_json(*MICRO_ARGS, method="fixed", correction="holm"),
                    number=number,
                    repeat=5,
                )
            )
            / number
        )
        t_py = min(timeit.repeat(lambda: py_snapshot_json(*MICRO_ARGS), number=number, repeat=5)) / number
        results["micro"] = {
            "cpp_us": t_cpp * 1e6,
            "python_us": t_py * 1e6,
            "speedup": t_py / t_cpp,
            "bytes": len(_core.snapshot_json(*MICRO_ARGS)),
            "number": number,
            "ok": True,
            "what": "method fixed, Holm-Bonferroni, 3 variants; Python: erfc z-test, Welch t "
            "intervals (Cornish-Fisher t quantile), Holm, chance to win, SRM, json.dumps",
        }
        log(f"  C++ {t_cpp * 1e6:.2f} us, Python {t_py * 1e6:.2f} us per call ({t_py / t_cpp:.1f}x)")
    except WorkloadBroken as exc:
        broken(results, label, exc)
        results["micro"] = {"ok": False, "error": str(exc)}


def broken(results: dict[str, Any], label: str, exc: BaseException) -> None:
    log(f"BROKEN {label}: {exc}")
    results.setdefault("broken", []).append({"workload": label, "error": str(exc)})


# ---------------------------------------------------------------------------------------------
# Profiles (--profile): py-spy on the expstream server under fan-out and ingest


def start_pyspy(pyspy: Path, pid: int, raw: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the server at 250 Hz into raw (collapsed stacks); SIGINT ends it."""
    return subprocess.Popen(
        [str(pyspy), "record", "--pid", str(pid), "--rate", "250", "--format", "raw", "--output", str(raw)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_profiles(plan: Plan, db: Db, results: dict[str, Any]) -> None:
    pyspy = VENV_BIN / "py-spy"
    if not pyspy.exists():
        log("profile: py-spy missing (pip install -r bench/requirements.txt)")
        return
    out_dir = RESULTS / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    profiles = results.setdefault("profiles", {})
    for name, spec, n in (
        ("fanout", expstream_serve(), plan.profile_n),
        ("fanout-seed-style", peer_specs(WORK / "payload.json")[0], plan.profile_n),
    ):
        with Server(spec, db) as server:
            warm_up(server, plan, f"profile-{name}")
            eid = db.create_experiment(f"bench-profile-{name}")
            path, trigger = ws_target(server, eid)
            lg = Loadgen(
                [
                    "--port",
                    server.port,
                    "--path",
                    path,
                    "--mode",
                    "fanout",
                    "--conns",
                    n,
                    "--rounds",
                    plan.rounds * 2,
                    "--control",
                    *trigger,
                ],
                f"profile-{name}",
            )
            try:
                lg.wait("connected", timeout=300)
                raw = out_dir / f"{name}.txt"
                spy = start_pyspy(pyspy, server.pid, raw)
                time.sleep(1.0)
                lg.send("go")
                lg.wait("result", timeout=600)
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
            finally:
                lg.close()
        profiles[name] = summarize_collapsed(raw)
        log(f"profile {name}: top self {profiles[name]['self'][:5]}")
    # ingest
    spec = expstream_serve(name="expstream-ingest")
    with Server(spec, db) as server:
        raw = out_dir / "ingest.txt"
        spy = start_pyspy(pyspy, server.pid, raw)
        time.sleep(1.0)
        ingest_once(server, db, 10_000, 10, "profile-ingest")
        spy.send_signal(signal.SIGINT)
        spy.wait(60)
    profiles["ingest"] = summarize_collapsed(raw)
    log(f"profile ingest: top self {profiles['ingest']['self'][:5]}")


def summarize_collapsed(path: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive shares per frame from py-spy's collapsed stacks, event-loop thread only.

    py-spy counts threads parked in C (anyio/executor workers waiting on a queue) as busy, so only
    stacks under the event loop's Runner.run are kept; its own idle time (uvloop's epoll wait) shows
    as self time of Runner.run and is dropped too."""
    self_counts: dict[str, int] = {}
    incl_counts: dict[str, int] = {}
    total = all_samples = 0
    if not path.exists():
        return {"samples": 0, "self": [], "inclusive": []}

    def short(frame: str) -> str:
        if " (" not in frame:
            return frame
        name, where = frame.split(" (", 1)
        return f"{name} ({where.split(':')[0].split('/')[-1].rstrip(')')})"

    for line in path.read_text().splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_s)
        all_samples += count
        frames = [short(f) for f in stack.split(";")]
        if "Runner.run (runners.py)" not in frames or frames[-1] == "Runner.run (runners.py)":
            continue
        total += count
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + count
        for f in set(frames):
            incl_counts[f] = incl_counts.get(f, 0) + count

    def ranked(d: dict[str, int]) -> list[tuple[str, float]]:
        return [
            (k, round(100 * v / max(total, 1), 1)) for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:top]
        ]

    return {
        "samples": total,
        "all_samples": all_samples,
        "self": ranked(self_counts),
        "inclusive": [x for x in ranked(incl_counts) if x[1] < 99.5],
    }


# ---------------------------------------------------------------------------------------------
# Report


def find(rows: list[dict[str, Any]], server: str, n: int) -> dict[str, Any] | None:
    return next((r for r in rows if r.get("server") == server and r.get("n") == n and r.get("ok")), None)


def goals(results: dict[str, Any], plan: Plan) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    fan = results.get("fanout", [])
    nmax = max(plan.fanout_ns)

    def add(goal: str, value: str, met: bool | None, detail: str = "") -> None:
        out.append({"goal": goal, "value": value, "met": met, "detail": detail})

    # Fan-out goals only when fan-out ran (not in an --only run of other workloads).
    for n in plan.fanout_ns if fan else []:
        e = find(fan, "expstream", n)
        for peer, want, text in (
            ("seed-style", 5.0, "CPU/msg <= 1/5 of seed-style"),
            ("node-ws", 1.0, "CPU/msg no worse than node-ws"),
            ("floor", 3.0, "CPU/msg within 3x of floor"),
        ):
            p = find(fan, peer, n)
            if e is None or p is None:
                add(f"{text} (N={n})", "n/a", None, "a run broke")
                continue
            if peer == "seed-style":
                ratio = p["cpu_per_msg_us"] / e["cpu_per_msg_us"]
                add(
                    f"{text} (N={n})",
                    f"seed-style/expstream = {ratio:.2f}x",
                    ratio >= want,
                    "" if ratio >= want else f"needs {want / ratio:.2f}x less CPU per message",
                )
            else:
                ratio = e["cpu_per_msg_us"] / p["cpu_per_msg_us"]
                add(
                    f"{text} (N={n})",
                    f"expstream/{peer} = {ratio:.2f}x",
                    ratio <= want,
                    "" if ratio <= want else f"missed by {ratio / want:.2f}x",
                )
    e = find(fan, "expstream", nmax)
    if e:
        kb = e["mem_per_conn_bytes"] / 1024
        add(
            f"memory per idle connection < 20 KB (N={nmax})",
            f"{kb:.1f} KiB",
            kb < 20,
            "" if kb < 20 else f"missed by {kb / 20:.2f}x",
        )
    if fan:
        add(
            f"{nmax:,} concurrent subscribers held",
            "all delivered" if e else "broke",
            bool(e) if nmax >= 10000 else None,
            "" if nmax >= 10000 else "quick mode: smaller N",
        )
    for lat, tag in ((results.get("latency"), ""), (results.get("cross_node"), " [across 2 nodes]")):
        if not lat or lat.get("p99_ms") is None:
            continue
        add(
            f"ingest-to-screen p99 < 50 ms ({lat['n']} subscribers){tag}",
            f"{lat['p99_ms']:.1f} ms",
            lat["p99_ms"] < 50,
            "" if lat["p99_ms"] < 50 else f"missed by {lat['p99_ms'] / 50:.2f}x",
        )
    # One call takes up to 10,000 records (EXPSTREAM_MAX_BATCH), so the goal is judged at the largest
    # batch; smaller batches are information.
    ingest = sorted(results.get("ingest", []), key=lambda r: -r["batch"])
    for row in ingest:
        eps = row["events_per_second"]
        if row is ingest[0]:
            add(
                f"ingest >= 50,000 events/s (batches of {row['batch']:,}, the most one call takes)",
                f"{eps:,.0f} events/s",
                eps >= 50_000,
                "" if eps >= 50_000 else f"missed by {50_000 / eps:.2f}x",
            )
        else:
            add(
                f"ingest events/s at batches of {row['batch']:,} (information, no goal)",
                f"{eps:,.0f} events/s",
                None,
            )
    hist = {r["events"]: r for r in results.get("history", []) if r.get("ok")}
    if hist:
        lo, hi = min(hist), max(hist)
        if hi > lo:
            ratio = hist[hi]["median_ms"] / hist[lo]["median_ms"]
            add(
                f"snapshot at {hi:,} events within 2x of {lo:,}",
                f"{ratio:.1f}x",
                ratio <= 2,
                "" if ratio <= 2 else f"missed by {ratio / 2:.1f}x",
            )
    out += metrics_workload.goals(results, plan.quick)
    out += breakdowns_workload.goals(results, plan.quick)
    return out


def fmt(v: Any, spec: str = ".1f") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return format(v, spec)


def times(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.1f}x" if ratio < 100 else f"{ratio:,.0f}x"


def render_markdown(results: dict[str, Any], plan: Plan) -> str:
    m = results["meta"]
    lines = [
        f"Latest full run: **{m['date']}** — `{m['command']}` — {m['duration_seconds'] / 60:.1f} min",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['mem_gib']:.0f} GiB memory, {m['os']}; "
        f"Python {m['python']}, Node {m['node']}, PostgreSQL {m['postgres']}. Servers pinned to CPU "
        f"{SERVER_CPU}, load generator to CPU {LOADGEN_CPU}; PostgreSQL unpinned (shared). "
        "CPU = user + system time of the server process (all threads) from /proc.",
        "",
        "### Fan-out (workloads 1 and 3)",
        "",
        f"{plan.rounds} snapshot updates to N subscribers of one experiment; expstream with "
        '`RESULTS_PUSH_MIN_INTERVAL_SECONDS=0` so every ingest is its own push. "last" = trigger to the last '
        "subscriber's receipt (p50/p99 over the updates); CPU/msg = server CPU during the updates / deliveries; "
        "memory = (RSS with N idle connections − RSS before) / N.",
        "",
        "| server | N | CPU/msg µs | vs expstream | last p50 ms | last p99 ms | deliveries/s | mem/conn KiB | connect CPU/conn µs | main thread % of CPU | loadgen CPU/msg µs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    fan = results.get("fanout", [])
    for n in plan.fanout_ns:
        e = find(fan, "expstream", n)
        for r in [x for x in fan if x.get("n") == n]:
            if not r.get("ok"):
                lines.append(f"| {r['server']} | {n:,} | broke: {r.get('error', '')[:80]} | | | | | | | | |")
                continue
            rel = f"{r['cpu_per_msg_us'] / e['cpu_per_msg_us']:.2f}x" if e else "—"
            share = (
                100 * r["main_thread_cpu_seconds"] / r["server_cpu_seconds"]
                if r["server_cpu_seconds"]
                else float("nan")
            )
            lines.append(
                f"| {r['server']} | {n:,} | {r['cpu_per_msg_us']:.2f} | {rel} | {fmt(r['last_p50_ms'])} | "
                f"{fmt(r['last_p99_ms'])} | {r['deliveries_per_second']:,.0f} | {r['mem_per_conn_bytes'] / 1024:.1f} | "
                f"{r['connect_cpu_per_conn_us']:.0f} | {fmt(share, '.0f')} | {r['loadgen_cpu_per_msg_us']:.2f} |"
            )
    lat, cross = results.get("latency"), results.get("cross_node")
    runs = [r for r in (lat, cross) if r]
    lines += ["", "### Ingest-to-screen latency (workload 2)", ""]
    if runs:
        r0 = runs[0]
        lines += [
            f"{r0['n']:,} subscribers, {r0['calls']} single-event ingest calls (`POST /events`, one conversion) at "
            f"{r0['rate_per_s']:g}/s, `expstream serve` with default settings (push interval 0.2 s). Latency = HTTP "
            "call sent → subscriber's receipt of a snapshot covering it.",
        ]
        if cross:
            lines += [
                "",
                "**2 nodes**: two `expstream serve` processes on the same database, the subscribers on node B "
                f"(CPU {SERVER_CPU}, like the single node), the ingest calls through node A (CPU {LOADGEN_CPU}, beside the "
                "load generator), so every push they see goes: ingest on A → `pg_notify('expstream_changes')` → "
                f"B's LISTEN connection → B's snapshot and push (node B heard {cross.get('node_b_notices_received', '?')} "
                "notices). Both nodes run the defaults with the periodic tick off "
                "(`RESULTS_STREAM_INTERVAL_SECONDS=3600`), so no push comes from anything but a notice.",
            ]
        lines += [
            "",
            "| server | samples | p50 ms | p90 ms | p99 ms | max ms | to last subscriber p50 / p99 ms |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in runs:
            lines.append(
                f"| {r['server']} | {r['samples'] or 0:,} | {fmt(r['p50_ms'])} | {fmt(r['p90_ms'])} | {fmt(r['p99_ms'])} | "
                f"{fmt(r['max_ms'])} | {fmt(r['last_p50_ms'])} / {fmt(r['last_p99_ms'])} |"
            )
    lines += [
        "",
        "### Ingest throughput (workload 4)",
        "",
        "Conversion events with unique `event_id`s through `POST /api/v1/experiments/{id}/events`, 2 requests "
        "in flight, no subscribers; 10,000 of the 100,000 users assigned. The goal (>= 50,000 events/s) is judged "
        "at batches of 10,000, the most one call takes (`EXPSTREAM_MAX_BATCH`); 1,000 is for information.",
        "",
        "| batch | events | events/s | batch p50 ms | batch p99 ms | server CPU µs/event | PostgreSQL CPU µs/event |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results.get("ingest", []):
        lines.append(
            f"| {r['batch']:,} | {r['events']:,} | {r['events_per_second']:,.0f} | {fmt(r['batch_p50_ms'])} | "
            f"{fmt(r['batch_p99_ms'])} | {r['server_cpu_per_event_us']:.1f} | {r['db_cpu_per_event_us']:.1f} |"
        )
    lines += [
        "",
        "### Snapshot cost against history (workload 5)",
        "",
        "Server-side compute of one snapshot (`CoreService.snapshot`: the store read, now one row of running "
        "totals per (variant, metric), then statistics and JSON in the C++ core; no HTTP). Peer: the full-scan aggregate every snapshot "
        "ran before the running totals, verbatim (`OLD_SNAPSHOT_SQL` in `bench/run.py`), timed alone the same "
        "number of times on the same data in the same run, as the old store ran it (a parameterized statement "
        'planned for the experiment each time, here over asyncpg); "old / new" = its median / the snapshot\'s '
        'median, a lower bound since the old snapshot paid for statistics and JSON on top. "totals query" is '
        "today's read alone, timed the same way (so with asyncpg's per-call cost). N assigned users over 3 variants and N conversion events on "
        "10 % of them, loaded with `generate_series` (participants set from a recount in the same "
        "transaction, the conversion metric's totals by the core's own recount of a draft's metrics, then "
        "checked with `expstream verify`), then `VACUUM ANALYZE`.",
        "",
        "| events | assignments | reps | snapshot median ms | min ms | max ms | vs smallest | totals query ms "
        "| old full-scan query median ms | old min / max ms | old / new |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    hist = [r for r in results.get("history", []) if r.get("ok")]
    base = hist[0]["median_ms"] if hist else None
    for r in hist:
        old = (
            f"{fmt(r.get('old_median_ms'), '.2f')} | {fmt(r.get('old_min_ms'), '.2f')} / "
            f"{fmt(r.get('old_max_ms'), '.2f')} | {times(r.get('old_vs_new'))}"
        )
        lines.append(
            f"| {r['events']:,} | {r['assignments']:,} | {r['reps']} | {r['median_ms']:.2f} | {r['min_ms']:.2f} | "
            f"{r['max_ms']:.2f} | {r['median_ms'] / base:.1f}x | {fmt(r.get('totals_query_median_ms'), '.3f')} | "
            f"{old} |"
        )
    mi = results.get("micro")
    lines += ["", "### Core micro-benchmark (workload 6)", ""]
    if mi and mi.get("ok"):
        lines += [
            f"Statistics + JSON of a 3-variant snapshot ({mi['bytes']} bytes), per call, best of 5 × "
            f"{mi['number']:,}: `expstream._core.snapshot_json` **{mi['cpp_us']:.2f} µs**, the same in plain "
            f"Python **{mi['python_us']:.2f} µs** — {mi['speedup']:.1f}x. Both compute "
            f"{mi.get('what', 'the fixed analysis')}; the outputs are checked equal (floats to 1e-9)."
        ]
    lines += ["", "### Goals", "", "| goal | measured | met |", "|---|---|---|"]
    for g in results.get("goals", []):
        if g.get("workload") in ("metrics", "breakdowns"):  # listed in their own sections (render)
            continue
        met = "—" if g["met"] is None else ("yes" if g["met"] else f"**no** — {g['detail']}")
        lines.append(f"| {g['goal']} | {g['value']} | {met} |")
    if results.get("broken"):
        lines += ["", "Broken workloads in this run:", ""] + [
            f"- {b['workload']}: {b['error']}" for b in results["broken"]
        ]
    return "\n".join(lines)


def update_benchmarks_md(section: str, name: str = "results") -> None:
    """Replaces what lies between BENCHMARKS.md's `bench:<name>` markers (appended when missing):
    `results` holds the full run's tables, `metrics` the metrics workload's."""
    path = ROOT / "BENCHMARKS.md"
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{begin}\n{end}\n"
    if begin not in text or end not in text:
        text += f"\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{section}\n{end}{tail}")


def print_summary(results: dict[str, Any], plan: Plan) -> None:
    print("\n================ summary ================", flush=True)
    fan = results.get("fanout", [])
    for n in plan.fanout_ns if fan else []:
        e = find(fan, "expstream", n)
        print(f"fan-out N={n}:")
        for r in [x for x in fan if x.get("n") == n]:
            if not r.get("ok"):
                print(f"  {r['server']:<14} BROKE: {r.get('error')}")
                continue
            ratio = (
                f"  (expstream is {e['cpu_per_msg_us'] / r['cpu_per_msg_us']:.2f}x its CPU/msg)"
                if e and r is not e
                else ""
            )
            print(
                f"  {r['server']:<14} cpu/msg {r['cpu_per_msg_us']:8.2f} us  last p50 {fmt(r['last_p50_ms']):>7} ms  "
                f"p99 {fmt(r['last_p99_ms']):>7} ms  {r['deliveries_per_second']:>9,.0f}/s  "
                f"{r['mem_per_conn_bytes'] / 1024:6.1f} KiB/conn{ratio}"
            )
    for r in results.get("history", []):
        if r.get("ok"):
            print(
                f"snapshot at {r['events']:>10,} events: {r['median_ms']:9.2f} ms, old full-scan query "
                f"{fmt(r.get('old_median_ms'), '.2f'):>9} ms ({times(r.get('old_vs_new'))})"
            )
    for line in metrics_workload.summary(results):
        print(line)
    for g in results.get("goals", []):
        status = "—" if g["met"] is None else ("MET" if g["met"] else "MISSED")
        print(f"goal: {g['goal']}: {g['value']} -> {status} {g['detail']}")
    if results.get("broken"):
        print("BROKEN:", ", ".join(b["workload"] for b in results["broken"]))


def machine_meta(command: str) -> dict[str, Any]:
    def cmd(args: list[str]) -> str:
        try:
            return subprocess.run(args, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"

    cpu_model = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu_model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    mem_kb = 0
    with open("/proc/meminfo") as f:
        mem_kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    os_name = platform.platform()
    with contextlib.suppress(OSError), open("/etc/os-release") as f:
        os_name = next(
            (line.split("=", 1)[1].strip().strip('"') for line in f if line.startswith("PRETTY_NAME")),
            os_name,
        )
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "nproc": NCPU,
        "cpu_model": cpu_model,
        "mem_gib": mem_kb / 1024 / 1024,
        "os": os_name,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": cmd(["node", "--version"]),
        "postgres": (re.findall(r"\d+\.\d+", cmd(["psql", "--version"])) or ["?"])[0]
        if shutil.which("psql")
        else "?",
        "loadavg_start": os.getloadavg(),
        "server_cpu": SERVER_CPU,
        "loadgen_cpu": LOADGEN_CPU,
        "rlimit_nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small N, a few seconds per workload")
    parser.add_argument(
        "--only",
        default="",
        help="comma list: micro,history,fanout,latency (with ingest),"
        "cross-node,metrics,breakdowns,none (with --profile: profiles only)",
    )
    parser.add_argument(
        "--metrics-max-events",
        type=float,
        help="metrics workload: grow the snapshot experiment up to this many events (default: 1e7, quick 1e4)",
    )
    parser.add_argument("--profile", action="store_true", help="also record py-spy profiles of the server")
    parser.add_argument("--no-md", action="store_true", help="do not update BENCHMARKS.md (full mode)")
    parser.add_argument("--output", help="results JSON path")
    parser.add_argument(
        "--render", metavar="JSON", help="only re-render BENCHMARKS.md from a full run's results"
    )
    parser.add_argument("--ns", help="override the fan-out subscriber counts, e.g. 1000,5000")
    parser.add_argument("--servers", help="fan-out: only these servers, e.g. expstream,floor")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.render:
        saved = json.loads(Path(args.render).read_text())
        saved["goals"] = goals(saved, plan)
        Path(args.render).write_text(json.dumps(saved, indent=1, default=str) + "\n")
        if not saved.get("only"):  # the full run's tables come from a full run only
            update_benchmarks_md(render_markdown(saved, plan))
        if saved.get("metrics"):
            update_benchmarks_md(metrics_workload.render(saved, plan.quick), "metrics")
        return 0
    if args.ns:
        plan.fanout_ns = [int(x) for x in args.ns.split(",")]
    global SERVER_FILTER
    SERVER_FILTER = {x for x in (args.servers or "").split(",") if x}
    only = {x for x in args.only.split(",") if x}
    want = lambda name: not only or name in only

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < max(plan.fanout_ns) + 500:
        log(
            f"RLIMIT_NOFILE {resource.getrlimit(resource.RLIMIT_NOFILE)} is too low for {max(plan.fanout_ns)} connections"
        )
        return 1
    for tool in (LOADGEN, FLOOR):
        if not tool.exists():
            log(f"missing {tool}: run bench/run.sh (it builds the C++ tools)")
            return 1
    if LOADGEN_CPU is not None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {int(LOADGEN_CPU)})  # the runner stays off the server's CPU

    WORK.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    command = " ".join(["bench/run.sh", *sys.argv[1:]])
    results: dict[str, Any] = {"meta": machine_meta(command), "quick": plan.quick, "only": sorted(only)}
    db = Db(database_url(plan.quick))
    try:
        db.ensure(fresh=plan.quick)
    except Exception as exc:  # noqa: BLE001
        log(f"PostgreSQL at {db.url} is not usable: {exc}")
        return 1

    from expstream import _core

    payload = WORK / "payload.json"
    payload.write_text(_core.snapshot_json(*MICRO_ARGS))
    try:
        if want("micro"):
            run_micro(plan, results)
        if want("history"):
            run_history(plan, db, results)
        if want("fanout"):
            run_fanout(plan, db, payload, results)
        if want("latency"):
            run_latency(plan, db, results)
        if want("cross-node"):
            run_cross_node(plan, db, results)
        if want("metrics"):
            max_events = int(args.metrics_max_events) if args.metrics_max_events else None
            metrics_workload.run(sys.modules[__name__], plan.quick, max_events, results)
        if want("breakdowns"):
            breakdowns_workload.run(sys.modules[__name__], plan.quick, results)
        if args.profile:
            run_profiles(plan, db, results)
    except KeyboardInterrupt:
        broken(results, "run", Exception("interrupted"))
    except Exception as exc:  # noqa: BLE001  (a crash in the runner is a broken run, reported as such)
        traceback.print_exc()
        broken(results, "runner", exc)

    results["meta"]["duration_seconds"] = time.monotonic() - started
    results["meta"]["loadavg_end"] = os.getloadavg()
    results["goals"] = goals(results, plan)
    # A partial run (--only) keeps its own file, so latest.json stays the full run the tables come from.
    default = "quick" if plan.quick else "latest" if not only else "only-" + "-".join(sorted(only))
    out = Path(args.output) if args.output else RESULTS / f"{default}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print_summary(results, plan)
    if not plan.quick and not args.no_md and not only:
        update_benchmarks_md(render_markdown(results, plan))
        log("BENCHMARKS.md results section updated")
    if not plan.quick and not args.no_md and results.get("metrics"):
        update_benchmarks_md(metrics_workload.render(results, plan.quick), "metrics")
        log("BENCHMARKS.md metrics section updated")
    if not plan.quick and not args.no_md and results.get("breakdowns"):
        update_benchmarks_md(breakdowns_workload.render(results, plan.quick), "breakdowns")
        log("BENCHMARKS.md breakdowns section updated")
    log(
        f"results: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} "
        f"({results['meta']['duration_seconds']:.0f} s)"
    )
    return 1 if results.get("broken") else 0


if __name__ == "__main__":
    sys.exit(main())
