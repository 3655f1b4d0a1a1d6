"""Workload `held`: one `expstream serve` process holds N idle subscribers of one experiment (50,000
in the full run), then each of a few updates must reach every one of them. Reported: N, deliveries
against expected, the server's RSS before and after the subscribers connect (and per connection),
and the connect time. fanout_once measures it, as it does the fan-out rows.

Each side of a connection is an open file, and the server and the load generator are separate
processes with the same RLIMIT_NOFILE (bench/run.sh raises it to 65,536, else to the hard limit).
Below N + FD_MARGIN the workload holds as many subscribers as the limit allows and records
`limited_by`: the 50,000 goal is then not measurable on this machine, which is not a failure."""

from __future__ import annotations

import math
import resource
from typing import Any

from lib.db import Db
from lib.servers import Server, expstream_serve
from lib.settings import Plan, WorkloadBroken, broken, log

from workloads.fanout import fanout_once, warm_up

# Descriptors the server needs besides its subscribers: PostgreSQL connections, the listener, the
# core's epoll and eventfds, logs, and an upgrade's socket while it is handed to the core.
FD_MARGIN = 500
# Subscribers per source address: one loopback address has ~28k ephemeral ports (32768-60999).
PER_SOURCE_IP = 20_000


def held_count(wanted: int) -> tuple[int, str | None]:
    """(subscribers to hold, what limited them or None): as many as wanted, or as the open-files
    limit allows."""
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if wanted + FD_MARGIN <= limit:
        return wanted, None
    return limit - FD_MARGIN, f"RLIMIT_NOFILE {limit}"


def run_held(plan: Plan, db: Db, results: dict[str, Any]) -> None:
    n, limited_by = held_count(plan.held_n)
    sources = math.ceil(n / PER_SOURCE_IP)
    label = f"held-{n}"
    row: dict[str, Any] = {
        "wanted": plan.held_n,
        "n": n,
        "limited_by": limited_by,
        "hard_nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        "source_ips": sources,
        "rounds": plan.held_rounds,
    }
    results["held"] = row
    log(
        f"held: {n:,} idle subscribers of one experiment on one process, from {sources} source address(es), "
        f"then {plan.held_rounds} updates"
        + (f" ({plan.held_n:,} wanted; limited by {limited_by})" if limited_by else "")
    )
    spec = expstream_serve()
    try:
        with Server(spec, db) as server:
            warm_up(server, plan, label)
            f = fanout_once(server, n, plan.held_rounds, label, settle=plan.settle, source_ips=sources)
    except WorkloadBroken as exc:
        broken(results, label, exc)
        row.update(ok=False, error=str(exc))
        return
    row.update(
        ok=True,
        deliveries=f["deliveries"],
        expected_deliveries=f["expected_deliveries"],
        rss_before_kib=f["rss_before_kb"],
        rss_connected_kib=f["rss_connected_kb"],
        rss_per_conn_kib=(f["rss_connected_kb"] - f["rss_before_kb"]) / n,
        connect_seconds=f["connect_seconds"],
        connect_cpu_per_conn_us=f["connect_cpu_per_conn_us"],
        last_p50_ms=f["last_p50_ms"],
        last_p99_ms=f["last_p99_ms"],
        cpu_per_msg_us=f["cpu_per_msg_us"],
        note=spec.note,
    )
    log(
        f"  {row['deliveries']:,}/{row['expected_deliveries']:,} delivered; RSS {row['rss_before_kib']:,} -> "
        f"{row['rss_connected_kib']:,} KiB ({row['rss_per_conn_kib']:.1f} KiB/conn); connected in "
        f"{row['connect_seconds']:.1f} s; last subscriber p99 {row['last_p99_ms']:.0f} ms"
    )
