"""Statistics that stay honest while people watch: the analysis block, intervals, running-minimum p,
SRM alarms and the results history, end to end through the real server and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from helpers import RunningServer, assign, bearer, convert, new_experiment, run_server
from wsclient import open_stream, recv_json, recv_until


def results(client: httpx.Client, eid: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/experiments/{eid}/results")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def load(client: httpx.Client, eid: str, key: str, users: int, converters: int, prefix: str) -> None:
    assign(client, eid, [(f"{prefix}{i}", key) for i in range(users)])
    if converters:
        convert(client, eid, [f"{prefix}{i}" for i in range(converters)])


def assert_labels_agree_with_intervals(snapshot: dict[str, Any]) -> None:
    for v in snapshot["variants"]:
        if v["is_significant"]:
            low, high = v["lift_ci"]
            assert not (low <= 0 <= high), v
            dlow, dhigh = v["difference_ci"]
            assert not (dlow <= 0 <= dhigh), v
    assert snapshot["is_significant"] == any(v["is_significant"] for v in snapshot["variants"])


def test_default_analysis_is_sequential_and_says_so(client: httpx.Client) -> None:
    eid = new_experiment(client)["id"]
    load(client, eid, "control", 2000, 200, "c")
    load(client, eid, "v1", 2000, 300, "t")
    snap = results(client, eid)
    assert snap["analysis"] == {
        "method": "sequential",
        "alpha": 0.05,
        "sequential_tuning": 5000,
        "correction": "none",
    }  # one treatment: nothing to correct
    treatment = snap["variants"][1]
    assert treatment["is_significant"] is True  # 15% vs 10% on 2,000 each is clear even sequentially
    assert 0.9 < treatment["chance_to_win"] <= 1.0
    assert snap["variants"][0]["chance_to_win"] is None
    assert_labels_agree_with_intervals(snap)


def test_several_treatments_get_holm_adjusted_p_values(client: httpx.Client) -> None:
    eid = new_experiment(client, variants=4)["id"]
    for key, rate in (("control", 100), ("v1", 110), ("v2", 130), ("v3", 150)):
        load(client, eid, key, 1000, rate, key)
    snap = results(client, eid)
    assert snap["analysis"]["correction"] == "holm-bonferroni"
    for v in snap["variants"][1:]:
        assert v["p_value_adjusted"] >= v["p_value"]
    assert_labels_agree_with_intervals(snap)


def test_weights_drive_the_sample_ratio_check_and_its_alarm_fires_once(
    server: RunningServer, client: httpx.Client
) -> None:
    body = {
        "name": "srm",
        "variants": [
            {"key": "control", "name": "C", "is_control": True, "weight": 1},
            {"key": "b", "name": "B", "weight": 1},
        ],
    }
    eid = client.post("/api/v1/experiments", json=body).json()["id"]
    assert [v["weight"] for v in client.get(f"/api/v1/experiments/{eid}").json()["variants"]] == [1, 1]
    with open_stream(server.ws, eid) as ws:
        assert recv_json(ws)["srm"] == {"p_value": None, "mismatch": False}
        assign(
            client, eid, [(f"c{i}", "control") for i in range(1000)] + [(f"b{i}", "b") for i in range(800)]
        )
        anomaly, _ = recv_until(ws, lambda m: m.get("event") == "anomaly")
        assert anomaly["type"] == "sample_ratio_mismatch" and anomaly["experiment_id"] == eid
        assert anomaly["p_value"] < 0.001
        snap, _ = recv_until(
            ws, lambda m: m.get("event") == "results_update" and m["total_participants"] == 1800
        )
        assert snap["srm"]["mismatch"] is True
        assign(client, eid, [("late", "b")])
        later, seen = recv_until(
            ws, lambda m: m.get("event") == "results_update" and m["total_participants"] == 1801
        )
        assert later["srm"]["mismatch"] is True
        assert all(m.get("event") != "anomaly" for m in seen)  # once, not on every snapshot


def test_an_unweighted_split_that_matches_its_weights_raises_no_alarm(client: httpx.Client) -> None:
    body = {
        "name": "weighted",
        "variants": [
            {"key": "control", "name": "C", "is_control": True, "weight": 2},
            {"key": "b", "name": "B", "weight": 1},
        ],
    }
    eid = client.post("/api/v1/experiments", json=body).json()["id"]
    assign(client, eid, [(f"c{i}", "control") for i in range(1000)] + [(f"b{i}", "b") for i in range(500)])
    assert results(client, eid)["srm"]["mismatch"] is False
    bad = {
        "name": "x",
        "variants": [
            {"key": "control", "name": "C", "is_control": True, "weight": 0},
            {"key": "b", "name": "B"},
        ],
    }
    assert client.post("/api/v1/experiments", json=bad).status_code == 422


@pytest.fixture(scope="module")
def fixed_server(server_env: dict[str, str]) -> Iterator[RunningServer]:
    with run_server({**server_env, "RESULTS_STATS_METHOD": "fixed"}) as running:
        yield running


def test_fixed_analysis_keeps_the_pooled_z_test(fixed_server: RunningServer) -> None:
    with httpx.Client(base_url=fixed_server.http, headers=bearer(), timeout=30) as client:
        eid = new_experiment(client)["id"]
        load(client, eid, "control", 500, 50, "c")
        load(client, eid, "v1", 500, 65, "t")
        snap = results(client, eid)
    assert snap["analysis"] == {
        "method": "fixed",
        "alpha": 0.05,
        "sequential_tuning": None,
        "correction": "none",
    }
    assert snap["variants"][1]["p_value"] == pytest.approx(0.13705122503762, rel=1e-9)
    assert snap["variants"][1]["is_significant"] is False
    assert_labels_agree_with_intervals(snap)


def test_sequential_p_is_a_running_minimum_that_survives_a_restart(server_env: dict[str, str]) -> None:
    with (
        run_server(server_env) as srv,
        httpx.Client(base_url=srv.http, headers=bearer(), timeout=30) as client,
    ):
        eid = new_experiment(client)["id"]
        load(client, eid, "control", 1000, 100, "c")
        load(client, eid, "v1", 1000, 160, "t")
        strong = results(client, eid)["variants"][1]["p_value"]
        # Dilute the effect: on these numbers alone the p-value would rise.
        load(client, eid, "control", 3000, 480, "c2-")
        load(client, eid, "v1", 3000, 420, "t2-")
        diluted = results(client, eid)["variants"][1]
        assert diluted["p_value"] == pytest.approx(strong, rel=1e-12)
    with run_server(server_env) as again, httpx.Client(base_url=again.http, headers=bearer()) as client:
        assert results(client, eid)["variants"][1]["p_value"] == pytest.approx(strong, rel=1e-12)


def test_history_keeps_each_look_and_thins_to_500_points(client: httpx.Client) -> None:
    eid = new_experiment(client)["id"]
    for i in range(3):
        assign(client, eid, [(f"u{i}", "v1")])
        results(client, eid)  # a look
    history = client.get(f"/api/v1/experiments/{eid}/results/history").json()
    assert history["experiment_id"] == eid
    seqs = [p["seq"] for p in history["points"]]
    assert seqs == sorted(seqs) and len(seqs) == 3
    point = history["points"][-1]
    assert [v["key"] for v in point["variants"]] == ["control", "v1"]
    assert set(point["variants"][1]) == {
        "key",
        "participant_count",
        "conversion_count",
        "relative_lift",
        "lift_ci",
    }
    for i in range(3, 560):
        assign(client, eid, [(f"u{i}", "v1")])
        results(client, eid)
    thinned = client.get(f"/api/v1/experiments/{eid}/results/history").json()["points"]
    assert 250 <= len(thinned) <= 500
    assert thinned[-1]["seq"] == results(client, eid)["seq"]  # the newest is always kept
