"""What a run reports: its goals (met, missed, or no goal), the summary it prints, and the tables of
BENCHMARKS.md's `bench:results` section (the metrics and breakdowns workloads render their own)."""

from __future__ import annotations

import math
from typing import Any

from lib.settings import FULL, LOADGEN_CPU, ROOT, SERVER_CPU, Plan
from workloads import breakdowns as breakdowns_workload
from workloads import metrics as metrics_workload


def find(rows: list[dict[str, Any]], server: str, n: int) -> dict[str, Any] | None:
    return next((r for r in rows if r.get("server") == server and r.get("n") == n and r.get("ok")), None)


def goals(results: dict[str, Any], plan: Plan) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    fan = results.get("fanout", [])
    nmax = max(plan.fanout_ns)

    def add(goal: str, value: str, met: bool | None, detail: str = "") -> None:
        out.append({"goal": goal, "value": value, "met": met, "detail": detail})

    # Fan-out goals only when fan-out ran (not in an --only run of other workloads).
    for n in plan.fanout_ns if fan else []:
        e = find(fan, "expstream", n)
        for peer, want, text in (
            ("seed-style", 5.0, "CPU/msg <= 1/5 of seed-style"),
            ("node-ws", 1.0, "CPU/msg no worse than node-ws"),
            ("floor", 1.5, "CPU/msg within 1.5x of floor"),
        ):
            p = find(fan, peer, n)
            if e is None or p is None:
                ran = {r["server"] for r in fan if r.get("n") == n}
                add(
                    f"{text} (N={n})", "n/a", None, "a run broke" if {"expstream", peer} <= ran else "not run"
                )
                continue
            if peer == "seed-style":
                ratio = p["cpu_per_msg_us"] / e["cpu_per_msg_us"]
                add(
                    f"{text} (N={n})",
                    f"seed-style/expstream = {ratio:.2f}x",
                    ratio >= want,
                    "" if ratio >= want else f"needs {want / ratio:.2f}x less CPU per message",
                )
            else:
                ratio = e["cpu_per_msg_us"] / p["cpu_per_msg_us"]
                add(
                    f"{text} (N={n})",
                    f"expstream/{peer} = {ratio:.2f}x",
                    ratio <= want,
                    "" if ratio <= want else f"missed by {ratio / want:.2f}x",
                )
    e = find(fan, "expstream", nmax)
    light = find(fan, "py-websockets", nmax)  # the lightest Python peer
    if e and light:
        kb, peer_kb = e["mem_per_conn_bytes"] / 1024, light["mem_per_conn_bytes"] / 1024
        add(
            f"memory per idle connection <= py-websockets' (N={nmax})",
            f"{kb:.1f} KiB against {peer_kb:.1f} KiB",
            kb <= peer_kb,
            "" if kb <= peer_kb else f"missed by {kb / peer_kb:.2f}x",
        )
    for n in plan.fanout_ns if fan else []:
        e, seed = find(fan, "expstream", n), find(fan, "seed-style", n)
        if e is None:
            continue
        us = e["connect_cpu_per_conn_us"]
        limit = min(1000.0, seed["connect_cpu_per_conn_us"]) if seed else 1000.0
        add(
            f"connect CPU per connection <= 1.0 ms and <= seed-style's (N={n})",
            f"{us:,.0f} µs"
            + (f" against {seed['connect_cpu_per_conn_us']:,.0f} µs" if seed else " (seed-style not run)"),
            us <= limit,
            "" if us <= limit else f"missed by {us / limit:.2f}x",
        )
    if fan:
        small = "quick mode: smaller N" if plan.quick else "N under the goal's 10,000 (--ns)"
        add(
            f"{nmax:,} concurrent subscribers held",
            "all delivered" if e else "broke",
            bool(e) if nmax >= 10000 else None,
            "" if nmax >= 10000 else small,
        )
    if held := results.get("held"):
        add(*held_goal(held, plan))
    for lat, tag, limit in (
        (results.get("latency"), "", 50),
        (results.get("cross_node"), " across 2 nodes", 75),
    ):
        if not lat or lat.get("p99_ms") is None:
            continue
        add(
            f"ingest-to-screen p99 < {limit} ms ({lat['n']} subscribers, {lat.get('calls')} calls){tag}",
            f"{lat['p99_ms']:.1f} ms",
            lat["p99_ms"] < limit,
            "" if lat["p99_ms"] < limit else f"missed by {lat['p99_ms'] / limit:.2f}x",
        )
    # One call takes up to 10,000 records (EXPSTREAM_MAX_BATCH), so the goal is judged at the largest
    # batch; smaller batches are information.
    ingest = sorted(results.get("ingest", []), key=lambda r: -r["batch"])
    for row in ingest:
        eps = row["events_per_second"]
        if row is ingest[0]:
            add(
                f"ingest >= 50,000 events/s (batches of {row['batch']:,}, the most one call takes)",
                f"{eps:,.0f} events/s",
                eps >= 50_000,
                "" if eps >= 50_000 else f"missed by {50_000 / eps:.2f}x",
            )
        else:
            add(
                f"ingest events/s at batches of {row['batch']:,} (information, no goal)",
                f"{eps:,.0f} events/s",
                None,
            )
    hist = {r["events"]: r for r in results.get("history", []) if r.get("ok")}
    if hist:
        lo, hi = min(hist), max(hist)
        if hi > lo:
            ratio = hist[hi]["median_ms"] / hist[lo]["median_ms"]
            add(
                f"snapshot at {hi:,} events within 2x of {lo:,}",
                f"{ratio:.1f}x",
                ratio <= 2,
                "" if ratio <= 2 else f"missed by {ratio / 2:.1f}x",
            )
    out += metrics_workload.goals(results, plan.quick)
    out += breakdowns_workload.goals(results, plan.quick)
    return out


def held_goal(held: dict[str, Any], plan: Plan) -> tuple[str, str, bool | None, str]:
    """(goal, value, met, detail) of the held workload. Where the open-files limit keeps N under the
    goal's, the goal is not measurable here (no verdict); what the limit allowed must still work."""
    goal = f"{FULL.held_n:,} idle subscribers held by one process, every update delivered"
    if not held.get("ok"):
        return goal, f"broke at N={held['n']:,}", None if plan.quick else False, held.get("error", "")[:200]
    value = (
        f"{held['n']:,} held, {held['deliveries']:,}/{held['expected_deliveries']:,} delivered, "
        f"{held['rss_per_conn_kib']:.1f} KiB/conn"
    )
    if plan.quick:
        return goal, value, None, f"quick mode: N={held['n']:,}"
    if held["n"] < FULL.held_n:
        return goal, value, None, f"not measurable here: hard open-files limit {held['hard_nofile']:,}"
    return goal, value, True, ""


def fmt(v: Any, spec: str = ".1f") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return format(v, spec)


def times(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.1f}x" if ratio < 100 else f"{ratio:,.0f}x"


def render_markdown(results: dict[str, Any], plan: Plan) -> str:
    m = results["meta"]
    lines = [
        f"Latest full run: **{m['date']}** — `{m['command']}` — {m['duration_seconds'] / 60:.1f} min",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['mem_gib']:.0f} GiB memory, {m['os']}; "
        f"Python {m['python']}, Node {m['node']}, PostgreSQL {m['postgres']}. Servers pinned to CPU "
        f"{SERVER_CPU}, load generator to CPU {LOADGEN_CPU}; PostgreSQL unpinned (shared). "
        "CPU = user + system time of the server process (all threads) from /proc.",
        "",
        "### Fan-out (workloads 1 and 3)",
        "",
        f"{plan.rounds} snapshot updates to N subscribers of one experiment; expstream with "
        '`RESULTS_PUSH_MIN_INTERVAL_SECONDS=0` so every ingest is its own push. "last" = trigger to the last '
        "subscriber's receipt (p50/p99 over the updates); CPU/msg = server CPU during the updates / deliveries; "
        "memory = (RSS with N idle connections − RSS before) / N.",
        "",
        "| server | N | CPU/msg µs | vs expstream | last p50 ms | last p99 ms | deliveries/s | mem/conn KiB | connect CPU/conn µs | main thread % of CPU | loadgen CPU/msg µs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    fan = results.get("fanout", [])
    for n in plan.fanout_ns:
        e = find(fan, "expstream", n)
        for r in [x for x in fan if x.get("n") == n]:
            if not r.get("ok"):
                lines.append(f"| {r['server']} | {n:,} | broke: {r.get('error', '')[:80]} | | | | | | | | |")
                continue
            rel = f"{r['cpu_per_msg_us'] / e['cpu_per_msg_us']:.2f}x" if e else "—"
            share = (
                100 * r["main_thread_cpu_seconds"] / r["server_cpu_seconds"]
                if r["server_cpu_seconds"]
                else float("nan")
            )
            lines.append(
                f"| {r['server']} | {n:,} | {r['cpu_per_msg_us']:.2f} | {rel} | {fmt(r['last_p50_ms'])} | "
                f"{fmt(r['last_p99_ms'])} | {r['deliveries_per_second']:,.0f} | {r['mem_per_conn_bytes'] / 1024:.1f} | "
                f"{r['connect_cpu_per_conn_us']:.0f} | {fmt(share, '.0f')} | {r['loadgen_cpu_per_msg_us']:.2f} |"
            )
    lines += held_markdown(results.get("held"))
    lat, cross = results.get("latency"), results.get("cross_node")
    runs = [r for r in (lat, cross) if r]
    lines += ["", "### Ingest-to-screen latency (workload 2)", ""]
    if runs:
        r0 = runs[0]
        lines += [
            f"{r0['n']:,} subscribers, {r0['calls']} single-event ingest calls (`POST /events`, one conversion) at "
            f"{r0['rate_per_s']:g}/s, `expstream serve` with default settings (push interval 0.2 s). Latency = HTTP "
            "call sent → subscriber's receipt of a snapshot covering it.",
        ]
        if cross:
            lines += [
                "",
                "**2 nodes**: two `expstream serve` processes on the same database, the subscribers on node B "
                f"(CPU {SERVER_CPU}, like the single node), the ingest calls through node A (CPU {LOADGEN_CPU}, beside the "
                "load generator), so every push they see goes: ingest on A → `pg_notify('expstream_changes')` → "
                f"B's LISTEN connection → B's snapshot and push (node B heard {cross.get('node_b_notices_received', '?')} "
                "notices). Both nodes run the defaults with the periodic tick off "
                "(`RESULTS_STREAM_INTERVAL_SECONDS=3600`), so no push comes from anything but a notice.",
            ]
        lines += [
            "",
            "| server | samples | p50 ms | p90 ms | p99 ms | max ms | to last subscriber p50 / p99 ms |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in runs:
            lines.append(
                f"| {r['server']} | {r['samples'] or 0:,} | {fmt(r['p50_ms'])} | {fmt(r['p90_ms'])} | {fmt(r['p99_ms'])} | "
                f"{fmt(r['max_ms'])} | {fmt(r['last_p50_ms'])} / {fmt(r['last_p99_ms'])} |"
            )
    lines += [
        "",
        "### Ingest throughput (workload 4)",
        "",
        "Conversion events with unique `event_id`s through `POST /api/v1/experiments/{id}/events`, 2 requests "
        "in flight, no subscribers; 10,000 of the 100,000 users assigned. The goal (>= 50,000 events/s) is judged "
        "at batches of 10,000, the most one call takes (`EXPSTREAM_MAX_BATCH`); 1,000 is for information.",
        "",
        "| batch | events | events/s | batch p50 ms | batch p99 ms | server CPU µs/event | PostgreSQL CPU µs/event |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results.get("ingest", []):
        lines.append(
            f"| {r['batch']:,} | {r['events']:,} | {r['events_per_second']:,.0f} | {fmt(r['batch_p50_ms'])} | "
            f"{fmt(r['batch_p99_ms'])} | {r['server_cpu_per_event_us']:.1f} | {r['db_cpu_per_event_us']:.1f} |"
        )
    lines += [
        "",
        "### Snapshot cost against history (workload 5)",
        "",
        "Server-side compute of one snapshot (`CoreService.snapshot`: the store read, now one row of running "
        "totals per (variant, metric), then statistics and JSON in the C++ core; no HTTP). Peer: the full-scan aggregate every snapshot "
        "ran before the running totals, verbatim (`OLD_SNAPSHOT_SQL` in `bench/workloads/history.py`), timed alone the same "
        "number of times on the same data in the same run, as the old store ran it (a parameterized statement "
        'planned for the experiment each time, here over asyncpg); "old / new" = its median / the snapshot\'s '
        'median, a lower bound since the old snapshot paid for statistics and JSON on top. "totals query" is '
        "today's read alone, timed the same way (so with asyncpg's per-call cost). N assigned users over 3 variants and N conversion events on "
        "10 % of them, loaded with `generate_series` (participants set from a recount in the same "
        "transaction, the conversion metric's totals by the core's own recount of a draft's metrics, then "
        "checked with `expstream verify`), then `VACUUM ANALYZE`.",
        "",
        "| events | assignments | reps | snapshot median ms | min ms | max ms | vs smallest | totals query ms "
        "| old full-scan query median ms | old min / max ms | old / new |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    hist = [r for r in results.get("history", []) if r.get("ok")]
    base = hist[0]["median_ms"] if hist else None
    for r in hist:
        old = (
            f"{fmt(r.get('old_median_ms'), '.2f')} | {fmt(r.get('old_min_ms'), '.2f')} / "
            f"{fmt(r.get('old_max_ms'), '.2f')} | {times(r.get('old_vs_new'))}"
            if r.get("old_timed_out_s") is None
            else f"over {r['old_timed_out_s'] * 1000:,} (cancelled) | — | > {r['old_timed_out_s'] * 1000 / r['median_ms']:,.0f}x"
        )
        lines.append(
            f"| {r['events']:,} | {r['assignments']:,} | {r['reps']} | {r['median_ms']:.2f} | {r['min_ms']:.2f} | "
            f"{r['max_ms']:.2f} | {r['median_ms'] / base:.1f}x | {fmt(r.get('totals_query_median_ms'), '.3f')} | "
            f"{old} |"
        )
    mi = results.get("micro")
    lines += ["", "### Core micro-benchmark (workload 6)", ""]
    if mi and mi.get("ok"):
        lines += [
            f"Statistics + JSON of a 3-variant snapshot ({mi['bytes']} bytes), per call, best of 5 × "
            f"{mi['number']:,}: `expstream._core.snapshot_json` **{mi['cpp_us']:.2f} µs**, the same in plain "
            f"Python **{mi['python_us']:.2f} µs** — {mi['speedup']:.1f}x. Both compute "
            f"{mi.get('what', 'the fixed analysis')}; the outputs are checked equal (floats to 1e-9)."
        ]
    lines += ["", "### Goals", "", "| goal | measured | met |", "|---|---|---|"]
    for g in results.get("goals", []):
        if g.get("workload") in ("metrics", "breakdowns"):  # listed in their own sections (render)
            continue
        met = "—" if g["met"] is None else ("yes" if g["met"] else f"**no** — {g['detail']}")
        lines.append(f"| {g['goal']} | {g['value']} | {met} |")
    if results.get("broken"):
        lines += ["", "Broken workloads in this run:", ""] + [
            f"- {b['workload']}: {b['error']}" for b in results["broken"]
        ]
    return "\n".join(lines)


def held_markdown(held: dict[str, Any] | None) -> list[str]:
    if not held:
        return []
    lines = [
        "",
        "### Idle subscribers held by one process",
        "",
        f"One `expstream serve` process, N idle subscribers of one experiment ({FULL.held_n:,} wanted), then "
        f"{held['rounds']} updates, each of which must reach every subscriber. The subscribers connect from "
        f"{held['source_ips']} loopback source address(es), at most 20,000 from each (`loadgen --source-ips`). "
        "RSS = the server's, before the subscribers connect and once all hold their first snapshot."
        + (
            f" **Limited by {held['limited_by']}**: every connection is an open file on each side, so this "
            f"machine cannot hold {FULL.held_n:,}."
            if held.get("limited_by")
            else ""
        ),
        "",
        "| N | delivered / expected | connect s | connect CPU/conn µs | RSS before MiB | RSS connected MiB "
        "| RSS/conn KiB | last p50 ms | last p99 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    if not held.get("ok"):
        return [*lines, f"| {held['n']:,} | broke: {held.get('error', '')[:80]} | | | | | | | |"]
    return [
        *lines,
        f"| {held['n']:,} | {held['deliveries']:,} / {held['expected_deliveries']:,} | "
        f"{fmt(held['connect_seconds'])} | {held['connect_cpu_per_conn_us']:.0f} | "
        f"{held['rss_before_kib'] / 1024:,.0f} | {held['rss_connected_kib'] / 1024:,.0f} | "
        f"{held['rss_per_conn_kib']:.1f} | {fmt(held['last_p50_ms'])} | {fmt(held['last_p99_ms'])} |",
    ]


def update_benchmarks_md(section: str, name: str = "results") -> None:
    """Replaces what lies between BENCHMARKS.md's `bench:<name>` markers (appended when missing):
    `results` holds the full run's tables, `metrics` the metrics workload's."""
    path = ROOT / "BENCHMARKS.md"
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{begin}\n{end}\n"
    if begin not in text or end not in text:
        text += f"\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{section}\n{end}{tail}")


def write_sections(results: dict[str, Any], plan: Plan, tables: bool) -> list[str]:
    """Rewrites the BENCHMARKS.md sections these results have: the results tables when `tables` (a
    full run's), and the metrics and breakdowns workloads' own. Returns the sections written."""
    sections = []
    if tables:
        update_benchmarks_md(render_markdown(results, plan))
        sections.append("results")
    for name, workload in (("metrics", metrics_workload), ("breakdowns", breakdowns_workload)):
        if results.get(name):
            update_benchmarks_md(workload.render(results, plan.quick), name)
            sections.append(name)
    return sections


def print_summary(results: dict[str, Any], plan: Plan) -> None:
    print("\n================ summary ================", flush=True)
    fan = results.get("fanout", [])
    for n in plan.fanout_ns if fan else []:
        e = find(fan, "expstream", n)
        print(f"fan-out N={n}:")
        for r in [x for x in fan if x.get("n") == n]:
            if not r.get("ok"):
                print(f"  {r['server']:<14} BROKE: {r.get('error')}")
                continue
            ratio = (
                f"  (expstream is {e['cpu_per_msg_us'] / r['cpu_per_msg_us']:.2f}x its CPU/msg)"
                if e and r is not e
                else ""
            )
            print(
                f"  {r['server']:<14} cpu/msg {r['cpu_per_msg_us']:8.2f} us  last p50 {fmt(r['last_p50_ms']):>7} ms  "
                f"p99 {fmt(r['last_p99_ms']):>7} ms  {r['deliveries_per_second']:>9,.0f}/s  "
                f"{r['mem_per_conn_bytes'] / 1024:6.1f} KiB/conn{ratio}"
            )
    if (held := results.get("held")) and held.get("ok"):
        print(
            f"held: {held['n']:,} idle subscribers"
            + (f" (limited by {held['limited_by']})" if held["limited_by"] else "")
            + f", {held['deliveries']:,}/{held['expected_deliveries']:,} delivered, RSS "
            f"{held['rss_before_kib']:,} -> {held['rss_connected_kib']:,} KiB ({held['rss_per_conn_kib']:.1f} "
            f"KiB/conn), connected in {fmt(held['connect_seconds'])} s"
        )
    for r in results.get("history", []):
        if r.get("ok"):
            print(
                f"snapshot at {r['events']:>10,} events: {r['median_ms']:9.2f} ms, old full-scan query "
                f"{fmt(r.get('old_median_ms'), '.2f'):>9} ms ({times(r.get('old_vs_new'))})"
            )
    for line in metrics_workload.summary(results):
        print(line)
    for g in results.get("goals", []):
        status = "—" if g["met"] is None else ("MET" if g["met"] else "MISSED")
        print(f"goal: {g['goal']}: {g['value']} -> {status} {g['detail']}")
    if results.get("broken"):
        print("BROKEN:", ", ".join(b["workload"] for b in results["broken"]))
