// Reference values: scipy.stats.norm.sf for normal_sf, and the pooled two-proportion z-test evaluated
// with mpmath at 50 digits (erfc(|z|/sqrt 2)) for p-values. The extended analysis (second half) is
// checked against golden values generated from gbstats / statsmodels / scipy (see golden/).
#include "expstream/stats.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "golden/golden_support.hpp"

using namespace expstream;

namespace {

void expect_rel(double actual, double expected, double tol = 1e-9) {
    EXPECT_NEAR(actual, expected, std::fabs(expected) * tol) << "expected " << expected;
}

void expect_p(const std::optional<double>& p, double expected, double tol = 1e-9) {
    ASSERT_TRUE(p.has_value());
    expect_rel(*p, expected, tol);
}

VariantCounts vc(const char* key, bool control, std::int64_t n, std::int64_t c) {
    VariantCounts v;
    v.key = key;
    v.name = std::string("Variant ") + key;
    v.is_control = control;
    v.participants = n;
    v.conversions = c;
    return v;
}

}  // namespace

TEST(NormalSf, MatchesScipyAcrossTheRange) {
    expect_rel(normal_sf(0.0), 0.5);
    expect_rel(normal_sf(1.0), 0.15865525393145707);
    expect_rel(normal_sf(1.96), 0.024997895148220435);
    expect_rel(normal_sf(3.0), 0.0013498980316300933);
    expect_rel(normal_sf(-2.0), 0.9772498680518208);
}

TEST(NormalSf, KeepsRelativePrecisionInTheFarTail) {
    // 1 - cdf would give exactly 0 here.
    expect_rel(normal_sf(10.0), 7.61985302416047e-24);
    expect_rel(normal_sf(30.0), 4.906713927147908e-198);
}

TEST(ConversionRate, DividesConversionsByParticipants) {
    EXPECT_DOUBLE_EQ(conversion_rate(500, 50), 0.1);
    EXPECT_DOUBLE_EQ(conversion_rate(3, 3), 1.0);
}

TEST(ConversionRate, IsZeroWithoutParticipants) {
    EXPECT_EQ(conversion_rate(0, 0), 0.0);
    EXPECT_EQ(conversion_rate(0, 5), 0.0);
}

TEST(TwoProportionPValue, MatchesReferenceForSmallExperiment) {
    expect_p(two_proportion_p_value(500, 50, 500, 65), 0.13705122503762361);
}

TEST(TwoProportionPValue, IsSymmetricInTheArms) {
    auto a = two_proportion_p_value(500, 50, 500, 65);
    auto b = two_proportion_p_value(500, 65, 500, 50);
    ASSERT_TRUE(a && b);
    EXPECT_DOUBLE_EQ(*a, *b);
}

TEST(TwoProportionPValue, HandlesUnequalArms) {
    expect_p(two_proportion_p_value(1000, 100, 250, 40), 0.0071321515191544500);
    expect_p(two_proportion_p_value(200, 30, 1000, 100), 0.037812346479575037);
    expect_p(two_proportion_p_value(100, 1, 100000, 2000), 0.47516313855509013);
}

TEST(TwoProportionPValue, IsOneForIdenticalRates) {
    expect_p(two_proportion_p_value(1000, 100, 1000, 100), 1.0);
}

TEST(TwoProportionPValue, IsUndefinedWhenAnArmIsEmpty) {
    EXPECT_FALSE(two_proportion_p_value(0, 0, 500, 50).has_value());
    EXPECT_FALSE(two_proportion_p_value(500, 50, 0, 0).has_value());
    EXPECT_FALSE(two_proportion_p_value(0, 0, 0, 0).has_value());
}

TEST(TwoProportionPValue, IsUndefinedWhenPooledRateIsZeroOrOne) {
    EXPECT_FALSE(two_proportion_p_value(100, 0, 200, 0).has_value());
    EXPECT_FALSE(two_proportion_p_value(100, 100, 50, 50).has_value());
}

TEST(TwoProportionPValue, IsDefinedWhenOnlyOneArmHasNoConversions) {
    expect_p(two_proportion_p_value(100, 0, 100, 5), 0.023540058261177951);
}

TEST(TwoProportionPValue, IsAccurateForABillionParticipantsPerArm) {
    expect_p(two_proportion_p_value(1000000000, 100000000, 1000000000, 100010000), 0.45606655037361102);
    expect_p(two_proportion_p_value(1000000000, 100000000, 1000000000, 100100000), 9.2002502033984307e-14);
}

TEST(TwoProportionPValue, DoesNotOverflowNearInt64Limits) {
    // n1 + n2 overflows int64; the arithmetic must happen in double.
    const std::int64_t n = 4000000000000000000;
    expect_p(two_proportion_p_value(n, 1000000000000000000, n, 1000000001000000000), 0.41421617832032489, 1e-6);
}

TEST(TwoProportionPValue, StaysInUnitIntervalForEnormousEffects) {
    auto p = two_proportion_p_value(1000000000, 100000000, 1000000000, 200000000);
    ASSERT_TRUE(p.has_value());
    EXPECT_GE(*p, 0.0);
    EXPECT_LT(*p, 1e-300);
}

TEST(Analyze, ComputesRateLiftAndPValueAgainstControl) {
    Analysis a = analyze({vc("control", true, 500, 50), vc("b", false, 500, 65)}, 0.05);
    ASSERT_EQ(a.variants.size(), 2u);
    const auto& c = a.variants[0];
    const auto& b = a.variants[1];
    EXPECT_EQ(c.key, "control");
    EXPECT_EQ(c.name, "Variant control");
    EXPECT_TRUE(c.is_control);
    EXPECT_EQ(c.participants, 500);
    EXPECT_EQ(c.conversions, 50);
    EXPECT_DOUBLE_EQ(c.conversion_rate, 0.1);
    ASSERT_TRUE(c.relative_lift.has_value());
    EXPECT_EQ(*c.relative_lift, 0.0);
    EXPECT_FALSE(c.p_value.has_value());

    EXPECT_FALSE(b.is_control);
    EXPECT_DOUBLE_EQ(b.conversion_rate, 0.13);
    ASSERT_TRUE(b.relative_lift.has_value());
    expect_rel(*b.relative_lift, 0.3);
    expect_p(b.p_value, 0.13705122503762361);

    EXPECT_EQ(a.total_participants, 1000);
    EXPECT_FALSE(a.is_significant);
}

TEST(Analyze, SignificanceComparesPValueWithAlpha) {
    std::vector<VariantCounts> v{vc("control", true, 500, 50), vc("b", false, 500, 65)};
    EXPECT_FALSE(analyze(v, 0.05).is_significant);
    EXPECT_TRUE(analyze(v, 0.2).is_significant);
    EXPECT_TRUE(analyze({vc("control", true, 500, 50), vc("b", false, 500, 80)}, 0.05).is_significant);
}

TEST(Analyze, LiftIsNullWhenControlRateIsZero) {
    Analysis a = analyze({vc("control", true, 100, 0), vc("b", false, 100, 5)}, 0.05);
    ASSERT_EQ(a.variants.size(), 2u);
    EXPECT_FALSE(a.variants[1].relative_lift.has_value());
    expect_p(a.variants[1].p_value, 0.023540058261177951);
    EXPECT_TRUE(a.is_significant);
}

TEST(Analyze, ZeroParticipantsGiveZeroRatesAndNoPValues) {
    Analysis a = analyze({vc("control", true, 0, 0), vc("b", false, 0, 0)}, 0.05);
    ASSERT_EQ(a.variants.size(), 2u);
    EXPECT_EQ(a.variants[0].conversion_rate, 0.0);
    EXPECT_EQ(a.variants[1].conversion_rate, 0.0);
    EXPECT_FALSE(a.variants[1].relative_lift.has_value());
    EXPECT_FALSE(a.variants[1].p_value.has_value());
    EXPECT_EQ(a.total_participants, 0);
    EXPECT_FALSE(a.is_significant);
}

TEST(Analyze, PooledRateOfOneGivesNoPValue) {
    Analysis a = analyze({vc("control", true, 10, 10), vc("b", false, 20, 20)}, 0.05);
    ASSERT_EQ(a.variants.size(), 2u);
    ASSERT_TRUE(a.variants[1].relative_lift.has_value());
    EXPECT_EQ(*a.variants[1].relative_lift, 0.0);
    EXPECT_FALSE(a.variants[1].p_value.has_value());
    EXPECT_FALSE(a.is_significant);
}

TEST(Analyze, ComparesEveryVariantWithTheSameControl) {
    Analysis a = analyze(
        {vc("control", true, 1000, 100), vc("b", false, 1000, 140), vc("c", false, 500, 60), vc("d", false, 1000, 70)},
        0.01);
    ASSERT_EQ(a.variants.size(), 4u);
    expect_rel(*a.variants[1].relative_lift, 0.4);
    expect_p(a.variants[1].p_value, 0.0059158510742380166);
    expect_rel(*a.variants[2].relative_lift, 0.2);
    expect_p(a.variants[2].p_value, 0.23684856028158178);
    expect_rel(*a.variants[3].relative_lift, -0.3);
    expect_p(a.variants[3].p_value, 0.016155032073740407);
    EXPECT_EQ(a.total_participants, 3500);
    EXPECT_TRUE(a.is_significant);  // only b is below 0.01
    EXPECT_FALSE(analyze({vc("control", true, 1000, 100), vc("d", false, 1000, 70)}, 0.01).is_significant);
}

TEST(Analyze, WithoutControlThereAreNoLiftsOrPValues) {
    Analysis a = analyze({vc("a", false, 500, 50), vc("b", false, 500, 80)}, 0.05);
    ASSERT_EQ(a.variants.size(), 2u);
    for (const auto& v : a.variants) {
        EXPECT_FALSE(v.relative_lift.has_value());
        EXPECT_FALSE(v.p_value.has_value());
    }
    EXPECT_DOUBLE_EQ(a.variants[1].conversion_rate, 0.16);
    EXPECT_EQ(a.total_participants, 1000);
    EXPECT_FALSE(a.is_significant);
}

TEST(Analyze, KeepsInputOrderWhenControlIsNotFirst) {
    Analysis a = analyze({vc("b", false, 500, 65), vc("control", true, 500, 50)}, 0.05);
    ASSERT_EQ(a.variants.size(), 2u);
    EXPECT_EQ(a.variants[0].key, "b");
    EXPECT_EQ(a.variants[1].key, "control");
    expect_rel(*a.variants[0].relative_lift, 0.3);
    expect_p(a.variants[0].p_value, 0.13705122503762361);
    EXPECT_FALSE(a.variants[1].p_value.has_value());
}

TEST(Analyze, UsesTheFirstControlWhenSeveralAreMarked) {
    Analysis a = analyze({vc("c1", true, 500, 50), vc("c2", true, 500, 65)}, 0.05);
    ASSERT_EQ(a.variants.size(), 2u);
    EXPECT_FALSE(a.variants[0].p_value.has_value());
    expect_rel(*a.variants[1].relative_lift, 0.3);
    expect_p(a.variants[1].p_value, 0.13705122503762361);
}

TEST(Analyze, EmptyInputGivesEmptyAnalysis) {
    Analysis a = analyze({}, 0.05);
    EXPECT_TRUE(a.variants.empty());
    EXPECT_EQ(a.total_participants, 0);
    EXPECT_FALSE(a.is_significant);
}

// =====================================================================================================
// Extended analysis: golden values from real libraries (gbstats 0.8.0, statsmodels, scipy), generated by
// cpp/tests/golden/make_stats_golden.py into cpp/tests/golden/stats_golden.inc. Tolerance: see
// golden/golden_support.hpp (1e-9 relative).

namespace {

using namespace expstream::golden;

struct GoldenComparison {
    const char* label;
    std::int64_t na, ca, nb, cb;
    double alpha, tuning;
    GOpt pooled_p;
    GIv fixed_lift, fixed_diff;
    GOpt seq_p;
    GIv seq_lift, seq_diff;
    GOpt ctw;
};
struct GoldenVariantIn {
    const char* key;
    bool control;
    std::int64_t n, c;
};
struct GoldenVariantOut {
    GOpt p, p_adj;
    GIv lift, diff;
    GOpt ctw;
    bool sig;
};
struct GoldenAnalysis {
    const char* label;
    Method method;
    double alpha, tuning;
    Correction asked;
    std::vector<GoldenVariantIn> in;
    std::vector<GoldenVariantOut> out;
    Correction correction;
    bool sig;
};
struct GoldenLook {
    std::int64_t na, ca, nb, cb;
    GOpt p, running;
};
struct GoldenHolm {
    std::vector<double> p, adj;
};
struct GoldenBh {
    std::vector<GOpt> p, adj;
};
struct GoldenSrm {
    std::vector<std::int64_t> observed;
    std::vector<double> weights;
    double p;
};
struct GoldenSrmSequential {
    std::vector<std::int64_t> observed;
    std::vector<double> weights;
    double concentration;
    double log_bf;
    double p;
};

#include "golden/stats_golden.inc"

AnalysisOptions opts(Method m, double alpha = 0.05, double tuning = 5000,
                     Correction correction = Correction::HolmBonferroni) {
    AnalysisOptions o;
    o.method = m;
    o.alpha = alpha;
    o.sequential_tuning = tuning;
    o.correction = correction;
    return o;
}

// No NaN/Inf anywhere in an analysis: the JSON writer must never see one.
void expect_all_finite(const Analysis& a) {
    for (const auto& v : a.variants) {
        EXPECT_TRUE(std::isfinite(v.conversion_rate));
        for (const auto* o : {&v.relative_lift, &v.p_value, &v.p_value_adjusted, &v.chance_to_win}) {
            if (*o) {
                EXPECT_TRUE(std::isfinite(**o)) << v.key;
            }
        }
        for (const auto* ci : {&v.lift_ci, &v.difference_ci}) {
            if (*ci) {
                EXPECT_TRUE(std::isfinite((*ci)->low) && std::isfinite((*ci)->high)) << v.key;
            }
        }
        for (const auto* p : {&v.p_value, &v.p_value_adjusted, &v.chance_to_win}) {
            if (*p) {
                EXPECT_GE(**p, 0.0);
                EXPECT_LE(**p, 1.0);
            }
        }
    }
    for (const auto& m : a.min_p_values) {
        if (m) {
            EXPECT_TRUE(std::isfinite(*m));
        }
    }
}

}  // namespace

TEST(GoldenComparisons, PooledPValueMatchesStatsmodels) {
    for (const auto& g : kGoldenComparisons) {
        expect_opt(two_proportion_p_value(g.na, g.ca, g.nb, g.cb), g.pooled_p, g.label);
    }
}

TEST(GoldenComparisons, FixedIntervalsMatchGbstatsTwoSidedTTest) {
    for (const auto& g : kGoldenComparisons) {
        expect_iv(fixed_lift_ci(g.na, g.ca, g.nb, g.cb, g.alpha), g.fixed_lift, std::string(g.label) + " lift");
        expect_iv(fixed_difference_ci(g.na, g.ca, g.nb, g.cb, g.alpha), g.fixed_diff, std::string(g.label) + " diff");
    }
}

TEST(GoldenComparisons, SequentialMatchesGbstatsSequentialTwoSidedTTest) {
    for (const auto& g : kGoldenComparisons) {
        const std::string l = g.label;
        expect_opt(sequential_p_value(g.na, g.ca, g.nb, g.cb, g.alpha, g.tuning), g.seq_p, l + " p");
        expect_iv(sequential_lift_ci(g.na, g.ca, g.nb, g.cb, g.alpha, g.tuning), g.seq_lift, l + " lift");
        expect_iv(sequential_difference_ci(g.na, g.ca, g.nb, g.cb, g.alpha, g.tuning), g.seq_diff, l + " diff");
    }
}

TEST(GoldenComparisons, SequentialPValueAndConfidenceSequenceAgree) {
    // p < alpha <=> the lift CS at the same alpha excludes 0 (same statistic, see stats.hpp).
    for (const auto& g : kGoldenComparisons) {
        auto p = sequential_p_value(g.na, g.ca, g.nb, g.cb, g.alpha, g.tuning);
        auto ci = sequential_lift_ci(g.na, g.ca, g.nb, g.cb, g.alpha, g.tuning);
        ASSERT_EQ(p.has_value(), ci.has_value()) << g.label;
        if (p) {
            EXPECT_EQ(*p < g.alpha, excludes_zero(ci)) << g.label;
        }
    }
}

TEST(GoldenComparisons, ChanceToWinMatchesGbstatsFlatPriorBayesian) {
    for (const auto& g : kGoldenComparisons) {
        expect_opt(chance_to_win(g.na, g.ca, g.nb, g.cb), g.ctw, g.label);
    }
}

TEST(GoldenAnalyses, MatchOraclesAndTheSignificanceRule) {
    for (const auto& g : kGoldenAnalyses) {
        std::vector<VariantCounts> in;
        for (const auto& v : g.in) in.push_back(vc(v.key, v.control, v.n, v.c));
        const Analysis a = analyze(in, opts(g.method, g.alpha, g.tuning, g.asked));
        const std::string l = g.label;
        ASSERT_EQ(a.variants.size(), g.out.size()) << l;
        EXPECT_EQ(a.correction, g.correction) << l;
        EXPECT_EQ(a.is_significant, g.sig) << l;
        ASSERT_TRUE(a.options.has_value());
        EXPECT_EQ(a.options->method, g.method);
        ASSERT_EQ(a.min_p_values.size(), a.variants.size());
        expect_all_finite(a);
        std::size_t control = g.in.size();
        for (std::size_t i = 0; i < g.in.size() && control == g.in.size(); ++i) {
            if (g.in[i].control) control = i;
        }
        for (std::size_t i = 0; i < g.out.size(); ++i) {
            const auto& r = a.variants[i];
            const auto& e = g.out[i];
            const std::string w = l + " / " + r.key;
            EXPECT_EQ(r.key, g.in[i].key) << w;
            expect_opt(r.p_value, e.p, w + " p");
            expect_opt(r.p_value_adjusted, e.p_adj, w + " p_adj");
            expect_iv(r.lift_ci, e.lift, w + " lift_ci");
            expect_iv(r.difference_ci, e.diff, w + " difference_ci");
            expect_opt(r.chance_to_win, e.ctw, w + " chance_to_win");
            EXPECT_EQ(r.is_significant, e.sig) << w;
            // The documented rule, checked on the C++ numbers themselves: CI and label never disagree.
            if (r.is_significant) {
                EXPECT_TRUE(excludes_zero(r.lift_ci)) << w;
                EXPECT_TRUE(excludes_zero(r.difference_ci)) << w;
                ASSERT_TRUE(r.p_value_adjusted.has_value()) << w;
                EXPECT_LT(*r.p_value_adjusted, g.alpha) << w;
            }
            const bool rule = r.p_value_adjusted && *r.p_value_adjusted < g.alpha && excludes_zero(r.lift_ci) &&
                              excludes_zero(r.difference_ci);
            EXPECT_EQ(r.is_significant, rule) << w;
            if (g.method == Method::Sequential && control < g.in.size() && i != control) {
                EXPECT_EQ(a.min_p_values[i].has_value(), r.p_value.has_value()) << w;
            } else {
                EXPECT_FALSE(a.min_p_values[i].has_value()) << w;
            }
        }
    }
}

TEST(GoldenHolm, MatchesStatsmodelsMultipletests) {
    for (const auto& g : kGoldenHolm) {
        std::vector<std::optional<double>> p(g.p.begin(), g.p.end());
        const auto adj = holm_adjust(p);
        ASSERT_EQ(adj.size(), g.adj.size());
        for (std::size_t i = 0; i < adj.size(); ++i) {
            ASSERT_TRUE(adj[i].has_value());
            expect_close(*adj[i], g.adj[i], 0.0, "holm");
        }
    }
}

TEST(GoldenBh, MatchesStatsmodelsMultipletestsFdrBh) {
    for (const auto& g : kGoldenBh) {
        std::vector<std::optional<double>> p;
        for (const auto& x : g.p) p.push_back(x.has ? std::optional<double>(x.v) : std::nullopt);
        const auto adj = benjamini_hochberg_adjust(p);
        ASSERT_EQ(adj.size(), g.adj.size());
        for (std::size_t i = 0; i < adj.size(); ++i) expect_opt(adj[i], g.adj[i], "bh " + std::to_string(i));
        EXPECT_EQ(adjust_p_values(p, Correction::BenjaminiHochberg), adj);
    }
}

TEST(GoldenSrm, MatchesGbstatsCheckSrmAndScipyChisquare) {
    for (const auto& g : kGoldenSrm) {
        const SrmResult r = srm_chi_square(g.observed, g.weights);
        ASSERT_TRUE(r.p_value.has_value());
        expect_close(*r.p_value, g.p, 0.0, "srm");
        EXPECT_EQ(r.mismatch, g.p < 0.001);
        const SrmResult same = srm(g.observed, g.weights, kSrmAlpha, SrmMethod::ChiSquare);
        EXPECT_EQ(same.p_value, r.p_value);
        EXPECT_EQ(same.mismatch, r.mismatch);
    }
}

TEST(GoldenSrm, SequentialMatchesScipyDirichletMultinomialOverMultinomial) {
    for (const auto& g : kGoldenSrmSequential) {
        std::string w = "srm sequential {";
        for (auto x : g.observed) w += std::to_string(x) + " ";
        w += "} k=" + std::to_string(g.concentration);
        // ln BF to 1e-9 absolute (or relative, when larger): p = exp(-ln BF) then agrees to 1e-9 relative.
        const std::optional<double> log_bf = srm_log_bayes_factor(g.observed, g.weights, g.concentration);
        ASSERT_TRUE(log_bf.has_value()) << w;
        expect_close(*log_bf, g.log_bf, 1.0, w + " ln BF");
        const SrmResult r = srm_sequential(g.observed, g.weights, kSrmAlpha, g.concentration);
        ASSERT_TRUE(r.p_value.has_value()) << w;
        expect_close(*r.p_value, g.p, 0.0, w + " p");
        EXPECT_EQ(r.mismatch, g.p < kSrmAlpha) << w;
        if (g.concentration == kSrmConcentration) {  // the default test is this one
            const SrmResult d = srm(g.observed, g.weights);
            EXPECT_EQ(d.p_value, r.p_value) << w;
            EXPECT_EQ(d.mismatch, r.mismatch) << w;
        }
    }
}

// ---- Extended analysis: behaviour not covered by the oracles -------------------------------------------

TEST(AnalyzeWithOptions, FixedWithoutCorrectionKeepsTodaysNumbers) {
    const std::vector<VariantCounts> in{vc("control", true, 1000, 100), vc("b", false, 1000, 140),
                                        vc("c", false, 500, 60), vc("d", false, 1000, 70)};
    const Analysis legacy = analyze(in, 0.01);
    const Analysis now = analyze(in, opts(Method::Fixed, 0.01, 5000, Correction::None));
    ASSERT_EQ(legacy.variants.size(), now.variants.size());
    EXPECT_EQ(legacy.total_participants, now.total_participants);
    for (std::size_t i = 0; i < in.size(); ++i) {
        const auto& a = legacy.variants[i];
        const auto& b = now.variants[i];
        EXPECT_EQ(a.key, b.key);
        EXPECT_EQ(a.conversion_rate, b.conversion_rate);
        EXPECT_EQ(a.relative_lift, b.relative_lift);
        EXPECT_EQ(a.p_value, b.p_value);
        EXPECT_EQ(b.p_value_adjusted, b.p_value);
    }
    EXPECT_EQ(now.correction, Correction::None);
}

TEST(AnalyzeWithOptions, LegacyAnalyzeLeavesExtendedFieldsEmpty) {
    const Analysis a = analyze({vc("control", true, 1000, 100), vc("b", false, 1000, 140)}, 0.05);
    EXPECT_FALSE(a.options.has_value());
    EXPECT_TRUE(a.min_p_values.empty());
    for (const auto& v : a.variants) {
        EXPECT_FALSE(v.lift_ci || v.difference_ci || v.p_value_adjusted || v.chance_to_win);
    }
    EXPECT_FALSE(a.variants[0].is_significant);
    EXPECT_TRUE(a.variants[1].is_significant);  // p = 0.0059 < 0.05, as the aggregate flag
}

TEST(AnalyzeWithOptions, ControlGetsNoComparisonFields) {
    for (Method m : {Method::Fixed, Method::Sequential}) {
        const Analysis a = analyze({vc("control", true, 1000, 100), vc("b", false, 1000, 140)}, opts(m));
        const auto& c = a.variants[0];
        ASSERT_TRUE(c.relative_lift.has_value());
        EXPECT_EQ(*c.relative_lift, 0.0);
        EXPECT_FALSE(c.p_value || c.p_value_adjusted || c.lift_ci || c.difference_ci || c.chance_to_win);
        EXPECT_FALSE(c.is_significant);
    }
}

TEST(AnalyzeWithOptions, ZeroControlConversionsIsNeverLabelledSignificant) {
    // The legacy analysis calls this significant (p = 0.0235), but no interval can be computed for the
    // lift, so the extended analysis withholds the label (rule: intervals must exist and exclude 0).
    const std::vector<VariantCounts> in{vc("control", true, 100, 0), vc("b", false, 100, 5)};
    EXPECT_TRUE(analyze(in, 0.05).is_significant);
    for (Method m : {Method::Fixed, Method::Sequential}) {
        const Analysis a = analyze(in, opts(m));
        EXPECT_FALSE(a.is_significant);
        EXPECT_FALSE(a.variants[1].relative_lift.has_value());
        EXPECT_FALSE(a.variants[1].lift_ci.has_value());
        EXPECT_FALSE(a.variants[1].chance_to_win.has_value());
        expect_all_finite(a);
    }
}

TEST(AnalyzeWithOptions, EdgeCasesNeverProduceNaN) {
    const std::int64_t big = 1000000000;
    const std::vector<std::vector<VariantCounts>> cases{
        {},
        {vc("control", true, 0, 0)},
        {vc("control", true, 0, 0), vc("b", false, 0, 0)},
        {vc("control", true, 1, 0), vc("b", false, 1, 1)},
        {vc("control", true, 1, 1), vc("b", false, 1, 1)},
        {vc("control", true, 10, 10), vc("b", false, 20, 20)},
        {vc("control", true, 100, 0), vc("b", false, 100, 0)},
        {vc("control", true, big, big / 10), vc("b", false, big, big / 5)},
        {vc("control", true, big, big - 1), vc("b", false, 2, 1)},
        {vc("control", true, 4000000000000000000, 1000000000000000000),
         vc("b", false, 4000000000000000000, 1000000001000000000)},
        {vc("a", false, 10, 1), vc("b", false, 10, 2)},
        {vc("b", false, 10, 1)},
    };
    for (const auto& in : cases) {
        for (Method m : {Method::Fixed, Method::Sequential}) {
            for (Correction c : {Correction::None, Correction::HolmBonferroni, Correction::BenjaminiHochberg}) {
                const Analysis a = analyze(in, opts(m, 0.05, 5000, c));
                expect_all_finite(a);
                EXPECT_EQ(a.variants.size(), in.size());
            }
        }
    }
}

TEST(AnalyzeWithOptions, HolmOnlyWithTwoOrMoreTreatments) {
    const Analysis one = analyze({vc("control", true, 1000, 100), vc("b", false, 1000, 140)}, opts(Method::Fixed));
    EXPECT_EQ(one.correction, Correction::None);
    EXPECT_EQ(one.variants[1].p_value_adjusted, one.variants[1].p_value);
    const Analysis two = analyze({vc("control", true, 1000, 100), vc("b", false, 1000, 140), vc("c", false, 1000, 90)},
                                 opts(Method::Fixed));
    EXPECT_EQ(two.correction, Correction::HolmBonferroni);
    ASSERT_TRUE(two.variants[1].p_value_adjusted && two.variants[1].p_value);
    EXPECT_GE(*two.variants[1].p_value_adjusted, *two.variants[1].p_value);
}

TEST(AnalyzeWithOptions, BenjaminiHochbergOnlyWithTwoOrMoreTreatments) {
    const Analysis one = analyze({vc("control", true, 1000, 100), vc("b", false, 1000, 140)},
                                 opts(Method::Fixed, 0.05, 5000, Correction::BenjaminiHochberg));
    EXPECT_EQ(one.correction, Correction::None);
    EXPECT_EQ(one.variants[1].p_value_adjusted, one.variants[1].p_value);
    const std::vector<VariantCounts> in{vc("control", true, 1000, 100), vc("b", false, 1000, 140),
                                        vc("c", false, 1000, 90)};
    const Analysis bh = analyze(in, opts(Method::Fixed, 0.05, 5000, Correction::BenjaminiHochberg));
    const Analysis holm = analyze(in, opts(Method::Fixed, 0.05, 5000, Correction::HolmBonferroni));
    EXPECT_EQ(bh.correction, Correction::BenjaminiHochberg);
    const auto expected = benjamini_hochberg_adjust({bh.variants[1].p_value, bh.variants[2].p_value});
    EXPECT_EQ(bh.variants[1].p_value_adjusted, expected[0]);
    EXPECT_EQ(bh.variants[2].p_value_adjusted, expected[1]);
    // BH never adjusts more than Holm does.
    for (std::size_t i : {1u, 2u}) {
        ASSERT_TRUE(bh.variants[i].p_value_adjusted && holm.variants[i].p_value_adjusted);
        EXPECT_LE(*bh.variants[i].p_value_adjusted, *holm.variants[i].p_value_adjusted);
    }
}

TEST(AnalyzeWithOptions, ParsesCorrectionNames) {
    EXPECT_EQ(parse_correction("none"), Correction::None);
    EXPECT_EQ(parse_correction("holm"), Correction::HolmBonferroni);
    EXPECT_EQ(parse_correction("holm-bonferroni"), Correction::HolmBonferroni);
    EXPECT_EQ(parse_correction("bh"), Correction::BenjaminiHochberg);
    EXPECT_EQ(parse_correction("benjamini-hochberg"), Correction::BenjaminiHochberg);
    for (const char* bad : {"", "Holm", "BH", "fdr_bh", "bonferroni", " none"}) {
        EXPECT_FALSE(parse_correction(bad).has_value()) << bad;
    }
    for (Correction c : {Correction::None, Correction::HolmBonferroni, Correction::BenjaminiHochberg}) {
        EXPECT_EQ(parse_correction(to_string(c)), c);
    }
}

TEST(AnalyzeWithOptions, RecordsOptionsAndSpellings) {
    const AnalysisOptions o = opts(Method::Sequential, 0.1, 2000, Correction::None);
    const Analysis a = analyze({vc("control", true, 10, 1)}, o);
    ASSERT_TRUE(a.options.has_value());
    EXPECT_EQ(a.options->alpha, 0.1);
    EXPECT_EQ(a.options->sequential_tuning, 2000);
    EXPECT_EQ(a.options->correction, Correction::None);
    EXPECT_STREQ(to_string(Method::Fixed), "fixed");
    EXPECT_STREQ(to_string(Method::Sequential), "sequential");
    EXPECT_STREQ(to_string(Correction::None), "none");
    EXPECT_STREQ(to_string(Correction::HolmBonferroni), "holm-bonferroni");
    EXPECT_STREQ(to_string(Correction::BenjaminiHochberg), "benjamini-hochberg");
    const AnalysisOptions defaults;
    EXPECT_EQ(defaults.method, Method::Sequential);
    EXPECT_EQ(defaults.alpha, 0.05);
    EXPECT_EQ(defaults.sequential_tuning, 5000);
    EXPECT_EQ(defaults.correction, Correction::HolmBonferroni);
}

TEST(AnalyzeWithOptions, RejectsInvalidOptions) {
    const std::vector<VariantCounts> in{vc("control", true, 10, 1)};
    for (double alpha : {0.0, 1.0, -0.1, 2.0, std::numeric_limits<double>::quiet_NaN()}) {
        EXPECT_TRUE(validate(opts(Method::Fixed, alpha)).has_value());
        EXPECT_THROW(analyze(in, opts(Method::Fixed, alpha)), std::invalid_argument);
    }
    for (double tuning : {0.0, -5.0, std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
        EXPECT_TRUE(validate(opts(Method::Sequential, 0.05, tuning)).has_value());
        EXPECT_THROW(analyze(in, opts(Method::Sequential, 0.05, tuning)), std::invalid_argument);
    }
    EXPECT_FALSE(validate(AnalysisOptions{}).has_value());
}

TEST(BuildingBlocks, UndefinedOutsideTheDomain) {
    EXPECT_FALSE(fixed_lift_ci(500, 50, 500, 65, 0.0));
    EXPECT_FALSE(fixed_lift_ci(500, 50, 500, 65, 1.0));
    EXPECT_FALSE(sequential_lift_ci(500, 50, 500, 65, 0.05, 0.0));
    EXPECT_FALSE(sequential_p_value(500, 50, 500, 65, 0.05, -1.0));
    EXPECT_FALSE(fixed_difference_ci(-5, 0, 500, 65, 0.05));
    EXPECT_FALSE(chance_to_win(500, 600, 500, 65));  // more conversions than participants: rate > 1
}

TEST(BuildingBlocks, ChanceToWinIsSymmetric) {
    auto a = chance_to_win(1000, 100, 1000, 100);
    ASSERT_TRUE(a);
    EXPECT_EQ(*a, 0.5);
    auto up = chance_to_win(1000, 100, 1000, 120);
    auto down = chance_to_win(1000, 100, 1000, 80);
    ASSERT_TRUE(up && down);
    EXPECT_GT(*up, 0.5);
    EXPECT_LT(*down, 0.5);
}

TEST(Holm, EmptyEntriesStayInTheFamilyAndComeBackEmpty) {
    const auto adj = holm_adjust({0.01, std::nullopt, 0.04});
    ASSERT_EQ(adj.size(), 3u);
    ASSERT_TRUE(adj[0] && adj[2]);
    EXPECT_FALSE(adj[1]);
    expect_rel(*adj[0], 0.03);  // m = 3
    expect_rel(*adj[2], 0.08);  // 0.04 * 2
    EXPECT_TRUE(holm_adjust({}).empty());
    const auto nan = holm_adjust({std::numeric_limits<double>::quiet_NaN(), 0.2});
    EXPECT_FALSE(nan[0]);
    ASSERT_TRUE(nan[1]);
    expect_rel(*nan[1], 0.4);
}

TEST(Holm, IsMonotoneAndCappedAtOne) {
    const auto adj = holm_adjust({0.3, 0.6, 0.0001, 0.9});
    ASSERT_TRUE(adj[0] && adj[1] && adj[2] && adj[3]);
    expect_rel(*adj[2], 0.0004);
    expect_rel(*adj[0], 0.9);
    EXPECT_EQ(*adj[1], 1.0);
    EXPECT_EQ(*adj[3], 1.0);
}

TEST(BenjaminiHochberg, EmptyEntriesStayInTheFamilyAndComeBackEmpty) {
    const auto adj = benjamini_hochberg_adjust({0.01, std::nullopt, 0.04});
    ASSERT_EQ(adj.size(), 3u);
    ASSERT_TRUE(adj[0] && adj[2]);
    EXPECT_FALSE(adj[1]);
    expect_rel(*adj[0], 0.03);  // 0.01 * 3 / 1
    expect_rel(*adj[2], 0.06);  // 0.04 * 3 / 2
    EXPECT_TRUE(benjamini_hochberg_adjust({}).empty());
    const auto nan = benjamini_hochberg_adjust({std::numeric_limits<double>::quiet_NaN(), 0.2});
    EXPECT_FALSE(nan[0]);
    ASSERT_TRUE(nan[1]);
    expect_rel(*nan[1], 0.4);
}

TEST(BenjaminiHochberg, IsMonotoneAndCappedAtOne) {
    const auto adj = benjamini_hochberg_adjust({0.3, 0.6, 0.0001, 0.9, 0.02});
    ASSERT_EQ(adj.size(), 5u);
    expect_rel(*adj[2], 0.0005);  // 0.0001 * 5 / 1
    expect_rel(*adj[4], 0.05);    // 0.02 * 5 / 2
    expect_rel(*adj[0], 0.5);     // 0.3 * 5 / 3
    expect_rel(*adj[1], 0.75);    // 0.6 * 5 / 4
    EXPECT_EQ(*adj[3], 0.9);      // 0.9 * 5 / 5
    const auto capped = benjamini_hochberg_adjust({0.9, 0.95});
    EXPECT_EQ(*capped[0], 0.95);  // min(0.9 * 2, 0.95)
    EXPECT_EQ(*capped[1], 0.95);
}

TEST(AdjustPValues, DispatchesOnTheCorrection) {
    const std::vector<std::optional<double>> p{0.01, std::nullopt, 0.04, 0.03};
    EXPECT_EQ(adjust_p_values(p, Correction::None), p);
    EXPECT_EQ(adjust_p_values(p, Correction::HolmBonferroni), holm_adjust(p));
    EXPECT_EQ(adjust_p_values(p, Correction::BenjaminiHochberg), benjamini_hochberg_adjust(p));
}

// ---- The tests over summary statistics, on means (golden values for means and ratios are in
// test_metric_stats.cpp)

TEST(SummaryStatistics, AreBuiltAsGbstatsBuildsThem) {
    const ArmStatistic p = proportion_statistic(200, 50);
    EXPECT_EQ(p.n, 200.0);
    EXPECT_EQ(p.mean, 0.25);
    EXPECT_EQ(p.variance, 0.1875);
    EXPECT_EQ(proportion_statistic(0, 0).mean, 0.0);
    const ArmStatistic m = sample_mean_statistic(4, 10.0, 30.0);  // values 1, 2, 3, 4
    EXPECT_EQ(m.mean, 2.5);
    expect_rel(m.variance, 5.0 / 3.0);
    EXPECT_EQ(sample_mean_statistic(1, 3.0, 9.0).variance, 0.0);
    EXPECT_EQ(sample_mean_statistic(0, 0.0, 0.0).mean, 0.0);
    // y = 1 for every user: the ratio is the mean of x, with the variance of that mean.
    const ArmStatistic r = ratio_statistic(4, 10.0, 30.0, 4.0, 4.0, 10.0);
    EXPECT_EQ(r.mean, 2.5);
    expect_rel(r.variance, 5.0 / 3.0);
    EXPECT_EQ(ratio_statistic(4, 10.0, 30.0, 0.0, 0.0, 0.0).mean, 0.0);
    EXPECT_EQ(ratio_statistic(4, 10.0, 30.0, 0.0, 0.0, 0.0).variance, 0.0);
    EXPECT_EQ(ratio_statistic(1, 3.0, 9.0, 1.0, 1.0, 3.0).variance, 0.0);
}

TEST(SummaryStatistics, TTestPValueAndIntervalAgree) {
    // Same statistic, same dof: p < alpha <=> the interval on the same scale excludes 0.
    int checked = 0;
    for (double alpha : {0.01, 0.05, 0.1}) {
        for (double shift : {-0.5, -0.2, -0.05, 0.0, 0.03, 0.1, 0.3, 1.0}) {
            for (double n : {3.0, 30.0, 3000.0}) {
                const ArmStatistic a{n, 10.0, 4.0};
                const ArmStatistic b{n + 7.0, 10.0 + shift, 6.0};
                for (Scale scale : {Scale::Relative, Scale::Absolute}) {
                    const auto p = t_test_p_value(a, b, scale);
                    const auto ci = t_confidence_interval(a, b, scale, alpha);
                    ASSERT_TRUE(p && ci);
                    if (std::fabs(*p - alpha) > 1e-12) {
                        EXPECT_EQ(*p < alpha, !ci->contains(0.0)) << n << " " << shift;
                        ++checked;
                    }
                }
            }
        }
    }
    EXPECT_GT(checked, 100);
    // Identical arms: p = 1, the interval is symmetric around 0.
    const ArmStatistic a{100, 5.0, 2.0};
    EXPECT_EQ(t_test_p_value(a, a, Scale::Relative), std::optional<double>(1.0));
}

TEST(SummaryStatistics, UndefinedOutsideTheDomain) {
    const ArmStatistic ok{100, 5.0, 2.0};
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    const std::vector<std::pair<ArmStatistic, ArmStatistic>> bad{
        {{0, 5.0, 2.0}, ok},        // empty control
        {ok, {0, 5.0, 2.0}},        // empty treatment
        {{100, 0.0, 2.0}, ok},      // zero baseline
        {{100, 5.0, 0.0}, ok},      // zero variance
        {ok, {100, 5.0, -1.0}},     // negative variance
        {{100, nan, 2.0}, ok},      // not finite
        {ok, {inf, 5.0, 2.0}},
        {{-4, 5.0, 2.0}, ok},
    };
    for (const auto& [a, b] : bad) {
        for (Scale scale : {Scale::Relative, Scale::Absolute}) {
            EXPECT_FALSE(t_confidence_interval(a, b, scale, 0.05));
            EXPECT_FALSE(t_test_p_value(a, b, scale));
            EXPECT_FALSE(sequential_confidence_interval(a, b, scale, 0.05, 5000));
            EXPECT_FALSE(sequential_test_p_value(a, b, scale, 0.05, 5000));
        }
        EXPECT_FALSE(chance_to_win(a, b));
        EXPECT_FALSE(chance_to_win(a, b, true));
    }
    EXPECT_FALSE(t_confidence_interval(ok, ok, Scale::Relative, 0.0));
    EXPECT_FALSE(sequential_confidence_interval(ok, ok, Scale::Relative, 0.05, 0.0));
    EXPECT_FALSE(sequential_test_p_value(ok, ok, Scale::Relative, 1.0, 5000));
    // A negative baseline is in the domain (gbstats divides by it as it is).
    EXPECT_TRUE(t_test_p_value({100, -5.0, 2.0}, ok, Scale::Relative));
}

TEST(SummaryStatistics, InverseChanceToWinIsTheOtherTail) {
    const ArmStatistic a{1000, 10.0, 25.0};
    for (double mb : {9.0, 9.9, 10.0, 10.1, 11.0, 12.0}) {
        const ArmStatistic b{1000, mb, 25.0};
        const auto up = chance_to_win(a, b);
        const auto down = chance_to_win(a, b, true);
        ASSERT_TRUE(up && down);
        EXPECT_NEAR(*up + *down, 1.0, 1e-15) << mb;
        if (mb == 10.0) {
            EXPECT_EQ(*up, 0.5);
            EXPECT_EQ(*down, 0.5);
        }
    }
    // Far in the tail the inverse keeps its relative precision (1 - P(lift > 0) would be 0).
    const auto tiny = chance_to_win(a, ArmStatistic{1000, 15.0, 25.0}, true);  // z = 17.5
    ASSERT_TRUE(tiny);
    EXPECT_GT(*tiny, 0.0);
    EXPECT_LT(*tiny, 1e-50);
}

TEST(Srm, DegenerateCasesAreDefined) {
    for (const SrmMethod m : {SrmMethod::ChiSquare, SrmMethod::Sequential}) {
        const double t = kSrmAlpha;
        EXPECT_FALSE(srm({}, {}, t, m).p_value);
        EXPECT_FALSE(srm({100}, {1.0}, t, m).p_value);                  // a single arm: nothing to compare
        EXPECT_FALSE(srm({100, 100}, {0.5}, t, m).p_value);             // sizes differ
        EXPECT_FALSE(srm({0, 0}, {0.5, 0.5}, t, m).p_value);            // nobody yet
        EXPECT_FALSE(srm({10, 10}, {0.5, -0.5}, t, m).p_value);         // negative weight
        EXPECT_FALSE(srm({10, -1}, {0.5, 0.5}, t, m).p_value);          // negative count
        EXPECT_FALSE(srm({10, 10}, {0.0, 0.0}, t, m).p_value);          // no weight at all -> traffic nowhere expected
        EXPECT_FALSE(srm({10, 10}, {std::numeric_limits<double>::quiet_NaN(), 1.0}, t, m).p_value);
        EXPECT_FALSE(srm({10, 10}, {std::numeric_limits<double>::infinity(), 1.0}, t, m).p_value);
        EXPECT_FALSE(srm({10, 0}, {1.0, 0.0}, t, m).p_value);           // one arm left in the test
        EXPECT_FALSE(srm({10, 10}, {0.5, 0.5}, t, m).mismatch);
        EXPECT_FALSE(srm({10, 10}, {0.5, -0.5}, t, m).mismatch);
    }
    EXPECT_FALSE(srm_log_bayes_factor({}, {}));
    EXPECT_FALSE(srm_log_bayes_factor({0, 0}, {1, 1}));
    EXPECT_FALSE(srm_log_bayes_factor({10, 0}, {1.0, 0.0}));
}

TEST(Srm, SequentialNeedsAPositiveFiniteConcentration) {
    const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
    for (const double k : {0.0, -1.0, inf, nan}) {
        EXPECT_FALSE(srm_log_bayes_factor({5000, 5600}, {1, 1}, k)) << k;
        const SrmResult r = srm_sequential({5000, 5600}, {1, 1}, kSrmAlpha, k);
        EXPECT_FALSE(r.p_value) << k;
        EXPECT_FALSE(r.mismatch) << k;
    }
}

TEST(Srm, TrafficInAZeroWeightArmIsAMismatch) {
    for (const SrmMethod m : {SrmMethod::ChiSquare, SrmMethod::Sequential}) {
        const SrmResult r = srm({500, 500, 3}, {0.5, 0.5, 0.0}, kSrmAlpha, m);
        ASSERT_TRUE(r.p_value);
        EXPECT_EQ(*r.p_value, 0.0);
        EXPECT_TRUE(r.mismatch);
        // Even when the other arms would leave nothing to compare.
        const SrmResult alone = srm({500, 3}, {1.0, 0.0}, kSrmAlpha, m);
        ASSERT_TRUE(alone.p_value);
        EXPECT_EQ(*alone.p_value, 0.0);
    }
    const auto log_bf = srm_log_bayes_factor({500, 500, 3}, {0.5, 0.5, 0.0});
    ASSERT_TRUE(log_bf);
    EXPECT_TRUE(std::isinf(*log_bf) && *log_bf > 0.0);
    // A zero-weight arm without traffic is simply left out.
    const SrmResult ok = srm_chi_square({500, 500, 0}, {0.5, 0.5, 0.0});
    ASSERT_TRUE(ok.p_value);
    EXPECT_EQ(*ok.p_value, 1.0);
    EXPECT_FALSE(ok.mismatch);
    EXPECT_EQ(srm_log_bayes_factor({500, 500, 0}, {0.5, 0.5, 0.0}), srm_log_bayes_factor({500, 500}, {0.5, 0.5}));
    const SrmResult seq = srm_sequential({500, 500, 0}, {0.5, 0.5, 0.0});
    ASSERT_TRUE(seq.p_value);
    EXPECT_EQ(*seq.p_value, 1.0);
    EXPECT_FALSE(seq.mismatch);
}

TEST(Srm, WeightsAreNormalisedAndThresholdApplies) {
    for (const SrmMethod m : {SrmMethod::ChiSquare, SrmMethod::Sequential}) {
        const auto a = srm({5000, 5300}, {1, 1}, kSrmAlpha, m);
        const auto b = srm({5000, 5300}, {0.5, 0.5}, kSrmAlpha, m);
        const auto c = srm({5000, 5300}, {50, 50}, kSrmAlpha, m);
        ASSERT_TRUE(a.p_value && b.p_value && c.p_value);
        expect_rel(*a.p_value, *b.p_value, 1e-12);
        expect_rel(*a.p_value, *c.p_value, 1e-12);
        EXPECT_FALSE(a.mismatch);  // chi-square p = 0.0031, sequential p = 0.13: both >= 0.001
        EXPECT_TRUE(srm({5000, 5600}, {1, 1}, kSrmAlpha, m).mismatch);
        // Enormous mismatches underflow to 0, never NaN.
        const auto huge = srm({1000000000, 2000000000}, {1, 1}, kSrmAlpha, m);
        ASSERT_TRUE(huge.p_value);
        EXPECT_EQ(*huge.p_value, 0.0);
        EXPECT_TRUE(huge.mismatch);
    }
    EXPECT_TRUE(srm_chi_square({5000, 5300}, {1, 1}, 0.01).mismatch);
    EXPECT_TRUE(srm({5000, 5300}, {1, 1}, 0.2).mismatch);  // sequential p = 0.135
    EXPECT_FALSE(srm({5000, 5300}, {1, 1}, 0.1).mismatch);
    // The default is the sequential test at 0.001.
    const auto d = srm({5000, 5300}, {1, 1});
    const auto s = srm_sequential({5000, 5300}, {1, 1}, kSrmAlpha, kSrmConcentration);
    EXPECT_EQ(d.p_value, s.p_value);
    EXPECT_EQ(d.p_value, srm({5000, 5300}, {1, 1}, kSrmAlpha, SrmMethod::Sequential).p_value);
    EXPECT_NE(d.p_value, srm_chi_square({5000, 5300}, {1, 1}).p_value);
}

TEST(Srm, SequentialStaysQuietAtTheExpectedSplitHoweverLarge) {
    // Exactly the expected counts: ln BF_n = -(1/2) ln(n / k) + O(1) -> p = 1 at every n; and so for the
    // unequal split 1:2 and for three arms.
    double previous = 0.0;
    for (std::int64_t n = 100; n <= 10000000000LL; n *= 10) {
        const auto log_bf = srm_log_bayes_factor({n / 2, n / 2}, {1, 1});
        ASSERT_TRUE(log_bf) << n;
        EXPECT_LT(*log_bf, 0.0) << n;
        if (n > 100) {
            EXPECT_LT(*log_bf, previous) << n;  // ever more evidence for the expected split
        }
        previous = *log_bf;
        EXPECT_NEAR(*log_bf, -0.5 * std::log(static_cast<double>(n) / kSrmConcentration), 0.5) << n;
        for (const auto& r : {srm({n / 2, n / 2}, {1, 1}), srm({n / 3, 2 * (n / 3)}, {1, 2}),
                              srm({n / 4, n / 4, n / 2}, {1, 1, 2})}) {
            ASSERT_TRUE(r.p_value) << n;
            EXPECT_EQ(*r.p_value, 1.0) << n;
            EXPECT_FALSE(r.mismatch) << n;
        }
    }
    // Two standard deviations off (chi-square p = 0.046 at every n): no evidence of a mismatch from
    // 10^4 users on, and the evidence shrinks as n grows. 3.5 sd off (chi-square p = 0.00047, a chi-square
    // alarm at every n): not enough for the sequential test, which has to hold under any number of looks.
    for (std::int64_t n = 10000; n <= 100000000; n *= 10) {
        const auto sd = static_cast<std::int64_t>(std::sqrt(static_cast<double>(n)) / 2.0);
        const auto two = srm({n / 2 + 2 * sd, n / 2 - 2 * sd}, {1, 1});
        ASSERT_TRUE(two.p_value) << n;
        EXPECT_EQ(*two.p_value, 1.0) << n;
        const auto chi = srm_chi_square({n / 2 + 7 * sd / 2, n / 2 - 7 * sd / 2}, {1, 1});
        const auto seq = srm_sequential({n / 2 + 7 * sd / 2, n / 2 - 7 * sd / 2}, {1, 1});
        ASSERT_TRUE(chi.p_value && seq.p_value) << n;
        EXPECT_TRUE(chi.mismatch) << n;
        EXPECT_FALSE(seq.mismatch) << n;
        EXPECT_GT(*seq.p_value, 0.01) << n;
    }
}

TEST(Srm, SequentialCatchesAOnePercentRatioMismatchEventually) {
    // 50.5 / 49.5 against 50 / 50, at the expected counts: nothing at 10^4 users, an alarm from ~2.1 * 10^5
    // on (the chi-square, read once, from ~1.1 * 10^5), and p falls exponentially in n after that.
    auto at = [](std::int64_t n) { return srm({n * 505 / 1000, n - n * 505 / 1000}, {1, 1}); };
    ASSERT_TRUE(at(10000).p_value);
    EXPECT_EQ(*at(10000).p_value, 1.0);
    EXPECT_FALSE(at(100000).mismatch);
    EXPECT_TRUE(srm_chi_square({50500, 49500}, {1, 1}, 0.002).mismatch);  // p = 0.0016
    EXPECT_FALSE(at(200000).mismatch);
    EXPECT_TRUE(at(220000).mismatch);
    double previous = 1.0;
    for (std::int64_t n = 100000; n <= 2000000; n += 100000) {
        const auto r = at(n);
        ASSERT_TRUE(r.p_value) << n;
        EXPECT_LE(*r.p_value, previous) << n;
        previous = *r.p_value;
        if (n >= 300000) {
            EXPECT_TRUE(r.mismatch) << n;
        }
    }
    EXPECT_LT(previous, 1e-40);
    // The same mismatch in a three-arm experiment (first arm 1 % over its third).
    const std::int64_t n = 3000000;
    const auto three = srm({n / 3 + n / 300, n / 3 - n / 600, n / 3 - n / 600}, {1, 1, 1});
    ASSERT_TRUE(three.p_value);
    EXPECT_TRUE(three.mismatch);
}

TEST(Srm, SequentialFalseAlarmsStayUnderAlphaUnderContinuousMonitoring) {
    // A/A, 50/50, read after every batch of 100 users for 20,000 users (200 looks): the chi-square's
    // alarm rate at alpha = 0.05 inflates (to ~30 %), the sequential test's stays under alpha (Ville).
    std::mt19937_64 rng(20240616);
    std::binomial_distribution<std::int64_t> batch(100, 0.5);
    const int runs = 2000;
    int chi_alarms = 0, seq_alarms = 0;
    for (int r = 0; r < runs; ++r) {
        std::int64_t a = 0, b = 0;
        bool chi = false, seq = false;
        for (int look = 0; look < 200 && !(chi && seq); ++look) {
            const std::int64_t x = batch(rng);
            a += x;
            b += 100 - x;
            chi = chi || srm_chi_square({a, b}, {1, 1}, 0.05).mismatch;
            seq = seq || srm_sequential({a, b}, {1, 1}, 0.05).mismatch;
        }
        chi_alarms += chi;
        seq_alarms += seq;
    }
    EXPECT_GT(chi_alarms, runs / 5);
    EXPECT_LT(seq_alarms, runs * 5 / 100);
}

TEST(Srm, SequentialIsDefinedForAbsurdCounts) {
    const std::int64_t big = std::numeric_limits<std::int64_t>::max();
    for (const auto& r : {srm({big, big}, {1, 1}), srm({big, 0}, {1, 1}), srm({big, 1}, {1e-300, 1}),
                          srm({1, 1}, {5e-324, 1}), srm({big, big}, {1e300, 1e300})}) {
        if (r.p_value) {
            EXPECT_GE(*r.p_value, 0.0);
            EXPECT_LE(*r.p_value, 1.0);
        } else {
            EXPECT_FALSE(r.mismatch);
        }
    }
    const auto far = srm({big, 0}, {1, 1});
    ASSERT_TRUE(far.p_value);
    EXPECT_EQ(*far.p_value, 0.0);
    // Two billion users at exactly 50/50: still p = 1 (rounding in ln BF is ~1e-5 there, far below |ln BF|).
    const auto even = srm({1000000000, 1000000000}, {1, 1});
    ASSERT_TRUE(even.p_value);
    EXPECT_EQ(*even.p_value, 1.0);
}

TEST(GoldenLooks, SequentialPValueIsARunningMinimumAcrossLooks) {
    // One experiment looked at repeatedly: the caller persists min_p_values and passes them back.
    AnalysisOptions o = opts(Method::Sequential);
    std::vector<std::optional<double>> previous;
    for (const auto& g : kGoldenLooks) {
        const std::string w = "look n=" + std::to_string(g.na);
        expect_opt(sequential_p_value(g.na, g.ca, g.nb, g.cb, o.alpha, o.sequential_tuning), g.p, w + " raw");
        const Analysis a = analyze({vc("control", true, g.na, g.ca), vc("b", false, g.nb, g.cb)}, o, previous);
        expect_opt(a.variants[1].p_value, g.running, w + " running");
        expect_opt(a.min_p_values[1], g.running, w + " persisted");
        EXPECT_FALSE(a.min_p_values[0].has_value());
        expect_all_finite(a);
        previous = a.min_p_values;
    }
}

// Found by fuzz_snapshot under UBSan: the total overflowed int64 (undefined behaviour) on absurd counts.
TEST(TotalParticipants, SaturatesInsteadOfOverflowing) {
    const std::int64_t big = 8268804181139198153;
    const std::vector<VariantCounts> variants{{"c", "C", true, big, 1}, {"t", "T", false, 1513083314217983583, 1}};
    EXPECT_EQ(analyze(variants, 0.05).total_participants, std::numeric_limits<std::int64_t>::max());
    EXPECT_EQ(analyze(variants, AnalysisOptions{}).total_participants, std::numeric_limits<std::int64_t>::max());
}
