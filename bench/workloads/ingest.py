"""Workload `ingest` (run by `latency`, on its server): batches of conversion events through
`POST /events`, 2 calls in flight, no subscribers."""

from __future__ import annotations

from typing import Any

from lib.db import VARIANTS, Db
from lib.loadgen import Loadgen, ms
from lib.machine import best_cpu
from lib.servers import Server, auth_header, http_json
from lib.settings import WorkloadBroken, broken, log


def ingest_once(server: Server, db: Db, batch: int, batches: int, label: str) -> dict[str, Any]:
    eid = db.create_experiment(f"bench-{label}")
    assigned = min(10_000, batch * batches)
    http_json(
        server.port,
        "POST",
        f"/api/v1/experiments/{eid}/assignments",
        {"assignments": [{"user_id": f"u{i}", "variant_key": VARIANTS[i % 3][0]} for i in range(assigned)]},
    )
    args = [
        "--port",
        server.port,
        "--mode",
        "ingest",
        "--ingest-path",
        f"/api/v1/experiments/{eid}/events",
        "--batch",
        batch,
        "--batches",
        batches,
        "--users",
        100_000,
        "--http-conc",
        2,
        "--prefix",
        label,
        "--header",
        auth_header(),
        "--control",
    ]
    lg = Loadgen(args, label)
    try:
        lg.wait("connected", timeout=120)
        cpu0 = server.cpu()
        lg.send("go")
        result = lg.wait("result", timeout=batches * 60 + 30)
        cpu1 = server.cpu()
    finally:
        rc = lg.close()
    events = int(result.get("events") or 0)
    stored = int(db.psql(f"SELECT count(*) FROM events WHERE experiment_id = '{eid}'")[0][0])
    row: dict[str, Any] = {
        "batch": batch,
        "batches": batches,
        "events": events,
        "stored": stored,
        "ok": bool(result.get("ok")) and rc == 0 and stored == batch * batches,
        "error": result.get("error"),
        "events_per_second": result.get("events_per_second"),
        "batch_p50_ms": ms(result.get("batch_p50")),
        "batch_p99_ms": ms(result.get("batch_p99")),
        "server_cpu_seconds": best_cpu(cpu0, cpu1),
        "db_cpu_seconds": cpu1["db"] - cpu0["db"],
        "loadgen_cpu_seconds": result.get("loadgen_cpu_seconds"),
    }
    row["server_cpu_per_event_us"] = row["server_cpu_seconds"] / max(events, 1) * 1e6
    row["db_cpu_per_event_us"] = row["db_cpu_seconds"] / max(events, 1) * 1e6
    if not row["ok"]:
        raise WorkloadBroken(f"{label}: stored {stored} of {batch * batches} events; error {row['error']}")
    return row


def run_ingest(server: Server, db: Db, batch: int, batches: int, results: dict[str, Any]) -> None:
    label = f"ingest-{batch}"
    log(f"ingest: {batches} batches of {batch} conversion events, 2 in flight")
    try:
        row = ingest_once(server, db, batch, batches, label)
        results.setdefault("ingest", []).append(row)
        log(
            f"  {row['events_per_second']:.0f} events/s (server {row['server_cpu_per_event_us']:.1f} us cpu/event, "
            f"db {row['db_cpu_per_event_us']:.1f} us cpu/event)"
        )
    except WorkloadBroken as exc:
        broken(results, label, exc)
