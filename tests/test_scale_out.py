"""Several server processes on one database: change notices, cluster-wide subscriber counts,
concurrent ingest with exact running totals (and `expstream verify`), a dropped LISTEN connection."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from helpers import (
    RunningServer,
    assign,
    bearer,
    expstream_cli,
    new_experiment,
    psql,
    run_server,
    token,
    wait_until,
)
from wsclient import open_stream, recv_json, recv_until

HEARTBEAT = 0.3  # EXPSTREAM_NODE_HEARTBEAT_SECONDS: a node silent for 3 of them stops counting


def is_snapshot(message: dict[str, Any]) -> bool:
    return message.get("event") == "results_update"


def node_env(server_env: dict[str, str], node_id: str) -> dict[str, str]:
    # A one-hour tick: every push in these tests comes from ingest, a notice or a listener reconnect.
    return server_env | {
        "EXPSTREAM_NODE_ID": node_id,
        "EXPSTREAM_NODE_HEARTBEAT_SECONDS": str(HEARTBEAT),
        "RESULTS_STREAM_INTERVAL_SECONDS": "3600",
        "EXPSTREAM_CORE_THREADS": "2",
    }


def new_node_id(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


class Node:
    """A running server with an admin HTTP client."""

    def __init__(self, server: RunningServer, node_id: str, client: httpx.Client) -> None:
        self.server, self.node_id, self.client = server, node_id, client

    def subscribers(self, experiment_id: str) -> int:
        response = self.client.get(f"/api/v1/ws/experiments/{experiment_id}/results/subscribers")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["experiment_id"] == experiment_id
        return int(body["subscribers"])

    def listener(self) -> dict[str, Any]:
        details = self.client.get("/health/details").json()
        assert details["node_id"] == self.node_id
        listener: dict[str, Any] = details["listener"]
        return listener


def start_node(stack: ExitStack, server_env: dict[str, str], name: str) -> Node:
    node_id = new_node_id(name)
    server = stack.enter_context(run_server(node_env(server_env, node_id)))
    client = stack.enter_context(httpx.Client(base_url=server.http, timeout=30, headers=bearer("admin")))
    return Node(server, node_id, client)


@pytest.fixture(scope="module")
def cluster(server_env: dict[str, str]) -> Iterator[tuple[Node, Node, Node]]:
    """Three nodes on the session database; tests that kill or cut a node start their own."""
    with ExitStack() as stack:
        yield (
            start_node(stack, server_env, "a"),
            start_node(stack, server_env, "b"),
            start_node(stack, server_env, "c"),
        )


def totals(snapshot: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {v["key"]: (v["participant_count"], v["conversion_count"]) for v in snapshot["variants"]}


# 1 ------------------------------------------------------------------------------------------------


def test_ingest_and_status_changes_on_one_node_reach_subscribers_of_the_others(
    cluster: tuple[Node, Node, Node],
) -> None:
    a, b, c = cluster
    eid = new_experiment(a.client)["id"]
    assign(a.client, eid, [("u1", "control")])
    notices_before = {n.node_id: n.listener()["notices_received"] for n in cluster}
    with open_stream(b.server.ws, eid) as on_b, open_stream(c.server.ws, eid) as on_c:
        first = {"b": recv_json(on_b), "c": recv_json(on_c)}
        for snap in first.values():
            assert is_snapshot(snap) and snap["total_participants"] == 1

        assign(a.client, eid, [("u2", "v1"), ("u3", "control")])
        pushed: dict[str, dict[str, Any]] = {}
        for name, ws in (("b", on_b), ("c", on_c)):
            pushed[name], _ = recv_until(ws, lambda m: is_snapshot(m) and m["total_participants"] == 3)
            assert pushed[name]["seq"] > first[name]["seq"]
            assert totals(pushed[name]) == {"control": (2, 0), "v1": (1, 0)}
        assert pushed["b"]["seq"] == pushed["c"]["seq"]  # one database, one seq

        response = a.client.patch(
            f"/api/v1/experiments/{eid}",
            json={"status": "active"},
            headers={"X-Request-ID": "trace-scale-out"},
        )
        assert response.status_code == 200, response.text
        for name, ws in (("b", on_b), ("c", on_c)):
            envelope, _ = recv_until(ws, lambda m: m.get("event") == "STATUS_CHANGED")
            assert envelope["topic"] == f"experiment:{eid}"
            assert envelope["trace_id"] == "trace-scale-out"
            assert envelope["data"]["entity_id"] == eid
            assert envelope["data"]["payload"] == {"status": "active", "previous_status": "draft"}
            assert envelope["data"]["timestamp"]
            status_snap, _ = recv_until(ws, lambda m: is_snapshot(m) and m["status"] == "active")
            assert status_snap["seq"] > pushed[name]["seq"]
            assert status_snap["total_participants"] == 3
    # B and C heard A's notices; A ignores its own (it pushed locally).
    notices_after = {n.node_id: n.listener()["notices_received"] for n in cluster}
    assert notices_after[a.node_id] == notices_before[a.node_id]
    assert notices_after[b.node_id] >= notices_before[b.node_id] + 2
    assert notices_after[c.node_id] >= notices_before[c.node_id] + 2


# 2 ------------------------------------------------------------------------------------------------


def test_subscriber_counts_agree_across_nodes_and_a_killed_node_drops_out_while_its_client_resumes(
    cluster: tuple[Node, Node, Node],
    server_env: dict[str, str],
) -> None:
    a, b, _ = cluster
    with ExitStack() as stack:
        c = start_node(stack, server_env, "doomed")
        eid = new_experiment(a.client)["id"]
        assign(a.client, eid, [("u1", "control")])
        streams = [stack.enter_context(open_stream(node.server.ws, eid)) for node in (a, a, b, b, b, c)]
        for ws in streams:
            assert recv_json(ws)["total_participants"] == 1
        c_client = streams[-1]
        for node in (a, b, c):
            wait_until(
                lambda node=node: node.subscribers(eid) == 6,
                timeout=15,
                what=f"6 subscribers on {node.node_id}",
            )
        listed = c.client.get("/api/v1/ws/active-experiments").json()
        assert {"experiment_id": eid, "subscribers": 6} in listed

        assign(a.client, eid, [("u2", "v1")])
        last, _ = recv_until(c_client, lambda m: is_snapshot(m) and m["total_participants"] == 2)
        last_seq = last["seq"]

        killed_at = time.monotonic()
        c.server.process.kill()
        c.server.process.wait(timeout=30)
        with pytest.raises(ConnectionClosed):  # the socket goes with the process
            recv_until(c_client, lambda m: False, timeout=15)
        # Changes while C's client is away: it must not miss them.
        assign(b.client, eid, [("u3", "control"), ("u4", "v1")])

        bound = 3 * HEARTBEAT
        for node in (a, b):
            wait_until(
                lambda node=node: node.subscribers(eid) == 5, timeout=bound + 10, what=f"5 on {node.node_id}"
            )
        dropped_after = time.monotonic() - killed_at
        print(f"\nkilled node dropped out of the counts after {dropped_after:.2f} s (bound {bound:.1f} s)")
        assert dropped_after < bound + 10

        # Resume on a surviving node with the last seq it saw: the missed change at once, then
        # nothing repeated, then the next change.
        with open_stream(a.server.ws, eid, query=f"since_seq={last_seq}") as resumed:
            missed = recv_json(resumed)
            assert is_snapshot(missed)
            assert missed["seq"] > last_seq and missed["total_participants"] == 4
            assert totals(missed) == {"control": (2, 0), "v1": (2, 0)}
            resumed.send(json.dumps({"action": "ping"}))
            assert recv_json(resumed) == {"event": "pong"}  # no repeat, no older snapshot
            assign(b.client, eid, [("u5", "control")])
            newer = recv_json(resumed)
            assert is_snapshot(newer)
            assert newer["seq"] > missed["seq"] and newer["total_participants"] == 5
            for node in (a, b):
                wait_until(
                    lambda node=node: node.subscribers(eid) == 6,
                    timeout=15,
                    what=f"6 again on {node.node_id}",
                )


# 3 ------------------------------------------------------------------------------------------------

WORKER = r"""
import json, sys, httpx
plan = json.load(open(sys.argv[1]))
accepted = {"assignments": 0, "events": 0}
with httpx.Client(base_url=plan["base"], timeout=60, headers={"Authorization": "Bearer " + plan["token"]}) as c:
    for kind, rows in plan["ops"]:
        body = {"assignments": rows} if kind == "assignments" else {"events": rows}
        r = c.post(f"/api/v1/experiments/{plan['experiment']}/{kind}", json=body)
        if r.status_code != 200:
            sys.exit(f"{kind}: {r.status_code} {r.text}")
        accepted[kind] += r.json()["accepted"]
print(json.dumps(accepted))
"""

KEYS = ("control", "v1", "v2")


def chunks(rows: list[Any], size: int) -> list[list[Any]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def ingest_plans(
    rng: random.Random, workers: int
) -> tuple[list[list[tuple[str, list[dict[str, Any]]]]], dict[str, Any]]:
    """Overlapping users, a fixed variant per user (so "first wins" has one answer whichever process
    is first), shared event ids (duplicates across processes), events without ids, conversions
    before assignments and conversions of users never assigned."""
    users = [f"user-{i}" for i in range(240)]
    variant_of = {u: KEYS[rng.randrange(len(KEYS))] for u in users}
    converting = set(rng.sample(users, 100))
    ghosts = [f"ghost-{i}" for i in range(12)]
    plans: list[list[tuple[str, list[dict[str, Any]]]]] = []
    assigned: set[str] = set()
    converted: set[str] = set()
    event_ids: set[str] = set()
    anonymous_events = 0
    for w in range(workers):
        mine = rng.sample(users, 150)
        assigned.update(mine)
        rows = [{"user_id": u, "variant_key": variant_of[u]} for u in mine]
        rows += rng.sample(rows, 10)  # the same pair again, maybe in the same batch
        rng.shuffle(rows)
        events: list[dict[str, Any]] = []
        for u in [u for u in mine if u in converting] + rng.sample(ghosts, 6):
            converted.add(u)
            events.append({"user_id": u, "type": "conversion", "event_id": f"e-{u}"})  # others send it too
            if rng.random() < 0.3:
                events.append({"user_id": u, "type": "conversion"})  # no id: always stored
                anonymous_events += 1
            event_ids.add(f"e-{u}")
        rng.shuffle(events)
        ops: list[tuple[str, list[dict[str, Any]]]] = [("assignments", batch) for batch in chunks(rows, 20)]
        event_ops: list[tuple[str, list[dict[str, Any]]]] = [
            ("events", batch) for batch in chunks(events, 15)
        ]
        if w == 0:
            ops = event_ops + ops  # this one converts everybody before assigning anybody
        else:
            for op in event_ops:
                ops.insert(rng.randrange(len(ops) + 1), op)
        plans.append(ops)
    per_variant = {
        k: (sum(variant_of[u] == k for u in assigned), sum(variant_of[u] == k for u in assigned & converted))
        for k in KEYS
    }
    expected = {
        "totals": per_variant,
        "participants": len(assigned),
        "assignments_accepted": len(assigned),
        "events_accepted": len(event_ids) + anonymous_events,
    }
    return plans, expected


def raw_counts(database_url: str, experiment_id: str) -> dict[str, tuple[int, int]]:
    rows = psql(
        database_url,
        f"""
        SELECT v.key, count(a.user_id),
               count(a.user_id) FILTER (WHERE EXISTS (SELECT 1 FROM events e WHERE e.experiment_id = v.experiment_id
                                                     AND e.user_id = a.user_id AND e.type = 'conversion'))
        FROM variants v LEFT JOIN assignments a ON a.experiment_id = v.experiment_id AND a.variant_id = v.id
        WHERE v.experiment_id = '{experiment_id}' GROUP BY v.key, v.position ORDER BY v.position""",
    )
    return {key: (int(p), int(c)) for key, p, c in rows}


def test_concurrent_ingest_from_several_processes_keeps_exact_totals_and_verify_finds_drift(
    cluster: tuple[Node, Node, Node],
    database_url: str,
    tmp_path: Path,
) -> None:
    a, b, _ = cluster
    eid = new_experiment(a.client, variants=3)["id"]
    plans, expected = ingest_plans(random.Random(20261122), workers=4)
    with open_stream(a.server.ws, eid) as on_a, open_stream(b.server.ws, eid) as on_b:
        recv_json(on_a), recv_json(on_b)
        procs = []
        try:
            for i, ops in enumerate(plans):
                node = (a, b)[i % 2]
                plan = tmp_path / f"plan-{i}.json"
                plan.write_text(
                    json.dumps(
                        {"base": node.server.http, "token": token("admin"), "experiment": eid, "ops": ops}
                    )
                )
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-c", WORKER, str(plan)],
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
            outputs = []
            for proc in procs:
                out, err = proc.communicate(timeout=90)
                assert proc.returncode == 0, err
                outputs.append(json.loads(out))
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
        assert sum(o["assignments"] for o in outputs) == expected["assignments_accepted"]  # first wins, once
        assert sum(o["events"] for o in outputs) == expected["events_accepted"]  # event ids deduplicated

        # Another variant for users who have one already: all duplicates, nothing moves.
        again = assign(b.client, eid, [(f"user-{i}", "v2" if i % 2 else "control") for i in range(30)])
        assert again["accepted"] == 0

        # Both nodes' subscribers end on the final numbers, seq never going back.
        for ws in (on_a, on_b):
            final, seen = recv_until(
                ws, lambda m: is_snapshot(m) and totals(m) == expected["totals"], timeout=30
            )
            seqs = [m["seq"] for m in seen if is_snapshot(m)] + [final["seq"]]
            assert seqs == sorted(seqs)
            assert final["total_participants"] == expected["participants"]
    for node in (a, b):
        snapshot = node.client.get(f"/api/v1/experiments/{eid}/results").json()
        assert totals(snapshot) == expected["totals"]
        assert snapshot["total_participants"] == expected["participants"]
    assert raw_counts(database_url, eid) == expected["totals"]

    env = {"DATABASE_URL": database_url}
    one = expstream_cli("verify", eid, env=env)
    assert one.returncode == 0, one.stdout + one.stderr
    assert f"verified 3 variants of experiment {eid}: 0 with drift" in one.stdout
    everything = expstream_cli("verify", env=env)
    assert everything.returncode == 0, everything.stdout + everything.stderr
    assert "of all experiments: 0 with drift" in everything.stdout

    where = f"experiment_id = '{eid}' AND key = 'v1'"
    psql(database_url, f"UPDATE variants SET participants = participants + 1 WHERE {where}")
    try:
        stored = expected["totals"]["v1"][0] + 1
        drifted = expstream_cli("verify", eid, env=env)
        assert drifted.returncode == 1, drifted.stdout + drifted.stderr
        assert (
            f"DRIFT experiment {eid} variant v1: participants stored {stored}, recounted {stored - 1}"
            in drifted.stdout
        )
        assert f"verified 3 variants of experiment {eid}: 1 with drift" in drifted.stdout
        drifted_all = expstream_cli("verify", env=env)
        assert drifted_all.returncode == 1
        assert f"DRIFT experiment {eid} variant v1" in drifted_all.stdout
    finally:
        psql(database_url, f"UPDATE variants SET participants = participants - 1 WHERE {where}")
    assert expstream_cli("verify", eid, env=env).returncode == 0

    unknown = expstream_cli("verify", str(uuid.uuid4()), env=env)
    assert unknown.returncode == 2 and "not found" in unknown.stderr
    not_a_uuid = expstream_cli("verify", "not-a-uuid", env=env)
    assert not_a_uuid.returncode == 2 and "UUID" in not_a_uuid.stderr


# 4 ------------------------------------------------------------------------------------------------


def listener_pids(database_url: str, node_id: str) -> list[int]:
    rows = psql(
        database_url,
        f"SELECT pid FROM pg_stat_activity WHERE application_name = 'expstream-listener {node_id}'",
    )
    return [int(r[0]) for r in rows]


def test_a_dropped_listen_connection_comes_back_and_notices_flow_again(
    cluster: tuple[Node, Node, Node],
    server_env: dict[str, str],
    database_url: str,
) -> None:
    a = cluster[0]
    with ExitStack() as stack:
        x = start_node(stack, server_env, "cut")
        eid = new_experiment(a.client)["id"]
        ws = stack.enter_context(open_stream(x.server.ws, eid))
        assert recv_json(ws)["total_participants"] == 0
        old = wait_until(
            lambda: listener_pids(database_url, x.node_id), timeout=15, what="the listener backend"
        )
        assert len(old) == 1  # one LISTEN connection per node, named after it
        assert x.listener()["connected"] is True
        assert x.listener()["reconnects"] == 0

        assert psql(database_url, f"SELECT pg_terminate_backend({old[0]})") == [["t"]]
        # Whether this notice is lost with the connection or not, the refresh on reconnect brings it.
        assign(a.client, eid, [("u1", "control")])

        def replaced() -> list[int]:
            pids = listener_pids(database_url, x.node_id)
            return [] if old[0] in pids else pids

        new = wait_until(replaced, timeout=15, what="the old listener backend gone and a new one there")
        assert len(new) == 1
        recv_until(ws, lambda m: is_snapshot(m) and m["total_participants"] == 1)

        received = x.listener()["notices_received"]
        assign(a.client, eid, [("u2", "v1")])  # through another node: only a notice can bring it here
        snap, _ = recv_until(ws, lambda m: is_snapshot(m) and m["total_participants"] == 2)
        assert totals(snap) == {"control": (1, 0), "v1": (1, 0)}
        listener = x.listener()
        assert listener["connected"] is True
        assert listener["reconnects"] >= 1
        assert listener["notices_received"] > received

        # A graceful stop takes the node out of the counts at once, not after 3 heartbeats.
        wait_until(lambda: a.subscribers(eid) == 1, timeout=15, what="X's subscriber counted on A")
        x.server.process.send_signal(signal.SIGTERM)
        assert x.server.process.wait(timeout=30) in (0, -signal.SIGTERM)  # uvicorn re-raises it
        # Its subscriber rows are gone. (Its `nodes` row is not checked: a heartbeat in flight while
        # Runtime::stop runs leave() can write it back, without subscribers.)
        assert psql(database_url, f"SELECT count(*) FROM node_subscribers WHERE node_id = '{x.node_id}'") == [
            ["0"]
        ]
        assert a.subscribers(eid) == 0
