"""Faults: PostgreSQL restarted mid-stream, the LISTEN connection cut while another node ingests,
and the server SIGKILLed in the middle of a burst of ingest.

What must hold: subscribers are told when results are unavailable and get a fresh snapshot on the
same socket afterwards; pushes resume after the listener comes back; every acknowledged write is
stored exactly once, re-sending never double counts, `expstream verify` finds no drift, and clients
resume by seq without being sent a snapshot they already had.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from expstream.embedded_db import EmbeddedPostgres
from helpers import RunningServer, bearer, new_experiment, run_server
from hostile import poll_until, psql_rows
from wsclient import open_stream, recv_json, recv_until

pytestmark = pytest.mark.timeout(240)


def is_snapshot(message: dict[str, Any]) -> bool:
    return message.get("event") == "results_update"


def assignments(users: list[str]) -> dict[str, Any]:
    return {
        "assignments": [
            {"user_id": u, "variant_key": "control" if i % 2 else "v1"} for i, u in enumerate(users)
        ]
    }


def conversions(users: list[str]) -> dict[str, Any]:
    return {"events": [{"user_id": u, "type": "conversion", "event_id": f"ev-{u}"} for u in users]}


def expstream_verify(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`expstream verify` as an operator runs it: the console script beside this interpreter."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("expstream")), "verify", *args],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- (a) PostgreSQL restarted mid-stream ------------------------------------------------------------------
def test_postgres_restarted_mid_stream_subscribers_recover_on_the_same_socket_and_nothing_acked_is_lost(
    owned_postgres: EmbeddedPostgres,
) -> None:
    # A 2 s tick: the periodic recompute is what finds the database gone while nobody ingests.
    env = {
        "DATABASE_URL": owned_postgres.url,
        "RESULTS_STREAM_INTERVAL_SECONDS": "2",
        "EXPSTREAM_CORE_THREADS": "2",
    }
    with (
        run_server(env) as server,
        httpx.Client(base_url=server.http, timeout=30, headers=bearer()) as client,
        ExitStack() as streams,
    ):
        eid = new_experiment(client, "pg-restart")["id"]
        subscribers = [streams.enter_context(open_stream(server.ws, eid)) for _ in range(5)]
        for ws in subscribers:
            assert recv_json(ws)["total_participants"] == 0

        acknowledged: list[str] = []
        for batch in range(5):
            users = [f"before-{batch}-{i}" for i in range(10)]
            assert (
                client.post(f"/api/v1/experiments/{eid}/assignments", json=assignments(users)).status_code
                == 200
            )
            assert (
                client.post(f"/api/v1/experiments/{eid}/events", json=conversions(users)).status_code == 200
            )
            acknowledged += users
        for ws in subscribers:
            recv_until(ws, lambda m: is_snapshot(m) and m["total_participants"] == len(acknowledged))

        owned_postgres.kill()  # immediate shutdown: crash recovery on the way back
        for ws in subscribers:
            error, _ = recv_until(ws, lambda m: m.get("event") == "error", timeout=30)
            assert error["code"] == "results_unavailable" and error["experiment_id"] == eid
        refused = client.post(f"/api/v1/experiments/{eid}/assignments", json=assignments(["during-outage"]))
        assert refused.status_code == 503  # not acknowledged, so not promised

        owned_postgres.start()
        for ws in subscribers:
            # Same socket, no reconnect: a fresh snapshot with everything acknowledged before the crash.
            snapshot, _ = recv_until(ws, is_snapshot, timeout=60)
            assert snapshot["total_participants"] == len(acknowledged)
            assert sum(v["conversion_count"] for v in snapshot["variants"]) == len(acknowledged)

        rows = psql_rows(
            owned_postgres.url,
            (
                f"SELECT (SELECT count(*) FROM assignments WHERE experiment_id = '{eid}'), "
                f"(SELECT count(*) FROM events WHERE experiment_id = '{eid}'), "
                f"(SELECT count(DISTINCT event_id) FROM events WHERE experiment_id = '{eid}')"
            ),
        )
        assert rows == [[str(len(acknowledged))] * 3]

        # Ingest works again and reaches the same sockets.
        assert (
            client.post(f"/api/v1/experiments/{eid}/assignments", json=assignments(["after"])).status_code
            == 200
        )
        for ws in subscribers:
            recv_until(ws, lambda m: is_snapshot(m) and m["total_participants"] == len(acknowledged) + 1)
    assert expstream_verify(owned_postgres.url, eid).returncode == 0


# -- (b) the LISTEN connection killed while another node ingests --------------------------------------------
def test_listen_connection_killed_while_another_node_ingests_pushes_resume(
    server_env: dict[str, str],
    database_url: str,
) -> None:
    watched_id, writer_id = f"faults-watched-{uuid.uuid4().hex[:8]}", f"faults-writer-{uuid.uuid4().hex[:8]}"

    def node(node_id: str) -> dict[str, str]:
        # An hour's tick: every push here comes from a notice or from the refresh after a reconnect.
        return {
            **server_env,
            "EXPSTREAM_NODE_ID": node_id,
            "EXPSTREAM_NODE_HEARTBEAT_SECONDS": "0.5",
            "RESULTS_STREAM_INTERVAL_SECONDS": "3600",
            "EXPSTREAM_CORE_THREADS": "2",
        }

    with ExitStack() as stack:
        watched = stack.enter_context(run_server(node(watched_id)))
        writer = stack.enter_context(run_server(node(writer_id)))
        admin = stack.enter_context(httpx.Client(base_url=watched.http, timeout=30, headers=bearer()))
        ingest = stack.enter_context(httpx.Client(base_url=writer.http, timeout=30, headers=bearer()))
        eid = new_experiment(ingest, "listener-cut")["id"]
        subscribers = [stack.enter_context(open_stream(watched.ws, eid)) for _ in range(3)]
        for ws in subscribers:
            assert recv_json(ws)["total_participants"] == 0

        def listener() -> dict[str, Any]:
            details: dict[str, Any] = admin.get("/health/details").json()
            assert details["node_id"] == watched_id
            return dict(details["listener"])

        poll_until(lambda: listener()["connected"], what="the listener connected")
        assert listener()["reconnects"] == 0

        # Another node ingests steadily; its notices are what push to the watched node's subscribers.
        written = 0
        written_lock = threading.Lock()
        stop = threading.Event()

        def pump() -> None:
            nonlocal written
            while not stop.is_set():
                with written_lock:
                    user = f"user-{written}"
                response = ingest.post(f"/api/v1/experiments/{eid}/assignments", json=assignments([user]))
                assert response.status_code == 200
                with written_lock:
                    written += 1

        pumping = threading.Thread(target=pump, daemon=True)
        pumping.start()
        try:
            for ws in subscribers:
                recv_until(ws, lambda m: is_snapshot(m) and m["total_participants"] >= 3)
            notices_before_cut = listener()["notices_received"]
            assert notices_before_cut > 0

            name = f"expstream-listener {watched_id}"
            killed = psql_rows(
                database_url,
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{name}'",
            )
            assert killed == [["t"]]
            poll_until(
                lambda: listener()["reconnects"] >= 1 and listener()["connected"],
                timeout=30,
                what="the listener to reconnect",
            )
            # After the reconnect, the notices flow again (and were counted).
            received = listener()["notices_received"]
            poll_until(lambda: listener()["notices_received"] > received, what="notices after the reconnect")
        finally:
            stop.set()
            pumping.join(timeout=60)
        total = written
        # Whatever was announced while the listener was away, every subscriber ends with all of it.
        for ws in subscribers:
            recv_until(ws, lambda m: is_snapshot(m) and m["total_participants"] == total, timeout=30)
        assert admin.get(f"/api/v1/experiments/{eid}/results").json()["total_participants"] == total


# -- (c) SIGKILL during a burst of ingest ------------------------------------------------------------------
THREADS = 4
BATCH = 20
KILL_AFTER_ACKS = 40  # acknowledged calls, across the threads, before the SIGKILL


@dataclass
class Burst:
    experiment_id: str
    # (thread, batch) -> users of that batch; what each call was and whether it was acknowledged
    sent: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    acked_assignments: set[tuple[int, int]] = field(default_factory=set)
    acked_events: set[tuple[int, int]] = field(default_factory=set)
    changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def acks(self) -> int:
        return len(self.acked_assignments) + len(self.acked_events)


def _burst_thread(server: RunningServer, burst: Burst, thread: int) -> None:
    """Sends batches until a call fails (the server is gone); records what was acknowledged."""
    eid = burst.experiment_id
    with httpx.Client(base_url=server.http, timeout=30, headers=bearer()) as client:
        for batch in range(10_000):
            users = [f"t{thread}-b{batch}-u{i}" for i in range(BATCH)]
            with burst.changed:
                burst.sent[(thread, batch)] = users
            for path, body, acked in (
                ("assignments", assignments(users), burst.acked_assignments),
                ("events", conversions(users), burst.acked_events),
            ):
                try:
                    response = client.post(f"/api/v1/experiments/{eid}/{path}", json=body)
                except httpx.HTTPError:
                    return
                if not response.is_success:
                    return
                with burst.changed:
                    acked.add((thread, batch))
                    burst.changed.notify_all()


def _drain_until_closed(ws: ClientConnection) -> int:
    """Reads what the dead server had sent; the last snapshot seq seen."""
    last = -1
    try:
        while True:
            message = json.loads(ws.recv(timeout=30))
            if is_snapshot(message):
                assert message["seq"] >= last
                last = message["seq"]
    except ConnectionClosed:
        return last


def test_sigkill_during_an_ingest_burst_loses_nothing_acknowledged_and_never_double_counts(
    server_env: dict[str, str],
    database_url: str,
) -> None:
    env = {**server_env, "EXPSTREAM_CORE_THREADS": "2"}
    with (
        run_server(env) as first,
        httpx.Client(base_url=first.http, timeout=30, headers=bearer()) as client,
        ExitStack() as streams,
    ):
        eid = new_experiment(client, "sigkill")["id"]
        watchers = [streams.enter_context(open_stream(first.ws, eid)) for _ in range(3)]
        last_seen = [recv_json(ws)["seq"] for ws in watchers]

        burst = Burst(eid)
        threads = [threading.Thread(target=_burst_thread, args=(first, burst, t)) for t in range(THREADS)]
        for t in threads:
            t.start()
        with burst.changed:
            assert burst.changed.wait_for(lambda: burst.acks >= KILL_AFTER_ACKS, timeout=120)
        first.process.send_signal(signal.SIGKILL)
        for t in threads:
            t.join(timeout=60)
        assert first.process.wait(timeout=30) == -signal.SIGKILL
        for i, ws in enumerate(watchers):
            last_seen[i] = max(last_seen[i], _drain_until_closed(ws))

    with (
        run_server(env) as second,
        httpx.Client(base_url=second.http, timeout=30, headers=bearer()) as client,
        ExitStack() as streams,
    ):

        def counts(users: list[str]) -> tuple[dict[str, int], dict[str, int]]:
            """Raw rows: assignments per user, conversion events per event id."""
            user_list = ",".join(f"'{u}'" for u in users)
            event_list = ",".join(f"'ev-{u}'" for u in users)
            a = psql_rows(
                database_url,
                f"SELECT user_id, count(*) FROM assignments WHERE experiment_id = '{eid}' "
                f"AND user_id IN ({user_list}) GROUP BY user_id",
            )
            e = psql_rows(
                database_url,
                f"SELECT event_id, count(*) FROM events WHERE experiment_id = '{eid}' "
                f"AND event_id IN ({event_list}) GROUP BY event_id",
            )
            return {u: int(n) for u, n in a}, {ev: int(n) for ev, n in e}

        every_user = [u for users in burst.sent.values() for u in users]
        assignments_stored, events_stored = counts(every_user)
        for key in burst.acked_assignments:
            for user in burst.sent[key]:
                assert assignments_stored.get(user) == 1, f"acknowledged assignment of {user}"
        for key in burst.acked_events:
            for user in burst.sent[key]:
                assert events_stored.get(f"ev-{user}") == 1, f"acknowledged event ev-{user}"
        assert all(n == 1 for n in [*assignments_stored.values(), *events_stored.values()])

        # Clients that were connected come back and resume from the last seq each saw.
        resumed = [
            streams.enter_context(open_stream(second.ws, eid, query=f"since_seq={seq}")) for seq in last_seen
        ]
        # Re-send everything, acknowledged or not: nothing may count twice.
        for key in sorted(burst.sent):
            users = burst.sent[key]
            for path, body, acked in (
                ("assignments", assignments(users), burst.acked_assignments),
                ("events", conversions(users), burst.acked_events),
            ):
                response = client.post(f"/api/v1/experiments/{eid}/{path}", json=body)
                assert response.status_code == 200, response.text
                result = response.json()
                assert result["accepted"] + result["duplicates"] == len(users)
                if key in acked:
                    assert result["accepted"] == 0, f"{path} {key} was acknowledged, yet counted again"
        assignments_stored, events_stored = counts(every_user)
        assert assignments_stored == {u: 1 for u in every_user}
        assert events_stored == {f"ev-{u}": 1 for u in every_user}
        totals = psql_rows(
            database_url,
            "SELECT sum(v.participants), sum(s.sum)::bigint FROM variants v LEFT JOIN metric_sums s "
            f"ON s.variant_id = v.id AND s.metric = 'conversion' WHERE v.experiment_id = '{eid}'",
        )
        assert totals == [[str(len(every_user))] * 2]

        for ws, since in zip(resumed, last_seen):
            # Each snapshot it gets is newer than what it had, and the last one counts everyone.
            snapshot, before = recv_until(
                ws, lambda m: is_snapshot(m) and m["total_participants"] == len(every_user), timeout=30
            )
            seqs = [m["seq"] for m in [*before, snapshot] if is_snapshot(m)]
            assert all(s > since for s in seqs), f"resumed after {since}, was sent {seqs}"
            assert seqs == sorted(set(seqs)), seqs

    done = expstream_verify(database_url, eid)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 with drift" in done.stdout
