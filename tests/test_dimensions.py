"""Dimension breakdowns (issue 15): declared dimensions, attributes on assignments, the buckets
(the values with the most users, (other), (none)) kept exactly by ingest, each analysed like the
whole experiment, over HTTP and streamed over the WebSocket."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from helpers import RunningServer, expstream_cli, token
from wsclient import TIMEOUT, recv_json, recv_until

VARIANTS = [{"key": "control", "name": "Control", "is_control": True}, {"key": "b", "name": "B"}]
METRICS = [
    {"key": "revenue", "kind": "mean", "event_type": "purchase", "role": "primary", "cap": 120.0},
    {"key": "orders", "kind": "mean", "event_type": "order"},
    {"key": "aov", "kind": "ratio", "numerator": "revenue", "denominator": "orders"},
    {"key": "buyers", "kind": "proportion", "event_type": "purchase"},
]


def create(client: httpx.Client, **extra: Any) -> dict[str, Any]:
    body = {"name": "shop", "variants": VARIANTS, "metrics": METRICS, **extra}
    response = client.post("/api/v1/experiments", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def post(client: httpx.Client, eid: str, kind: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.post(f"/api/v1/experiments/{eid}/{kind}", json={kind: rows})
    assert response.status_code == 200, response.text
    return dict(response.json())


def breakdown(client: httpx.Client, eid: str, dimension: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/experiments/{eid}/results", params={"dimension": dimension})
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize(
    ("dimensions", "says"),
    [
        (["a", "b", "c", "d", "e", "f"], "at most 5"),
        (["country", "country"], "'country' repeats"),
        (["Country"], "dimensions"),
    ],
)
def test_a_bad_dimension_list_is_a_422(client: httpx.Client, dimensions: list[str], says: str) -> None:
    body = {"name": "x", "variants": VARIANTS, "dimensions": dimensions}
    response = client.post("/api/v1/experiments", json=body)
    assert response.status_code == 422
    assert says in response.text


def test_dimensions_are_kept_and_bad_attribute_values_are_ignored_and_counted(client: httpx.Client) -> None:
    eid = create(client, dimensions=["country", "device"])["id"]
    assert client.get(f"/api/v1/experiments/{eid}").json()["dimensions"] == ["country", "device"]
    rows = [
        {"user_id": "u1", "variant_key": "control", "attributes": {"country": "DE", "device": "mobile"}},
        {"user_id": "u2", "variant_key": "b", "attributes": {"country": 49, "device": "x" * 65}},
        {"user_id": "u3", "variant_key": "b", "attributes": {"country": "(other)", "plan": "pro"}},
    ]
    result = post(client, eid, "assignments", rows)
    assert result["accepted"] == 3 and result["ignored_attributes"] == 3
    # The first assignment fixes a user's values.
    post(
        client,
        eid,
        "assignments",
        [{"user_id": "u1", "variant_key": "control", "attributes": {"country": "FR"}}],
    )
    values = {v["value"]: v["users"] for v in breakdown(client, eid, "country")["values"]}
    assert values == {"DE": 1, "(none)": 2}
    assert client.get(f"/api/v1/experiments/{eid}/results", params={"dimension": "plan"}).status_code == 422


def test_each_value_is_analysed_exactly_like_an_experiment_of_its_users_alone(
    client: httpx.Client, database_url: str
) -> None:
    """The oracle: for each value, a second experiment that received only that value's users and
    their events. Its snapshot's variants and metrics equal the breakdown's entry, number for number."""
    rng = random.Random(15)
    eid = create(client, dimensions=["country"])["id"]
    # 26 values, skewed: the slots go to the 20 largest; some of the smaller ones arrive first, so
    # values overtake slotted ones along the way. A few users have no country.
    weights = {f"c{i:02d}": 1.0 / (1 + abs(i - 8)) for i in range(26)}
    users: dict[str, tuple[str, str | None, float]] = {}
    events: list[dict[str, Any]] = []
    for round_ in range(6):
        batch = []
        for i in range(120):
            user = f"u{round_}-{i}"
            country = None if rng.random() < 0.05 else rng.choices(list(weights), list(weights.values()))[0]
            if round_ == 0:
                country = f"c{25 - i % 6:02d}" if country else None  # small values first
            users[user] = (rng.choice(["control", "b"]), country, round(rng.uniform(0, 80), 2))
            batch.append(user)
        post(client, eid, "assignments", [_assignment(u, users[u]) for u in batch])
        for user in rng.choices(sorted(users), k=150):
            kind = rng.choice(["purchase", "order", "refund"])
            events.append({"user_id": user, "type": kind, "value": round(rng.uniform(1, 90), 2)})
        post(client, eid, "events", events[-150:])
    result = breakdown(client, eid, "country")
    counts = Counter(c for _, c, _ in users.values() if c)
    slotted = [v["value"] for v in result["values"] if not v["value"].startswith("(")]
    # 20 slots, held by the values with the most users: a value outside overtakes the weakest
    # inside only past 1.1 times its users (no swapping back and forth at the boundary).
    weakest = min(counts[v] for v in slotted)
    assert len(slotted) == 20 and {c for c, _ in counts.most_common(12)} <= set(slotted)
    assert all(n <= max(weakest * 1.1, weakest) for c, n in counts.items() if c not in slotted)
    assert [counts[v] for v in slotted] == sorted((counts[v] for v in slotted), reverse=True)
    assert [v["value"] for v in result["values"]][-2:] == ["(other)", "(none)"]
    assert "multiple testing" in result["note"] or "by chance" in result["note"]
    for entry in result["values"]:
        members = {u for u, (_, c, _) in users.items() if _bucket(c, slotted) == entry["value"]}
        alone = create(client)["id"]
        post(client, alone, "assignments", [_assignment(u, users[u]) for u in sorted(members)])
        post(client, alone, "events", [e for e in events if e["user_id"] in members])
        whole = client.get(f"/api/v1/experiments/{alone}/results").json()
        assert entry["users"] == len(members)
        assert entry["variants"] == whole["variants"], entry["value"]
        assert entry["metrics"] == whole["metrics"], entry["value"]
    verified = expstream_cli("verify", eid, env={"DATABASE_URL": database_url})
    assert verified.returncode == 0, verified.stdout + verified.stderr


def _assignment(user: str, spec: tuple[str, str | None, float]) -> dict[str, Any]:
    variant, country, past = spec
    row: dict[str, Any] = {"user_id": user, "variant_key": variant, "covariates": {"revenue": past}}
    if country:
        row["attributes"] = {"country": country}
    return row


def _bucket(country: str | None, slotted: list[str]) -> str:
    return "(none)" if country is None else country if country in slotted else "(other)"


def test_excluded_users_leave_their_buckets_and_verify_agrees(
    client: httpx.Client, database_url: str
) -> None:
    eid = create(client, dimensions=["device"], exposures="exclude")["id"]
    post(client, eid, "assignments", [
        {"user_id": "a", "variant_key": "control", "attributes": {"device": "mobile"}},
        {"user_id": "b", "variant_key": "b", "attributes": {"device": "mobile"}},
    ])  # fmt: skip
    post(client, eid, "events", [{"user_id": "a", "type": "purchase", "value": 30}])
    post(client, eid, "assignments", [{"user_id": "a", "variant_key": "b"}])  # a second variant: a leaves
    mobile = next(v for v in breakdown(client, eid, "device")["values"] if v["value"] == "mobile")
    assert [v["participant_count"] for v in mobile["variants"]] == [0, 1]
    assert mobile["metrics"][0]["variants"][0]["value"] in (None, 0)
    verified = expstream_cli("verify", eid, env={"DATABASE_URL": database_url})
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_subscription_with_a_dimension_streams_its_breakdown_after_each_update(
    server: RunningServer, client: httpx.Client
) -> None:
    eid = create(client, dimensions=["device"])["id"]
    other = create(client, dimensions=["device"])["id"]
    with connect(f"{server.ws}/api/v1/ws?token={token('read')}", open_timeout=TIMEOUT) as ws:
        recv_json(ws)
        ws.send(json.dumps({"action": "subscribe", "experiment_id": eid, "dimension": "device"}))
        ws.send(json.dumps({"action": "subscribe", "experiment_id": other}))
        first, _ = recv_until(ws, lambda m: m.get("event") == "breakdown")
        assert first["experiment_id"] == eid and first["dimension"] == "device" and first["values"] == []
        post(
            client,
            eid,
            "assignments",
            [{"user_id": "u1", "variant_key": "b", "attributes": {"device": "ios"}}],
        )
        update, _ = recv_until(ws, lambda m: m.get("event") == "breakdown" and m["values"])
        assert [(v["value"], v["users"]) for v in update["values"]] == [("ios", 1)]
        assert update["seq"] >= first["seq"]
        # Only the subscription that asked gets breakdowns; an undeclared dimension is an error.
        post(client, other, "assignments", [{"user_id": "u1", "variant_key": "b"}])
        _, seen = recv_until(ws, lambda m: m.get("event") == "results_update" and m["experiment_id"] == other)
        assert all(m.get("event") != "breakdown" or m["experiment_id"] == eid for m in seen)
        ws.send(json.dumps({"action": "subscribe", "experiment_id": other, "dimension": "plan"}))
        refused, _ = recv_until(ws, lambda m: m.get("event") == "error")
        assert refused["code"] == "invalid_dimension" and "plan" in refused["message"]
