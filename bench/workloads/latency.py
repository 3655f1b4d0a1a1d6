"""Workloads `latency` and `cross-node`: ingest-to-screen, from a single-event ingest call sent to a
subscriber's receipt of a snapshot covering it, on one `expstream serve` and across two."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from lib.db import VARIANTS, Db
from lib.loadgen import SNAPSHOT_PREFIX, Loadgen, ms
from lib.machine import best_cpu
from lib.servers import Server, ServerSpec, auth_header, expstream_defaults, http_json, token
from lib.settings import LOADGEN_CPU, Plan, WorkloadBroken, broken, log

from workloads.fanout import warm_up
from workloads.ingest import run_ingest


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
