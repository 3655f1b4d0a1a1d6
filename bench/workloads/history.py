"""Workload `history`: the cost of one snapshot against the experiment's stored history, beside the
full-scan query every snapshot ran before the running totals (issue #5)."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import time
import uuid
from typing import Any

from lib.db import Db
from lib.settings import PY, Plan, WorkloadBroken, broken, log

# The snapshot query before running totals (issue #5), as the store ran it: every snapshot
# re-aggregated the experiment's whole history. Kept verbatim as the peer of the running totals.
OLD_COUNTS_FROM = (
    "FROM variants v LEFT JOIN assignments a ON a.experiment_id = v.experiment_id AND a.variant_id = v.id "
    "LEFT JOIN (SELECT DISTINCT user_id FROM events WHERE experiment_id = $1::uuid AND type = 'conversion') c "
    "ON c.user_id = a.user_id WHERE v.experiment_id = $1::uuid GROUP BY v.id"
)
OLD_QUERY_TIMEOUT_S = 120
OLD_SNAPSHOT_SQL = (
    "SELECT v.key, v.name, v.is_control, count(a.user_id), count(a.user_id) FILTER "
    f"(WHERE c.user_id IS NOT NULL), v.weight, v.min_p {OLD_COUNTS_FROM} ORDER BY v.position"
)
# What a snapshot reads now: running totals kept by ingest, one row per (variant, metric) with the
# variant's participants (the core's metric read, joined to its variant read).
TOTALS_SQL = (
    "SELECT m.position, v.position, v.participants, coalesce(s.sum, 0)::float8, coalesce(s.sum_squares, 0)::float8, "
    "coalesce(s.cross_products, 0)::float8, s.min_p FROM metrics m JOIN variants v ON v.experiment_id = m.experiment_id "
    "LEFT JOIN metric_sums s ON s.variant_id = v.id AND s.metric = m.key WHERE m.experiment_id = $1::uuid "
    "ORDER BY m.position, v.position"
)
# An experiment's default metric (what POST /experiments gives one without `metrics`), as the core's tuple.
CONVERSION_METRIC = (
    "conversion",
    "Conversion",
    "proportion",
    "conversion",
    "primary",
    "increase",
    None,
    "",
    "",
)


def with_id(sql: str, eid: str) -> str:
    return sql.replace("$1::uuid", f"'{eid}'::uuid")


def recount_participants_sql(eid: str) -> str:
    """Sets one experiment's participants from a recount of its raw rows (the old query's count)."""
    return with_id(
        "UPDATE variants u SET participants = t.p FROM (SELECT v.id, count(a.user_id) AS p "
        f"{OLD_COUNTS_FROM}) t WHERE u.id = t.id",
        eid,
    )


async def _set_metrics(url: str, eid: str, metrics: list[Any]) -> None:
    from expstream import _core
    from expstream.service import CoreService

    core = _core.Service(url, threads=1, tick_seconds=3600.0)
    service = CoreService(core, lambda d: None)
    try:
        await service.set_metrics(eid, metrics)
    finally:
        service.close()


def recount_metrics(db: Db, eid: str) -> None:
    """The core's own recount of an experiment's metric totals (user_totals, metric_sums) from its raw
    rows: what redefining a draft's metrics does (PUT /metrics). The experiment is a draft for it and
    gets its status back; one without metrics (loaded with SQL) gets the default one, conversion."""
    status = db.psql(f"SELECT status FROM experiments WHERE id = '{eid}'")[0][0]
    rows = db.psql(
        "SELECT key, name, kind, coalesce(event_type, ''), role, direction, coalesce(cap::text, ''), "
        f"coalesce(numerator, ''), coalesce(denominator, '') FROM metrics WHERE experiment_id = '{eid}' "
        "ORDER BY position"
    )
    metrics = [(*r[:6], float(r[6]) if r[6] else None, *r[7:]) for r in rows] or [CONVERSION_METRIC]
    db.psql(f"UPDATE experiments SET status = 'draft' WHERE id = '{eid}'")
    try:
        asyncio.run(_set_metrics(db.url, eid, metrics))
    finally:
        db.psql(f"UPDATE experiments SET status = '{status}' WHERE id = '{eid}'")


def load_history(db: Db, events: int, reuse: bool) -> tuple[str, float | None]:
    """An experiment with `events` conversion events: as many assigned users (3 variants), and the
    events on the first 10 % of them (10 each), i.e. a 10 % conversion rate in every variant."""
    name = f"bench-history-{events}"
    if reuse:
        rows = db.psql(f"SELECT id FROM experiments WHERE name = '{name}' ORDER BY created_at LIMIT 1")
        if rows:
            return rows[0][0], None
    db.psql(f"DELETE FROM experiments WHERE name = '{name}'")  # its trigger deletes the raw rows too
    converters = max(events // 10, 1)
    eid = str(uuid.uuid4())
    t0 = time.monotonic()
    db.psql(
        "BEGIN; SET LOCAL synchronous_commit = off;"
        "INSERT INTO experiments (id, name, status, activated_at) "
        f"VALUES ('{eid}', '{name}', 'draft', now() - interval '7 days');"
        "INSERT INTO variants (experiment_id, position, key, name, is_control) "
        f"SELECT '{eid}', x.p, x.k, x.n, x.c FROM (VALUES (0, 'control', 'Control', true), "
        "(1, 'green', 'Green button', false), (2, 'blue', 'Blue button', false)) AS x(p, k, n, c);"
        "INSERT INTO assignments (experiment_id, user_id, variant_id) "
        f"SELECT '{eid}', 'u' || lpad(g::text, 9, '0'), v.id FROM generate_series(0, {events - 1}) g "
        f"JOIN variants v ON v.experiment_id = '{eid}' AND v.position = g % 3;"
        "INSERT INTO events (experiment_id, user_id, type) "
        f"SELECT '{eid}', 'u' || lpad(u::text, 9, '0'), 'conversion' "
        f"FROM generate_series(0, {converters - 1}) u, generate_series(1, {events // converters}) k;"
        # Raw rows written past ingest: the participants it keeps are set here, in the same
        # transaction, from a recount (statistics first, so the recount's plan fits the sizes); the
        # metric totals by the core's own recount, below, while the experiment is still a draft.
        "ANALYZE assignments; ANALYZE events;"
        f"{recount_participants_sql(eid)};"
        "COMMIT;",
        timeout=3600,
    )
    recount_metrics(db, eid)
    db.psql(f"UPDATE experiments SET status = 'active' WHERE id = '{eid}'")
    db.psql("VACUUM (ANALYZE) assignments", timeout=3600)
    db.psql("VACUUM (ANALYZE) events", timeout=3600)
    rows = db.psql(f"SELECT id FROM experiments WHERE name = '{name}'")
    return rows[0][0], time.monotonic() - t0


def verify_totals(db: Db, eid: str) -> tuple[int, str]:
    """`expstream verify EID`: 0 when the running totals match a recount of the raw rows, 1 on drift."""
    out = subprocess.run(
        [PY, "-m", "expstream.cli", "verify", eid],
        env={**os.environ, "DATABASE_URL": db.url},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    said = (out.stdout.strip() or out.stderr.strip()).splitlines()
    return out.returncode, said[-1] if said else ""


def ensure_totals(db: Db, eid: str, label: str) -> str:
    """Checks the running totals after a load; an experiment loaded before they existed (or by an older
    bench, which left them at 0) is fixed in place rather than reloaded. Returns what was done."""
    rc, said = verify_totals(db, eid)
    if rc == 0:
        return "verified"
    if rc != 1:
        raise WorkloadBroken(f"{label}: expstream verify failed ({rc}): {said}")
    log(f"  running totals drifted ({said}): recounting")
    db.psql(
        f"BEGIN; SET LOCAL synchronous_commit = off; {recount_participants_sql(eid)}; COMMIT;", timeout=3600
    )
    recount_metrics(db, eid)
    rc, said = verify_totals(db, eid)
    if rc != 0:
        raise WorkloadBroken(f"{label}: running totals still drift after a recount: {said}")
    return "recounted"


async def timed_sql(conn: Any, sql: str, eid: str, reps: int) -> tuple[list[float], list[Any]]:
    """One untimed call (plan, buffers), then reps timed round trips."""
    rows = await conn.fetch(sql, eid)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        rows = await conn.fetch(sql, eid)
        times.append(time.perf_counter() - t0)
    return times, rows


async def measure_history(db: Db, eid: str, reps: int) -> dict[str, Any]:
    """The snapshot as served (CoreService.snapshot), then the old full-scan query and today's totals
    query alone, the same number of times on the same data."""
    import asyncpg

    from expstream import _core
    from expstream.service import CoreService

    core = _core.Service(db.url, threads=2, tick_seconds=3600.0)
    service = CoreService(core, lambda d: None)
    try:
        text = await service.snapshot(eid)  # warm: connection, plan cache, buffers
        await service.snapshot(eid)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            text = await service.snapshot(eid)
            times.append(time.perf_counter() - t0)
    finally:
        service.close()
    # As the old store ran it: a parameterized statement, planned for the actual id every time. The
    # peer may take minutes at 10^7 events: past OLD_QUERY_TIMEOUT_S it is recorded as timed out.
    old_times: list[float] | None = None
    old_rows: list[Any] | None = None
    try:
        conn = await asyncpg.connect(
            db.url,
            server_settings={
                "plan_cache_mode": "force_custom_plan",
                "statement_timeout": str(OLD_QUERY_TIMEOUT_S * 1000),
            },
        )
        try:
            try:
                old_times, old_rows = await timed_sql(conn, OLD_SNAPSHOT_SQL, eid, reps)
            except asyncpg.QueryCanceledError:
                log(f"  old full-scan query: over {OLD_QUERY_TIMEOUT_S} s, cancelled")
            totals_times, _ = await timed_sql(conn, TOTALS_SQL, eid, reps)
        finally:
            await conn.close()
    except (OSError, asyncpg.PostgresError) as exc:
        raise WorkloadBroken(f"old snapshot query: {exc}") from exc
    return {
        "times": times,
        "snapshot": json.loads(text),
        "old_times": old_times,
        "old_counts": None if old_rows is None else [(r[0], r[3], r[4]) for r in old_rows],
        "totals_times": totals_times,
    }


def run_history(plan: Plan, db: Db, results: dict[str, Any]) -> None:
    rows = results.setdefault("history", [])
    for events in plan.history:
        label = f"history-{events}"
        try:
            log(f"snapshot cost: {events:,} events (loading if needed)")
            eid, load_s = load_history(db, events, reuse=not plan.quick)
            totals = ensure_totals(db, eid, label)
            counts = db.psql(
                f"SELECT (SELECT count(*) FROM assignments WHERE experiment_id = '{eid}'), "
                f"(SELECT count(*) FROM events WHERE experiment_id = '{eid}')"
            )[0]
            reps = plan.history_reps.get(events, 5)
            m = asyncio.run(measure_history(db, eid, reps))
            snap = m["snapshot"]
            if snap.get("total_participants") != int(counts[0]):
                raise WorkloadBroken(
                    f"{label}: snapshot says {snap.get('total_participants')} participants, table {counts[0]}"
                )
            new_counts = [(v["key"], v["participant_count"], v["conversion_count"]) for v in snap["variants"]]
            if m["old_counts"] is not None and new_counts != m["old_counts"]:
                raise WorkloadBroken(f"{label}: snapshot counts {new_counts}, old query {m['old_counts']}")
            times, old = m["times"], m["old_times"]
            median = statistics.median(times)
            row = {
                "events": int(counts[1]),
                "assignments": int(counts[0]),
                "reps": reps,
                "median_ms": statistics.median(times) * 1000,
                "min_ms": min(times) * 1000,
                "max_ms": max(times) * 1000,
                "old_median_ms": statistics.median(old) * 1000 if old else None,
                "old_min_ms": min(old) * 1000 if old else None,
                "old_max_ms": max(old) * 1000 if old else None,
                "old_timed_out_s": None if old else OLD_QUERY_TIMEOUT_S,
                "totals_query_median_ms": statistics.median(m["totals_times"]) * 1000,
                "old_vs_new": statistics.median(old) / median if old else None,
                "load_seconds": load_s,
                "totals": totals,
                "ok": True,
            }
            if old and (events >= 10**5 or plan.quick):
                plan_text = db.psql(
                    "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) " + with_id(OLD_SNAPSHOT_SQL, eid),
                    timeout=600,
                )
                row["explain"] = [r[0] for r in plan_text]
            rows.append(row)
            versus = (
                f"old full-scan query {row['old_median_ms']:.2f} ms ({row['old_vs_new']:.1f}x)"
                if old
                else f"old full-scan query over {OLD_QUERY_TIMEOUT_S} s"
            )
            log(
                f"  median {row['median_ms']:.2f} ms over {reps}; {versus}; totals {totals}, "
                + (f"loaded in {load_s:.1f} s" if load_s else "reused")
            )
        except (WorkloadBroken, RuntimeError) as exc:
            broken(results, label, exc)
            rows.append({"events": events, "ok": False, "error": str(exc)})
