"""What the machine is, and what its processes use: CPU and RSS from /proc, PostgreSQL's CPU by its
backends' process titles."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import re
import resource
import shutil
import subprocess
from typing import Any

from lib.settings import LOADGEN_CPU, NCPU, SERVER_CPU

CLK_TCK = os.sysconf("SC_CLK_TCK")


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


def db_cpu(db_name: str) -> float:
    """CPU of the PostgreSQL backends serving database db_name, found by their process titles
    ("postgres: [CLUSTER:] USER DB HOST(PORT) STATE"): no query, so sampling costs nothing on the database."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                title = f.read().split(b"\0")[0].decode(errors="replace")
            parts = title.split()
            if parts and parts[0] == "postgres:" and db_name in parts[1:5]:
                total += proc_cpu_stat(int(entry))
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError, ValueError):
            pass
    return total


def best_cpu(a: dict[str, float], b: dict[str, float]) -> float:
    stat = b["stat"] - a["stat"]
    sched = b["sched"] - a["sched"]
    # schedstat loses exited threads (it can even go down): then, or for long windows, take stat.
    return stat if stat >= 0.5 or sched < stat - 0.03 else sched


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
