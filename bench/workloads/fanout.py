"""Workload `fanout`: snapshot updates to N subscribers of one experiment, expstream beside its
peers. fanout_once is the one fan-out measurement; warm_up and ws_target serve the other workloads'
subscribers too."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lib.db import VARIANTS, Db
from lib.loadgen import SNAPSHOT_PREFIX, Loadgen, ms
from lib.machine import best_cpu, rss_kb
from lib.servers import Server, ServerSpec, auth_header, expstream_serve, peer_specs, token
from lib.settings import Plan, WorkloadBroken, broken, log


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


def fanout_once(
    server: Server, n: int, rounds: int, label: str, settle: float = 1.0, source_ips: int = 0
) -> dict[str, Any]:
    """One fan-out measurement: connect n, sample RSS and CPU, run the rounds, sample again.
    source_ips > 0: the subscribers connect from that many loopback addresses (127.0.0.2 ...), since
    one address has only ~28k ephemeral ports."""
    eid = server.db.create_experiment(f"bench-fanout-{label}") if server.spec.uses_db else None
    path, trigger = ws_target(server, eid)
    # The load generator's default, 240 s, is ample for 10,000 subscribers; beyond 24,000, 10 ms each.
    connect_timeout = max(240.0, n / 100)
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
        "--connect-timeout",
        connect_timeout,
        # Alerts and lifecycle events are not deliveries.
        "--match-prefix",
        SNAPSHOT_PREFIX,
    ]
    if source_ips > 0:
        args += ["--source-ips", source_ips]
    rss0 = rss_kb(server.pid)
    cpu0 = server.cpu()
    lg = Loadgen(args, label)
    try:
        connected = lg.wait("connected", timeout=connect_timeout + 60)
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


def warm_up(server: Server, plan: Plan, label: str) -> None:
    if plan.warm_conns <= 0:
        return
    fanout_once(server, plan.warm_conns, 2, f"{label}-warmup", settle=0.0)
    time.sleep(0.5)


def fanout_specs(payload: Path) -> list[ServerSpec]:
    """expstream and its peers; payload: the snapshot the peers broadcast."""
    return [expstream_serve(), *peer_specs(payload)]


def run_fanout(plan: Plan, db: Db, payload: Path, results: dict[str, Any]) -> None:
    specs = [s for s in fanout_specs(payload) if not plan.servers or s.name in plan.servers]
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
