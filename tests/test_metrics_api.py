"""Several metrics per experiment over HTTP: definitions and their 422s, events with values, and
running sums that equal a brute-force recount of everything sent, to the digit."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest

from helpers import assign, expstream_cli, new_experiment, psql

VARIANTS = [{"key": "control", "name": "Control", "is_control": True}, {"key": "b", "name": "B"}]
SHOP = [
    {"key": "revenue", "name": "Revenue per user", "kind": "mean", "event_type": "purchase", "role": "primary",
     "cap": 200.0},
    {"key": "orders", "kind": "mean", "event_type": "order"},
    {"key": "aov", "name": "Average order value", "kind": "ratio", "numerator": "revenue", "denominator": "orders"},
    {"key": "buyers", "kind": "proportion", "event_type": "purchase"},
    {"key": "refunds", "kind": "proportion", "event_type": "refund", "role": "guardrail", "direction": "decrease"},
]  # fmt: skip


def create(client: httpx.Client, metrics: list[dict[str, Any]] | None) -> httpx.Response:
    body: dict[str, Any] = {"name": "shop", "variants": VARIANTS}
    if metrics is not None:
        body["metrics"] = metrics
    return client.post("/api/v1/experiments", json=body)


def test_an_experiment_without_metrics_has_todays_metric(client: httpx.Client) -> None:
    experiment = new_experiment(client)
    assert experiment["metrics"] == [
        {"key": "conversion", "name": "Conversion", "kind": "proportion", "role": "primary",
         "direction": "increase", "event_type": "conversion", "cap": None, "numerator": None, "denominator": None}
    ]  # fmt: skip
    assert client.get(f"/api/v1/experiments/{experiment['id']}").json()["metrics"] == experiment["metrics"]


def test_metrics_are_kept_in_definition_order_with_their_defaults(client: httpx.Client) -> None:
    created = create(client, SHOP)
    assert created.status_code == 201, created.text
    metrics = client.get(f"/api/v1/experiments/{created.json()['id']}").json()["metrics"]
    assert [m["key"] for m in metrics] == ["revenue", "orders", "aov", "buyers", "refunds"]
    assert metrics[1] | {} == {**metrics[1], "name": "orders", "role": "secondary", "direction": "increase"}
    assert (metrics[0]["cap"], metrics[2]["numerator"], metrics[4]["direction"]) == (
        200.0,
        "revenue",
        "decrease",
    )


@pytest.mark.parametrize(
    ("metrics", "named"),
    [
        ([{"key": "Revenue", "kind": "mean", "event_type": "purchase", "role": "primary"}], "key"),
        ([{"key": "r", "kind": "median", "event_type": "purchase", "role": "primary"}], "kind"),
        ([{"key": "r", "kind": "mean", "role": "primary"}], "event_type"),
        ([{"key": "r", "kind": "proportion", "event_type": "p", "role": "primary", "cap": 5}], "cap"),
        ([{"key": "r", "kind": "mean", "event_type": "p", "role": "primary", "cap": -1}], "cap"),
        ([{"key": "r", "kind": "mean", "event_type": "p", "role": "boss"}], "role"),
        ([{"key": "r", "kind": "mean", "event_type": "p", "role": "primary", "direction": "up"}], "direction"),
        ([{"key": "r", "kind": "mean", "event_type": "p"}], "primary"),
        ([{"key": "r", "kind": "mean", "event_type": "p", "role": "primary"},
          {"key": "r", "kind": "mean", "event_type": "q"}], "metrics[1].key"),
        ([{"key": "r", "kind": "mean", "event_type": "p", "role": "primary"},
          {"key": "s", "kind": "mean", "event_type": "q", "role": "primary"}], "primary"),
        ([{"key": "c", "kind": "proportion", "event_type": "p", "role": "primary"},
          {"key": "x", "kind": "ratio", "numerator": "c", "denominator": "c"}], "metrics[1].numerator"),
        ([{"key": "r", "kind": "mean", "event_type": "p", "role": "primary"},
          {"key": "x", "kind": "ratio", "numerator": "r"}], "denominator"),
        ([{"key": f"m{i}", "kind": "mean", "event_type": "p", "role": "primary" if i == 0 else "secondary"}
          for i in range(21)], "20"),
        ([], "metrics"),
    ],
)  # fmt: skip
def test_a_bad_definition_is_a_422_naming_the_field(
    client: httpx.Client, metrics: list[dict[str, Any]], named: str
) -> None:
    response = create(client, metrics)
    assert response.status_code == 422, response.text
    assert named in response.text


def test_a_drafts_metrics_can_change_until_it_starts(client: httpx.Client) -> None:
    eid = new_experiment(client)["id"]
    assign(client, eid, [("u1", "v1")])
    sent = client.post(
        f"/api/v1/experiments/{eid}/events",
        json={"events": [{"user_id": "u1", "type": "purchase", "value": 500}]},
    )
    assert sent.status_code == 200, sent.text
    changed = client.put(f"/api/v1/experiments/{eid}/metrics", json={"metrics": SHOP})
    assert changed.status_code == 200, changed.text
    assert [m["key"] for m in changed.json()["metrics"]] == [m["key"] for m in SHOP]
    assert client.patch(f"/api/v1/experiments/{eid}", json={"status": "active"}).status_code == 200
    late = client.put(f"/api/v1/experiments/{eid}/metrics", json={"metrics": SHOP})
    assert late.status_code == 409 and "draft" in late.json()["detail"]


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e13", "-1.000001e12", '"12"', "true"])
def test_a_bad_value_rejects_the_whole_batch(client: httpx.Client, database_url: str, value: str) -> None:
    eid = create(client, SHOP).json()["id"]
    raw = (
        '{"events": [{"user_id": "u1", "type": "purchase", "value": 10, "event_id": "ok"},'
        f' {{"user_id": "u1", "type": "purchase", "value": {value}}}]}}'
    )
    response = client.post(
        f"/api/v1/experiments/{eid}/events", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert psql(database_url, f"SELECT count(*) FROM events WHERE experiment_id = '{eid}'") == [["0"]]


def _send(client: httpx.Client, path: str, key: str, rows: list[dict[str, Any]]) -> None:
    response = client.post(path, json={key: rows})
    assert response.status_code == 200, response.text


def test_running_sums_equal_a_recount_of_everything_sent(client: httpx.Client, database_url: str) -> None:
    """Random users, events before and after assignment, duplicates, negative values, caps: the
    stored sums equal the brute-force sums of what was sent, exactly (numeric)."""
    eid = create(client, SHOP).json()["id"]
    rng = random.Random(14)
    users = [f"u{i}" for i in range(120)]
    assigned: dict[str, str] = {}
    events: dict[str, tuple[str, str, Decimal]] = {}  # event id -> (user, type, value)
    for _ in range(30):
        if rng.random() < 0.4:
            batch = [(u, rng.choice(["control", "b"])) for u in rng.sample(users, 8)]
            _send(client, f"/api/v1/experiments/{eid}/assignments", "assignments",
                  [{"user_id": u, "variant_key": k} for u, k in batch])  # fmt: skip
            for u, k in batch:
                assigned.setdefault(u, k)
        else:
            rows = []
            for _ in range(10):
                event_id = f"e{rng.randrange(200)}"  # repeats: the first wins
                value = rng.choice(["12.5", "0.01", "150", "99.99", "-20", "1", "1e2"])
                event = (
                    rng.choice(users),
                    rng.choice(["purchase", "order", "refund", "visit"]),
                    Decimal(value),
                )
                rows.append(
                    {"user_id": event[0], "type": event[1], "value": float(value), "event_id": event_id}
                )
                events.setdefault(event_id, event)
            _send(client, f"/api/v1/experiments/{eid}/events", "events", rows)
    expected = _brute_force(assigned, list(events.values()))
    _assert_sums_equal(database_url, eid, expected)


def test_batches_sent_side_by_side_keep_the_sums_exact(client: httpx.Client, database_url: str) -> None:
    """Event batches of one experiment run side by side in the store (assignments wait for them):
    four senders at once on a few shared users, late assignments among them, every ratio part
    moving, repeated event ids across senders. The sums still equal the brute-force ones."""
    eid = create(client, SHOP).json()["id"]
    users = [f"u{i}" for i in range(40)]
    variant_of = {u: ("control", "b")[i % 2] for i, u in enumerate(users)}
    _send(client, f"/api/v1/experiments/{eid}/assignments", "assignments",
          [{"user_id": u, "variant_key": variant_of[u]} for u in users[:30]])  # fmt: skip

    def event(n: int) -> tuple[str, str, Decimal]:
        """An event id always carries the same event, whichever sender sends it first."""
        pick = random.Random(n)
        value = pick.choice(["12.5", "0.01", "150", "99.99", "-20", "1", "230"])
        return pick.choice(users), pick.choice(["purchase", "order", "refund"]), Decimal(value)

    def sender(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=str(client.base_url), headers=dict(client.headers), timeout=60) as own:
            for round_ in range(25):
                if seed == 0 and round_ in (8, 16):  # the late users join while events flow
                    late = users[30:35] if round_ == 8 else users[35:]
                    _send(own, f"/api/v1/experiments/{eid}/assignments", "assignments",
                          [{"user_id": u, "variant_key": variant_of[u]} for u in late])  # fmt: skip
                ids = [rng.randrange(600) for _ in range(60)]
                rows = [
                    {"user_id": u, "type": t, "value": float(v), "event_id": f"e{n}"}
                    for n in ids
                    for u, t, v in [event(n)]
                ]
                _send(own, f"/api/v1/experiments/{eid}/events", "events", rows)

    with ThreadPoolExecutor(4) as pool:
        for done in [pool.submit(sender, seed) for seed in range(4)]:
            done.result()
    sent = {n for seed in range(4) for n in _ids_sent(seed)}
    expected = _brute_force(variant_of, [event(n) for n in sent])
    _assert_sums_equal(database_url, eid, expected)


def _ids_sent(seed: int) -> list[int]:
    """The event numbers sender `seed` sends (its random stream, replayed)."""
    rng = random.Random(seed)
    return [rng.randrange(600) for _ in range(25) for _ in range(60)]


def _assert_sums_equal(
    database_url: str, eid: str, expected: dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]]
) -> None:
    """The stored (variant, metric) sums equal the expected ones to the digit, and verify agrees."""
    stored = psql(
        database_url,
        "SELECT v.key, s.metric, s.sum, s.sum_squares, s.cross_products FROM metric_sums s "
        f"JOIN variants v ON v.id = s.variant_id WHERE v.experiment_id = '{eid}'",
    )
    got = {
        (k, m): tuple(Decimal(x) for x in rest)
        for k, m, *rest in stored
        if any(Decimal(x) != 0 for x in rest)
    }
    assert got == {key: sums for key, sums in expected.items() if any(sums)}
    verified = expstream_cli("verify", eid, env={"DATABASE_URL": database_url})
    assert verified.returncode == 0, verified.stdout + verified.stderr


def _brute_force(
    assigned: dict[str, str], events: list[tuple[str, str, Decimal]]
) -> dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]]:
    totals: dict[tuple[str, str], Decimal] = {}
    for user, event_type, value in events:
        for m in SHOP:
            if m.get("event_type") == event_type:
                amount = Decimal(1) if m["kind"] == "proportion" else value
                totals[(user, m["key"])] = totals.get((user, m["key"]), Decimal(0)) + amount

    def x(user: str, m: dict[str, Any]) -> Decimal:
        total = totals.get((user, m["key"]))
        if total is None:
            return Decimal(0)
        if m["kind"] == "proportion":
            return Decimal(1 if total > 0 else 0)
        return min(total, Decimal(str(m["cap"]))) if m.get("cap") else total

    by_key = {m["key"]: m for m in SHOP}
    sums: dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]] = {}
    for user, variant in assigned.items():
        for m in SHOP:
            s, ss, c = sums.get((variant, m["key"]), (Decimal(0), Decimal(0), Decimal(0)))
            if m["kind"] == "ratio":
                c += x(user, by_key[m["numerator"]]) * x(user, by_key[m["denominator"]])
            else:
                value = x(user, m)
                s, ss = s + value, ss + value * value
            sums[(variant, m["key"])] = (s, ss, c)
    return sums
