#!/usr/bin/env python3
"""Regenerate cpp/tests/golden/stats_golden.inc from the reference libraries.

    .venv-oracles/bin/python cpp/tests/golden/make_stats_golden.py          # rewrite the .inc
    .venv-oracles/bin/python cpp/tests/golden/make_stats_golden.py --check  # exit 1 if it is out of date

Oracles (test-only deps: gbstats==0.8.0, statsmodels, scipy):
  pooled z-test p            statsmodels.stats.proportion.proportions_ztest (pooled variance)
  fixed lift / difference CI gbstats TwoSidedTTest, difference_type relative / absolute
  sequential CI / p          gbstats SequentialTwoSidedTTest (relative p; relative and absolute CI)
  chance to win              gbstats EffectBayesianABTest, relative, improper flat prior
  Holm-Bonferroni            statsmodels.stats.multitest.multipletests(method="holm")
  Benjamini-Hochberg         statsmodels.stats.multitest.multipletests(method="fdr_bh")
  SRM                        gbstats.utils.check_srm, cross-checked with scipy.stats.chisquare

Where gbstats returns its uninformative default (error_message set: zero baseline, zero variance, no
units), the expected value is "undefined" (an empty optional in C++). is_significant is derived here from
those oracle numbers with the rule documented in stats.hpp; the C++ test also checks the rule directly.
"""

from __future__ import annotations

import math
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.stats
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import ProportionStatistic
from gbstats.utils import check_srm
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

OUT = Path(__file__).with_name("stats_golden.inc")

# ------------------------------------------------------------------------------------------------------
# Oracle wrappers: each returns None when the quantity is undefined.


def stat(n: int, c: int) -> ProportionStatistic:
    return ProportionStatistic(n=n, sum=c)


def pooled_p(na, ca, nb, cb):
    if na <= 0 or nb <= 0:
        return None
    pooled = (ca + cb) / (na + nb)
    if not 0 < pooled < 1:
        return None
    _, p = proportions_ztest([cb, ca], [nb, na], alternative="two-sided", prop_var=False)
    return float(p)


def _ci(result):
    if result.error_message is not None:
        return None
    lo, hi = (float(x) for x in result.ci)
    assert math.isfinite(lo) and math.isfinite(hi)
    return (lo, hi)


def fixed_ci(na, ca, nb, cb, alpha, kind):
    cfg = FrequentistConfig(alpha=alpha, difference_type=kind)
    return _ci(TwoSidedTTest(stat(na, ca), stat(nb, cb), cfg).compute_result())


def seq_test(na, ca, nb, cb, alpha, tuning, kind):
    cfg = SequentialConfig(alpha=alpha, sequential_tuning_parameter=tuning, difference_type=kind)
    return SequentialTwoSidedTTest(stat(na, ca), stat(nb, cb), cfg).compute_result()


def seq_ci(na, ca, nb, cb, alpha, tuning, kind):
    return _ci(seq_test(na, ca, nb, cb, alpha, tuning, kind))


def seq_p(na, ca, nb, cb, alpha, tuning):
    r = seq_test(na, ca, nb, cb, alpha, tuning, "relative")
    return None if r.error_message is not None else float(r.p_value)


def ctw(na, ca, nb, cb):
    cfg = EffectBayesianConfig(prior_effect=GaussianPrior(proper=False), difference_type="relative")
    r = EffectBayesianABTest(stat(na, ca), stat(nb, cb), cfg).compute_result()
    return None if r.error_message is not None else float(r.chance_to_win)


def adjust(ps, method):
    """statsmodels multipletests over a family where None = untestable (kept as p = 1, output None)."""
    if not ps:
        return []
    filled = [1.0 if p is None else p for p in ps]
    adj = multipletests(filled, method=method)[1]
    return [None if p is None else float(a) for p, a in zip(ps, adj)]


def holm(ps):
    return adjust(ps, "holm")


def bh(ps):
    return adjust(ps, "fdr_bh")


CORRECTIONS = {
    "none": "Correction::None",
    "holm": "Correction::HolmBonferroni",
    "bh": "Correction::BenjaminiHochberg",
}


def corrected(ps, correction):
    """The family's adjusted p-values as analyze does it: only with >= 2 hypotheses."""
    if correction == "none" or len(ps) < 2:
        return list(ps), "none"
    return (holm(ps) if correction == "holm" else bh(ps)), correction


def excludes_zero(ci):
    return ci is not None and not (ci[0] <= 0.0 <= ci[1])


# ------------------------------------------------------------------------------------------------------
# Cases. (n_control, c_control, n_variant, c_variant, alpha, tuning, label)

COMPARISONS = [
    (500, 50, 500, 65, 0.05, 5000, "small experiment"),
    (1000, 100, 250, 40, 0.05, 5000, "unequal arms, treatment small"),
    (200, 30, 1000, 100, 0.05, 5000, "unequal arms, control small"),
    (100, 1, 100000, 2000, 0.05, 5000, "one control conversion"),
    (1000, 100, 1000, 100, 0.05, 5000, "identical rates"),
    (1000, 100, 1000, 140, 0.01, 5000, "big positive lift, alpha 0.01"),
    (1000, 100, 1000, 70, 0.01, 5000, "negative lift, alpha 0.01"),
    (20000, 2000, 20000, 2300, 0.05, 5000, "clear win"),
    (20000, 2000, 20000, 2300, 0.10, 1000, "clear win, alpha 0.1, N* 1000"),
    (20000, 2000, 20000, 2300, 0.001, 100000, "clear win, alpha 0.001, N* 1e5"),
    (1000000000, 100000000, 1000000000, 100010000, 0.05, 5000, "a billion per arm, null-ish"),
    (1000000000, 100000000, 1000000000, 100100000, 0.05, 5000, "a billion per arm, tiny lift"),
    (1000000000, 100000000, 1000000000, 200000000, 0.05, 5000, "a billion per arm, doubled"),
    (1000000000, 999999999, 1000000000, 999999990, 0.05, 5000, "rates next to 1"),
    (2, 1, 2, 1, 0.05, 5000, "two participants per arm"),
    (3, 1, 2, 1, 0.05, 5000, "tiny arms"),
    # Fixed-boundary cases where the pooled z p and the unpooled Welch intervals disagree.
    (1000, 100, 250, 36, 0.05, 5000, "boundary: pooled p < .05, both CIs contain 0"),
    (1000, 100, 250, 15, 0.05, 5000, "boundary: pooled p > .05, both CIs exclude 0"),
    (500, 50, 500, 75, 0.05, 5000, "boundary: p < .05, difference CI excludes 0, lift CI contains 0"),
    (250, 25, 1000, 60, 0.05, 5000, "boundary: p < .05, lift CI excludes 0, difference CI contains 0"),
    # Undefined: zero conversions in control, 100 % conversion, one participant, empty arms.
    (100, 0, 100, 5, 0.05, 5000, "zero control conversions"),
    (100, 5, 100, 0, 0.05, 5000, "zero treatment conversions"),
    (10, 10, 20, 20, 0.05, 5000, "100% conversion both"),
    (100, 100, 100, 90, 0.05, 5000, "100% control conversion"),
    (100, 50, 100, 100, 0.05, 5000, "100% treatment conversion"),
    (1, 0, 1, 1, 0.05, 5000, "one participant each"),
    (1, 1, 100, 50, 0.05, 5000, "one control participant"),
    (0, 0, 500, 50, 0.05, 5000, "empty control"),
    (500, 50, 0, 0, 0.05, 5000, "empty treatment"),
]

# Whole analyses: (label, method, alpha, tuning, correction, [(key, is_control, n, c), ...])
ANALYSES = [
    ("two arms fixed", "fixed", 0.05, 5000, "holm", [("control", True, 500, 50), ("b", False, 500, 65)]),
    (
        "two arms sequential",
        "sequential",
        0.05,
        5000,
        "holm",
        [("control", True, 20000, 2000), ("b", False, 20000, 2300)],
    ),
    (
        "four arms fixed holm",
        "fixed",
        0.05,
        5000,
        "holm",
        [
            ("control", True, 1000, 100),
            ("b", False, 1000, 140),
            ("c", False, 500, 60),
            ("d", False, 1000, 70),
        ],
    ),
    (
        "four arms fixed no correction",
        "fixed",
        0.05,
        5000,
        "none",
        [
            ("control", True, 1000, 100),
            ("b", False, 1000, 140),
            ("c", False, 500, 60),
            ("d", False, 1000, 70),
        ],
    ),
    (
        "four arms sequential holm",
        "sequential",
        0.05,
        5000,
        "holm",
        [
            ("control", True, 10000, 1000),
            ("b", False, 10000, 1150),
            ("c", False, 10000, 1080),
            ("d", False, 10000, 880),
        ],
    ),
    (
        "holm withholds a label",
        "fixed",
        0.05,
        5000,
        "holm",
        [("control", True, 20000, 2000), ("b", False, 20000, 2120), ("c", False, 20000, 2010)],
    ),
    (
        "control not first, undefined arm in the family",
        "fixed",
        0.05,
        5000,
        "holm",
        [("b", False, 20000, 2300), ("c", False, 0, 0), ("control", True, 20000, 2000)],
    ),
    (
        "zero control conversions",
        "fixed",
        0.05,
        5000,
        "holm",
        [("control", True, 100, 0), ("b", False, 100, 5)],
    ),
    (
        "boundary lift CI contains 0",
        "fixed",
        0.05,
        5000,
        "holm",
        [("control", True, 500, 50), ("b", False, 500, 75)],
    ),
    (
        "boundary pooled p above alpha",
        "fixed",
        0.05,
        5000,
        "holm",
        [("control", True, 1000, 100), ("b", False, 250, 15)],
    ),
    (
        "huge unequal arms",
        "sequential",
        0.05,
        5000,
        "holm",
        [("control", True, 1000000000, 100000000), ("b", False, 250000000, 25100000)],
    ),
    (
        "second control is a treatment",
        "sequential",
        0.05,
        5000,
        "holm",
        [("c1", True, 5000, 500), ("c2", True, 5000, 600)],
    ),
    ("no control", "sequential", 0.05, 5000, "holm", [("a", False, 500, 50), ("b", False, 500, 80)]),
    ("single control variant", "fixed", 0.05, 5000, "holm", [("control", True, 500, 50)]),
    ("single treatment variant", "sequential", 0.05, 5000, "holm", [("b", False, 500, 50)]),
    (
        "four arms fixed benjamini-hochberg",
        "fixed",
        0.05,
        5000,
        "bh",
        [
            ("control", True, 1000, 100),
            ("b", False, 1000, 140),
            ("c", False, 500, 60),
            ("d", False, 1000, 70),
        ],
    ),
    (
        "four arms sequential benjamini-hochberg, an undefined arm",
        "sequential",
        0.05,
        5000,
        "bh",
        [
            ("control", True, 10000, 1000),
            ("b", False, 10000, 1150),
            ("c", False, 0, 0),
            ("d", False, 10000, 880),
        ],
    ),
    (
        "benjamini-hochberg keeps a label holm withholds",
        "fixed",
        0.05,
        5000,
        "bh",
        [("control", True, 20000, 2000), ("b", False, 20000, 2128), ("c", False, 20000, 2136)],
    ),
    (
        "holm withholds the label benjamini-hochberg keeps",
        "fixed",
        0.05,
        5000,
        "holm",
        [("control", True, 20000, 2000), ("b", False, 20000, 2128), ("c", False, 20000, 2136)],
    ),
]

# Looks of one sequential experiment: cumulative (n_control, c_control, n_variant, c_variant).
LOOKS_ALPHA, LOOKS_TUNING = 0.05, 5000
LOOKS = [
    (0, 0, 0, 0),
    (50, 0, 50, 3),
    (500, 40, 500, 75),
    (2000, 190, 2000, 265),
    (4000, 420, 4000, 480),
    (8000, 820, 8000, 880),
    (16000, 1620, 16000, 1700),
    (32000, 3200, 32000, 3520),
]

HOLM = [
    [0.01, 0.04, 0.03, 0.005],
    [0.2, 0.2, 0.01],
    [0.5],
    [1e-12, 0.9, 0.049, 0.0125, 0.3],
    [0.04, 0.04, 0.04],
]

# Benjamini-Hochberg families; None = untestable (kept in the family as p = 1, adjusted value None).
BH = [
    [0.01, 0.04, 0.03, 0.005],
    [0.2, 0.2, 0.01],
    [0.5],
    [1e-12, 0.9, 0.049, 0.0125, 0.3],
    [0.04, 0.04, 0.04],
    [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216],
    [0.03, None, 0.02, 0.9],
    [None, None],
    [0.049, 0.051],
    [1.0, 0.999, 0.0],
]

SRM = [
    ([5000, 5000], [0.5, 0.5]),
    ([5000, 5150], [0.5, 0.5]),
    ([5000, 5300], [1, 1]),
    ([2000, 6000, 2050], [0.2, 0.6, 0.2]),
    ([1000, 1100, 900, 1000], [1, 1, 1, 1]),
    ([1, 0], [0.5, 0.5]),
    ([1000000000, 1000050000], [0.5, 0.5]),
    ([3300, 6700], [1, 2]),
]

# ------------------------------------------------------------------------------------------------------
# C++ emitters


def num(x: float) -> str:
    assert math.isfinite(x), x
    return repr(float(x))


def opt(x) -> str:
    return "{false, 0.0}" if x is None else "{true, %s}" % num(x)


def opt_iv(ci) -> str:
    return "{false, 0.0, 0.0}" if ci is None else "{true, %s, %s}" % (num(ci[0]), num(ci[1]))


def cstr(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def comparisons() -> list[str]:
    rows = []
    for na, ca, nb, cb, alpha, tuning, label in COMPARISONS:
        sp = seq_p(na, ca, nb, cb, alpha, tuning)
        sl = seq_ci(na, ca, nb, cb, alpha, tuning, "relative")
        # The duality documented in stats.hpp: p < alpha <=> the lift CS excludes 0.
        if sp is not None:
            assert (sp < alpha) == excludes_zero(sl), label
        rows.append(
            "    {%s, %d, %d, %d, %d, %s, %s,\n     %s, %s, %s,\n     %s, %s, %s,\n     %s}"
            % (
                cstr(label),
                na,
                ca,
                nb,
                cb,
                num(alpha),
                num(tuning),
                opt(pooled_p(na, ca, nb, cb)),
                opt_iv(fixed_ci(na, ca, nb, cb, alpha, "relative")),
                opt_iv(fixed_ci(na, ca, nb, cb, alpha, "absolute")),
                opt(sp),
                opt_iv(sl),
                opt_iv(seq_ci(na, ca, nb, cb, alpha, tuning, "absolute")),
                opt(ctw(na, ca, nb, cb)),
            )
        )
    return rows


def analyses() -> list[str]:
    rows = []
    for label, method, alpha, tuning, correction, arms in ANALYSES:
        control_index = next((i for i, a in enumerate(arms) if a[1]), None)
        control = None if control_index is None else arms[control_index]
        per = []
        treatments = []
        for index, (_key, _is_control, n, c) in enumerate(arms):
            r = {"p": None, "lift": None, "diff": None, "ctw": None}
            if control is not None and index != control_index:
                na, ca = control[2], control[3]
                if method == "fixed":
                    r["p"] = pooled_p(na, ca, n, c)
                    r["lift"] = fixed_ci(na, ca, n, c, alpha, "relative")
                    r["diff"] = fixed_ci(na, ca, n, c, alpha, "absolute")
                else:
                    r["p"] = seq_p(na, ca, n, c, alpha, tuning)
                    r["lift"] = seq_ci(na, ca, n, c, alpha, tuning, "relative")
                    r["diff"] = seq_ci(na, ca, n, c, alpha, tuning, "absolute")
                r["ctw"] = ctw(na, ca, n, c)
                treatments.append(len(per))
            per.append(r)
        adjusted, applied = corrected([per[i]["p"] for i in treatments], correction)
        any_sig = False
        for i in range(len(per)):
            per[i]["adj"] = None
            per[i]["sig"] = False
        for i, a in zip(treatments, adjusted):
            r = per[i]
            r["adj"] = a
            r["sig"] = a is not None and a < alpha and excludes_zero(r["lift"]) and excludes_zero(r["diff"])
            any_sig = any_sig or r["sig"]
        variants = ",\n".join(
            "      {%s, %s, %d, %d}" % (cstr(k), "true" if ic else "false", n, c) for k, ic, n, c in arms
        )
        expected = ",\n".join(
            "      {%s, %s, %s, %s, %s, %s}"
            % (
                opt(r["p"]),
                opt(r["adj"]),
                opt_iv(r["lift"]),
                opt_iv(r["diff"]),
                opt(r["ctw"]),
                "true" if r["sig"] else "false",
            )
            for r in per
        )
        rows.append(
            "    {%s, %s, %s, %s, %s,\n     {\n%s\n     },\n     {\n%s\n     },\n     %s, %s}"
            % (
                cstr(label),
                "Method::Fixed" if method == "fixed" else "Method::Sequential",
                num(alpha),
                num(tuning),
                CORRECTIONS[correction],
                variants,
                expected,
                CORRECTIONS[applied],
                "true" if any_sig else "false",
            )
        )
    return rows


def looks() -> list[str]:
    rows = []
    running = None
    for na, ca, nb, cb in LOOKS:
        p = seq_p(na, ca, nb, cb, LOOKS_ALPHA, LOOKS_TUNING)
        if p is not None:
            running = p if running is None else min(running, p)
        rows.append("    {%d, %d, %d, %d, %s, %s}" % (na, ca, nb, cb, opt(p), opt(running)))
    return rows


def holm_rows() -> list[str]:
    rows = []
    for ps in HOLM:
        adj = holm(ps)
        rows.append("    {{%s}, {%s}}" % (", ".join(num(p) for p in ps), ", ".join(num(a) for a in adj)))
    return rows


def bh_rows() -> list[str]:
    rows = []
    for ps in BH:
        adj = bh(ps)
        rows.append("    {{%s}, {%s}}" % (", ".join(opt(p) for p in ps), ", ".join(opt(a) for a in adj)))
    return rows


def srm_rows() -> list[str]:
    rows = []
    for users, weights in SRM:
        p = float(check_srm(users, weights))
        total = sum(users)
        expected = [w / sum(weights) * total for w in weights]
        p_scipy = float(scipy.stats.chisquare(users, expected).pvalue)
        assert math.isclose(p, p_scipy, rel_tol=1e-9, abs_tol=1e-300), (users, p, p_scipy)
        rows.append(
            "    {{%s}, {%s}, %s}"
            % (", ".join(str(u) for u in users), ", ".join(num(w) for w in weights), num(p))
        )
    return rows


def oracle_stamp() -> str:
    from importlib.metadata import version

    return "// Oracles: gbstats %s, statsmodels %s, scipy %s, numpy %s." % (
        version("gbstats"),
        version("statsmodels"),
        version("scipy"),
        np.__version__,
    )


def render() -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        body = {
            "kGoldenComparisons": comparisons(),
            "kGoldenAnalyses": analyses(),
            "kGoldenLooks": looks(),
            "kGoldenHolm": holm_rows(),
            "kGoldenBh": bh_rows(),
            "kGoldenSrm": srm_rows(),
        }
    types = {
        "kGoldenComparisons": "GoldenComparison",
        "kGoldenAnalyses": "GoldenAnalysis",
        "kGoldenLooks": "GoldenLook",
        "kGoldenHolm": "GoldenHolm",
        "kGoldenBh": "GoldenBh",
        "kGoldenSrm": "GoldenSrm",
    }
    out = [
        "// GENERATED by cpp/tests/golden/make_stats_golden.py — do not edit by hand; rerun the script.",
        oracle_stamp(),
        "// Included by test_stats.cpp / test_sequential.cpp after the Golden* struct definitions.",
        f"// Sequential looks use alpha = {LOOKS_ALPHA}, N* = {LOOKS_TUNING}.",
        "",
    ]
    for name, rows in body.items():
        out.append(f"static const std::vector<{types[name]}> {name} = {{")
        out.append(",\n".join(rows))
        out.append("};")
        out.append("")
    return "\n".join(out)


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def same_golden(a: str, b: str, rel: float = 1e-12) -> bool:
    """Same cases and the same numbers to `rel`, ignoring the version-stamp comment: other patch versions
    of scipy/statsmodels may move the last bits without making the checked-in file wrong."""
    strip = lambda t: "\n".join(line for line in t.splitlines() if not line.startswith("// Oracles:"))
    a, b = strip(a), strip(b)
    if _NUMBER.sub("#", a) != _NUMBER.sub("#", b):
        return False
    return all(
        math.isclose(float(x), float(y), rel_tol=rel, abs_tol=1e-300)
        for x, y in zip(_NUMBER.findall(a), _NUMBER.findall(b))
    )


def main() -> int:
    text = render()
    if "--check" in sys.argv[1:]:
        current = OUT.read_text() if OUT.exists() else ""
        if not same_golden(current, text):
            print(f"{OUT} is out of date; rerun {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
