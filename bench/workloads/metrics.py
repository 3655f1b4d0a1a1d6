"""Workload `metrics` (issue 14): experiments with several metrics, against a real `expstream serve`
on a fresh database of its own.

1. Ingest: events with values (purchases, orders, refunds) through `POST /events`, 2 calls in
   flight, on an experiment with 5 metrics (revenue mean capped, orders mean, aov ratio,
   conversion proportion, refunds proportion guardrail); a fresh experiment per row. Its users are
   assigned first; 10 % of the events belong to users assigned only afterwards. Reported: events/s
   as the median over the batches (batch / time between consecutive completions) and over the
   whole run, server and PostgreSQL CPU per event; then the late users are assigned (their earlier
   events move into the sums) and `expstream verify` recounts every total. The goal is judged at
   batches of 10,000; 1,000 is for information.
2. Snapshot cost against stored events: one draft experiment with 10 metrics grows by decades,
   10^3 ... 10^7 events: raw rows written with SQL (10 % of each step's events from users the next
   step assigns), then `PUT /metrics` with the same definitions, on which the server recounts every
   metric total from the raw rows. At each size `GET /api/v1/experiments/{id}/results` is timed
   over many calls on one keep-alive connection (median, p99) against `expstream serve` with
   default settings, and each snapshot is checked against the raw rows. `expstream verify` at the end.

The planner lever: `PGOPTIONS='-c enable_nestloop=off'` in a server's (or verify's) environment,
nothing else changed. The server's recount of a draft's metrics and `expstream verify` run with it,
because their default plan joins CTEs whose row counts PostgreSQL estimates at 1 with nested loops,
quadratic in the users: at 10^5 events the recount did not finish in 5 minutes (0.4 s with the
lever). The timed GETs and the ingest run without it. (For ingest the lever is no fix: it also
turns the index lookups into scans; at small batches it was slower.)

bench/run.py runs it (`--only metrics`, the full run, `--quick`); the helpers it shares with the
other workloads (Server, Loadgen, Db, log, ...) live in bench/lib/.
"""

from __future__ import annotations

import http.client
import itertools
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.db import VARIANTS, Db
from lib.loadgen import Loadgen, ms
from lib.machine import best_cpu
from lib.servers import EXPSTREAM_ENV, Server, ServerSpec, auth_header, serve_argv, token
from lib.settings import PY, ROOT, WORK, WorkloadBroken, broken, database_url, log

PRE_ASSIGNMENT_SHARE = 0.1  # events whose user is assigned only later
USERS_PER_EVENT = 0.1  # the growing experiment: about 10 events per assigned user
API_BATCH = 10_000  # EXPSTREAM_MAX_BATCH: the most one call takes
LEVER_ENV = {"PGOPTIONS": "-c enable_nestloop=off"}
PACKAGE_ENV: dict[str, str] = {}  # PYTHONPATH of the package copy (snapshot_package), for every process

SHOP_METRICS: list[dict[str, Any]] = [
    {"key": "revenue", "name": "Revenue per user", "kind": "mean", "event_type": "purchase", "role": "primary",
     "cap": 200.0},
    {"key": "orders", "name": "Orders per user", "kind": "mean", "event_type": "order"},
    {"key": "aov", "name": "Average order value", "kind": "ratio", "numerator": "revenue", "denominator": "orders"},
    {"key": "conversion", "name": "Purchase conversion", "kind": "proportion", "event_type": "purchase"},
    {"key": "refunds", "name": "Refund rate", "kind": "proportion", "event_type": "refund", "role": "guardrail",
     "direction": "decrease"},
]  # fmt: skip
TEN_METRICS: list[dict[str, Any]] = [
    *SHOP_METRICS,
    {"key": "sessions", "kind": "mean", "event_type": "session"},
    {"key": "pageviews", "kind": "mean", "event_type": "pageview", "cap": 500.0},
    {"key": "pages_per_session", "kind": "ratio", "numerator": "pageviews", "denominator": "sessions"},
    {"key": "revenue_per_session", "kind": "ratio", "numerator": "revenue", "denominator": "sessions"},
    {"key": "tickets", "kind": "proportion", "event_type": "ticket", "role": "guardrail", "direction": "decrease"},
]  # fmt: skip
# Event types and their shares; every type is counted by at least one metric of its experiment.
SHOP_MIX = {"purchase": 0.45, "order": 0.45, "refund": 0.10}
TEN_MIX = {"pageview": 0.30, "session": 0.15, "purchase": 0.20, "order": 0.20, "refund": 0.05, "ticket": 0.10}


@dataclass(frozen=True)
class MetricsPlan:
    # (batch size, batches, planner lever): a fresh experiment each; the first row is judged
    ingest: tuple[tuple[int, int, bool], ...]
    ingest_users: int  # assigned before the timed ingest
    ingest_late_users: int  # PRE_ASSIGNMENT_SHARE of the events; assigned after it
    max_events: int  # the snapshot is timed at 10^3, 10^4, ... stored events up to this
    reps: int  # timed GET /results calls per size
    warm: int = 5


FULL = MetricsPlan(((10_000, 10, False), (1_000, 20, False)), 50_000, 5_000, 10**7, 300)
QUICK = MetricsPlan(((2_000, 3, False), (500, 3, False)), 2_000, 400, 10**4, 20, warm=2)


def plan_for(quick: bool) -> MetricsPlan:
    return QUICK if quick else FULL


def sizes_up_to(max_events: int) -> list[int]:
    """10^3, 10^4, ... up to max_events, and max_events itself when it is not a power of ten."""
    sizes = [10**k for k in range(3, 12) if 10**k <= max_events]
    return sizes + [max_events] if max_events not in sizes and max_events > 1000 else sizes or [max_events]


class Client:
    """One keep-alive HTTP/1.1 connection to the server, with a bearer token."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=self.headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                # The server closed the idle keep-alive connection (uvicorn: after 5 s) before it
                # read this request: reconnect and send it again, once.
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body: Any = None) -> Any:
        status, data = self.call(method, path, None if body is None else json.dumps(body).encode())
        if not 200 <= status < 300:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {data[:300]!r}")
        return json.loads(data or b"null")

    def close(self) -> None:
        self.conn.close()


class EventSource:
    """The events sent to one experiment: types by `mix`; a purchase has a value (lognormal, mean
    about 54, so some users pass the revenue cap), other events 1.0; every event a unique event_id.
    A share PRE_ASSIGNMENT_SHARE of them belong to users not assigned yet. Remembers who bought."""

    def __init__(self, prefix: str, mix: dict[str, float], seed: int, users: int) -> None:
        self.rng = random.Random(seed)
        self.types = list(mix)
        self.weights = list(mix.values())
        self.prefix = prefix
        self.sent = 0
        self.bought = bytearray(users)  # user index -> 1 once a purchase of theirs was sent

    def body(self, n: int, assigned: int, upcoming: int) -> str:
        """n events: users [0, assigned) are assigned, [assigned, assigned + upcoming) not yet."""
        rng, bought = self.rng, self.bought
        parts = []
        for t in rng.choices(self.types, self.weights, k=n):
            if upcoming and rng.random() < PRE_ASSIGNMENT_SHARE:
                u = assigned + rng.randrange(upcoming)
            else:
                u = rng.randrange(assigned)
            if t == "purchase":
                value = f"{rng.lognormvariate(3.8, 0.6):.2f}"
                bought[u] = 1
            else:
                value = "1.0"
            parts.append(
                f'{{"user_id":"u{u}","type":"{t}","value":{value},"event_id":"{self.prefix}-{self.sent}"}}'
            )
            self.sent += 1
        return '{"events":[' + ",".join(parts) + "]}"

    def converters(self, assigned: int) -> int:
        return self.bought[:assigned].count(1)


def create_experiment(client: Client, name: str, metrics: list[dict[str, Any]], variants: list[Any]) -> str:
    body = {
        "name": name,
        "variants": [{"key": k, "name": n, "is_control": c} for k, n, c in variants],
        "metrics": metrics,
    }
    eid = str(client.json("POST", "/api/v1/experiments", body)["id"])
    client.json("PATCH", f"/api/v1/experiments/{eid}", {"status": "active"})
    return eid


def assign(client: Client, eid: str, start: int, stop: int, variants: list[Any]) -> None:
    """Users u<start> .. u<stop - 1>, round robin over the variants (equal weights: no SRM)."""
    for lo in range(start, stop, API_BATCH):
        rows = [
            {"user_id": f"u{i}", "variant_key": variants[i % len(variants)][0]}
            for i in range(lo, min(stop, lo + API_BATCH))
        ]
        client.json("POST", f"/api/v1/experiments/{eid}/assignments", {"assignments": rows})


def send_bodies(
    server: Any, eid: str, bodies: list[str], batch: int, label: str, kind: str = "events"
) -> dict[str, Any]:
    """The bodies through the C++ load generator (2 calls in flight), timed, with the server's and
    PostgreSQL's CPU over the run. Every body holds `batch` records of `kind` (events, assignments)."""
    path = WORK / f"bodies-{label}.jsonl"
    path.write_text("\n".join(bodies) + "\n")
    args = [
        "--port", server.port, "--mode", "ingest", "--ingest-path", f"/api/v1/experiments/{eid}/{kind}",
        "--bodies", path, "--batch", batch, "--http-conc", 2, "--header", auth_header(), "--control",
    ]  # fmt: skip
    lg = Loadgen(args, label)
    try:
        lg.wait("connected", timeout=120)
        cpu0 = server.cpu()
        lg.send("go")
        result: dict[str, Any] = lg.wait("result", timeout=len(bodies) * 300 + 60)
        cpu1 = server.cpu()
    finally:
        rc = lg.close()
        path.unlink(missing_ok=True)
    if not result.get("ok") or rc != 0 or result.get("events") != batch * len(bodies):
        raise WorkloadBroken(f"{label}: ingest failed ({rc}): {result.get('error')}")
    result["server_cpu_seconds"] = best_cpu(cpu0, cpu1)
    result["db_cpu_seconds"] = cpu1["db"] - cpu0["db"]
    return result


def stored_events(db: Any, eid: str) -> int:
    return int(db.psql(f"SELECT count(*) FROM events WHERE experiment_id = '{eid}'")[0][0])


def check_snapshot(
    snap: dict[str, Any], participants: int, converters: int, n_metrics: int, label: str
) -> None:
    """The snapshot agrees with what was sent: participants, its metrics, and the converters of the
    proportion metric "conversion" (assigned users with a purchase)."""
    if snap.get("total_participants") != participants:
        raise WorkloadBroken(
            f"{label}: snapshot says {snap.get('total_participants')} participants, sent {participants}"
        )
    metrics = snap.get("metrics") or []
    if len(metrics) != n_metrics:
        raise WorkloadBroken(f"{label}: snapshot has {len(metrics)} metrics, defined {n_metrics}")
    conv = next(m for m in metrics if m["key"] == "conversion")
    got = sum(round((v.get("value") or 0) * v["users"]) for v in conv["variants"])
    if got != converters:
        raise WorkloadBroken(f"{label}: snapshot counts {got} converters, sent {converters}")


def verify(db: Any, eid: str, label: str) -> dict[str, Any]:
    """`expstream verify EID` with the planner lever (its default plan is quadratic; see the top)."""
    t0 = time.monotonic()
    out = subprocess.run(
        [PY, "-m", "expstream.cli", "verify", eid],
        env={**os.environ, **LEVER_ENV, **PACKAGE_ENV, "DATABASE_URL": db.url},
        capture_output=True,
        text=True,
        timeout=7200,
    )
    said = (out.stdout.strip() or out.stderr.strip()).splitlines()
    if out.returncode != 0:
        raise WorkloadBroken(f"{label}: expstream verify exited {out.returncode}: {' / '.join(said[:3])}")
    return {"rc": out.returncode, "said": said[-1] if said else "", "seconds": time.monotonic() - t0}


# ---------------------------------------------------------------------------------------------
# 1. Ingest with 5 metrics


def measure_ingest(
    server: Any, client: Client, db: Any, plan: MetricsPlan, batch: int, batches: int, lever: bool
) -> dict[str, Any]:
    label = f"metrics-ingest-{batch}" + ("-lever" if lever else "")
    users, late = plan.ingest_users, plan.ingest_late_users
    eid = create_experiment(client, label, SHOP_METRICS, VARIANTS)
    assign(client, eid, 0, users, VARIANTS)
    src = EventSource(f"i{batch}", SHOP_MIX, seed=14, users=users + late)
    bodies = [src.body(batch, users, late) for _ in range(batches)]
    r = send_bodies(server, eid, bodies, batch, label)
    events = int(r["events"])
    done = [float(x) for x in r["batch_done_seconds"]]
    # 2 calls in flight: the time between consecutive completions is what a batch costs in throughput
    # (the first completion, which waited for the pipeline to fill, has no predecessor).
    per_batch = [batch / (b - a) for a, b in itertools.pairwise(done) if b > a]
    t0 = time.monotonic()
    assign(client, eid, users, users + late, VARIANTS)
    late_s = time.monotonic() - t0
    stored = stored_events(db, eid)
    if stored != events:
        raise WorkloadBroken(f"{label}: stored {stored} of {events} events")
    snap = client.json("GET", f"/api/v1/experiments/{eid}/results")
    check_snapshot(snap, users + late, src.converters(users + late), len(SHOP_METRICS), label)
    checked = verify(db, eid, label)
    return {
        "metrics": len(SHOP_METRICS),
        "lever": lever,
        "batch": batch,
        "batches": batches,
        "events": events,
        "users": users,
        "late_users": late,
        "events_per_second_median": statistics.median(per_batch) if per_batch else r["events_per_second"],
        "events_per_second_min": min(per_batch) if per_batch else None,
        "events_per_second_max": max(per_batch) if per_batch else None,
        "events_per_second_overall": r["events_per_second"],
        "batch_p50_ms": ms(r.get("batch_p50")),
        "batch_p99_ms": ms(r.get("batch_p99")),
        "server_cpu_per_event_us": r["server_cpu_seconds"] / max(events, 1) * 1e6,
        "db_cpu_per_event_us": r["db_cpu_seconds"] / max(events, 1) * 1e6,
        "loadgen_cpu_seconds": r.get("loadgen_cpu_seconds"),
        "late_assign_seconds": late_s,
        "verify": checked,
        "ok": True,
    }


# ---------------------------------------------------------------------------------------------
# 2. Snapshot cost with 10 metrics as stored events grow


def users_at(events: int) -> int:
    return max(math.ceil(events * USERS_PER_EVENT), 100)


def events_sql(eid: str, first: int, n: int, assigned: int, upcoming: int, mix: dict[str, float]) -> str:
    """n events numbered from `first`, drawn like EventSource's, generated inside PostgreSQL."""
    cases, edge = [], 0.0
    for t, share in list(mix.items())[:-1]:
        edge += share
        cases.append(f"WHEN x.c < {edge:.6f} THEN '{t}'")
    types = f"CASE {' '.join(cases)} ELSE '{list(mix)[-1]}' END"
    return (
        "INSERT INTO events (experiment_id, user_id, type, value, event_id) "
        f"SELECT '{eid}', 'u' || (CASE WHEN x.pre < {PRE_ASSIGNMENT_SHARE} THEN {assigned} + floor(x.u * {upcoming}) "
        f"ELSE floor(x.u * {assigned}) END)::bigint, y.t, "
        "CASE WHEN y.t = 'purchase' THEN round(exp(3.8 + 0.6 * sqrt(-2 * ln(1 - x.a)) * cos(2 * pi() * x.b))::numeric, 2) "
        "ELSE 1 END, 'h-' || x.g "
        "FROM (SELECT g, random() AS pre, random() AS u, random() AS c, random() AS a, random() AS b "
        f"FROM generate_series({first}, {first + n - 1}) g) x, LATERAL (SELECT {types} AS t) y"
    )


def grow(db: Any, eid: str, stored: int, size: int, assigned: int, now_assigned: int, upcoming: int) -> None:
    """Raw rows written with SQL, past ingest: users [assigned, now_assigned) assigned round robin,
    then events up to `size`, and the variants' participants recounted, in one transaction. The
    metric totals are left to the server (PUT /metrics)."""
    db.psql(
        "BEGIN; SET LOCAL synchronous_commit = off; "
        f"SELECT setseed({0.15 + stored * 1e-9}); "
        "INSERT INTO assignments (experiment_id, user_id, variant_id) "
        f"SELECT '{eid}', 'u' || g, v.id FROM generate_series({assigned}, {now_assigned - 1}) g "
        f"JOIN variants v ON v.experiment_id = '{eid}' AND v.position = g % 3; "
        f"{events_sql(eid, stored, size - stored, now_assigned, upcoming, TEN_MIX)}; "
        "UPDATE variants v SET participants = (SELECT count(*) FROM assignments a "
        f"WHERE a.experiment_id = v.experiment_id AND a.variant_id = v.id) WHERE v.experiment_id = '{eid}'; "
        "COMMIT; ANALYZE events; ANALYZE assignments;",
        timeout=7200,
    )


def converters_sql(db: Any, eid: str) -> int:
    """Assigned users with a purchase, from the raw rows."""
    rows = db.psql(
        "SELECT count(DISTINCT e.user_id) FROM events e JOIN assignments a "
        "ON a.experiment_id = e.experiment_id AND a.user_id = e.user_id "
        f"WHERE e.experiment_id = '{eid}' AND e.type = 'purchase'",
        timeout=3600,
    )
    return int(rows[0][0])


def timed_get(server: Any, client: Client, path: str, warm: int, reps: int) -> tuple[bytes, dict[str, Any]]:
    """`reps` GETs of path on one keep-alive connection after `warm` untimed ones: the last body,
    and the timings with the server's and PostgreSQL's CPU per call."""
    for _ in range(warm):
        client.call("GET", path)
    times = []
    cpu0 = server.cpu()
    for _ in range(reps):
        t0 = time.perf_counter()
        status, data = client.call("GET", path)
        times.append(time.perf_counter() - t0)
        if status != 200:
            raise WorkloadBroken(f"GET {path}: HTTP {status}: {data[:200]!r}")
    cpu1 = server.cpu()
    times.sort()
    return data, {
        "bytes": len(data),
        "median_ms": statistics.median(times) * 1000,
        "p99_ms": times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)] * 1000,
        "min_ms": times[0] * 1000,
        "max_ms": times[-1] * 1000,
        "server_cpu_per_call_us": best_cpu(cpu0, cpu1) / reps * 1e6,
        "db_cpu_per_call_us": (cpu1["db"] - cpu0["db"]) / reps * 1e6,
    }


def time_results(server: Any, client: Client, eid: str, plan: MetricsPlan) -> dict[str, Any]:
    data, timings = timed_get(server, client, f"/api/v1/experiments/{eid}/results", plan.warm, plan.reps)
    return {"snapshot": json.loads(data), **timings}


def measure_history(
    server: Any,
    client: Client,
    recounter: Client,
    db: Any,
    plan: MetricsPlan,
    max_events: int,
    results: dict[str, Any],
) -> None:
    """One draft experiment with 10 metrics grows step by step: raw rows with SQL (grow), then
    `PUT /metrics` with the same definitions to the server with the planner lever (`recounter`),
    which recounts every metric total from the raw rows (a draft's redefinition); then GET /results
    is timed against the default server. It stays a draft so that it can be recounted; a snapshot
    does not depend on the status."""
    sizes = sizes_up_to(max_events)
    rows: list[dict[str, Any]] = results["snapshot"]
    body = {
        "name": "bench-metrics-history",
        "variants": [{"key": k, "name": n, "is_control": c} for k, n, c in VARIANTS],
        "metrics": TEN_METRICS,
    }
    eid = str(client.json("POST", "/api/v1/experiments", body)["id"])
    stored = assigned = 0
    for size in sizes:
        label = f"metrics-snapshot-{size}"
        now_assigned = users_at(size)
        # PRE_ASSIGNMENT_SHARE of this step's events come from users the next step assigns.
        upcoming = users_at(size * 10) - now_assigned
        log(f"  {size:,} events: {now_assigned:,} users assigned; writing {size - stored:,} events")
        t0 = time.monotonic()
        grow(db, eid, stored, size, assigned, now_assigned, upcoming)
        write_s = time.monotonic() - t0
        stored, assigned = size, now_assigned
        t0 = time.monotonic()
        recounter.json("PUT", f"/api/v1/experiments/{eid}/metrics", {"metrics": TEN_METRICS})
        recount_s = time.monotonic() - t0
        count = stored_events(db, eid)
        if count != size:
            raise WorkloadBroken(f"{label}: {count} events stored, wrote {size}")
        t = time_results(server, client, eid, plan)
        check_snapshot(t.pop("snapshot"), assigned, converters_sql(db, eid), len(TEN_METRICS), label)
        row = {
            "events": size,
            "assigned": assigned,
            "reps": plan.reps,
            **t,
            "write_seconds": write_s,
            "recount_seconds": recount_s,
            "ok": True,
        }
        rows.append(row)
        log(
            f"  GET /results at {size:,} events: median {row['median_ms']:.2f} ms, p99 {row['p99_ms']:.2f} ms "
            f"over {plan.reps} (rows written in {write_s:.1f} s, server recount {recount_s:.1f} s)"
        )
    log("  expstream verify (recounts every total from the raw rows)")
    results["history_verify"] = verify(db, eid, "metrics-snapshot")


# ---------------------------------------------------------------------------------------------


def snapshot_package() -> dict[str, Any]:
    """Copies the installed expstream package aside and points every process of this workload at the
    copy: others reinstall .venv while a long run goes on, and a server started before that and a
    verify started after it would be different code (on one database)."""
    import expstream

    src = Path(expstream.__file__).resolve().parent
    dst = WORK / "metrics-package"
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst / "expstream", ignore=shutil.ignore_patterns("__pycache__"))
    PACKAGE_ENV["PYTHONPATH"] = str(dst)
    core = next(src.glob("_core*.so"), None)
    built = time.gmtime(core.stat().st_mtime) if core else None
    return {"package_built": time.strftime("%Y-%m-%d %H:%M UTC", built) if built else "?"}


def server_spec(name: str, env: dict[str, str]) -> ServerSpec:
    """`expstream serve` with the bench's settings, the package copy (snapshot_package) and env."""
    return ServerSpec(name, "expstream", serve_argv, env={**EXPSTREAM_ENV, **PACKAGE_ENV, **env})


def run(quick: bool, max_events: int | None, results: dict[str, Any]) -> None:
    plan = plan_for(quick)
    max_events = max_events or plan.max_events
    out: dict[str, Any] = {
        "ingest": [],
        "snapshot": [],
        "max_events": max_events,
        "metrics_ingest": len(SHOP_METRICS),
        "metrics_snapshot": len(TEN_METRICS),
        "commit": bench_commit(),
        **snapshot_package(),
    }
    results["metrics"] = out
    # A database of its own, dropped and recreated every run: fresh, and its 10^7 events do not
    # grow the other workloads' database.
    db = Db(database_url(quick, "_metrics"))
    try:
        db.ensure(fresh=True)
    except Exception as exc:  # noqa: BLE001  (any failure to prepare the database is a broken workload)
        broken(results, "metrics", exc)
        return
    out["database"] = db.name

    try:
        with (
            Server(server_spec("expstream-metrics", {}), db) as server,
            Server(server_spec("expstream-metrics-lever", LEVER_ENV), db) as lever_server,
        ):
            client = Client(server.port, token("write"))
            lever_client = Client(lever_server.port, token("write"))
            try:
                for batch, batches, lever in plan.ingest:
                    log(
                        f"metrics: ingest, {batches} batches of {batch:,} events, {len(SHOP_METRICS)} metrics, "
                        "2 in flight" + (", server with the planner lever" if lever else "")
                    )
                    try:
                        srv, cli = (lever_server, lever_client) if lever else (server, client)
                        i = measure_ingest(srv, cli, db, plan, batch, batches, lever)
                        out["ingest"].append(i)
                        log(
                            f"  {i['events_per_second_median']:,.0f} events/s (median over batches), "
                            f"{i['events_per_second_overall']:,.0f} overall; server "
                            f"{i['server_cpu_per_event_us']:.1f} us cpu/event, db {i['db_cpu_per_event_us']:.1f}; "
                            f"{i['late_users']:,} late users assigned in {i['late_assign_seconds']:.1f} s"
                        )
                    except (WorkloadBroken, RuntimeError, OSError) as exc:
                        broken(results, f"metrics-ingest-{batch}" + ("-lever" if lever else ""), exc)
                log(f"metrics: snapshot cost with {len(TEN_METRICS)} metrics up to {max_events:,} events")
                try:
                    measure_history(server, client, lever_client, db, plan, max_events, out)
                except (WorkloadBroken, RuntimeError, OSError) as exc:
                    broken(results, "metrics-snapshot", exc)
            finally:
                client.close()
                lever_client.close()
            for x in (server, lever_server):
                if not x.alive():
                    broken(results, "metrics", Exception(f"server died; see {x.log_path}"))
    except WorkloadBroken as exc:
        broken(results, "metrics", exc)


def bench_commit() -> str:
    out = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return out.stdout.strip() or "?"


# ---------------------------------------------------------------------------------------------
# Goals, summary and the BENCHMARKS.md section


def goals(results: dict[str, Any], quick: bool) -> list[dict[str, Any]]:
    m = results.get("metrics") or {}
    out: list[dict[str, Any]] = []
    tag = " (quick mode: small sizes, no goal)" if quick else ""
    ingest = [r for r in m.get("ingest", []) if r.get("ok") and not r.get("lever")]
    if ingest:
        i = ingest[0]
        eps = i["events_per_second_median"]
        out.append({
            "goal": f"ingest >= 50,000 events/s with {i['metrics']} metrics (batches of {i['batch']:,}, "
            f"median over batches){tag}",
            "value": f"{eps:,.0f} events/s",
            "met": None if quick else eps >= 50_000,
            "detail": "" if quick or eps >= 50_000 else f"missed by {50_000 / eps:.1f}x",
            "workload": "metrics",
        })  # fmt: skip
    rows = [r for r in m.get("snapshot", []) if r.get("ok")]
    if len(rows) >= 2:
        lo, hi = rows[0], rows[-1]
        ratio = hi["median_ms"] / lo["median_ms"]
        out.append({
            "goal": f"snapshot with {m.get('metrics_snapshot', 10)} metrics at {hi['events']:,} events within 2x of "
            f"{lo['events']:,} (median GET /results){tag}",
            "value": f"{ratio:.2f}x",
            "met": None if quick else ratio <= 2,
            "detail": "" if quick or ratio <= 2 else f"missed by {ratio / 2:.2f}x",
            "workload": "metrics",
        })  # fmt: skip
    return out


def summary(results: dict[str, Any]) -> list[str]:
    m = results.get("metrics") or {}
    lines = []
    for i in m.get("ingest", []):
        lines.append(
            f"metrics ingest ({i['metrics']} metrics, batches of {i['batch']:,}"
            + (", planner lever" if i.get("lever") else "")
            + "): "
            f"{i['events_per_second_median']:,.0f} events/s median over batches, "
            f"{i['events_per_second_overall']:,.0f} overall"
        )
    for r in m.get("snapshot", []):
        lines.append(
            f"metrics snapshot ({m.get('metrics_snapshot')} metrics) at {r['events']:>10,} events: "
            f"GET /results median {r['median_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms"
        )
    return lines


def _f(v: Any, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def render(results: dict[str, Any], quick: bool) -> str:
    """The generated part of BENCHMARKS.md's "Several metrics" section."""
    meta, m = results["meta"], results.get("metrics") or {}
    lines = [
        f"Latest run: **{meta['date']}** — `{meta['command']}` — {meta['duration_seconds'] / 60:.1f} min, "
        f"commit `{m.get('commit', '?')}` (the installed package, built {m.get('package_built', '?')}, copied aside "
        "for the run)" + (" (quick mode)" if quick else ""),
        "",
        f"Machine: {meta['nproc']} CPUs ({meta['cpu_model']}), {meta['mem_gib']:.0f} GiB memory, {meta['os']}; "
        f"Python {meta['python']}, PostgreSQL {meta['postgres']}; load average {meta['loadavg_start'][0]:.1f} "
        f"at the start, {meta.get('loadavg_end', [float('nan')])[0]:.1f} at the end. `expstream serve` (defaults, "
        f"auth on) pinned to CPU {meta['server_cpu']}, the load generator and the runner to CPU "
        f'{meta["loadgen_cpu"]}; PostgreSQL unpinned. Fresh database `{m.get("database", "?")}`. "lever": a '
        "second `expstream serve` whose only difference is `PGOPTIONS='-c enable_nestloop=off'` "
        "(bench-only; `bench/workloads/metrics.py` says why).",
        "",
        f"#### Ingest with {m.get('metrics_ingest', 5)} metrics",
        "",
    ]
    ingest = [r for r in m.get("ingest", []) if r.get("ok")]
    if ingest:
        i = ingest[0]
        lines += [
            "`POST /api/v1/experiments/{id}/events` (purchases with values, orders, refunds; unique `event_id`s), "
            "2 calls in flight, no subscribers, a fresh experiment per row with revenue (mean, cap 200), orders "
            "(mean), aov (ratio), conversion (proportion), refunds (proportion, guardrail). "
            f"{i['users']:,} users assigned first; {PRE_ASSIGNMENT_SHARE:.0%} of the events come from "
            f'{i["late_users"]:,} users assigned afterwards ("late assign": those users through '
            '`POST /assignments`, their earlier events moving into the sums). "median over batches" = median of '
            'batch size / time between consecutive completions; "overall" = all events / wall time. '
            "`expstream verify` (with the lever) after each row: every total equal to a recount. The goal is "
            f"judged at {i['batch']:,} with the default server, the most one call takes; the other rows are "
            "for information.",
            "",
            "| server | batch | events | events/s, median over batches | min / max | events/s, overall | batch p50 ms "
            "| batch p99 ms | server CPU µs/event | PostgreSQL CPU µs/event | late assign s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for i in ingest:
            lines.append(
                f"| {'lever' if i.get('lever') else 'default'} | {i['batch']:,} | {i['events']:,} | "
                f"{i['events_per_second_median']:,.0f} | "
                f"{_f(i['events_per_second_min'], ',.0f')} / {_f(i['events_per_second_max'], ',.0f')} | "
                f"{i['events_per_second_overall']:,.0f} | {_f(i['batch_p50_ms'], ',.0f')} | "
                f"{_f(i['batch_p99_ms'], ',.0f')} | {i['server_cpu_per_event_us']:.1f} | "
                f"{i['db_cpu_per_event_us']:,.1f} | {i['late_assign_seconds']:.1f} |"
            )
    else:
        lines.append("Broke in this run (see the list below).")
    rows = [r for r in m.get("snapshot", []) if r.get("ok")]
    lines += [
        "",
        f"#### Snapshot cost with {m.get('metrics_snapshot', 10)} metrics as stored events grow",
        "",
    ]
    if rows:
        verified = m.get("history_verify")
        lines += [
            "One draft experiment (3 variants; the 5 metrics above plus sessions, pageviews (cap 500), pages per "
            "session and revenue per session (ratios), tickets (proportion, guardrail)) grows step by step: the "
            f"step's users are assigned (about {1 / USERS_PER_EVENT:.0f} events per user) and its events written "
            f"with SQL ({PRE_ASSIGNMENT_SHARE:.0%} of them from users the next step assigns; participants recounted "
            "in the same transaction), then `PUT /api/v1/experiments/{id}/metrics` with the same definitions to the lever server makes "
            'the server recount every metric total from the raw rows ("recount s"). At each size, '
            f"{rows[0]['reps']} timed `GET /api/v1/experiments/{{id}}/results` on one keep-alive connection (after "
            "a few untimed), each computed afresh (one row per (variant, metric), statistics, JSON) and checked "
            "against the raw rows (participants, 10 metrics, converters)"
            + (
                f"; `expstream verify` at the end: every total equal to a recount ({verified['seconds']:.0f} s)."
                if verified
                else "."
            ),
            "",
            "| stored events | assigned users | GET median ms | p99 ms | min / max ms | vs smallest | server CPU "
            "µs/call | PostgreSQL CPU µs/call | snapshot bytes | rows written s | recount s |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        base = rows[0]["median_ms"]
        for r in rows:
            lines.append(
                f"| {r['events']:,} | {r['assigned']:,} | {r['median_ms']:.2f} | {r['p99_ms']:.2f} | "
                f"{r['min_ms']:.2f} / {r['max_ms']:.2f} | {r['median_ms'] / base:.2f}x | "
                f"{r['server_cpu_per_call_us']:.0f} | {r['db_cpu_per_call_us']:.0f} | {r['bytes']:,} | "
                f"{r['write_seconds']:.1f} | {r['recount_seconds']:.1f} |"
            )
    else:
        lines.append("Broke in this run (see the list below).")
    g = goals(results, quick)
    if g:
        lines += ["", "| goal | measured | met |", "|---|---|---|"]
        for x in g:
            met = "—" if x["met"] is None else ("yes" if x["met"] else f"**no** — {x['detail']}")
            lines.append(f"| {x['goal']} | {x['value']} | {met} |")
    bad = [b for b in results.get("broken", []) if b["workload"].startswith("metrics")]
    if bad:
        lines += ["", "Broken in this run:", ""] + [f"- {b['workload']}: {b['error']}" for b in bad]
    return "\n".join(lines)
