"""`--profile`: py-spy on the expstream server (and the seed-style peer) under fan-out and ingest,
summarized per frame into the results."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from lib.db import Db
from lib.loadgen import Loadgen
from lib.servers import Server, expstream_serve, peer_specs
from lib.settings import RESULTS, VENV_BIN, WORK, Plan, log

from workloads.fanout import warm_up, ws_target
from workloads.ingest import ingest_once


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
