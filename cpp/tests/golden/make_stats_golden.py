#!/usr/bin/env python3
"""Regenerate cpp/tests/golden/stats_golden.inc, metric_golden.inc and cuped_golden.inc from the reference
libraries.

    .venv-oracles/bin/python cpp/tests/golden/make_stats_golden.py          # rewrite the .inc files
    .venv-oracles/bin/python cpp/tests/golden/make_stats_golden.py --check  # exit 1 if one is out of date

Oracles (test-only deps: gbstats==0.8.0, statsmodels, scipy):
  pooled z-test p            statsmodels.stats.proportion.proportions_ztest (pooled variance)
  arm statistics             gbstats ProportionStatistic / SampleMeanStatistic / RatioStatistic (.mean, .variance)
  fixed lift / difference CI gbstats TwoSidedTTest, difference_type relative / absolute
  fixed p (means, ratios)    gbstats TwoSidedTTest, relative (see t_p below for the tail)
  sequential CI / p          gbstats SequentialTwoSidedTTest (relative p; relative and absolute CI)
  chance to win              gbstats EffectBayesianABTest, relative, improper flat prior (inverse=True for
                             metrics where lower is better)
  Holm-Bonferroni            statsmodels.stats.multitest.multipletests(method="holm")
  Benjamini-Hochberg         statsmodels.stats.multitest.multipletests(method="fdr_bh")
  SRM                        gbstats.utils.check_srm, cross-checked with scipy.stats.chisquare
  sequential SRM             ln BF of Lindon & Malek (2022) as a ratio of scipy pmfs,
                             dirichlet_multinomial.logpmf(x, alpha) - multinomial.logpmf(x, p0) (the
                             multinomial coefficients cancel), cross-checked with the closed form in
                             scipy.special.gammaln and, for two arms, betabinom - binom
  CUPED                      gbstats RegressionAdjustedStatistic (post: Proportion / SampleMean statistic,
                             pre: SampleMeanStatistic of the covariate) with compute_theta over the control
                             and one treatment, inside TwoSidedTTest / SequentialTwoSidedTTest /
                             EffectBayesianABTest; variance_reduction = 1 - TTest.variance (adjusted) /
                             TTest.variance (unadjusted), relative (the definition in metric_stats.hpp)

Where gbstats returns its uninformative default (error_message set: zero baseline, zero variance, no
units), the expected value is "undefined" (an empty optional in C++). is_significant is derived here from
those oracle numbers with the rule documented in stats.hpp; the C++ test also checks the rule directly.

Two gbstats numbers are complements computed as 1 - x: TwoSidedTTest.p_value = 2 (1 - t.cdf) and the
inverse chance to win 1 - norm.sf. They lose their relative precision when small, so the golden value is
the tail itself (scipy t.sf / norm.cdf on gbstats' own statistic, dof, mean and sd), asserted here to
agree with gbstats' number to 1e-14 absolute.

Per-user data for the metric cases (revenue with many zeros, orders, signed values, latencies) is drawn
with random.Random(seed).random() and plain transforms, so it does not depend on numpy's generators; the
C++ side sees only the sums, written out exactly.
"""

from __future__ import annotations

import math
import random
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.special
import scipy.stats
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import (
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    compute_theta,
)
from gbstats.utils import check_srm
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

OUT = Path(__file__).with_name("stats_golden.inc")
METRIC_OUT = Path(__file__).with_name("metric_golden.inc")
CUPED_OUT = Path(__file__).with_name("cuped_golden.inc")

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

# Sequential SRM (stats.hpp srm_log_bayes_factor / srm_sequential): observed, weights, concentration k.
# Arms of weight 0 are left out of the test, as in C++. Up to ~2 * 10^5 participants: beyond, both sides'
# rounding (~1e-16 n ln n in ln BF) passes the 1e-9 the C++ test asks for.
SRM_CONCENTRATION = 100.0
SRM_SEQUENTIAL = [
    ([5000, 5000], [0.5, 0.5], SRM_CONCENTRATION),
    ([5000, 5150], [0.5, 0.5], SRM_CONCENTRATION),
    ([5000, 5300], [1, 1], SRM_CONCENTRATION),
    ([5000, 5600], [1, 1], SRM_CONCENTRATION),
    ([1000, 800], [1, 1], SRM_CONCENTRATION),
    ([600, 400], [1, 1], SRM_CONCENTRATION),
    ([2000, 6000, 2050], [0.2, 0.6, 0.2], SRM_CONCENTRATION),
    ([1000, 1100, 900, 1000], [1, 1, 1, 1], SRM_CONCENTRATION),
    ([1, 0], [0.5, 0.5], SRM_CONCENTRATION),
    ([0, 1], [0.5, 0.5], SRM_CONCENTRATION),
    ([3300, 6700], [1, 2], SRM_CONCENTRATION),
    ([3000, 7000], [1, 2], SRM_CONCENTRATION),
    ([500, 500, 0], [1, 1, 0], SRM_CONCENTRATION),
    ([49, 51, 900], [0.05, 0.05, 0.9], SRM_CONCENTRATION),
    ([100000, 101000], [1, 1], SRM_CONCENTRATION),
    ([100000, 102000], [1, 1], SRM_CONCENTRATION),
    ([40000, 80000, 81000], [1, 2, 2], SRM_CONCENTRATION),
    ([5000, 5300], [1, 1], 1.0),
    ([5000, 5300], [1, 1], 10.0),
    ([5000, 5300], [1, 1], 1000.0),
    ([5000, 5300], [1, 1], 0.5),
    ([120, 80, 100], [1, 1, 1], 3.0),
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


def srm_log_bf(users, weights, k):
    """ln BF_n of the sequential SRM test over the arms with weight > 0: the Dirichlet-multinomial marginal
    likelihood of the counts over their multinomial likelihood under the expected split."""
    arms = [(u, w) for u, w in zip(users, weights) if w > 0]
    assert all(u == 0 for u, w in zip(users, weights) if w == 0), "traffic in a zero-weight arm is not a case"
    x = np.array([u for u, _ in arms], dtype=float)
    p0 = np.array([w for _, w in arms], dtype=float) / sum(w for _, w in arms)
    alpha = k * p0
    n = int(x.sum())
    ratio = float(
        scipy.stats.dirichlet_multinomial.logpmf(x, alpha, n) - scipy.stats.multinomial.logpmf(x, n, p0)
    )
    gammaln = scipy.special.gammaln
    closed = float(
        gammaln(alpha.sum())
        - gammaln(alpha.sum() + n)
        + np.sum(gammaln(alpha + x) - gammaln(alpha))
        - np.sum(x * np.log(p0))
    )
    assert math.isclose(ratio, closed, rel_tol=1e-9, abs_tol=1e-9), (users, weights, k, ratio, closed)
    if len(x) == 2:
        beta = float(
            scipy.stats.betabinom.logpmf(x[0], n, alpha[0], alpha[1])
            - scipy.stats.binom.logpmf(x[0], n, p0[0])
        )
        assert math.isclose(ratio, beta, rel_tol=1e-9, abs_tol=1e-9), (users, weights, k, ratio, beta)
    return ratio


def srm_sequential_rows() -> list[str]:
    rows = []
    for users, weights, k in SRM_SEQUENTIAL:
        log_bf = srm_log_bf(users, weights, k)
        p = 1.0 if log_bf <= 0 else math.exp(-log_bf)
        rows.append(
            "    {{%s}, {%s}, %s, %s, %s}"
            % (
                ", ".join(str(u) for u in users),
                ", ".join(num(w) for w in weights),
                num(k),
                num(log_bf),
                num(p),
            )
        )
    return rows


# ------------------------------------------------------------------------------------------------------
# Metrics (metric_stats.hpp): proportions, means and ratios built from per-arm running sums.
#
# Sums of an arm: (n, Σx, Σx², Σy, Σy², Σxy) — y is the denominator of a ratio (0 for other kinds).


class Draw:
    """Deterministic draws from random.Random(seed).random() only (its stream is stable across Pythons)."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def u(self) -> float:
        return self.r.random()

    def normal(self) -> float:
        u1 = 1.0 - self.u()  # (0, 1]
        u2 = self.u()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def lognormal(self, mu: float, sigma: float) -> float:
        return math.exp(mu + sigma * self.normal())

    def poisson(self, lam: float) -> int:
        limit, k, prod = math.exp(-lam), 0, self.u()
        while prod > limit:
            k += 1
            prod *= self.u()
        return k


def shop_users(n, seed, buy_rate=0.1, lam=0.5, mu=3.0, sigma=1.0, latency=5.3, latency_sigma=0.5):
    """Users of a shop: (converted 0/1, revenue in cents-rounded units, orders, latency in ms)."""
    d = Draw(seed)
    out = []
    for _ in range(n):
        orders = 1 + d.poisson(lam) if d.u() < buy_rate else 0
        revenue = round(sum(d.lognormal(mu, sigma) for _ in range(orders)), 2)
        out.append(
            (1 if orders > 0 else 0, revenue, orders, float(round(d.lognormal(latency, latency_sigma))))
        )
    return out


def signed_values(n, seed, mean, sd):
    d = Draw(seed)
    return [round(mean + sd * d.normal(), 2) for _ in range(n)]


def sums_of(pairs):
    """(n, Σx, Σx², Σy, Σy², Σxy) of [(x, y)], accumulated left to right as the store would."""
    n, sx, sxx, sy, syy, sxy = 0, 0.0, 0.0, 0.0, 0.0, 0.0
    for x, y in pairs:
        n += 1
        sx += x
        sxx += x * x
        sy += y
        syy += y * y
        sxy += x * y
    return (n, sx, sxx, sy, syy, sxy)


def metric_sums(kind_of_data, users, cap=None):
    """Sums of one metric over shop users: conversion, revenue (capped), aov (revenue / orders), latency."""
    if kind_of_data == "conversion":
        return sums_of((float(u[0]), 0.0) for u in users)
    if kind_of_data == "revenue":
        return sums_of(((u[1] if cap is None else min(u[1], cap)), 0.0) for u in users)
    if kind_of_data == "aov":
        return sums_of((u[1], float(u[2])) for u in users)
    if kind_of_data == "latency":
        return sums_of((u[3], 0.0) for u in users)
    raise ValueError(kind_of_data)


def values_sums(values):
    return sums_of((x, 0.0) for x in values)


def metric_stat(kind, S):
    n, sx, sxx, sy, syy, sxy = S
    if kind == "proportion":
        return ProportionStatistic(n=n, sum=sx)
    if kind == "mean":
        return SampleMeanStatistic(n=n, sum=sx, sum_squares=sxx)
    return RatioStatistic(
        n=n,
        m_statistic=SampleMeanStatistic(n=n, sum=sx, sum_squares=sxx),
        d_statistic=SampleMeanStatistic(n=n, sum=sy, sum_squares=syy),
        m_d_sum_of_products=sxy,
    )


def m_value(kind, S):
    n, sx, _, sy, _, _ = S
    if n <= 0 or (kind == "ratio" and sy == 0):
        return None
    v = sx / sy if kind == "ratio" else sx / n
    assert v == metric_stat(kind, S).mean
    return float(v)


def m_lift(kind, A, B):
    if kind == "proportion":  # analyze's relative_lift: empty arms have rate 0, defined when control rate > 0
        ra = A[1] / A[0] if A[0] > 0 else 0.0
        rb = B[1] / B[0] if B[0] > 0 else 0.0
        return (rb - ra) / ra if ra > 0 else None
    va, vb = m_value(kind, A), m_value(kind, B)
    if va is None or vb is None or va == 0:
        return None
    return (vb - va) / va


def m_fixed_ci(kind, A, B, alpha, diff):
    cfg = FrequentistConfig(alpha=alpha, difference_type=diff)
    return _ci(TwoSidedTTest(metric_stat(kind, A), metric_stat(kind, B), cfg).compute_result())


def m_fixed_p(kind, A, B):
    """TwoSidedTTest relative p, as its upper tail (see the module docstring)."""
    test = TwoSidedTTest(
        metric_stat(kind, A), metric_stat(kind, B), FrequentistConfig(difference_type="relative")
    )
    r = test.compute_result()
    if r.error_message is not None:
        return None
    exact = float(2.0 * scipy.stats.t.sf(abs(test.critical_value), test.dof))
    assert abs(exact - float(r.p_value)) <= 1e-14, (exact, r.p_value)
    return exact


def m_seq(kind, A, B, alpha, tuning, diff):
    cfg = SequentialConfig(alpha=alpha, sequential_tuning_parameter=tuning, difference_type=diff)
    return SequentialTwoSidedTTest(metric_stat(kind, A), metric_stat(kind, B), cfg).compute_result()


def m_seq_ci(kind, A, B, alpha, tuning, diff):
    return _ci(m_seq(kind, A, B, alpha, tuning, diff))


def m_seq_p(kind, A, B, alpha, tuning):
    r = m_seq(kind, A, B, alpha, tuning, "relative")
    return None if r.error_message is not None else float(r.p_value)


def m_ctw(kind, A, B, inverse):
    cfg = EffectBayesianConfig(
        prior_effect=GaussianPrior(proper=False), difference_type="relative", inverse=inverse
    )
    r = EffectBayesianABTest(metric_stat(kind, A), metric_stat(kind, B), cfg).compute_result()
    if r.error_message is not None:
        return None
    if not inverse:
        return float(r.chance_to_win)
    exact = float(scipy.stats.norm.cdf(0.0, r.uplift.mean, r.uplift.stddev))
    assert abs(exact - float(r.chance_to_win)) <= 1e-14, (exact, r.chance_to_win)
    return exact


KINDS = {"proportion": "MetricKind::Proportion", "mean": "MetricKind::Mean", "ratio": "MetricKind::Ratio"}
ROLES = {
    "primary": "MetricRole::Primary",
    "secondary": "MetricRole::Secondary",
    "guardrail": "MetricRole::Guardrail",
}
DIRECTIONS = {"increase": "Direction::Increase", "decrease": "Direction::Decrease"}


def sums_cpp(S) -> str:
    n, sx, sxx, sy, syy, sxy = S
    return "{%d, %s, %s, %s, %s, %s}" % (n, num(sx), num(sxx), num(sy), num(syy), num(sxy))


def _hand(n, sx, sxx, sy=0.0, syy=0.0, sxy=0.0):
    return (n, float(sx), float(sxx), float(sy), float(syy), float(sxy))


def _metric_comparisons():
    """(label, kind, alpha, tuning, control sums, variant sums)"""
    shop_a = shop_users(4000, 11)
    shop_b = shop_users(4000, 12, buy_rate=0.115, mu=3.05)
    big_a = shop_users(60000, 13)
    big_b = shop_users(60000, 14, buy_rate=0.104, mu=3.03)
    small_b = shop_users(1200, 15, buy_rate=0.09, mu=2.9)
    many_orders_a = shop_users(3000, 16, buy_rate=0.3, lam=2.0)
    many_orders_b = shop_users(3000, 17, buy_rate=0.3, lam=2.2, mu=2.95)
    return [
        (
            "revenue per user, 90% zeros",
            "mean",
            0.05,
            5000,
            metric_sums("revenue", shop_a),
            metric_sums("revenue", shop_b),
        ),
        (
            "revenue per user, capped at 100",
            "mean",
            0.05,
            5000,
            metric_sums("revenue", shop_a, cap=100.0),
            metric_sums("revenue", shop_b, cap=100.0),
        ),
        (
            "revenue, unequal arms, alpha 0.01, N* 1000",
            "mean",
            0.01,
            1000,
            metric_sums("revenue", shop_a),
            metric_sums("revenue", small_b),
        ),
        (
            "revenue, 60000 per arm, N* 1e5",
            "mean",
            0.05,
            100000,
            metric_sums("revenue", big_a),
            metric_sums("revenue", big_b),
        ),
        (
            "revenue, alpha 0.1, N* 20000",
            "mean",
            0.1,
            20000,
            metric_sums("revenue", big_a),
            metric_sums("revenue", big_b),
        ),
        (
            "latency in ms, lower is better",
            "mean",
            0.05,
            5000,
            metric_sums("latency", shop_a),
            metric_sums("latency", shop_users(4000, 18, latency=5.33)),
        ),
        (
            "profit with negative values",
            "mean",
            0.05,
            5000,
            values_sums(signed_values(5000, 21, 0.5, 4.0)),
            values_sums(signed_values(5000, 22, 0.8, 4.0)),
        ),
        (
            "negative control mean",
            "mean",
            0.1,
            2000,
            values_sums(signed_values(3000, 23, -2.0, 3.0)),
            values_sums(signed_values(3000, 24, -1.6, 3.0)),
        ),
        (
            "mean, identical arms",
            "mean",
            0.05,
            5000,
            values_sums(signed_values(2000, 25, 10.0, 2.0)),
            values_sums(signed_values(2000, 25, 10.0, 2.0)),
        ),
        ("mean, two users per arm", "mean", 0.05, 5000, _hand(2, 3.0, 5.0), _hand(2, 5.0, 13.0)),
        (
            "revenue / orders (average order value)",
            "ratio",
            0.05,
            5000,
            metric_sums("aov", shop_a),
            metric_sums("aov", shop_b),
        ),
        (
            "revenue / orders, many orders per user",
            "ratio",
            0.05,
            5000,
            metric_sums("aov", many_orders_a),
            metric_sums("aov", many_orders_b),
        ),
        (
            "revenue / orders, unequal arms, alpha 0.01",
            "ratio",
            0.01,
            5000,
            metric_sums("aov", shop_a),
            metric_sums("aov", small_b),
        ),
        (
            "revenue / orders, 60000 per arm, N* 1e5",
            "ratio",
            0.05,
            100000,
            metric_sums("aov", big_a),
            metric_sums("aov", big_b),
        ),
        (
            "ratio, hand-made sums",
            "ratio",
            0.05,
            5000,
            _hand(5, 10.0, 30.0, 5.0, 7.0, 13.0),
            _hand(4, 12.0, 44.0, 4.0, 6.0, 15.0),
        ),
        # Undefined: gbstats' uninformative default.
        ("mean, one user per arm", "mean", 0.05, 5000, _hand(1, 3.0, 9.0), _hand(1, 4.0, 16.0)),
        (
            "mean, zero variance in control",
            "mean",
            0.05,
            5000,
            _hand(100, 500.0, 2500.0),
            _hand(100, 510.0, 2700.0),
        ),
        (
            "mean, zero variance in treatment",
            "mean",
            0.05,
            5000,
            _hand(100, 510.0, 2700.0),
            _hand(100, 500.0, 2500.0),
        ),
        ("mean, zero control mean", "mean", 0.05, 5000, _hand(4, 0.0, 10.0), _hand(4, 2.0, 10.0)),
        ("mean, empty control", "mean", 0.05, 5000, _hand(0, 0.0, 0.0), _hand(50, 100.0, 900.0)),
        ("mean, empty treatment", "mean", 0.05, 5000, _hand(50, 100.0, 900.0), _hand(0, 0.0, 0.0)),
        (
            "ratio, zero control denominator",
            "ratio",
            0.05,
            5000,
            _hand(10, 0.0, 0.0, 0.0, 0.0, 0.0),
            _hand(10, 12.0, 44.0, 4.0, 6.0, 15.0),
        ),
        (
            "ratio, zero treatment denominator",
            "ratio",
            0.05,
            5000,
            _hand(5, 10.0, 30.0, 5.0, 7.0, 13.0),
            _hand(10, 0.0, 0.0, 0.0, 0.0, 0.0),
        ),
        (
            "ratio, zero control numerator",
            "ratio",
            0.05,
            5000,
            _hand(5, 0.0, 0.0, 5.0, 7.0, 0.0),
            _hand(4, 12.0, 44.0, 4.0, 6.0, 15.0),
        ),
        (
            "ratio, one user per arm",
            "ratio",
            0.05,
            5000,
            _hand(1, 3.0, 9.0, 1.0, 1.0, 3.0),
            _hand(1, 4.0, 16.0, 2.0, 4.0, 8.0),
        ),
    ]


def metric_comparisons() -> list[str]:
    rows = []
    for label, kind, alpha, tuning, A, B in _metric_comparisons():
        sa, sb = metric_stat(kind, A), metric_stat(kind, B)
        fl = m_fixed_ci(kind, A, B, alpha, "relative")
        fp = m_fixed_p(kind, A, B)
        sp = m_seq_p(kind, A, B, alpha, tuning)
        sl = m_seq_ci(kind, A, B, alpha, tuning, "relative")
        lift = m_lift(kind, A, B)
        if fl is not None:  # the lift shown is the test's point estimate
            expected = float(TwoSidedTTest(sa, sb, FrequentistConfig()).compute_result().expected)
            assert math.isclose(lift, expected, rel_tol=1e-15, abs_tol=1e-300), label
        # Dualities of one test: p < alpha <=> its lift interval excludes 0.
        if fp is not None:
            assert (fp < alpha) == excludes_zero(fl), label
        if sp is not None:
            assert (sp < alpha) == excludes_zero(sl), label
        rows.append(
            "    {%s, %s, %s, %s,\n     %s,\n     %s,\n     %s, %s, %s, %s,\n     %s, %s, %s,\n"
            "     %s, %s, %s,\n     %s, %s, %s, %s, %s}"
            % (
                cstr(label),
                KINDS[kind],
                num(alpha),
                num(tuning),
                sums_cpp(A),
                sums_cpp(B),
                num(sa.mean),
                num(sa.variance),
                num(sb.mean),
                num(sb.variance),
                opt(fp),
                opt_iv(fl),
                opt_iv(m_fixed_ci(kind, A, B, alpha, "absolute")),
                opt(sp),
                opt_iv(sl),
                opt_iv(m_seq_ci(kind, A, B, alpha, tuning, "absolute")),
                opt(m_ctw(kind, A, B, False)),
                opt(m_ctw(kind, A, B, True)),
                opt(m_value(kind, A)),
                opt(m_value(kind, B)),
                opt(lift),
            )
        )
    return rows


def _shop_metrics(arms, roles=None, cap=None):
    """The four shop metrics over arms of users: (key, kind, role, direction, [sums per arm])."""
    roles = roles or {
        "conversion": "primary",
        "revenue": "secondary",
        "aov": "secondary",
        "latency": "guardrail",
    }
    kinds = {"conversion": "proportion", "revenue": "mean", "aov": "ratio", "latency": "mean"}
    directions = {"conversion": "increase", "revenue": "increase", "aov": "increase", "latency": "decrease"}
    return [
        (
            key,
            kinds[key],
            roles[key],
            directions[key],
            [metric_sums(key, users, cap if key == "revenue" else None) for users in arms],
        )
        for key in roles
    ]


def _metric_analyses():
    """(label, method, alpha, tuning, correction, control index or None, metrics)"""
    control = shop_users(4000, 31)
    winner = shop_users(4000, 32, buy_rate=0.125, mu=3.04)  # more buyers, a little more revenue
    slow = shop_users(4000, 33, latency=5.42, mu=2.9)  # slower (latency +9 %) and cheaper orders
    three = [control, winner, slow]
    shop = _shop_metrics(three)
    big_control = shop_users(30000, 34)
    big_cheap = shop_users(30000, 35, buy_rate=0.1, mu=2.8)  # revenue guardrail regresses
    broken = [(1, 0.0, 0.0, 0.0, 0.0, 0.0)]  # a one-user arm: every test on it is undefined
    return [
        ("shop, fixed, holm", "fixed", 0.05, 5000, "holm", 0, shop),
        ("shop, fixed, benjamini-hochberg", "fixed", 0.05, 5000, "bh", 0, shop),
        ("shop, fixed, no correction", "fixed", 0.05, 5000, "none", 0, shop),
        ("shop, sequential, holm", "sequential", 0.05, 5000, "holm", 0, shop),
        (
            "shop, sequential, benjamini-hochberg, alpha 0.1, N* 20000",
            "sequential",
            0.1,
            20000,
            "bh",
            0,
            shop,
        ),
        (
            "everything primary, fixed, benjamini-hochberg, alpha 0.01",
            "fixed",
            0.01,
            5000,
            "bh",
            0,
            _shop_metrics(three, roles={k: "primary" for k in ("conversion", "revenue", "aov", "latency")}),
        ),
        (
            "one primary and a guardrail, one treatment: no correction",
            "fixed",
            0.05,
            5000,
            "holm",
            0,
            _shop_metrics([control, slow], roles={"conversion": "primary", "latency": "guardrail"}),
        ),
        (
            "revenue guardrail regresses, sequential",
            "sequential",
            0.05,
            5000,
            "holm",
            0,
            _shop_metrics(
                [big_control, big_cheap],
                roles={"conversion": "primary", "revenue": "guardrail", "aov": "guardrail"},
            ),
        ),
        (
            "control second, capped revenue, an undefined mean in the family",
            "fixed",
            0.05,
            5000,
            "bh",
            1,
            _shop_metrics([winner, control, slow], cap=200.0)
            + [
                (
                    "broken",
                    "mean",
                    "secondary",
                    "increase",
                    [broken[0], broken[0], (400, 800.0, 2000.0, 0.0, 0.0, 0.0)],
                )
            ],
        ),
        ("no control", "fixed", 0.05, 5000, "holm", None, _shop_metrics([control, winner])),
        (
            "legacy conversion metric only, two treatments",
            "sequential",
            0.05,
            5000,
            "holm",
            0,
            [
                (
                    "conversion",
                    "proportion",
                    "primary",
                    "increase",
                    [
                        (10000, 1000.0, 1000.0, 0.0, 0.0, 0.0),
                        (10000, 1150.0, 1150.0, 0.0, 0.0, 0.0),
                        (10000, 1080.0, 1080.0, 0.0, 0.0, 0.0),
                    ],
                )
            ],
        ),
    ]


def _metric_variant(kind, method, alpha, tuning, direction, A, B):
    r = {"value": m_value(kind, B), "lift": m_lift(kind, A, B)}
    if method == "fixed":
        r["p"] = pooled_p(A[0], A[1], B[0], B[1]) if kind == "proportion" else m_fixed_p(kind, A, B)
        r["lift_ci"] = m_fixed_ci(kind, A, B, alpha, "relative")
        r["diff_ci"] = m_fixed_ci(kind, A, B, alpha, "absolute")
    else:
        r["p"] = m_seq_p(kind, A, B, alpha, tuning)
        r["lift_ci"] = m_seq_ci(kind, A, B, alpha, tuning, "relative")
        r["diff_ci"] = m_seq_ci(kind, A, B, alpha, tuning, "absolute")
    r["ctw"] = m_ctw(kind, A, B, direction == "decrease")
    return r


def regression(ci, direction):
    if ci is None:
        return False
    return ci[0] > 0.0 if direction == "decrease" else ci[1] < 0.0


def metric_analyses() -> list[str]:
    rows = []
    for label, method, alpha, tuning, correction, control, metrics in _metric_analyses():
        results = []
        family = []
        for m, (_key, kind, role, direction, arms) in enumerate(metrics):
            per = []
            for i, S in enumerate(arms):
                if control is None or control >= len(arms):
                    r = {"value": m_value(kind, S), "lift": None}
                elif i == control:
                    r = {"value": m_value(kind, S), "lift": 0.0}
                else:
                    r = _metric_variant(kind, method, alpha, tuning, direction, arms[control], S)
                    if role == "guardrail":
                        r["adj"] = r["p"]
                    else:
                        family.append((m, i))
                per.append(r)
            results.append(per)
        adjusted, applied = corrected([results[m][i]["p"] for m, i in family], correction)
        for (m, i), a in zip(family, adjusted):
            results[m][i]["adj"] = a
        guardrail_regression = False
        metric_rows = []
        for m, (_key, _kind, role, direction, _arms) in enumerate(metrics):
            any_sig = any_reg = False
            variant_rows = []
            for r in results[m]:
                r.setdefault("p", None)
                r.setdefault("adj", None)
                r.setdefault("lift_ci", None)
                r.setdefault("diff_ci", None)
                r.setdefault("ctw", None)
                sig = (
                    r["adj"] is not None
                    and r["adj"] < alpha
                    and excludes_zero(r["lift_ci"])
                    and excludes_zero(r["diff_ci"])
                )
                reg = regression(r["lift_ci"], direction)
                any_sig, any_reg = any_sig or sig, any_reg or reg
                variant_rows.append(
                    "        {%s, %s, %s, %s, %s, %s, %s, %s, %s}"
                    % (
                        opt(r["value"]),
                        opt(r["lift"]),
                        opt(r["p"]),
                        opt(r["adj"]),
                        opt_iv(r["lift_ci"]),
                        opt_iv(r["diff_ci"]),
                        opt(r["ctw"]),
                        "true" if sig else "false",
                        "true" if reg else "false",
                    )
                )
            guardrail_regression = guardrail_regression or (role == "guardrail" and any_reg)
            metric_rows.append(
                "      {{\n%s\n       }, %s, %s}"
                % (",\n".join(variant_rows), "true" if any_sig else "false", "true" if any_reg else "false")
            )
        metric_inputs = ",\n".join(
            "      {%s, %s, %s, %s,\n       {%s}}"
            % (
                cstr(key),
                KINDS[kind],
                ROLES[role],
                DIRECTIONS[direction],
                ",\n        ".join(sums_cpp(S) for S in arms),
            )
            for key, kind, role, direction, arms in metrics
        )
        rows.append(
            "    {%s, %s, %s, %s, %s, %d,\n     {\n%s\n     },\n     {\n%s\n     },\n     %s, %d, %s}"
            % (
                cstr(label),
                "Method::Fixed" if method == "fixed" else "Method::Sequential",
                num(alpha),
                num(tuning),
                CORRECTIONS[correction],
                -1 if control is None else control,
                metric_inputs,
                ",\n".join(metric_rows),
                CORRECTIONS[applied],
                len(family),
                "true" if guardrail_regression else "false",
            )
        )
    return rows


# Looks of one sequential experiment on revenue per user (mean): cumulative sums after these many users.
METRIC_LOOKS_ALPHA, METRIC_LOOKS_TUNING = 0.05, 5000
METRIC_LOOKS_USERS = [0, 1, 50, 200, 1000, 3000, 8000, 16000, 30000]


def metric_looks() -> list[str]:
    control = shop_users(METRIC_LOOKS_USERS[-1], 41)
    treated = shop_users(METRIC_LOOKS_USERS[-1], 42, buy_rate=0.108, mu=3.06)
    rows = []
    running = None
    for n in METRIC_LOOKS_USERS:
        A, B = metric_sums("revenue", control[:n]), metric_sums("revenue", treated[:n])
        p = m_seq_p("mean", A, B, METRIC_LOOKS_ALPHA, METRIC_LOOKS_TUNING)
        if p is not None:
            running = p if running is None else min(running, p)
        rows.append("    {%s, %s, %s, %s}" % (sums_cpp(A), sums_cpp(B), opt(p), opt(running)))
    return rows


# ------------------------------------------------------------------------------------------------------
# CUPED (issue 15): metrics regression adjusted on a pre-exposure covariate c, gbstats
# RegressionAdjustedStatistic with theta from compute_theta (control and one treatment pooled; BaseABTest
# sets it on both statistics, in place, so every test below builds fresh statistics).
#
# Sums of an arm: (n, Σx, Σx², Σy, Σy², Σxy, Σc, Σc², Σxc) — the metric's six, then the covariate's three.


def sums9_of(rows):
    """(n, Σx, Σx², Σy, Σy², Σxy, Σc, Σc², Σxc) of [(x, y, c)], accumulated left to right."""
    n, sx, sxx, sy, syy, sxy, sc, scc, sxc = 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    for x, y, c in rows:
        n += 1
        sx += x
        sxx += x * x
        sy += y
        syy += y * y
        sxy += x * y
        sc += c
        scc += c * c
        sxc += x * c
    return (n, sx, sxx, sy, syy, sxy, sc, scc, sxc)


def covariate_users(n, seed, rho=0.7, effect=0.0, missing=0.0, mean=50.0, sd=10.0):
    """(x, c): c = mean + sd z1 (0 for a `missing` share: users without a covariate), x = mean + effect +
    sd (rho z1 + sqrt(1 - rho²) z2); both rounded to cents. corr(x, c) = rho before the missing ones."""
    d = Draw(seed)
    out = []
    for _ in range(n):
        z1, z2 = d.normal(), d.normal()
        c = round(mean + sd * z1, 2)
        x = round(mean + effect + sd * (rho * z1 + math.sqrt(1.0 - rho * rho) * z2), 2)
        if missing and d.u() < missing:
            c = 0.0
        out.append((x, c))
    return out


def covariate_converters(n, seed, lift=0.0, missing=0.0):
    """(converted 0/1, sessions before exposure): both driven by an engagement z1."""
    d = Draw(seed)
    out = []
    for _ in range(n):
        z1, z2 = d.normal(), d.normal()
        sessions = float(d.poisson(math.exp(0.7 + 0.5 * z1)))
        converted = 1.0 if 0.7 * z1 + 0.71 * z2 > 1.25 - lift else 0.0
        if missing and d.u() < missing:
            sessions = 0.0
        out.append((converted, sessions))
    return out


def cov_sums(pairs, covariate=True):
    return sums9_of((x, 0.0, c if covariate else 0.0) for x, c in pairs)


def cuped_shop_users(n, seed, buy=0.0, spend=0.0, latency=5.3, missing=0.15):
    """Shop users with a history: (converted, revenue, orders, latency, sessions before, revenue before,
    latency before). Engagement z1 drives buying, spending, sessions and past revenue; a device factor
    z3 drives latency now and before. A `missing` share are new users: no past revenue (0)."""
    d = Draw(seed)
    out = []
    for _ in range(n):
        z1, z2, z3 = d.normal(), d.normal(), d.normal()
        sessions = float(d.poisson(math.exp(0.7 + 0.5 * z1)))
        converted = 1 if 0.7 * z1 + 0.71 * z2 > 1.2 - buy else 0
        orders = 1 + d.poisson(0.5) if converted else 0
        revenue = round(sum(d.lognormal(3.0 + spend + 0.3 * z1, 0.6) for _ in range(orders)), 2)
        past = 0.0 if d.u() < missing else round(max(0.0, 60.0 + 25.0 * z1 + 15.0 * d.normal()), 2)
        lat = float(round(math.exp(latency + 0.4 * z3 + 0.2 * d.normal())))
        lat_before = float(round(math.exp(5.3 + 0.4 * z3 + 0.2 * d.normal())))
        out.append((converted, revenue, orders, lat, sessions, past, lat_before))
    return out


def cuped_metric_sums(key, users, cap=None, covariate=True):
    """Sums of one metric with its covariate: conversion ~ sessions before, revenue (capped) ~ revenue
    before, aov (revenue / orders) ~ revenue before, latency ~ latency before. covariate=False: all c = 0."""
    k = 1.0 if covariate else 0.0
    if key == "conversion":
        return sums9_of((float(u[0]), 0.0, k * u[4]) for u in users)
    if key == "revenue":
        return sums9_of(((u[1] if cap is None else min(u[1], cap)), 0.0, k * u[5]) for u in users)
    if key == "aov":
        return sums9_of((u[1], float(u[2]), k * u[5]) for u in users)
    if key == "latency":
        return sums9_of((u[3], 0.0, k * u[6]) for u in users)
    raise ValueError(key)


def _hand9(n, sx, sxx, sc, scc, sxc):
    return (n, float(sx), float(sxx), 0.0, 0.0, 0.0, float(sc), float(scc), float(sxc))


def ra_stat(kind, S):
    n, sx, sxx, _, _, _, sc, scc, sxc = S
    post = (
        ProportionStatistic(n=n, sum=sx)
        if kind == "proportion"
        else SampleMeanStatistic(n=n, sum=sx, sum_squares=sxx)
    )
    return RegressionAdjustedStatistic(
        n=n,
        post_statistic=post,
        pre_statistic=SampleMeanStatistic(n=n, sum=sc, sum_squares=scc),
        post_pre_sum_of_products=sxc,
        theta=0,
    )


def c_theta(kind, A, B):
    theta = float(compute_theta(ra_stat(kind, A), ra_stat(kind, B)))
    assert math.isfinite(theta)
    return theta


def c_test(kind, A, B, cls, cfg):
    return cls(ra_stat(kind, A), ra_stat(kind, B), cfg)


def c_fixed(kind, A, B, alpha, diff):
    return c_test(kind, A, B, TwoSidedTTest, FrequentistConfig(alpha=alpha, difference_type=diff))


def c_fixed_ci(kind, A, B, alpha, diff):
    return _ci(c_fixed(kind, A, B, alpha, diff).compute_result())


def c_fixed_p(kind, A, B):
    """TwoSidedTTest relative p on the adjusted statistics, as its upper tail (module docstring)."""
    test = c_fixed(kind, A, B, 0.05, "relative")
    r = test.compute_result()
    if r.error_message is not None:
        return None
    exact = float(2.0 * scipy.stats.t.sf(abs(test.critical_value), test.dof))
    assert abs(exact - float(r.p_value)) <= 1e-14, (exact, r.p_value)
    return exact


def c_seq(kind, A, B, alpha, tuning, diff):
    cfg = SequentialConfig(alpha=alpha, sequential_tuning_parameter=tuning, difference_type=diff)
    return c_test(kind, A, B, SequentialTwoSidedTTest, cfg).compute_result()


def c_seq_ci(kind, A, B, alpha, tuning, diff):
    return _ci(c_seq(kind, A, B, alpha, tuning, diff))


def c_seq_p(kind, A, B, alpha, tuning):
    r = c_seq(kind, A, B, alpha, tuning, "relative")
    return None if r.error_message is not None else float(r.p_value)


def c_ctw(kind, A, B, inverse):
    cfg = EffectBayesianConfig(
        prior_effect=GaussianPrior(proper=False), difference_type="relative", inverse=inverse
    )
    r = EffectBayesianABTest(ra_stat(kind, A), ra_stat(kind, B), cfg).compute_result()
    if r.error_message is not None:
        return None
    if not inverse:
        return float(r.chance_to_win)
    exact = float(scipy.stats.norm.cdf(0.0, r.uplift.mean, r.uplift.stddev))
    assert abs(exact - float(r.chance_to_win)) <= 1e-14, (exact, r.chance_to_win)
    return exact


def c_lift(kind, A, B):
    """The relative lift shown when theta != 0: gbstats TTest.point_estimate, defined when both arms have
    users and the control value is not 0."""
    if A[0] <= 0 or B[0] <= 0 or m_value(kind, A[:6]) in (None, 0.0):
        return None
    test = c_fixed(kind, A, B, 0.05, "relative")
    lift = float(test.point_estimate)
    r = test.compute_result()
    if r.error_message is None:
        assert lift == float(r.expected)
    return lift


def c_variance_reduction(kind, A, B):
    """1 - V(theta) / V(0) of the relative lift (metric_stats.hpp), from gbstats' own TTest.variance."""
    if c_theta(kind, A, B) == 0:
        return 0.0
    adjusted = c_fixed(kind, A, B, 0.05, "relative")
    unadjusted = TwoSidedTTest(metric_stat(kind, A[:6]), metric_stat(kind, B[:6]), FrequentistConfig())
    if (
        adjusted.compute_result().error_message is not None
        or unadjusted.compute_result().error_message is not None
    ):
        return None
    return float(1.0 - adjusted.variance / unadjusted.variance)


def c_adjusted_stats(kind, A, B):
    """The statistics the tests use (theta set, or the unadjusted ones when theta is 0)."""
    test = c_fixed(kind, A, B, 0.05, "relative")
    return test.stat_a, test.stat_b


def cuped_expected(kind, method, alpha, tuning, direction, A, B):
    """One treatment of a CUPED metric as analyze_metrics reports it."""
    theta = c_theta(kind, A, B)
    if theta == 0:
        # The unadjusted analysis; gbstats' own RA tests revert to it (checked on the intervals).
        r = _metric_variant(kind, method, alpha, tuning, direction, A[:6], B[:6])
        for diff in ("relative", "absolute"):
            assert c_fixed_ci(kind, A, B, alpha, diff) == m_fixed_ci(kind, A[:6], B[:6], alpha, diff)
            assert c_seq_ci(kind, A, B, alpha, tuning, diff) == m_seq_ci(
                kind, A[:6], B[:6], alpha, tuning, diff
            )
        for inverse in (False, True):
            assert c_ctw(kind, A, B, inverse) == m_ctw(kind, A[:6], B[:6], inverse)
        r["cuped"] = (0.0, 0.0)
        return r
    r = {"value": m_value(kind, B[:6]), "lift": c_lift(kind, A, B)}
    if method == "fixed":
        r["p"] = c_fixed_p(kind, A, B)
        r["lift_ci"] = c_fixed_ci(kind, A, B, alpha, "relative")
        r["diff_ci"] = c_fixed_ci(kind, A, B, alpha, "absolute")
    else:
        r["p"] = c_seq_p(kind, A, B, alpha, tuning)
        r["lift_ci"] = c_seq_ci(kind, A, B, alpha, tuning, "relative")
        r["diff_ci"] = c_seq_ci(kind, A, B, alpha, tuning, "absolute")
    if r["p"] is not None:
        assert (r["p"] < alpha) == excludes_zero(r["lift_ci"])
    r["ctw"] = c_ctw(kind, A, B, direction == "decrease")
    r["cuped"] = (theta, c_variance_reduction(kind, A, B))
    return r


def sums9_cpp(S) -> str:
    n, *rest = S
    return "{%d, %s}" % (n, ", ".join(num(x) for x in rest))


def cuped_cpp(c) -> str:
    return "{false, 0.0, {false, 0.0}}" if c is None else "{true, %s, %s}" % (num(c[0]), opt(c[1]))


def _cuped_comparisons():
    """(label, kind, alpha, tuning, control sums, variant sums)"""
    conv_a = covariate_converters(6000, 131)
    conv_b = covariate_converters(6000, 132, lift=0.08)
    return [
        (
            "revenue, covariate correlated 0.7",
            "mean",
            0.05,
            5000,
            cov_sums(covariate_users(4000, 101)),
            cov_sums(covariate_users(4000, 102, effect=0.8)),
        ),
        (
            "revenue, correlated 0.7, unequal arms, alpha 0.01, N* 1000",
            "mean",
            0.01,
            1000,
            cov_sums(covariate_users(4000, 103)),
            cov_sums(covariate_users(1500, 104, effect=1.0)),
        ),
        (
            "revenue, correlated 0.7, 30000 per arm, alpha 0.1, N* 20000",
            "mean",
            0.1,
            20000,
            cov_sums(covariate_users(30000, 105)),
            cov_sums(covariate_users(30000, 106, effect=0.25)),
        ),
        (
            "revenue, correlated 0.7, a fifth of users without a covariate",
            "mean",
            0.05,
            5000,
            cov_sums(covariate_users(4000, 107, missing=0.2)),
            cov_sums(covariate_users(4000, 108, effect=0.8, missing=0.2)),
        ),
        (
            "revenue, covariate correlated -0.6 (theta < 0)",
            "mean",
            0.05,
            5000,
            cov_sums(covariate_users(4000, 109, rho=-0.6)),
            cov_sums(covariate_users(4000, 110, rho=-0.6, effect=0.8)),
        ),
        (
            "revenue, uncorrelated covariate",
            "mean",
            0.05,
            5000,
            cov_sums(covariate_users(4000, 111, rho=0.0)),
            cov_sums(covariate_users(4000, 112, rho=0.0, effect=0.8)),
        ),
        (
            "signed profit, negative control mean, correlated 0.5",
            "mean",
            0.1,
            2000,
            cov_sums(covariate_users(3000, 113, rho=0.5, mean=-2.0, sd=3.0)),
            cov_sums(covariate_users(3000, 114, rho=0.5, mean=-2.0, sd=3.0, effect=0.3)),
        ),
        (
            "conversion with sessions before exposure",
            "proportion",
            0.05,
            5000,
            cov_sums(conv_a),
            cov_sums(conv_b),
        ),
        (
            "conversion with sessions before, alpha 0.01, N* 1000",
            "proportion",
            0.01,
            1000,
            cov_sums(conv_a),
            cov_sums(conv_b),
        ),
        (
            "conversion, a third of users without a covariate",
            "proportion",
            0.05,
            5000,
            cov_sums(covariate_converters(6000, 133, missing=0.33)),
            cov_sums(covariate_converters(6000, 134, lift=0.08, missing=0.33)),
        ),
        # No information in the covariate: theta 0, the unadjusted analysis.
        (
            "revenue, zero covariate",
            "mean",
            0.05,
            5000,
            cov_sums(covariate_users(4000, 101), covariate=False),
            cov_sums(covariate_users(4000, 102, effect=0.8), covariate=False),
        ),
        (
            "revenue, zero covariate, alpha 0.01, N* 1000",
            "mean",
            0.01,
            1000,
            cov_sums(covariate_users(4000, 103), covariate=False),
            cov_sums(covariate_users(1500, 104, effect=1.0), covariate=False),
        ),
        (
            "conversion, zero covariate",
            "proportion",
            0.05,
            5000,
            cov_sums(conv_a, False),
            cov_sums(conv_b, False),
        ),
        (
            "revenue, constant covariate",
            "mean",
            0.05,
            5000,
            cov_sums((x, 7.0) for x, _ in covariate_users(2000, 115)),
            cov_sums((x, 7.0) for x, _ in covariate_users(2000, 116, effect=0.8)),
        ),
        (
            "conversion, constant metric",
            "proportion",
            0.05,
            5000,
            _hand9(10, 10, 10, 5, 5, 5),
            _hand9(10, 10, 10, 7, 9, 7),
        ),
        # Undefined tests with a theta.
        ("mean, two users per arm", "mean", 0.05, 5000, _hand9(2, 3, 5, 4, 10, 7), _hand9(2, 5, 13, 3, 5, 8)),
        ("mean, one user per arm", "mean", 0.05, 5000, _hand9(1, 3, 9, 2, 4, 6), _hand9(1, 4, 16, 5, 25, 20)),
        ("mean, empty treatment", "mean", 0.05, 5000, _hand9(4, 10, 30, 6, 14, 18), _hand9(0, 0, 0, 0, 0, 0)),
        (
            "conversion, no control conversions",
            "proportion",
            0.05,
            5000,
            _hand9(50, 0, 0, 40, 60, 0),
            _hand9(50, 5, 5, 45, 75, 12),
        ),
        ("mean, zero control mean", "mean", 0.05, 5000, _hand9(4, 0, 10, 4, 6, 3), _hand9(4, 2, 10, 5, 9, 6)),
    ]


def cuped_comparisons() -> list[str]:
    rows = []
    for label, kind, alpha, tuning, A, B in _cuped_comparisons():
        theta = c_theta(kind, A, B)
        sa, sb = c_adjusted_stats(kind, A, B)
        adjusted = theta != 0
        # What the tests run on: RA statistics with theta, or the plain ones (gbstats reverts).
        assert adjusted == isinstance(sa, RegressionAdjustedStatistic), label
        fixed = cuped_expected(kind, "fixed", alpha, tuning, "increase", A, B)
        seq = cuped_expected(kind, "sequential", alpha, tuning, "increase", A, B)
        inverse = cuped_expected(kind, "fixed", alpha, tuning, "decrease", A, B)
        t_p = c_fixed_p(kind, A, B) if adjusted else m_fixed_p(kind, A[:6], B[:6])
        rows.append(
            "    {%s, %s, %s, %s,\n     %s,\n     %s,\n     %s, %s, %s, %s, %s,\n     %s, %s, %s, %s,\n"
            "     %s, %s, %s,\n     %s, %s, %s, %s}"
            % (
                cstr(label),
                KINDS[kind],
                num(alpha),
                num(tuning),
                sums9_cpp(A),
                sums9_cpp(B),
                num(theta),
                num(sa.mean),
                num(sa.variance),
                num(sb.mean),
                num(sb.variance),
                opt(t_p),
                opt(fixed["p"]),
                opt_iv(fixed["lift_ci"]),
                opt_iv(fixed["diff_ci"]),
                opt(seq["p"]),
                opt_iv(seq["lift_ci"]),
                opt_iv(seq["diff_ci"]),
                opt(fixed["ctw"]),
                opt(inverse["ctw"]),
                opt(fixed["lift"]),
                opt(fixed["cuped"][1]),
            )
        )
    return rows


def _cuped_shop(arms, roles=None, cuped=None, cap=None, covariate=True):
    """(key, kind, role, direction, cuped, [sums per arm])"""
    roles = roles or {
        "conversion": "primary",
        "revenue": "secondary",
        "aov": "secondary",
        "latency": "guardrail",
    }
    cuped = cuped or {"conversion": True, "revenue": True, "aov": True, "latency": True}
    kinds = {"conversion": "proportion", "revenue": "mean", "aov": "ratio", "latency": "mean"}
    directions = {"conversion": "increase", "revenue": "increase", "aov": "increase", "latency": "decrease"}
    return [
        (
            key,
            kinds[key],
            roles[key],
            directions[key],
            cuped[key],
            [cuped_metric_sums(key, users, cap if key == "revenue" else None, covariate) for users in arms],
        )
        for key in roles
    ]


def _cuped_analyses():
    """(label, method, alpha, tuning, correction, control index or None, metrics)"""
    control = cuped_shop_users(5000, 141)
    winner = cuped_shop_users(5000, 142, buy=0.06, spend=0.04)
    slow = cuped_shop_users(5000, 143, latency=5.36, spend=-0.03)
    three = [control, winner, slow]
    shop = _cuped_shop(three)
    return [
        ("cuped shop, fixed, holm", "fixed", 0.05, 5000, "holm", 0, shop),
        ("cuped shop, fixed, benjamini-hochberg, alpha 0.01", "fixed", 0.01, 5000, "bh", 0, shop),
        ("cuped shop, sequential, holm", "sequential", 0.05, 5000, "holm", 0, shop),
        (
            "cuped shop, sequential, benjamini-hochberg, alpha 0.1, N* 20000",
            "sequential",
            0.1,
            20000,
            "bh",
            0,
            shop,
        ),
        (
            "cuped and plain metrics side by side, fixed, no correction",
            "fixed",
            0.05,
            5000,
            "none",
            0,
            _cuped_shop(three, cuped={"conversion": True, "revenue": False, "aov": True, "latency": False}),
        ),
        (
            "control second, capped revenue, sequential",
            "sequential",
            0.05,
            5000,
            "holm",
            1,
            _cuped_shop([winner, control, slow], cap=150.0),
        ),
        (
            "zero covariates: the unadjusted analysis, fixed",
            "fixed",
            0.05,
            5000,
            "holm",
            0,
            _cuped_shop(three, covariate=False),
        ),
        (
            "zero covariates: the unadjusted analysis, sequential",
            "sequential",
            0.05,
            5000,
            "bh",
            0,
            _cuped_shop(three, covariate=False),
        ),
        ("no control", "fixed", 0.05, 5000, "holm", None, _cuped_shop([control, winner])),
    ]


def cuped_analyses() -> list[str]:
    rows = []
    for label, method, alpha, tuning, correction, control, metrics in _cuped_analyses():
        results = []
        family = []
        for m, (_key, kind, role, direction, cuped, arms) in enumerate(metrics):
            applies = cuped and kind != "ratio"
            per = []
            for i, S in enumerate(arms):
                if control is None or control >= len(arms):
                    r = {"value": m_value(kind, S[:6]), "lift": None}
                elif i == control:
                    r = {"value": m_value(kind, S[:6]), "lift": 0.0}
                else:
                    if applies:
                        r = cuped_expected(kind, method, alpha, tuning, direction, arms[control], S)
                    else:
                        r = _metric_variant(kind, method, alpha, tuning, direction, arms[control][:6], S[:6])
                    if role == "guardrail":
                        r["adj"] = r["p"]
                    else:
                        family.append((m, i))
                per.append(r)
            results.append(per)
        adjusted, applied = corrected([results[m][i]["p"] for m, i in family], correction)
        for (m, i), a in zip(family, adjusted):
            results[m][i]["adj"] = a
        guardrail_regression = False
        metric_rows = []
        for m, (_key, kind, role, direction, cuped, _arms) in enumerate(metrics):
            any_sig = any_reg = False
            variant_rows = []
            for r in results[m]:
                for k in ("p", "adj", "lift_ci", "diff_ci", "ctw", "cuped"):
                    r.setdefault(k, None)
                sig = (
                    r["adj"] is not None
                    and r["adj"] < alpha
                    and excludes_zero(r["lift_ci"])
                    and excludes_zero(r["diff_ci"])
                )
                reg = regression(r["lift_ci"], direction)
                any_sig, any_reg = any_sig or sig, any_reg or reg
                variant_rows.append(
                    "        {%s, %s, %s, %s, %s, %s, %s, %s, %s, %s}"
                    % (
                        opt(r["value"]),
                        opt(r["lift"]),
                        opt(r["p"]),
                        opt(r["adj"]),
                        opt_iv(r["lift_ci"]),
                        opt_iv(r["diff_ci"]),
                        opt(r["ctw"]),
                        "true" if sig else "false",
                        "true" if reg else "false",
                        cuped_cpp(r["cuped"]),
                    )
                )
            guardrail_regression = guardrail_regression or (role == "guardrail" and any_reg)
            metric_rows.append(
                "      {%s, {\n%s\n       }, %s, %s}"
                % (
                    "true" if cuped and kind != "ratio" else "false",
                    ",\n".join(variant_rows),
                    "true" if any_sig else "false",
                    "true" if any_reg else "false",
                )
            )
        metric_inputs = ",\n".join(
            "      {%s, %s, %s, %s, %s,\n       {%s}}"
            % (
                cstr(key),
                KINDS[kind],
                ROLES[role],
                DIRECTIONS[direction],
                "true" if cuped else "false",
                ",\n        ".join(sums9_cpp(S) for S in arms),
            )
            for key, kind, role, direction, cuped, arms in metrics
        )
        rows.append(
            "    {%s, %s, %s, %s, %s, %d,\n     {\n%s\n     },\n     {\n%s\n     },\n     %s, %d, %s}"
            % (
                cstr(label),
                "Method::Fixed" if method == "fixed" else "Method::Sequential",
                num(alpha),
                num(tuning),
                CORRECTIONS[correction],
                -1 if control is None else control,
                metric_inputs,
                ",\n".join(metric_rows),
                CORRECTIONS[applied],
                len(family),
                "true" if guardrail_regression else "false",
            )
        )
    return rows


# Looks of one sequential experiment on a CUPED mean: cumulative sums after these many users.
CUPED_LOOKS_ALPHA, CUPED_LOOKS_TUNING = 0.05, 5000
CUPED_LOOKS_USERS = [0, 1, 2, 50, 200, 1000, 3000, 8000, 16000, 30000]


def cuped_looks() -> list[str]:
    control = covariate_users(CUPED_LOOKS_USERS[-1], 151)
    treated = covariate_users(CUPED_LOOKS_USERS[-1], 152, effect=0.3)
    rows = []
    running = None
    for n in CUPED_LOOKS_USERS:
        A, B = cov_sums(control[:n]), cov_sums(treated[:n])
        theta = c_theta("mean", A, B)
        p = (
            c_seq_p("mean", A, B, CUPED_LOOKS_ALPHA, CUPED_LOOKS_TUNING)
            if theta != 0
            else m_seq_p("mean", A[:6], B[:6], CUPED_LOOKS_ALPHA, CUPED_LOOKS_TUNING)
        )
        if p is not None:
            running = p if running is None else min(running, p)
        rows.append(
            "    {%s, %s, %s, %s, %s}" % (sums9_cpp(A), sums9_cpp(B), num(theta), opt(p), opt(running))
        )
    return rows


def render_cuped() -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        body = {
            "kGoldenCupedComparisons": ("GoldenCupedComparison", cuped_comparisons()),
            "kGoldenCupedAnalyses": ("GoldenCupedAnalysis", cuped_analyses()),
            "kGoldenCupedLooks": ("GoldenCupedLook", cuped_looks()),
        }
    out = [
        "// GENERATED by cpp/tests/golden/make_stats_golden.py — do not edit by hand; rerun the script.",
        oracle_stamp(),
        "// Included by test_cuped.cpp after the Golden* struct definitions.",
        "// Sums are {n, sum, sum_squares, denominator_sum, denominator_sum_squares, sum_of_products,",
        "//           covariate_sum, covariate_sum_squares, covariate_products}.",
        f"// CUPED looks use alpha = {CUPED_LOOKS_ALPHA}, N* = {CUPED_LOOKS_TUNING}.",
        "",
    ]
    for name, (type_name, rows) in body.items():
        out.append(f"static const std::vector<{type_name}> {name} = {{")
        out.append(",\n".join(rows))
        out.append("};")
        out.append("")
    return "\n".join(out)


def render_metrics() -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        body = {
            "kGoldenMetricComparisons": ("GoldenMetricComparison", metric_comparisons()),
            "kGoldenMetricAnalyses": ("GoldenMetricAnalysis", metric_analyses()),
            "kGoldenMetricLooks": ("GoldenMetricLook", metric_looks()),
        }
    out = [
        "// GENERATED by cpp/tests/golden/make_stats_golden.py — do not edit by hand; rerun the script.",
        oracle_stamp(),
        "// Included by test_metric_stats.cpp after the Golden* struct definitions.",
        "// Sums are {n, sum, sum_squares, denominator_sum, denominator_sum_squares, sum_of_products}.",
        f"// Metric looks use alpha = {METRIC_LOOKS_ALPHA}, N* = {METRIC_LOOKS_TUNING}.",
        "",
    ]
    for name, (type_name, rows) in body.items():
        out.append(f"static const std::vector<{type_name}> {name} = {{")
        out.append(",\n".join(rows))
        out.append("};")
        out.append("")
    return "\n".join(out)


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
            "kGoldenSrmSequential": srm_sequential_rows(),
        }
    types = {
        "kGoldenComparisons": "GoldenComparison",
        "kGoldenAnalyses": "GoldenAnalysis",
        "kGoldenLooks": "GoldenLook",
        "kGoldenHolm": "GoldenHolm",
        "kGoldenBh": "GoldenBh",
        "kGoldenSrm": "GoldenSrm",
        "kGoldenSrmSequential": "GoldenSrmSequential",
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
    outputs = {OUT: render(), METRIC_OUT: render_metrics(), CUPED_OUT: render_cuped()}
    if "--check" in sys.argv[1:]:
        stale = [
            path
            for path, text in outputs.items()
            if not same_golden(path.read_text() if path.exists() else "", text)
        ]
        for path in stale:
            print(f"{path} is out of date; rerun {Path(__file__).name}", file=sys.stderr)
        return 1 if stale else 0
    for path, text in outputs.items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
