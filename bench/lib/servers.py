"""Server processes: what to run (ServerSpec: expstream and its peers), and a running one (Server),
pinned to the servers' CPU, with its CPU and its database's CPU sampled from /proc."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.db import Db
from lib.machine import db_cpu, proc_cpu_sched, proc_cpu_stat, thread_cpu_sched
from lib.settings import BENCH, FLOOR, PY, ROOT, SERVER_CPU, VENV_BIN, WORK, WorkloadBroken, pin

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
            sample["db"] = db_cpu(self.db.name)
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


# Every ingest is its own push, and no periodic tick comes between the updates a workload triggers.
FANOUT_ENV = {"RESULTS_PUSH_MIN_INTERVAL_SECONDS": "0", "RESULTS_STREAM_INTERVAL_SECONDS": "3600"}


def serve_argv(port: int) -> list[str]:
    return [PY, "-m", "expstream.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]


def expstream_serve(name: str = "expstream") -> ServerSpec:
    return ServerSpec(
        name,
        "expstream",
        serve_argv,
        env={**EXPSTREAM_ENV, **FANOUT_ENV},
        note="`expstream serve` (auth on; uvicorn admits each stream, the C++ core serves it), push interval 0",
    )


def expstream_defaults() -> ServerSpec:
    return ServerSpec(
        "expstream (defaults)",
        "expstream",
        serve_argv,
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
