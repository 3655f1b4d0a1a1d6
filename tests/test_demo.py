"""The README's first command as a new user meets it: `expstream demo` prints where to look, and
what is there moves. Also: a bug in the simulator ends the demo loudly."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import httpx

from expstream.embedded_db import EmbeddedPostgres, free_port
from helpers import terminate, wait_until

START_SECONDS = 90  # a first start runs initdb


@dataclass
class Demo:
    process: subprocess.Popen[str]
    lines: dict[str, str]  # label printed by the demo -> value
    stderr: list[str]


def _pump(stream: IO[str], into: queue.Queue[str | None] | list[str]) -> None:
    for line in stream:
        into.put(line) if isinstance(into, queue.Queue) else into.append(line)
    if isinstance(into, queue.Queue):
        into.put(None)


@contextmanager
def running_demo(
    *args: str, env: dict[str, str] | None = None, wait_for: str = "write token"
) -> Iterator[Demo]:
    """`expstream demo` on an embedded database in a fresh data directory, until it has printed
    the line labelled wait_for; stopped with SIGTERM afterwards."""
    # Under /tmp and world-readable: as root, the embedded PostgreSQL runs as an unprivileged user.
    data_dir = tempfile.mkdtemp(prefix="expstream-demo-", dir="/tmp")
    os.chmod(data_dir, 0o755)
    full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "EXPSTREAM_JWT_SECRET")}
    full_env.update({"EXPSTREAM_DATA_DIR": data_dir, **(env or {})})
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("expstream")), "demo", *args],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    stdout: queue.Queue[str | None] = queue.Queue()
    stderr: list[str] = []
    pumps = [
        threading.Thread(target=_pump, args=(process.stdout, stdout), daemon=True),
        threading.Thread(target=_pump, args=(process.stderr, stderr), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    demo = Demo(process, {}, stderr)
    try:
        while wait_for not in demo.lines:
            try:
                line = stdout.get(timeout=START_SECONDS)
            except queue.Empty:
                raise AssertionError("the demo printed nothing in time:\n" + "".join(stderr[-20:])) from None
            if line is None:
                break
            if match := re.match(r"\s+([\w ]+?)(?: \(.*\))?:\s+(\S+)\s*$", line):
                demo.lines[match.group(1)] = match.group(2)
        yield demo
    finally:
        terminate(process, timeout=60)
        for pump in pumps:
            pump.join(timeout=10)  # both end at the pipes' EOF
        process.stdout.close()
        process.stderr.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_the_demo_prints_its_urls_and_its_numbers_move() -> None:
    port = free_port()
    with running_demo("--port", str(port)) as demo:
        dashboard = urlsplit(demo.lines["dashboard"])
        assert (dashboard.hostname, dashboard.port) == ("localhost", port)
        experiment_id = dashboard.path.split("/")[2]
        read = {"Authorization": f"Bearer {parse_qs(dashboard.query)['token'][0]}"}
        write = {"Authorization": f"Bearer {demo.lines['write token']}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=40) as client:
            assert client.get(urlsplit(demo.lines["API docs"]).path).status_code == 200
            assert client.get(dashboard.path).status_code == 200  # the dashboard page itself
            experiment = client.get(f"/api/v1/experiments/{experiment_id}", headers=read).json()
            assert experiment["status"] == "active"
            results = f"/api/v1/experiments/{experiment_id}/results"
            first = client.get(results, headers=read).json()

            def next_snapshot(after: dict[str, Any]) -> dict[str, Any]:
                """Long-poll: answered as soon as a newer snapshot exists (an event, not a sleep)."""
                newer: dict[str, Any] = client.get(
                    results, params={"after_seq": after["seq"], "wait": 30}, headers=read
                ).json()
                assert newer["seq"] > after["seq"]
                return newer

            later = next_snapshot(first)
            assert later["total_participants"] > first["total_participants"]
            # Conversions and a p-value follow within a few seconds of traffic.
            deadline = time.monotonic() + 60

            def moved(snapshot: dict[str, Any]) -> bool:
                variants = snapshot["variants"]
                return variants[1]["p_value"] is not None and all(v["conversion_count"] > 0 for v in variants)

            while not moved(later) and time.monotonic() < deadline:
                later = next_snapshot(later)
            assert all(v["conversion_count"] > 0 for v in later["variants"]), later["variants"]
            assert later["variants"][1]["p_value"] is not None
            # The write token the demo printed is one curl can use.
            written = client.post(
                f"/api/v1/experiments/{experiment_id}/assignments",
                json={"assignments": [{"user_id": "curl-user", "variant_key": "control"}]},
                headers=write,
            )
            assert written.status_code == 200, written.text
            assert (
                client.post(
                    f"/api/v1/experiments/{experiment_id}/assignments", json={"assignments": []}, headers=read
                ).status_code
                == 403
            )
    assert demo.process.returncode in (0, -signal.SIGTERM)
    assert not [line for line in demo.stderr if '"level": "error"' in line]


# A simulator with a programming error, as the demo's once had (a call with a missing argument).
_BROKEN_SIMULATOR = """
import sys
import expstream.demo as demo

async def broken(service):
    return await service.set_status("0" * 32, "active")  # trace_id missing: TypeError

demo.ensure_demo_experiment = broken
from expstream.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_bug_in_the_simulator_ends_the_demo_with_a_clear_error(database_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _BROKEN_SIMULATOR, "demo", "--port", str(free_port())],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "background task demo simulator failed: TypeError" in done.stderr
    assert "Traceback" in done.stderr  # logged with where it happened
    assert "expstream demo: stopped because the traffic simulator failed" in done.stderr
    assert "dashboard:" not in done.stdout


def test_the_demo_rides_out_a_database_outage(owned_postgres: EmbeddedPostgres) -> None:
    port = free_port()
    with running_demo("--port", str(port), env={"DATABASE_URL": owned_postgres.url}) as demo:
        dashboard = urlsplit(demo.lines["dashboard"])
        results = f"/api/v1/experiments/{dashboard.path.split('/')[2]}/results"
        read = {"Authorization": f"Bearer {parse_qs(dashboard.query)['token'][0]}"}
        owned_postgres.stop()
        try:
            wait_until(
                lambda: any("demo traffic batch failed" in line for line in demo.stderr),
                timeout=60,
                what="the simulator to log the failed batch",
            )
        finally:
            owned_postgres.start()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=40, headers=read) as client:
            before = wait_until(
                lambda: (r := client.get(results)).status_code == 200 and r.json(), timeout=60, what="results"
            )
            deadline = time.monotonic() + 60
            after = before
            while after["total_participants"] <= before["total_participants"] and time.monotonic() < deadline:
                after = client.get(results, params={"after_seq": after["seq"], "wait": 30}).json()
            assert after["total_participants"] > before["total_participants"]  # simulating again
        assert demo.process.poll() is None  # it never gave up
