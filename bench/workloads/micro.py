"""Workload `micro`: statistics and JSON of one 3-variant snapshot, the C++ core against the same
computation in plain Python (checked equal first)."""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics
import timeit
from typing import Any

from lib.settings import Plan, WorkloadBroken, broken, log

_NORMAL = statistics.NormalDist()


def _t_upper(alpha_half: float, dof: float) -> float:
    """Student t quantile t.ppf(1 - alpha_half, dof): the normal quantile with the Cornish-Fisher
    expansion (Abramowitz & Stegun 26.7.5); at these sample sizes (dof ~ 10^5) exact to ~1e-15."""
    z = _NORMAL.inv_cdf(1.0 - alpha_half)
    z2 = z * z
    g1 = (z2 + 1) * z / 4
    g2 = ((5 * z2 + 16) * z2 + 3) * z / 96
    g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384
    g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160
    return z + g1 / dof + g2 / dof**2 + g3 / dof**3 + g4 / dof**4


def _srm_sequential_p(counts: list[int], concentration: float = 100.0) -> float:
    """The core's anytime-valid SRM p-value (Lindon & Malek 2022) at equal shares: min(1, 1/BF),
    BF the Dirichlet-multinomial mixture (prior concentration x share) over the multinomial."""
    share = 1.0 / len(counts)
    prior = concentration * share
    log_bf = math.lgamma(concentration) - math.lgamma(concentration + sum(counts))
    log_bf += sum(math.lgamma(prior + x) - math.lgamma(prior) - x * math.log(share) for x in counts)
    return 1.0 if log_bf <= 0 else min(1.0, math.exp(-log_bf))


def py_snapshot_json(
    experiment_id: str,
    status: str,
    variants: list[tuple[str, str, bool, int, int]],
    days_running: int,
    seq: int,
    alpha: float,
) -> str:
    """expstream._core.snapshot_json (method "fixed", Holm-Bonferroni, equal weights) in plain Python:
    pooled z-test p-values (math.erfc), Welch t intervals on lift and difference, Holm adjustment,
    chance to win, the SRM chi-square test, and json.dumps."""
    control = next((v for v in variants if v[2]), None)
    control_rate = (control[4] / control[3] if control[3] > 0 else 0.0) if control else 0.0
    rows: list[dict[str, Any]] = []
    treatments: list[int] = []
    total = 0
    for i, v in enumerate(variants):
        key, name, is_control, n, c = v
        rate = c / n if n > 0 else 0.0
        total += n
        row: dict[str, Any] = {
            "key": key,
            "name": name,
            "participant_count": n,
            "conversion_count": c,
            "conversion_rate": rate,
            "relative_lift": None,
            "p_value": None,
            "is_control": is_control,
            "weight": 1.0,
            "lift_ci": None,
            "difference_ci": None,
            "p_value_adjusted": None,
            "chance_to_win": None,
            "is_significant": False,
        }
        if v is control:
            row["relative_lift"] = 0.0
        elif control is not None:
            treatments.append(i)
            if control_rate > 0:
                row["relative_lift"] = (rate - control_rate) / control_rate
            na, ca = control[3], control[4]
            if na > 0 and n > 0:
                pooled = (ca + c) / (na + n)
                if 0.0 < pooled < 1.0:
                    se = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / n))
                    if se > 0:
                        z = (c / n - ca / na) / se
                        row["p_value"] = min(1.0, max(0.0, math.erfc(abs(z) / math.sqrt(2.0))))
                ma, mb = ca / na, c / n
                if 0 < ma < 1 and 0 < mb < 1:
                    va, vb = ma * (1 - ma), mb * (1 - mb)
                    sa, sb = va / na, vb / n
                    dof = (sb + sa) ** 2 / (sb * sb / (n - 1) + sa * sa / (na - 1))
                    q = _t_upper(alpha / 2, dof)
                    lift, lift_var = (mb - ma) / ma, vb / (ma * ma * n) + va * mb * mb / (ma**4 * na)
                    diff, diff_var = mb - ma, sb + sa
                    hw = q * math.sqrt(lift_var)
                    row["lift_ci"] = [lift - hw, lift + hw]
                    hw = q * math.sqrt(diff_var)
                    row["difference_ci"] = [diff - hw, diff + hw]
                    row["chance_to_win"] = min(
                        1.0, max(0.0, 0.5 * math.erfc(-lift / math.sqrt(lift_var) / math.sqrt(2)))
                    )
        rows.append(row)
    holm = len(treatments) >= 2
    if holm:
        ps = [rows[i]["p_value"] for i in treatments]
        order = sorted(range(len(ps)), key=lambda k: 1.0 if ps[k] is None else ps[k])
        running = 0.0
        for rank, k in enumerate(order):
            value = 1.0 if ps[k] is None else ps[k]
            running = max(running, min(1.0, value * (len(ps) - rank)))
            if ps[k] is not None:
                rows[treatments[k]]["p_value_adjusted"] = min(1.0, max(0.0, running))
    else:
        for i in treatments:
            rows[i]["p_value_adjusted"] = rows[i]["p_value"]
    significant = False
    for i in treatments:
        r = rows[i]
        r["is_significant"] = bool(
            r["p_value_adjusted"] is not None
            and r["p_value_adjusted"] < alpha
            and r["lift_ci"] is not None
            and not (r["lift_ci"][0] <= 0.0 <= r["lift_ci"][1])
            and r["difference_ci"] is not None
            and not (r["difference_ci"][0] <= 0.0 <= r["difference_ci"][1])
        )
        significant = significant or r["is_significant"]
    srm_p = _srm_sequential_p([v[3] for v in variants]) if total > 0 and len(variants) >= 2 else None
    return json.dumps(
        {
            "event": "results_update",
            "experiment_id": experiment_id,
            "timestamp": dt.datetime.now(dt.UTC).isoformat(),
            "status": status,
            "variants": rows,
            "total_participants": total,
            "days_running": days_running,
            "is_significant": significant,
            "seq": seq,
            "analysis": {
                "method": "fixed",
                "alpha": alpha,
                "sequential_tuning": None,
                "correction": "holm-bonferroni" if holm else "none",
            },
            "srm": {"p_value": srm_p, "mismatch": srm_p is not None and srm_p < 0.001},
        },
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def _same(a: Any, b: Any, path: str = "") -> str | None:
    """None when two parsed snapshots agree (floats to 1e-9 relative), else where they differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{path}: keys {sorted(set(a) ^ set(b))}"
        for k in a:
            if k == "timestamp":
                continue
            if (d := _same(a[k], b[k], f"{path}.{k}")) is not None:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: lengths"
        for i, (x, y) in enumerate(zip(a, b)):
            if (d := _same(x, y, f"{path}[{i}]")) is not None:
                return d
        return None
    if (
        isinstance(a, (int, float))
        and isinstance(b, (int, float))
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return None if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15) else f"{path}: {a} vs {b}"
    return None if a == b else f"{path}: {a!r} vs {b!r}"


MICRO_ARGS = (
    "6f1c2b9e-3d4a-4b5c-8d7e-9f0a1b2c3d4e",
    "active",
    [
        ("control", "Control", True, 48213, 4821),
        ("green", "Green button", False, 48190, 5302),
        ("blue", "Blue button", False, 48177, 4890),
    ],
    12,
    98231,
    0.05,
)


def run_micro(plan: Plan, results: dict[str, Any]) -> None:
    from expstream import _core

    log("core micro-benchmark: 3-variant snapshot, C++ core vs plain Python")
    label = "micro"
    try:
        cpp = json.loads(_core.snapshot_json(*MICRO_ARGS, method="fixed", correction="holm"))
        py = json.loads(py_snapshot_json(*MICRO_ARGS))
        if (diff := _same(cpp, py)) is not None:
            raise WorkloadBroken(f"micro: C++ and Python snapshots differ at {diff}")
        number = plan.micro_number
        t_cpp = (
            min(
                timeit.repeat(
                    lambda: _core.snapshot_json(*MICRO_ARGS, method="fixed", correction="holm"),
                    number=number,
                    repeat=5,
                )
            )
            / number
        )
        t_py = min(timeit.repeat(lambda: py_snapshot_json(*MICRO_ARGS), number=number, repeat=5)) / number
        results["micro"] = {
            "cpp_us": t_cpp * 1e6,
            "python_us": t_py * 1e6,
            "speedup": t_py / t_cpp,
            "bytes": len(_core.snapshot_json(*MICRO_ARGS)),
            "number": number,
            "ok": True,
            "what": "method fixed, Holm-Bonferroni, 3 variants; Python: erfc z-test, Welch t "
            "intervals (Cornish-Fisher t quantile), Holm, chance to win, SRM, json.dumps",
        }
        log(f"  C++ {t_cpp * 1e6:.2f} us, Python {t_py * 1e6:.2f} us per call ({t_py / t_cpp:.1f}x)")
    except WorkloadBroken as exc:
        broken(results, label, exc)
        results["micro"] = {"ok": False, "error": str(exc)}
