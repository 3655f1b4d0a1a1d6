"""Where things are, which CPU runs what, how big each workload is (Plan), and how a run reports
progress and broken workloads."""

from __future__ import annotations

import os
import shutil
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
BUILD = BENCH / "build"
LOADGEN = BUILD / "loadgen"
FLOOR = BUILD / "floor_server"
RESULTS = BENCH / "results"
WORK = RESULTS / "work"
VENV_BIN = ROOT / ".venv" / "bin"
PY = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
NCPU = os.cpu_count() or 1
# Servers on one CPU, the load generator and the runner on another, so neither measures the other.
SERVER_CPU = "0" if NCPU >= 2 else None
LOADGEN_CPU = "1" if NCPU >= 2 else None

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/expstream_bench"


@dataclass(frozen=True)
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
    held_n: int  # idle subscribers one process is to hold (workload held)
    held_rounds: int = 3
    servers: frozenset[str] = field(default_factory=frozenset)  # fan-out: only these (--servers)
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
    held_n=50_000,
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
    held_n=300,
    warm_conns=0,
    settle=0.2,
)


def database_url(quick: bool, suffix: str = "") -> str:
    """BENCH_DATABASE_URL, else the tests' server (EXPSTREAM_TEST_DATABASE_URL) or 127.0.0.1:5432
    with database expstream_bench; quick mode uses expstream_bench_quick, recreated every run.
    A workload with a database of its own names it with a suffix (expstream_bench[_quick]_metrics)."""
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        admin = os.environ.get("EXPSTREAM_TEST_DATABASE_URL", DEFAULT_DB)
        url = urllib.parse.urlparse(admin)._replace(path="/expstream_bench").geturl()
    u = urllib.parse.urlparse(url)
    return u._replace(path=u.path.rstrip("/") + ("_quick" if quick else "") + suffix).geturl()


def pin(cpu: str | None) -> list[str]:
    return ["taskset", "-c", cpu] if cpu is not None and shutil.which("taskset") else []


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class WorkloadBroken(Exception):
    pass


def broken(results: dict[str, Any], label: str, exc: BaseException) -> None:
    """Records a broken workload; the run goes on with the next one and exits 1 at the end."""
    log(f"BROKEN {label}: {exc}")
    results.setdefault("broken", []).append({"workload": label, "error": str(exc)})
