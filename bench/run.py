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
import contextlib
import json
import os
import resource
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

# bench/ is this script's directory, so on sys.path: lib/ and workloads/ import from there.
from lib.db import Db
from lib.machine import machine_meta
from lib.settings import (
    FLOOR,
    FULL,
    LOADGEN,
    LOADGEN_CPU,
    QUICK,
    RESULTS,
    ROOT,
    WORK,
    broken,
    database_url,
    log,
)
from report import goals, print_summary, write_sections
from workloads import breakdowns as breakdowns_workload
from workloads import metrics as metrics_workload
from workloads.fanout import fanout_specs, run_fanout
from workloads.held import run_held
from workloads.history import run_history
from workloads.latency import run_cross_node, run_latency
from workloads.micro import MICRO_ARGS, run_micro
from workloads.profiles import run_profiles

WORKLOADS = ("micro", "history", "fanout", "held", "latency", "cross-node", "metrics", "breakdowns")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small N, a few seconds per workload")
    parser.add_argument(
        "--only",
        default="",
        help=f"comma list of {','.join(WORKLOADS)} (latency includes ingest), "
        "or none (with --profile: profiles only)",
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
    servers = [s.name for s in fanout_specs(WORK / "payload.json")]
    parser.add_argument("--servers", help=f"fan-out: only these servers, of {','.join(servers)}")
    args = parser.parse_args()
    # A name that matches nothing would silently run nothing (the levers, say, which are gone).
    args.only = {x for x in args.only.split(",") if x}
    if unknown := args.only - {*WORKLOADS, "none"}:
        parser.error(f"--only: no workload {', '.join(sorted(unknown))}")
    args.servers = frozenset(x for x in (args.servers or "").split(",") if x)
    if unknown := args.servers - set(servers):
        parser.error(f"--servers: no fan-out server {', '.join(sorted(unknown))}")
    return args


def main() -> int:
    args = parse_args()
    plan = QUICK if args.quick else FULL
    if args.render:
        saved = json.loads(Path(args.render).read_text())
        saved["goals"] = goals(saved, plan)
        Path(args.render).write_text(json.dumps(saved, indent=1, default=str) + "\n")
        # The results tables come from a full run only.
        write_sections(saved, plan, tables=not saved.get("only"))
        return 0
    if args.ns:
        plan = replace(plan, fanout_ns=[int(x) for x in args.ns.split(",")])
    plan = replace(plan, servers=args.servers)
    only: set[str] = args.only
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
        if want("held"):
            run_held(plan, db, results)
        if want("latency"):
            run_latency(plan, db, results)
        if want("cross-node"):
            run_cross_node(plan, db, results)
        if want("metrics"):
            max_events = int(args.metrics_max_events) if args.metrics_max_events else None
            metrics_workload.run(plan.quick, max_events, results)
        if want("breakdowns"):
            breakdowns_workload.run(plan.quick, results)
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
    if not plan.quick and not args.no_md:
        for section in write_sections(results, plan, tables=not only):
            log(f"BENCHMARKS.md {section} section updated")
    log(
        f"results: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} "
        f"({results['meta']['duration_seconds']:.0f} s)"
    )
    return 1 if results.get("broken") else 0


if __name__ == "__main__":
    sys.exit(main())
