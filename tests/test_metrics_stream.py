"""Several metrics in the live stream: the snapshot's metrics and alerts in the wire schema, values
from the running sums, a guardrail alarm pushed once per transition, history per metric."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import RunningServer, assign, bearer, run_server
from wsclient import open_stream, recv_json, recv_until

FIXTURE = Path(__file__).parent / "fixtures" / "snapshot_schema.json"
METRICS = [
    {"key": "revenue", "name": "Revenue per user", "kind": "mean", "event_type": "purchase", "role": "primary",
     "cap": 100.0},
    {"key": "orders", "kind": "mean", "event_type": "order"},
    {"key": "aov", "kind": "ratio", "numerator": "revenue", "denominator": "orders"},
    {"key": "refunds", "name": "Refund rate", "kind": "proportion", "event_type": "refund", "role": "guardrail",
     "direction": "decrease"},
]  # fmt: skip


def shop(client: httpx.Client) -> str:
    body = {
        "name": "shop",
        "variants": [{"key": "control", "name": "Control", "is_control": True}, {"key": "b", "name": "B"}],
        "metrics": METRICS,
    }
    response = client.post("/api/v1/experiments", json=body)
    assert response.status_code == 201, response.text
    experiment_id: str = response.json()["id"]
    return experiment_id


def events(client: httpx.Client, experiment_id: str, rows: list[dict[str, Any]]) -> None:
    response = client.post(f"/api/v1/experiments/{experiment_id}/events", json={"events": rows})
    assert response.status_code == 200, response.text


def by_key(snapshot: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    return {m["key"]: {v["key"]: v for v in m["variants"]} for m in snapshot["metrics"]}


def test_a_live_snapshot_has_the_wire_schema_with_metrics_and_alerts(client: httpx.Client) -> None:
    eid = shop(client)
    snap = client.get(f"/api/v1/experiments/{eid}/results").json()
    expected = json.loads(FIXTURE.read_text())
    assert list(snap) == list(expected)
    assert list(snap["metrics"][0]) == list(expected["metrics"][0])
    assert list(snap["metrics"][0]["variants"][0]) == list(expected["metrics"][0]["variants"][0])
    assert [m["key"] for m in snap["metrics"]] == [m["key"] for m in METRICS]
    assert snap["metrics"][0] | {"variants": None} == {
        "key": "revenue", "name": "Revenue per user", "kind": "mean", "role": "primary", "direction": "increase",
        "cuped": None, "variants": None,
    }  # fmt: skip
    assert snap["alerts"] == []


def test_values_come_from_the_running_sums_capped(client: httpx.Client) -> None:
    eid = shop(client)
    assign(client, eid, [("u1", "b"), ("u2", "b"), ("u3", "control")])
    events(client, eid, [
        {"user_id": "u1", "type": "purchase", "value": 150}, {"user_id": "u1", "type": "order"},
        {"user_id": "u2", "type": "purchase", "value": 20}, {"user_id": "u2", "type": "order"},
        {"user_id": "u2", "type": "order"},
    ])  # fmt: skip
    metrics = by_key(client.get(f"/api/v1/experiments/{eid}/results").json())
    assert metrics["revenue"]["b"]["value"] == 60.0  # (100 capped + 20) / 2 users
    assert metrics["revenue"]["b"]["users"] == 2 and metrics["revenue"]["control"]["value"] == 0.0
    assert metrics["orders"]["b"]["value"] == 1.5
    assert metrics["aov"]["b"]["value"] == 40.0  # 120 / 3 orders
    assert metrics["aov"]["control"]["value"] is None  # no orders: no ratio
    assert metrics["revenue"]["control"]["relative_lift"] == 0


def test_a_guardrail_regression_is_an_alert_and_one_anomaly(
    server: RunningServer, client: httpx.Client
) -> None:
    eid = shop(client)
    users = [(f"c{i}", "control") for i in range(600)] + [(f"b{i}", "b") for i in range(600)]
    assign(client, eid, users)
    with open_stream(server.ws, eid) as ws:
        recv_json(ws)
        # Refunds: 5 % in control, 40 % in b. Lower is better: b regressed.
        refunds = [u for u, _ in users[:30]] + [u for u, _ in users[600:840]]
        events(client, eid, [{"user_id": u, "type": "refund"} for u in refunds])
        anomaly, _ = recv_until(ws, lambda m: m.get("event") == "anomaly")
        assert anomaly["type"] == "guardrail" and anomaly["metric"] == "refunds" and anomaly["variant"] == "b"
        assert anomaly["lift_ci"][0] > 0
        # More of the same: still standing, announced no more.
        events(client, eid, [{"user_id": "b900", "type": "refund"}])
        assign(client, eid, [("b900", "b")])
        snap, seen = recv_until(
            ws, lambda m: m.get("event") == "results_update" and m["total_participants"] == 1201
        )
        assert not [m for m in seen if m.get("event") == "anomaly"]
        (alert,) = snap["alerts"]
        assert alert | {"relative_lift": 0, "lift_ci": None} == {
            "type": "guardrail", "metric": "refunds", "variant": "b", "relative_lift": 0, "lift_ci": None
        }  # fmt: skip
        assert alert["lift_ci"][0] > 0
        ws.send(json.dumps({"action": "ping"}))
        _pong, before_pong = recv_until(ws, lambda m: m.get("event") == "pong")
        assert not [m for m in before_pong if m.get("event") == "anomaly"]
    history = client.get(f"/api/v1/experiments/{eid}/results/history").json()
    last = history["points"][-1]
    assert [m["key"] for m in last["metrics"]] == [m["key"] for m in METRICS]
    refunds_b = next(v for v in last["metrics"][3]["variants"] if v["key"] == "b")
    assert refunds_b["relative_lift"] > 0 and set(refunds_b) == {"key", "relative_lift", "lift_ci"}


def _benjamini_hochberg(p_values: list[float]) -> list[float]:
    """statsmodels' multipletests(method="fdr_bh"), written out."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = running
    return adjusted


def test_results_correction_bh_adjusts_the_metric_family(server_env: dict[str, str]) -> None:
    with (
        run_server({**server_env, "RESULTS_CORRECTION": "bh", "RESULTS_STATS_METHOD": "fixed"}) as srv,
        httpx.Client(base_url=srv.http, headers=bearer(), timeout=30) as client,
    ):
        eid = shop(client)
        users = [(f"c{i}", "control") for i in range(400)] + [(f"b{i}", "b") for i in range(400)]
        assign(client, eid, users)
        rows = []
        for i, (user, key) in enumerate(users):
            spend = 20 + (i * 37) % 50 + (8 if key == "b" else 0)
            rows += [
                {"user_id": user, "type": "purchase", "value": spend},
                {"user_id": user, "type": "order"},
            ]
            if i % 3 == 0:
                rows.append({"user_id": user, "type": "order"})
            if i % 10 == 0:
                rows.append({"user_id": user, "type": "refund"})
        events(client, eid, rows)
        snap = client.get(f"/api/v1/experiments/{eid}/results").json()
    assert snap["analysis"]["correction"] == "benjamini-hochberg"
    family = [m for m in snap["metrics"] if m["role"] != "guardrail"]  # revenue, orders, aov
    raw = [m["variants"][1]["p_value"] for m in family]
    assert all(p is not None for p in raw)
    adjusted = [m["variants"][1]["p_value_adjusted"] for m in family]
    assert adjusted == pytest.approx(_benjamini_hochberg(raw), rel=1e-12)
    guardrail = next(m for m in snap["metrics"] if m["role"] == "guardrail")["variants"][1]
    assert guardrail["p_value"] is not None
    assert guardrail["p_value_adjusted"] == guardrail["p_value"]  # outside the family


def test_multiple_exposures_are_counted_and_alerted_once(server: RunningServer, client: httpx.Client) -> None:
    body = {
        "name": "exposures",
        "variants": [{"key": "control", "name": "Control", "is_control": True}, {"key": "b", "name": "B"}],
        "exposures": "exclude",
    }
    created = client.post("/api/v1/experiments", json=body)
    assert created.status_code == 201 and created.json()["exposures"] == "exclude"
    eid = created.json()["id"]
    assign(client, eid, [(f"u{i}", "control" if i % 2 else "b") for i in range(200)])
    with open_stream(server.ws, eid) as ws:
        recv_json(ws)
        assign(client, eid, [("u1", "b")])  # 1 of 200: 0.5 %, counted, no alarm
        snap, _ = recv_until(ws, lambda m: m.get("multiple_exposures") == 1)
        assert snap["alerts"] == [] and snap["total_participants"] == 199  # excluded
        assign(client, eid, [("u2", "control"), ("u3", "b")])  # 3 of 200: 1.5 %
        anomaly, _ = recv_until(ws, lambda m: m.get("event") == "anomaly")
        assert (anomaly["type"], anomaly["users"], anomaly["share"]) == ("multiple_exposures", 3, 0.015)
        assign(client, eid, [("u4", "control")])  # 4 of 200: still above, no second anomaly
        snap, seen = recv_until(ws, lambda m: m.get("multiple_exposures") == 4)
        assert not [m for m in seen if m.get("event") == "anomaly"]
        assert snap["alerts"] == [{"type": "multiple_exposures", "users": 4, "share": 0.02}]
        assert snap["total_participants"] == 196


def _cuped_experiment(client: httpx.Client, cuped: bool) -> str:
    body = {
        "name": "cuped",
        "variants": [{"key": "control", "name": "Control", "is_control": True}, {"key": "b", "name": "B"}],
        "metrics": [{"key": "revenue", "kind": "mean", "event_type": "purchase", "role": "primary"}],
        "analysis": {"cuped": cuped},
    }
    created = client.post("/api/v1/experiments", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["analysis"] == {"cuped": cuped}
    experiment_id: str = created.json()["id"]
    rows = []
    events_rows = []
    for i in range(400):
        key = "control" if i % 2 else "b"
        past = float(10 + (i * 7919) % 90)  # the user's spend before the experiment
        rows.append({"user_id": f"u{i}", "variant_key": key, "covariates": {"revenue": past}})
        spend = 0.8 * past + (i * 104729) % 40 + (5 if key == "b" else 0)
        events_rows.append({"user_id": f"u{i}", "type": "purchase", "value": spend})
    assert (
        client.post(
            f"/api/v1/experiments/{experiment_id}/assignments", json={"assignments": rows}
        ).status_code
        == 200
    )
    events(client, experiment_id, events_rows)
    return experiment_id


def test_covariates_narrow_the_interval_unless_the_experiment_opts_out(client: httpx.Client) -> None:
    adjusted = by_key(client.get(f"/api/v1/experiments/{_cuped_experiment(client, True)}/results").json())
    plain = by_key(client.get(f"/api/v1/experiments/{_cuped_experiment(client, False)}/results").json())
    cuped = adjusted["revenue"]["b"]["cuped"]
    assert cuped["theta"] > 0 and cuped["variance_reduction"] > 0.3
    assert plain["revenue"]["b"]["cuped"] is None
    width = {name: m["revenue"]["b"]["lift_ci"][1] - m["revenue"]["b"]["lift_ci"][0] for name, m in
             (("adjusted", adjusted), ("plain", plain))}  # fmt: skip
    assert width["adjusted"] < width["plain"]
    assert adjusted["revenue"]["b"]["value"] == plain["revenue"]["b"]["value"]  # values stay as measured


def test_bad_covariates_reject_the_whole_batch(client: httpx.Client) -> None:
    eid = shop(client)
    path = f"/api/v1/experiments/{eid}/assignments"
    for covariates, status in (({"revenue": "12"}, 422), ({"Revenue": 1.0}, 422), ({"aov": 1.0}, 422),
                               ({"nope": 1.0}, 422)):  # fmt: skip
        body = {"assignments": [{"user_id": "ok", "variant_key": "b"},
                                {"user_id": "bad", "variant_key": "b", "covariates": covariates}]}  # fmt: skip
        response = client.post(path, json=body)
        assert response.status_code == status, (covariates, response.text)
    raw = '{"assignments": [{"user_id": "x", "variant_key": "b", "covariates": {"revenue": NaN}}]}'
    assert client.post(path, content=raw, headers={"content-type": "application/json"}).status_code == 422
    assert client.get(f"/api/v1/experiments/{eid}/results").json()["total_participants"] == 0
