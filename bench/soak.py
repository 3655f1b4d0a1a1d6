#!/usr/bin/env python3
"""Soak: many WebSocket connections for a long time, with steady ingest and churn. Not run in CI.

    .venv/bin/python bench/soak.py                          # 5,000 connections for 10 minutes
    .venv/bin/python bench/soak.py --connections 1000 --duration 120 --sample-every 5

It starts `expstream serve` (the project's venv) on a fresh database (default: expstream_soak on the
tests' PostgreSQL, dropped and recreated each run), opens --connections streams spread over
--experiments experiments, and for --duration seconds keeps
  * ingest going at --ingest-rate calls per second (assignments and conversions, round robin);
  * churn going: every second --churn connections close (half with a close frame, half dropped
    without one, as a browser tab or a network does) and as many new ones open;
and every --sample-every seconds reads the server's RSS (/proc/<pid>/status VmRSS), its open file
descriptors (/proc/<pid>/fd), its threads, its CPU time, and counts error-level lines in its log.
At the end every open connection must have the final snapshot of its experiment (the delivery
check), and it prints a summary (RSS after warm-up vs at the end, fd growth, error lines,
connection and ingest counts) and writes everything as JSON (--out).

RLIMIT_NOFILE is raised as bench/run.sh does (to 65,536, else the hard limit), for this process and
the server it starts. With two or more CPUs the server is pinned to CPU 0 and this load to CPU 1.
Exit status: 0 when the run was clean (no error lines, no unexpected closes, no failed ingest,
every connection had the final snapshot), 1 otherwise. All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
EXPSTREAM = VENV_BIN / "expstream"
RESULTS = ROOT / "bench" / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1
JWT_SECRET = "soak-secret-" + "0123456789abcdef" * 4
DEFAULT_ADMIN_DB = "postgresql://postgres@127.0.0.1:5432/postgres"
READY_LINE = "Application startup complete"
PARTICIPANTS = re.compile(r'"total_participants":\s*(\d+)')
SEQ = re.compile(r'"seq":\s*(\d+)')


def log(msg: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- /proc -----------------------------------------------------------------------------------------
def proc_status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            out[key] = int(value.split()[0])
    return out


def proc_cpu_seconds(pid: int) -> float:
    s = Path(f"/proc/{pid}/stat").read_text()
    fields = s[s.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def raise_nofile(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limits in ((max(65536, soft), max(65536, hard)), (hard, hard)):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, limits)
            break
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < needed:
        raise SystemExit(
            f"RLIMIT_NOFILE is {soft}; {needed} are needed (raise the hard limit, or run as root)"
        )
    return soft


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the database and the server -----------------------------------------------------------------------
def fresh_database(admin_url: str, name: str) -> str:
    for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(
            ["psql", admin_url, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True, capture_output=True
        )
    return urllib.parse.urlsplit(admin_url)._replace(path=f"/{name}").geturl()


class Server:
    def __init__(self, database_url: str, port: int, log_path: Path, extra_env: dict[str, str]) -> None:
        self.port = port
        self.log_path = log_path
        self._log_file = log_path.open("w")
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "EXPSTREAM_JWT_SECRET": JWT_SECRET,
            # Every soak connection comes from 127.0.0.1 on a few tokens: lift the per-client caps
            # (their checks still run on every connection).
            "EXPSTREAM_WS_MAX_CONNECTIONS_PER_TOKEN": "1000000",
            "EXPSTREAM_WS_MAX_CONNECTIONS_PER_ADDRESS": "1000000",
            **extra_env,
        }
        command = [str(EXPSTREAM), "serve", "--host", "127.0.0.1", "--port", str(port)]
        if NCPU >= 2:
            command = ["taskset", "-c", "0", *command] if _has("taskset") else command
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=self._log_file)
        self._offset = 0
        self.error_lines: list[str] = []
        deadline = time.monotonic() + 120
        while READY_LINE not in log_path.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start:\n" + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.1)

    @property
    def pid(self) -> int:
        return self.process.pid

    def scan_log(self) -> int:
        """Counts new error-level lines (JSON level error/critical, or a bare traceback)."""
        with self.log_path.open(errors="replace") as f:
            f.seek(self._offset)
            chunk = f.read()
        complete = chunk[: chunk.rfind("\n") + 1]
        self._offset += len(complete.encode())
        for line in complete.splitlines():
            level = None
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                level = entry.get("level") if isinstance(entry, dict) else None
            if level in ("error", "critical") or (level is None and line.startswith("Traceback")):
                self.error_lines.append(line[:500])
        return len(self.error_lines)

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()
        return self.process.returncode


def _has(tool: str) -> bool:
    from shutil import which

    return which(tool) is not None


def token(scope: str, subject: str) -> str:
    from expstream.auth import issue_token

    return issue_token(JWT_SECRET, subject=subject, scope=scope, experiments=["*"], ttl_seconds=7 * 86400)  # type: ignore[arg-type]


# -- the load ----------------------------------------------------------------------------------------------
@dataclass
class Counters:
    opened: int = 0
    open_now: int = 0
    connect_failures: int = 0
    churn_closed_clean: int = 0
    churn_dropped: int = 0
    unexpected_closes: int = 0
    unexpected_close_codes: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    snapshots: int = 0
    out_of_order: int = 0
    ingest_ok: int = 0
    ingest_failed: int = 0
    ingest_latency_ms: list[float] = field(default_factory=list)


class Connection:
    def __init__(self, experiment: str) -> None:
        self.experiment = experiment
        self.ws: Any = None
        self.task: asyncio.Task[None] | None = None
        self.last_seq = -1
        self.last_participants = -1
        self.closing = False  # we are closing it (churn, the end)
        self.ended = False  # its connection is over, whoever ended it


class Soak:
    def __init__(self, args: argparse.Namespace, server: Server, experiments: list[str]) -> None:
        self.args = args
        self.server = server
        self.experiments = experiments
        self.c = Counters()
        self.conns: list[Connection] = []
        self.rng = random.Random(args.seed)
        self.read_tokens = [token("read", f"soak-reader-{i}") for i in range(8)]
        self.write_token = token("write", "soak-writer")
        self.participants = {e: 0 for e in experiments}
        self.user_counter = 0
        self.samples: list[dict[str, Any]] = []
        self._gate = asyncio.Semaphore(args.open_concurrency)
        self._cpu_prev: tuple[float, float] | None = None

    def url(self, experiment: str) -> str:
        return (
            f"ws://127.0.0.1:{self.server.port}/api/v1/ws/experiments/{experiment}/results"
            f"?token={self.rng.choice(self.read_tokens)}"
        )

    # connections
    async def _run_connection(self, conn: Connection, opened: asyncio.Future[bool]) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        try:
            async with self._gate:
                ws = await connect(
                    self.url(conn.experiment),
                    open_timeout=60,
                    ping_interval=None,
                    close_timeout=5,
                    max_size=2**20,
                )
        except Exception:  # noqa: BLE001 - counted
            self.c.connect_failures += 1
            opened.set_result(False)
            return
        conn.ws = ws
        self.c.opened += 1
        self.c.open_now += 1
        opened.set_result(True)
        try:
            async for message in ws:
                self.c.messages += 1
                if isinstance(message, str) and '"results_update"' in message:
                    self.c.snapshots += 1
                    seq_m, part_m = SEQ.search(message), PARTICIPANTS.search(message)
                    if seq_m and part_m:
                        seq = int(seq_m.group(1))
                        if seq < conn.last_seq:
                            self.c.out_of_order += 1
                        conn.last_seq, conn.last_participants = seq, int(part_m.group(1))
            if not conn.closing:  # the server closed it
                code = str(ws.close_code)
                self.c.unexpected_closes += 1
                self.c.unexpected_close_codes[code] = self.c.unexpected_close_codes.get(code, 0) + 1
        except ConnectionClosed as exc:
            if not conn.closing:
                code = str(exc.rcvd.code if exc.rcvd else 1006)
                self.c.unexpected_closes += 1
                self.c.unexpected_close_codes[code] = self.c.unexpected_close_codes.get(code, 0) + 1
        except asyncio.CancelledError:
            pass
        finally:
            conn.ended = True
            self.c.open_now -= 1

    async def open_one(self, experiment: str) -> Connection | None:
        conn = Connection(experiment)
        opened: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        conn.task = asyncio.create_task(self._run_connection(conn, opened))
        if await opened:
            return conn
        return None

    async def open_many(self, n: int) -> None:
        results = await asyncio.gather(
            *(self.open_one(self.experiments[i % len(self.experiments)]) for i in range(n))
        )
        self.conns.extend(c for c in results if c is not None)

    async def close_one(self, conn: Connection, clean: bool) -> None:
        conn.closing = True
        if clean:
            with contextlib.suppress(Exception):
                await conn.ws.close()
            self.c.churn_closed_clean += 1
        else:
            conn.ws.transport.abort()  # no close frame: a vanished tab or network
            self.c.churn_dropped += 1
        if conn.task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(conn.task, 10)

    async def churn(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(1)
            self.conns = [c for c in self.conns if not c.ended]
            alive = [c for c in self.conns if not c.closing]
            victims = self.rng.sample(alive, min(self.args.churn, len(alive)))
            await asyncio.gather(*(self.close_one(c, clean=i % 2 == 0) for i, c in enumerate(victims)))
            self.conns = [c for c in self.conns if not c.closing]
            await self.open_many(len(victims))

    # ingest
    async def ingest(self, stop: asyncio.Event) -> None:
        import httpx

        interval = 1.0 / self.args.ingest_rate
        headers = {"Authorization": f"Bearer {self.write_token}"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.server.port}", headers=headers, timeout=30
        ) as client:
            next_at = time.monotonic()
            i = 0
            while not stop.is_set():
                await self.ingest_once(client, self.experiments[i % len(self.experiments)])
                i += 1
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def ingest_once(self, client: Any, experiment: str) -> None:
        users = []
        for _ in range(self.args.batch):
            self.user_counter += 1
            users.append(f"u{self.user_counter}")
        started = time.monotonic()
        try:
            a = await client.post(
                f"/api/v1/experiments/{experiment}/assignments",
                json={
                    "assignments": [
                        {"user_id": u, "variant_key": "control" if int(u[1:]) % 2 else "v1"} for u in users
                    ]
                },
            )
            e = await client.post(
                f"/api/v1/experiments/{experiment}/events",
                json={
                    "events": [
                        {"user_id": u, "type": "conversion", "event_id": f"ev-{u}"} for u in users[::3]
                    ]
                },
            )
            ok = a.status_code == 200 and e.status_code == 200
        except Exception:  # noqa: BLE001 - counted
            ok = False
        if ok:
            self.c.ingest_ok += 1
            self.participants[experiment] += int(a.json()["accepted"])
            self.c.ingest_latency_ms.append((time.monotonic() - started) * 1000)
        else:
            self.c.ingest_failed += 1

    # sampling
    def sample(self, elapsed: float) -> dict[str, Any]:
        pid = self.server.pid
        status = proc_status(pid)
        cpu = proc_cpu_seconds(pid)
        now = time.monotonic()
        cpu_pct = None
        if self._cpu_prev is not None:
            cpu_pct = round(100 * (cpu - self._cpu_prev[0]) / max(1e-9, now - self._cpu_prev[1]), 1)
        self._cpu_prev = (cpu, now)
        row = {
            "t": round(elapsed, 1),
            "rss_mib": round(status["VmRSS"] / 1024, 1),
            "hwm_mib": round(status["VmHWM"] / 1024, 1),
            "fds": open_fds(pid),
            "threads": status["Threads"],
            "cpu_pct": cpu_pct,
            "error_lines": self.server.scan_log(),
            "open": self.c.open_now,
            "opened": self.c.opened,
            "messages": self.c.messages,
            "ingest_ok": self.c.ingest_ok,
            "ingest_failed": self.c.ingest_failed,
            "unexpected_closes": self.c.unexpected_closes,
            "connect_failures": self.c.connect_failures,
        }
        self.samples.append(row)
        log(" ".join(f"{k}={v}" for k, v in row.items()))
        return row

    async def delivery_check(self) -> dict[str, Any]:
        """One more ingest per experiment; every open connection must get the snapshot that counts it."""
        import httpx

        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.server.port}",
            headers={"Authorization": f"Bearer {self.write_token}"},
            timeout=30,
        ) as client:
            for experiment in self.experiments:
                await self.ingest_once(client, experiment)
        deadline = time.monotonic() + self.args.final_wait
        alive = [c for c in self.conns if not c.closing and not c.ended]
        while time.monotonic() < deadline:
            behind = [c for c in alive if c.last_participants != self.participants[c.experiment]]
            if not behind:
                break
            await asyncio.sleep(0.2)
        behind = [c for c in alive if c.last_participants != self.participants[c.experiment]]
        return {
            "connections_checked": len(alive),
            "missing_final_snapshot": len(behind),
            "examples": [
                (c.experiment, c.last_participants, self.participants[c.experiment]) for c in behind[:5]
            ],
        }

    async def run(self) -> dict[str, Any]:
        args = self.args
        started = time.monotonic()
        log(f"opening {args.connections} connections over {len(self.experiments)} experiments")
        self.sample(0.0)
        await self.open_many(args.connections)
        log(
            f"opened {len(self.conns)} in {time.monotonic() - started:.1f} s "
            f"({self.c.connect_failures} failed)"
        )
        stop = asyncio.Event()
        workers = [asyncio.create_task(self.ingest(stop)), asyncio.create_task(self.churn(stop))]
        end = started + args.duration
        next_sample = started + args.sample_every
        while time.monotonic() < end:
            await asyncio.sleep(max(0.0, min(next_sample, end) - time.monotonic()))
            if time.monotonic() >= next_sample:
                self.sample(time.monotonic() - started)
                next_sample += args.sample_every
        stop.set()
        await asyncio.gather(*workers, return_exceptions=True)
        delivery = await self.delivery_check()
        final = self.sample(time.monotonic() - started)
        for conn in self.conns:
            conn.closing = True
        await asyncio.gather(*(c.ws.close() for c in self.conns if c.ws is not None), return_exceptions=True)
        await asyncio.gather(*(c.task for c in self.conns if c.task is not None), return_exceptions=True)
        # With every connection gone, the server should hold about what it held before them.
        await asyncio.sleep(0)
        settle_deadline = time.monotonic() + 30
        baseline_fds = self.samples[0]["fds"]
        # Another process's fds: there is no event to await.
        while open_fds(self.server.pid) > baseline_fds + 20 and time.monotonic() < settle_deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.5)
        after_close = self.sample(time.monotonic() - started)
        return {"delivery": delivery, "final": final, "after_close": after_close}


def summarise(args: argparse.Namespace, soak: Soak, outcome: dict[str, Any], wall: float) -> dict[str, Any]:
    samples = soak.samples
    warm = next((s for s in samples if s["t"] >= args.warmup), samples[-1])
    end = outcome["final"]
    lat = sorted(soak.c.ingest_latency_ms)
    counters = asdict(soak.c)
    counters.pop("ingest_latency_ms")
    summary = {
        "rss_mib_after_warmup": warm["rss_mib"],
        "rss_mib_end": end["rss_mib"],
        "rss_growth_mib": round(end["rss_mib"] - warm["rss_mib"], 1),
        "rss_mib_max": max(s["rss_mib"] for s in samples),
        "rss_mib_after_all_closed": outcome["after_close"]["rss_mib"],
        "fds_before": samples[0]["fds"],
        "fds_after_warmup": warm["fds"],
        "fds_end": end["fds"],
        "fd_growth": end["fds"] - warm["fds"],
        "fds_after_all_closed": outcome["after_close"]["fds"],
        "threads_after_warmup": warm["threads"],
        "threads_end": end["threads"],
        "error_lines": len(soak.server.error_lines),
        "error_examples": soak.server.error_lines[:10],
        "ingest_ms_p50": round(statistics.median(lat), 1) if lat else None,
        "ingest_ms_p99": round(lat[int(0.99 * (len(lat) - 1))], 1) if lat else None,
        "server_cpu_pct_mean": round(
            statistics.mean([s["cpu_pct"] for s in samples if s["cpu_pct"] is not None]), 1
        ),
        **counters,
        **{f"delivery_{k}": v for k, v in outcome["delivery"].items()},
        "wall_seconds": round(wall, 1),
    }
    summary["clean"] = (
        summary["error_lines"] == 0
        and soak.c.unexpected_closes == 0
        and soak.c.ingest_failed == 0
        and soak.c.connect_failures == 0
        and soak.c.out_of_order == 0
        and outcome["delivery"]["missing_final_snapshot"] == 0
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--duration", type=float, default=600, help="seconds of steady state after opening")
    parser.add_argument("--sample-every", type=float, default=10, help="seconds between samples")
    parser.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="seconds before the 'after warm-up' sample (default: 10%% of duration, at least 2 samples)",
    )
    parser.add_argument("--experiments", type=int, default=10)
    parser.add_argument(
        "--ingest-rate", type=float, default=10, help="ingest calls per second (each: assignments + events)"
    )
    parser.add_argument("--batch", type=int, default=10, help="users per ingest call")
    parser.add_argument("--churn", type=int, default=20, help="connections closed and reopened per second")
    parser.add_argument("--open-concurrency", type=int, default=200)
    parser.add_argument("--final-wait", type=float, default=60, help="seconds the delivery check may take")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--admin-database-url", default=os.environ.get("EXPSTREAM_TEST_DATABASE_URL", DEFAULT_ADMIN_DB)
    )
    parser.add_argument(
        "--database", default="expstream_soak", help="created afresh on the admin URL's server"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "soak-latest.json")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the server (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = max(0.1 * args.duration, 2 * args.sample_every)
    if not EXPSTREAM.exists():
        log(f"{EXPSTREAM} is missing: run 'make install' first")
        return 2

    raise_nofile(args.connections + 1000)
    if NCPU >= 2:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {1})  # the load stays off the server's CPU
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    database_url = fresh_database(args.admin_database_url, args.database)
    work = RESULTS / "work"
    work.mkdir(parents=True, exist_ok=True)
    server = Server(
        database_url, free_port(), work / "soak-server.log", dict(kv.split("=", 1) for kv in args.server_env)
    )
    log(f"server pid {server.pid} on port {server.port}; database {args.database}; log {server.log_path}")
    started = time.monotonic()
    try:
        import httpx

        admin = {"Authorization": f"Bearer {token('admin', 'soak-admin')}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", headers=admin, timeout=30) as client:
            experiments = []
            for i in range(args.experiments):
                response = client.post(
                    "/api/v1/experiments",
                    json={
                        "name": f"soak-{i}",
                        "variants": [
                            {"key": "control", "name": "Control", "is_control": True},
                            {"key": "v1", "name": "Variant"},
                        ],
                    },
                )
                response.raise_for_status()
                experiments.append(response.json()["id"])

        async def go() -> tuple[Soak, dict[str, Any]]:
            soak = Soak(args, server, experiments)
            return soak, await soak.run()

        soak, outcome = asyncio.run(go())
    finally:
        exit_code = server.stop()
    summary = summarise(args, soak, outcome, time.monotonic() - started)
    summary["server_exit_code"] = exit_code
    report = {
        "command": " ".join(["bench/soak.py", *(argv if argv is not None else sys.argv[1:])]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": NCPU, "python": sys.version.split()[0]},
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "summary": summary,
        "samples": soak.samples,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    log("summary:")
    for key in (
        "rss_mib_after_warmup",
        "rss_mib_end",
        "rss_growth_mib",
        "rss_mib_max",
        "rss_mib_after_all_closed",
        "fds_after_warmup",
        "fds_end",
        "fd_growth",
        "fds_before",
        "fds_after_all_closed",
        "threads_after_warmup",
        "threads_end",
        "error_lines",
        "opened",
        "connect_failures",
        "churn_closed_clean",
        "churn_dropped",
        "unexpected_closes",
        "unexpected_close_codes",
        "messages",
        "snapshots",
        "out_of_order",
        "ingest_ok",
        "ingest_failed",
        "ingest_ms_p50",
        "ingest_ms_p99",
        "server_cpu_pct_mean",
        "delivery_connections_checked",
        "delivery_missing_final_snapshot",
        "wall_seconds",
        "clean",
    ):
        log(f"  {key}: {summary[key]}")
    for line in summary["error_examples"]:
        log(f"  error line: {line}")
    log(f"wrote {args.out}")
    return 0 if summary["clean"] else 1


if __name__ == "__main__":
    sys.exit(main())
