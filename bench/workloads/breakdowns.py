"""Workload `breakdowns` (issue 15): CUPED and dimension breakdowns, against a real
`expstream serve` on a fresh database of its own.

1. CUPED: two experiments get the same simulated users: a pre-exposure covariate c (lognormal)
   and revenue y = c + noise with corr(c, y) = 0.7, +3 % in the treatment; one with CUPED (the
   users' c as covariates), one with `analysis.cuped: false`. Reported: the revenue metric's lift
   interval width in both, their ratio, and the variance reduction the snapshot states (expected
   about 0.7² = 49 %).
2. Ingest with attributes and covariates: an experiment with the 5 shop metrics and 3 dimensions
   (country: 30 values, device: 3, plan: 4); its users assigned with attributes and covariates in
   batches of 10,000, then events in batches of 10,000, 2 calls in flight (the C++ load generator).
   Reported: assignments/s and events/s (median over batches); goal: events >= 50,000/s.
3. Breakdown cost as stored events grow: one draft experiment with the 5 metrics and the 3
   dimensions grows by decades (raw rows with SQL, users with attributes; then the value counts,
   the slots, and `PUT /metrics`, on which the server recounts every total including the
   dimensions'); at each size `GET …/results?dimension=country` (20 values + (other) + (none)) is
   timed. Goal: the largest size within 2x of the smallest.

bench/run.py runs it (`--only breakdowns`, the full run, `--quick`).
"""

from __future__ import annotations

import itertools
import json
import math
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

from lib.db import VARIANTS, Db
from lib.servers import Server, token
from lib.settings import WorkloadBroken, broken, database_url, log

from workloads import metrics as shop

DIMENSIONS = ["country", "device", "plan"]
COUNTRIES = [f"c{i:02d}" for i in range(30)]
RHO = 0.7  # corr(covariate, revenue) in the CUPED simulation
LIFT = 0.03


@dataclass(frozen=True)
class BreakdownPlan:
    cuped_users: int
    ingest_users: int
    ingest_batches: int  # of 10,000 events
    max_events: int
    reps: int


FULL = BreakdownPlan(20_000, 50_000, 10, 10**7, 200)
QUICK = BreakdownPlan(2_000, 4_000, 2, 10**4, 20)


def attributes(rng: random.Random) -> dict[str, str]:
    # Skewed countries: the 20 slots go to the largest, the rest share (other).
    country = COUNTRIES[min(29, int(rng.random() ** 2 * 30))]
    return {
        "country": country,
        "device": rng.choice(["mobile", "desktop", "tablet"]),
        "plan": f"p{rng.randrange(4)}",
    }


def shop_experiment(client: shop.Client, name: str) -> str:
    """A draft with the bench's variants, the 5 shop metrics and the 3 dimensions."""
    body = {
        "name": name,
        "variants": [{"key": k, "name": n, "is_control": c} for k, n, c in VARIANTS],
        "metrics": shop.SHOP_METRICS,
        "dimensions": DIMENSIONS,
    }
    return str(client.json("POST", "/api/v1/experiments", body)["id"])


# ---------------------------------------------------------------------------------------------
# 1. CUPED


def measure_cuped(client: shop.Client, plan: BreakdownPlan) -> dict[str, Any]:
    rng = random.Random(15)
    metric = [{"key": "revenue", "kind": "mean", "event_type": "purchase", "role": "primary"}]
    variants = [{"key": "control", "name": "Control", "is_control": True}, {"key": "b", "name": "B"}]
    ids = {}
    for cuped in (True, False):
        body = {
            "name": f"bench-cuped-{cuped}",
            "variants": variants,
            "metrics": metric,
            "analysis": {"cuped": cuped},
        }
        ids[cuped] = str(client.json("POST", "/api/v1/experiments", body)["id"])
    assignments, events = [], []
    for i in range(plan.cuped_users):
        c = rng.lognormvariate(3.0, 0.5)
        variant = "b" if i % 2 else "control"
        # y = c + e with var(e) chosen so that corr(c, y) = RHO; the treatment scales y by 1 + LIFT.
        sd_c = math.sqrt((math.exp(0.25) - 1) * math.exp(6.25))
        noise = rng.gauss(0, sd_c * math.sqrt(1 / RHO**2 - 1))
        y = max(0.01, (c + noise) * (1 + LIFT if variant == "b" else 1))
        assignments.append(
            {"user_id": f"u{i}", "variant_key": variant, "covariates": {"revenue": round(c, 4)}}
        )
        events.append({"user_id": f"u{i}", "type": "purchase", "value": round(y, 4), "event_id": f"e{i}"})
    out: dict[str, Any] = {"users": plan.cuped_users, "rho": RHO}
    for cuped, eid in ids.items():
        for lo in range(0, len(assignments), shop.API_BATCH):
            client.json(
                "POST",
                f"/api/v1/experiments/{eid}/assignments",
                {"assignments": assignments[lo : lo + shop.API_BATCH]},
            )
            client.json(
                "POST", f"/api/v1/experiments/{eid}/events", {"events": events[lo : lo + shop.API_BATCH]}
            )
        snap = client.json("GET", f"/api/v1/experiments/{eid}/results")
        b = snap["metrics"][0]["variants"][1]
        lo_ci, hi_ci = b["lift_ci"] or [None, None]
        key = "cuped" if cuped else "plain"
        out[f"{key}_ci_width"] = None if lo_ci is None else hi_ci - lo_ci
        out[f"{key}_lift"] = b["relative_lift"]
        if cuped:
            out["variance_reduction"] = (b.get("cuped") or {}).get("variance_reduction")
    if out.get("cuped_ci_width") and out.get("plain_ci_width"):
        out["width_ratio"] = out["cuped_ci_width"] / out["plain_ci_width"]
    out["ok"] = True
    return out


# ---------------------------------------------------------------------------------------------
# 2. Ingest with attributes and covariates


def measure_ingest(server: Any, client: shop.Client, db: Any, plan: BreakdownPlan) -> dict[str, Any]:
    rng = random.Random(16)
    eid = shop_experiment(client, "bench-breakdowns-ingest")
    client.json("PATCH", f"/api/v1/experiments/{eid}", {"status": "active"})
    bodies = []
    for lo in range(0, plan.ingest_users, shop.API_BATCH):
        rows = [
            {
                "user_id": f"u{i}",
                "variant_key": VARIANTS[i % len(VARIANTS)][0],
                "covariates": {
                    "revenue": round(rng.lognormvariate(3.5, 0.7), 2),
                    "conversion": rng.randrange(2),
                },
                "attributes": attributes(rng),
            }
            for i in range(lo, lo + shop.API_BATCH)
        ]
        bodies.append(json.dumps({"assignments": rows}))
    a = shop.send_bodies(server, eid, bodies, shop.API_BATCH, "breakdowns-assign", kind="assignments")
    src = shop.EventSource("b", shop.SHOP_MIX, seed=17, users=plan.ingest_users)
    e = shop.send_bodies(
        server,
        eid,
        [src.body(shop.API_BATCH, plan.ingest_users, 0) for _ in range(plan.ingest_batches)],
        shop.API_BATCH,
        "breakdowns-events",
    )
    checked = shop.verify(db, eid, "breakdowns-ingest")

    def per_batch(r: dict[str, Any]) -> float:
        done = [float(x) for x in r["batch_done_seconds"]]
        gaps = [shop.API_BATCH / (y - x) for x, y in itertools.pairwise(done) if y > x]
        return statistics.median(gaps) if gaps else float(r["events_per_second"])

    return {
        "users": plan.ingest_users,
        "events": int(e["events"]),
        "assignments_per_second": per_batch(a),
        "events_per_second": per_batch(e),
        "events_server_cpu_us": e["server_cpu_seconds"] / max(int(e["events"]), 1) * 1e6,
        "events_db_cpu_us": e["db_cpu_seconds"] / max(int(e["events"]), 1) * 1e6,
        "verify_seconds": checked["seconds"],
        "ok": True,
    }


# ---------------------------------------------------------------------------------------------
# 3. Breakdown cost as stored events grow


def grow(db: Any, eid: str, stored: int, size: int, assigned: int, now_assigned: int) -> None:
    """Users [assigned, now_assigned) with attributes, then events up to `size`; participants and
    the dimensions' value counts and slots recounted, in one transaction."""
    country = "'c' || lpad(least(29, floor(power(random(), 2) * 30))::int::text, 2, '0')"
    device = "(ARRAY['mobile','desktop','tablet'])[1 + floor(random() * 3)::int]"
    db.psql(
        "BEGIN; SET LOCAL synchronous_commit = off; "
        f"SELECT setseed({0.25 + stored * 1e-9}); "
        "INSERT INTO assignments (experiment_id, user_id, variant_id, attributes) "
        f"SELECT '{eid}', 'u' || g, v.id, jsonb_build_object('country', {country}, 'device', {device}, "
        "'plan', 'p' || floor(random() * 4)::int) "
        f"FROM generate_series({assigned}, {now_assigned - 1}) g "
        f"JOIN variants v ON v.experiment_id = '{eid}' AND v.position = g % 3; "
        f"{shop.events_sql(eid, stored, size - stored, now_assigned, 0, shop.SHOP_MIX)}; "
        "UPDATE variants v SET participants = (SELECT count(*) FROM assignments a "
        f"WHERE a.experiment_id = v.experiment_id AND a.variant_id = v.id) WHERE v.experiment_id = '{eid}'; "
        f"DELETE FROM dimension_values WHERE experiment_id = '{eid}'; "
        "INSERT INTO dimension_values (experiment_id, dimension, value, users, slotted) "
        "SELECT experiment_id, d, value, n, rank() OVER (PARTITION BY d ORDER BY n DESC, value) <= 20 FROM ("
        "  SELECT a.experiment_id, k.d, a.attributes ->> k.d AS value, count(*) AS n FROM assignments a "
        "  CROSS JOIN unnest(ARRAY['country','device','plan']) AS k(d) "
        f"  WHERE a.experiment_id = '{eid}' GROUP BY 1, 2, 3) z; "
        "COMMIT; ANALYZE events; ANALYZE assignments;",
        timeout=7200,
    )


def time_breakdown(server: Any, client: shop.Client, eid: str, reps: int) -> dict[str, Any]:
    path = f"/api/v1/experiments/{eid}/results?dimension=country"
    data, timings = shop.timed_get(server, client, path, 5, reps)
    return {"values": len(json.loads(data)["values"]), **timings}


def measure_growth(server: Any, client: shop.Client, db: Any, plan: BreakdownPlan) -> list[dict[str, Any]]:
    eid = shop_experiment(client, "bench-breakdowns-growth")  # a draft: PUT /metrics recounts it
    rows, stored, assigned = [], 0, 0
    for size in shop.sizes_up_to(plan.max_events):
        now_assigned = shop.users_at(size)
        t0 = time.monotonic()
        grow(db, eid, stored, size, assigned, now_assigned)
        write_s = time.monotonic() - t0
        stored, assigned = size, now_assigned
        t0 = time.monotonic()
        client.json("PUT", f"/api/v1/experiments/{eid}/metrics", {"metrics": shop.SHOP_METRICS})
        recount_s = time.monotonic() - t0
        row = {"events": size, "assigned": assigned, **time_breakdown(server, client, eid, plan.reps)}
        row.update(write_seconds=write_s, recount_seconds=recount_s, ok=True)
        rows.append(row)
        log(
            f"  breakdown by country at {size:,} events ({row['values']} values): median "
            f"{row['median_ms']:.2f} ms, p99 {row['p99_ms']:.2f} ms (recount {recount_s:.1f} s)"
        )
    return rows


# ---------------------------------------------------------------------------------------------


def run(quick: bool, results: dict[str, Any]) -> None:
    plan = QUICK if quick else FULL
    out: dict[str, Any] = {"commit": shop.bench_commit()}
    results["breakdowns"] = out
    db = Db(database_url(quick, "_breakdowns"))
    try:
        db.ensure(fresh=True)
        with Server(shop.server_spec("expstream-breakdowns", {}), db) as server:
            client = shop.Client(server.port, token("write"))
            log(f"breakdowns: CUPED on {plan.cuped_users:,} users (corr {RHO})")
            out["cuped"] = measure_cuped(client, plan)
            log(f"  {json.dumps(out['cuped'])}")
            log(f"breakdowns: ingest with attributes and covariates ({plan.ingest_users:,} users)")
            out["ingest"] = measure_ingest(server, client, db, plan)
            log(f"  {json.dumps(out['ingest'])}")
            log(f"breakdowns: breakdown cost up to {plan.max_events:,} events")
            out["growth"] = measure_growth(server, client, db, plan)
    except (WorkloadBroken, RuntimeError, OSError) as exc:
        broken(results, "breakdowns", exc)


def goals(results: dict[str, Any], quick: bool) -> list[dict[str, Any]]:
    b = results.get("breakdowns") or {}
    out: list[dict[str, Any]] = []
    tag = " (quick mode: small sizes, no goal)" if quick else ""
    if (i := b.get("ingest")) and i.get("ok"):
        eps = i["events_per_second"]
        out.append({
            "goal": f"ingest >= 50,000 events/s with attributes and covariates (batches of 10,000){tag}",
            "value": f"{eps:,.0f} events/s",
            "met": None if quick else eps >= 50_000,
            "detail": "" if quick or eps >= 50_000 else f"missed by {50_000 / eps:.1f}x",
            "workload": "breakdowns",
        })  # fmt: skip
    rows = b.get("growth") or []
    if len(rows) >= 2:
        ratio = rows[-1]["median_ms"] / rows[0]["median_ms"]
        out.append({
            "goal": f"breakdown (3 dimensions, 20 values + other) at {rows[-1]['events']:,} events within 2x of "
            f"{rows[0]['events']:,}{tag}",
            "value": f"{ratio:.2f}x",
            "met": None if quick else ratio <= 2,
            "detail": "" if quick or ratio <= 2 else f"missed by {ratio / 2:.2f}x",
            "workload": "breakdowns",
        })  # fmt: skip
    return out


def render(results: dict[str, Any], quick: bool) -> str:
    """The generated part of BENCHMARKS.md's "CUPED and breakdowns" section."""
    meta, b = results["meta"], results.get("breakdowns") or {}
    lines = [
        f"Latest run: **{meta['date']}** — `{meta['command']}`, commit `{b.get('commit', '?')}`"
        + (" (quick mode)" if quick else "")
        + f"; load average {meta['loadavg_start'][0]:.1f} at the start.",
        "",
    ]
    if c := b.get("cuped"):
        lines += [
            f"**CUPED** ({c['users']:,} users, covariate correlated {c['rho']} with revenue, +3 % lift): lift "
            f"interval width {c.get('plain_ci_width') or float('nan'):.4f} without CUPED, "
            f"{c.get('cuped_ci_width') or float('nan'):.4f} with it ({c.get('width_ratio') or float('nan'):.2f}x); "
            f"variance removed {100 * (c.get('variance_reduction') or float('nan')):.1f} % (expected about "
            f"{100 * c['rho'] ** 2:.0f} %).",
            "",
        ]
    if i := b.get("ingest"):
        lines += [
            f"**Ingest with 3 dimensions and covariates** ({i['users']:,} users, 5 metrics, batches of 10,000, "
            f"2 in flight): assignments {i['assignments_per_second']:,.0f}/s, events "
            f"{i['events_per_second']:,.0f}/s (median over batches; server {i['events_server_cpu_us']:.1f} µs "
            f"and PostgreSQL {i['events_db_cpu_us']:.1f} µs of CPU per event); `expstream verify` clean.",
            "",
        ]
    if rows := b.get("growth"):
        lines += [
            "**Breakdown by country as stored events grow** (5 metrics, 3 dimensions; 20 values + (other) + "
            "(none) in the answer):",
            "",
            "| stored events | users | GET median ms | p99 ms | vs smallest | server CPU µs/call | PostgreSQL CPU µs/call "
            "| recount s |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            lines.append(
                f"| {r['events']:,} | {r['assigned']:,} | {r['median_ms']:.2f} | {r['p99_ms']:.2f} | "
                f"{r['median_ms'] / rows[0]['median_ms']:.2f}x | {r['server_cpu_per_call_us']:,.0f} | "
                f"{r['db_cpu_per_call_us']:,.0f} | {r['recount_seconds']:.1f} |"
            )
    goal_rows = goals(results, quick)
    if goal_rows:
        lines += ["", "| goal | measured | met |", "|---|---|---|"]
        for g in goal_rows:
            met = "—" if g["met"] is None else "yes" if g["met"] else f"**no** — {g['detail']}"
            lines.append(f"| {g['goal']} | {g['value']} | {met} |")
    return "\n".join(lines)
