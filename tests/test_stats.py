"""The core's statistics against scipy (an oracle nobody here wrote)."""

from __future__ import annotations

import json
import math

import pytest
from scipy import stats

from expstream import _core


def scipy_pooled_p(n1: int, c1: int, n2: int, c2: int) -> float:
    p1, p2 = c1 / n1, c2 / n2
    pooled = (c1 + c2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(2 * stats.norm.sf(abs(p2 - p1) / se))


CASES = [
    (500, 50, 500, 65),
    (1000, 100, 1000, 100),
    (10, 1, 12, 5),
    (1, 0, 1, 1),
    (20_000, 2_000, 5_000, 560),
    (10**9, 10**8, 10**9, 100_010_000),
    (3, 3, 4, 1),
]


@pytest.mark.parametrize(("n1", "c1", "n2", "c2"), CASES)
def test_p_value_matches_scipy_to_1e9_relative(n1: int, c1: int, n2: int, c2: int) -> None:
    assert _core.two_proportion_p_value(n1, c1, n2, c2) == pytest.approx(
        scipy_pooled_p(n1, c1, n2, c2), rel=1e-9
    )


def test_seed_example_reports_the_true_p_value_not_the_illustrative_one() -> None:
    assert _core.two_proportion_p_value(500, 50, 500, 65) == pytest.approx(0.137, abs=5e-4)


@pytest.mark.parametrize(
    ("n1", "c1", "n2", "c2"),
    [(0, 0, 10, 1), (10, 1, 0, 0), (10, 0, 10, 0), (10, 10, 10, 10)],
)
def test_p_value_is_undefined_for_empty_arms_and_degenerate_pooled_rates(
    n1: int, c1: int, n2: int, c2: int
) -> None:
    assert _core.two_proportion_p_value(n1, c1, n2, c2) is None


@pytest.mark.parametrize("z", [0.0, 0.5, 1.96, 3.0, 8.0, 30.0, -2.0])
def test_normal_tail_matches_scipy(z: float) -> None:
    assert _core.normal_sf(z) == pytest.approx(float(stats.norm.sf(z)), rel=1e-9)


def snapshot(variants: list[tuple[str, str, bool, int, int]], alpha: float = 0.05) -> dict[str, object]:
    result: dict[str, object] = json.loads(_core.snapshot_json("e", "active", variants, alpha=alpha))
    return result


def test_snapshot_reports_rates_lift_and_significance_per_variant() -> None:
    snap = snapshot(
        [("control", "Control", True, 500, 50), ("b", "B", False, 500, 65), ("c", "C", False, 400, 80)]
    )
    control, b, c = snap["variants"]  # type: ignore[misc]
    assert control["conversion_rate"] == pytest.approx(0.1)
    assert control["relative_lift"] == 0.0
    assert control["p_value"] is None
    assert b["relative_lift"] == pytest.approx(0.3)
    assert b["p_value"] == pytest.approx(scipy_pooled_p(500, 50, 500, 65), rel=1e-9)
    assert c["p_value"] == pytest.approx(scipy_pooled_p(500, 50, 400, 80), rel=1e-9)
    assert snap["total_participants"] == 1400
    assert snap["is_significant"] is True  # c: 20% vs 10%


def test_significance_follows_alpha() -> None:
    variants = [("control", "Control", True, 500, 50), ("b", "B", False, 500, 65)]
    assert snapshot(variants, alpha=0.05)["is_significant"] is False
    assert snapshot(variants, alpha=0.2)["is_significant"] is True


def test_zero_control_rate_gives_null_lift() -> None:
    snap = snapshot([("control", "Control", True, 100, 0), ("b", "B", False, 100, 5)])
    assert snap["variants"][1]["relative_lift"] is None  # type: ignore[index]
    assert snap["variants"][1]["p_value"] == pytest.approx(scipy_pooled_p(100, 0, 100, 5), rel=1e-9)  # type: ignore[index]


def test_variants_without_participants_have_zero_rate_and_no_p_value() -> None:
    snap = snapshot([("control", "Control", True, 0, 0), ("b", "B", False, 0, 0)])
    assert [v["conversion_rate"] for v in snap["variants"]] == [0.0, 0.0]  # type: ignore[attr-defined]
    assert snap["variants"][1]["p_value"] is None  # type: ignore[index]
    assert snap["is_significant"] is False
