"""Snapshot JSON: exact schema, always valid, hostile names round-trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from expstream import _core

FIXTURE = Path(__file__).parent / "fixtures" / "snapshot_schema.json"

HOSTILE_NAMES = [
    'quote " and backslash \\',
    "control \x01\x1f and newline\n and tab\t",
    "Ünïcødé 🚀 中文",
    "</script><script>alert(1)</script>",
    "line\u2028separator",
    "",
]


def make(name: str) -> dict[str, object]:
    text = _core.snapshot_json(
        "id-1", "active", [("control", name, True, 10, 1), ("b", name, False, 10, 2)], 3, 7
    )
    result: dict[str, object] = json.loads(text)
    return result


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_variant_names_round_trip_through_valid_json(name: str) -> None:
    snap = make(name)
    assert [v["name"] for v in snap["variants"]] == [name, name]  # type: ignore[attr-defined]


def test_snapshot_has_exactly_the_wire_schema_in_order() -> None:
    snap = make("Control")
    expected = json.loads(FIXTURE.read_text())
    # Built from counts alone, it has no metrics or exposures: all but "metrics", "alerts" and
    # "multiple_exposures" (the server's snapshots have those too: test_metrics_stream.py).
    assert list(snap) == [k for k in expected if k not in ("metrics", "alerts", "multiple_exposures")]
    assert list(snap["variants"][0]) == list(expected["variants"][0])  # type: ignore[index]
    assert list(snap["analysis"]) == list(expected["analysis"])  # type: ignore[call-overload]
    assert list(snap["srm"]) == list(expected["srm"])  # type: ignore[call-overload]
    assert snap["event"] == "results_update"
    assert snap["days_running"] == 3 and snap["seq"] == 7


def test_timestamp_is_iso8601_with_utc_offset() -> None:
    from datetime import datetime

    stamp = datetime.fromisoformat(str(make("x")["timestamp"]))
    assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_non_finite_numbers_never_appear() -> None:
    # Counts this large push every intermediate toward overflow; output must stay strict JSON.
    text = _core.snapshot_json(
        "e", "active", [("control", "C", True, 2**62, 2**61), ("b", "B", False, 2**62, 2**62)]
    )
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-finite constant {c} in output"))


def test_error_and_pong_messages_are_valid_json() -> None:
    err = json.loads(_core.error_json("results_unavailable", 'id"1', "db down\n"))
    assert err == {
        "event": "error",
        "code": "results_unavailable",
        "experiment_id": 'id"1',
        "message": "db down\n",
    }
    assert json.loads(_core.pong_json()) == {"event": "pong"}
