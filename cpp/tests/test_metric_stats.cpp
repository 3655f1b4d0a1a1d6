// Statistics of experiments with several metrics (metric_stats.hpp). Golden values from gbstats 0.8.0 and
// statsmodels (cpp/tests/golden/make_stats_golden.py -> golden/metric_golden.inc) for means and ratios,
// whole multi-metric analyses (families, corrections, directions, guardrails) and sequential looks; then
// the behaviour the oracles do not pin down: a proportion metric is exactly today's analysis, undefined
// cases, directions, the family, the history.
#include "expstream/metric_stats.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "expstream/stats.hpp"
#include "golden/golden_support.hpp"

using namespace expstream;
using namespace expstream::golden;

namespace {

struct GSums {
    std::int64_t n;
    double sum, sum_squares, denominator_sum, denominator_sum_squares, sum_of_products;
};

MetricSums sums(const GSums& g) {
    MetricSums s;
    s.n = g.n;
    s.sum = g.sum;
    s.sum_squares = g.sum_squares;
    s.denominator_sum = g.denominator_sum;
    s.denominator_sum_squares = g.denominator_sum_squares;
    s.sum_of_products = g.sum_of_products;
    return s;
}

struct GoldenMetricComparison {
    const char* label;
    MetricKind kind;
    double alpha, tuning;
    GSums a, b;
    double a_mean, a_variance, b_mean, b_variance;  // gbstats Statistic.mean / .variance
    GOpt fixed_p;
    GIv fixed_lift, fixed_diff;
    GOpt seq_p;
    GIv seq_lift, seq_diff;
    GOpt ctw, ctw_inverse;
    GOpt value_a, value_b, lift;
};
struct GoldenMetricIn {
    const char* key;
    MetricKind kind;
    MetricRole role;
    Direction direction;
    std::vector<GSums> arms;
};
struct GoldenMetricVariantOut {
    GOpt value, lift, p, p_adj;
    GIv lift_ci, diff_ci;
    GOpt ctw;
    bool sig, regression;
};
struct GoldenMetricOut {
    std::vector<GoldenMetricVariantOut> variants;
    bool sig, regression;
};
struct GoldenMetricAnalysis {
    const char* label;
    Method method;
    double alpha, tuning;
    Correction asked;
    int control;  // -1: none
    std::vector<GoldenMetricIn> in;
    std::vector<GoldenMetricOut> out;
    Correction applied;
    std::size_t family_size;
    bool guardrail_regression;
};
struct GoldenMetricLook {
    GSums a, b;
    GOpt p, running;
};

#include "golden/metric_golden.inc"

AnalysisOptions options(Method method, double alpha = 0.05, double tuning = 5000,
                        Correction correction = Correction::HolmBonferroni) {
    AnalysisOptions o;
    o.method = method;
    o.alpha = alpha;
    o.sequential_tuning = tuning;
    o.correction = correction;
    return o;
}

MetricInput metric(const char* key, MetricKind kind, std::vector<MetricSums> arms, MetricRole role = MetricRole::Primary,
                   Direction direction = Direction::Increase) {
    MetricInput m;
    m.key = key;
    m.kind = kind;
    m.role = role;
    m.direction = direction;
    m.arms = std::move(arms);
    return m;
}

MetricSums mean_sums(std::int64_t n, double sum, double sum_squares) {
    MetricSums s;
    s.n = n;
    s.sum = sum;
    s.sum_squares = sum_squares;
    return s;
}

MetricSums ratio_sums(std::int64_t n, double sx, double sxx, double sy, double syy, double sxy) {
    MetricSums s{n, sx, sxx, sy, syy, sxy};
    return s;
}

MetricSums conversions(std::int64_t n, std::int64_t c) {
    MetricSums s;
    s.n = n;
    s.sum = static_cast<double>(c);
    s.sum_squares = s.sum;
    return s;
}

VariantCounts vc(const char* key, bool control, std::int64_t n, std::int64_t c) {
    VariantCounts v;
    v.key = key;
    v.name = key;
    v.is_control = control;
    v.participants = n;
    v.conversions = c;
    return v;
}

// No NaN/Inf anywhere, probabilities in [0, 1], intervals ordered.
void expect_all_finite(const MetricsAnalysis& a) {
    for (const auto& m : a.metrics) {
        for (const auto& v : m.variants) {
            for (const auto* o : {&v.value, &v.relative_lift, &v.p_value, &v.p_value_adjusted, &v.chance_to_win}) {
                if (*o) {
                    EXPECT_TRUE(std::isfinite(**o)) << m.key;
                }
            }
            for (const auto* p : {&v.p_value, &v.p_value_adjusted, &v.chance_to_win}) {
                if (*p) {
                    EXPECT_GE(**p, 0.0) << m.key;
                    EXPECT_LE(**p, 1.0) << m.key;
                }
            }
            for (const auto* ci : {&v.lift_ci, &v.difference_ci}) {
                if (*ci) {
                    EXPECT_TRUE(std::isfinite((*ci)->low) && std::isfinite((*ci)->high)) << m.key;
                    EXPECT_LE((*ci)->low, (*ci)->high) << m.key;
                }
            }
        }
        for (const auto& p : m.min_p_values) {
            if (p) {
                EXPECT_TRUE(std::isfinite(*p)) << m.key;
            }
        }
    }
}

}  // namespace

// =====================================================================================================
// Golden values

TEST(GoldenMetricComparisons, StatisticsMatchGbstats) {
    for (const auto& g : kGoldenMetricComparisons) {
        const std::string l = g.label;
        const ArmStatistic a = metric_statistic(g.kind, sums(g.a));
        const ArmStatistic b = metric_statistic(g.kind, sums(g.b));
        EXPECT_EQ(a.n, static_cast<double>(g.a.n)) << l;
        expect_close(a.mean, g.a_mean, 0.0, l + " control mean");
        expect_close(a.variance, g.a_variance, 0.0, l + " control variance");
        expect_close(b.mean, g.b_mean, 0.0, l + " variant mean");
        expect_close(b.variance, g.b_variance, 0.0, l + " variant variance");
        expect_opt(metric_value(g.kind, sums(g.a)), g.value_a, l + " control value");
        expect_opt(metric_value(g.kind, sums(g.b)), g.value_b, l + " variant value");
    }
}

TEST(GoldenMetricComparisons, TestsMatchGbstats) {
    for (const auto& g : kGoldenMetricComparisons) {
        const std::string l = g.label;
        const ArmStatistic a = metric_statistic(g.kind, sums(g.a));
        const ArmStatistic b = metric_statistic(g.kind, sums(g.b));
        expect_opt(t_test_p_value(a, b, Scale::Relative), g.fixed_p, l + " fixed p");
        expect_iv(t_confidence_interval(a, b, Scale::Relative, g.alpha), g.fixed_lift, l + " fixed lift");
        expect_iv(t_confidence_interval(a, b, Scale::Absolute, g.alpha), g.fixed_diff, l + " fixed diff");
        expect_opt(sequential_test_p_value(a, b, Scale::Relative, g.alpha, g.tuning), g.seq_p, l + " seq p");
        expect_iv(sequential_confidence_interval(a, b, Scale::Relative, g.alpha, g.tuning), g.seq_lift, l + " seq lift");
        expect_iv(sequential_confidence_interval(a, b, Scale::Absolute, g.alpha, g.tuning), g.seq_diff, l + " seq diff");
        expect_opt(chance_to_win(a, b), g.ctw, l + " chance to win");
        expect_opt(chance_to_win(a, b, true), g.ctw_inverse, l + " chance to win, inverse");
    }
}

TEST(GoldenMetricComparisons, TwoArmAnalysesGiveTheSameNumbers) {
    for (const auto& g : kGoldenMetricComparisons) {
        for (Method method : {Method::Fixed, Method::Sequential}) {
            for (Direction direction : {Direction::Increase, Direction::Decrease}) {
                const std::string l = std::string(g.label) + (method == Method::Fixed ? " fixed" : " sequential") +
                                      (direction == Direction::Increase ? " increase" : " decrease");
                const MetricsAnalysis a =
                    analyze_metrics({metric("m", g.kind, {sums(g.a), sums(g.b)}, MetricRole::Primary, direction)}, 0,
                                    options(method, g.alpha, g.tuning));
                ASSERT_EQ(a.metrics.size(), 1u);
                expect_all_finite(a);
                EXPECT_EQ(a.family_size, 1u) << l;
                EXPECT_EQ(a.correction, Correction::None) << l;
                const MetricResult& m = a.metrics[0];
                ASSERT_EQ(m.variants.size(), 2u);
                const MetricVariantResult& c = m.variants[0];
                expect_opt(c.value, g.value_a, l + " control value");
                EXPECT_EQ(c.relative_lift, std::optional<double>(0.0)) << l;
                EXPECT_FALSE(c.p_value || c.p_value_adjusted || c.lift_ci || c.difference_ci || c.chance_to_win) << l;
                const MetricVariantResult& v = m.variants[1];
                expect_opt(v.value, g.value_b, l + " value");
                expect_opt(v.relative_lift, g.lift, l + " lift");
                const bool fixed = method == Method::Fixed;
                expect_opt(v.p_value, fixed ? g.fixed_p : g.seq_p, l + " p");
                expect_opt(v.p_value_adjusted, fixed ? g.fixed_p : g.seq_p, l + " p adjusted");
                expect_iv(v.lift_ci, fixed ? g.fixed_lift : g.seq_lift, l + " lift_ci");
                expect_iv(v.difference_ci, fixed ? g.fixed_diff : g.seq_diff, l + " difference_ci");
                expect_opt(v.chance_to_win, direction == Direction::Increase ? g.ctw : g.ctw_inverse, l + " ctw");
                const bool sig = v.p_value && *v.p_value < g.alpha && excludes_zero(v.lift_ci) &&
                                 excludes_zero(v.difference_ci);
                EXPECT_EQ(v.is_significant, sig) << l;
                EXPECT_EQ(v.is_regression, is_significant_regression(v, direction)) << l;
                if (fixed) {
                    EXPECT_FALSE(m.min_p_values[1].has_value()) << l;
                } else {
                    EXPECT_EQ(m.min_p_values[1], v.p_value) << l;
                }
            }
        }
    }
}

TEST(GoldenMetricAnalyses, MatchOraclesAcrossMetricsAndTheFamily) {
    for (const auto& g : kGoldenMetricAnalyses) {
        const std::string l = g.label;
        std::vector<MetricInput> in;
        for (const auto& m : g.in) {
            std::vector<MetricSums> arms;
            for (const auto& s : m.arms) arms.push_back(sums(s));
            in.push_back(metric(m.key, m.kind, arms, m.role, m.direction));
        }
        const std::optional<std::size_t> control =
            g.control < 0 ? std::nullopt : std::optional<std::size_t>(static_cast<std::size_t>(g.control));
        const MetricsAnalysis a = analyze_metrics(in, control, options(g.method, g.alpha, g.tuning, g.asked));
        expect_all_finite(a);
        EXPECT_EQ(a.options.correction, g.asked) << l;
        EXPECT_EQ(a.correction, g.applied) << l;
        EXPECT_EQ(a.family_size, g.family_size) << l;
        EXPECT_EQ(a.has_guardrail_regression, g.guardrail_regression) << l;
        ASSERT_EQ(a.metrics.size(), g.out.size()) << l;
        for (std::size_t m = 0; m < g.out.size(); ++m) {
            const MetricResult& r = a.metrics[m];
            const GoldenMetricOut& e = g.out[m];
            const std::string lm = l + " / " + r.key;
            EXPECT_EQ(r.key, g.in[m].key) << lm;
            EXPECT_EQ(r.kind, g.in[m].kind) << lm;
            EXPECT_EQ(r.role, g.in[m].role) << lm;
            EXPECT_EQ(r.direction, g.in[m].direction) << lm;
            EXPECT_EQ(r.is_significant, e.sig) << lm;
            EXPECT_EQ(r.has_regression, e.regression) << lm;
            ASSERT_EQ(r.variants.size(), e.variants.size()) << lm;
            ASSERT_EQ(r.min_p_values.size(), e.variants.size()) << lm;
            for (std::size_t i = 0; i < e.variants.size(); ++i) {
                const MetricVariantResult& v = r.variants[i];
                const GoldenMetricVariantOut& x = e.variants[i];
                const std::string w = lm + " / variant " + std::to_string(i);
                expect_opt(v.value, x.value, w + " value");
                expect_opt(v.relative_lift, x.lift, w + " lift");
                expect_opt(v.p_value, x.p, w + " p");
                expect_opt(v.p_value_adjusted, x.p_adj, w + " p_adj");
                expect_iv(v.lift_ci, x.lift_ci, w + " lift_ci");
                expect_iv(v.difference_ci, x.diff_ci, w + " difference_ci");
                expect_opt(v.chance_to_win, x.ctw, w + " chance_to_win");
                EXPECT_EQ(v.is_significant, x.sig) << w;
                EXPECT_EQ(v.is_regression, x.regression) << w;
                // The rule, on the C++ numbers themselves.
                EXPECT_EQ(v.is_significant, v.p_value_adjusted && *v.p_value_adjusted < g.alpha &&
                                                excludes_zero(v.lift_ci) && excludes_zero(v.difference_ci))
                    << w;
                if (g.method == Method::Sequential && control && i != *control) {
                    EXPECT_EQ(r.min_p_values[i], v.p_value) << w;
                } else {
                    EXPECT_FALSE(r.min_p_values[i].has_value()) << w;
                }
            }
        }
    }
}

TEST(GoldenMetricLooks, SequentialPValueOfAMeanIsARunningMinimumAcrossLooks) {
    const AnalysisOptions o = options(Method::Sequential);
    std::vector<std::vector<std::optional<double>>> previous;
    for (const auto& g : kGoldenMetricLooks) {
        const std::string w = "look n=" + std::to_string(g.a.n);
        const auto raw = sequential_test_p_value(metric_statistic(MetricKind::Mean, sums(g.a)),
                                                 metric_statistic(MetricKind::Mean, sums(g.b)), Scale::Relative,
                                                 o.alpha, o.sequential_tuning);
        expect_opt(raw, g.p, w + " raw");
        const MetricsAnalysis a = analyze_metrics(
            {metric("revenue", MetricKind::Mean, {sums(g.a), sums(g.b)}, MetricRole::Secondary)}, 0, o, previous);
        expect_opt(a.metrics[0].variants[1].p_value, g.running, w + " running");
        expect_opt(a.metrics[0].min_p_values[1], g.running, w + " persisted");
        EXPECT_FALSE(a.metrics[0].min_p_values[0].has_value());
        expect_all_finite(a);
        previous = {a.metrics[0].min_p_values};
    }
}

// =====================================================================================================
// A proportion metric is today's analysis

TEST(ProportionMetric, EqualsTheLegacyAnalysisExactly) {
    const std::int64_t big = 1000000000;
    const std::vector<std::vector<VariantCounts>> cases{
        {vc("control", true, 500, 50), vc("b", false, 500, 65)},
        {vc("control", true, 1000, 100), vc("b", false, 1000, 140), vc("c", false, 500, 60), vc("d", false, 1000, 70)},
        {vc("b", false, 20000, 2300), vc("c", false, 0, 0), vc("control", true, 20000, 2000)},
        {vc("control", true, 100, 0), vc("b", false, 100, 5)},
        {vc("control", true, 10, 10), vc("b", false, 20, 20)},
        {vc("control", true, 1, 0), vc("b", false, 1, 1)},
        {vc("control", true, 0, 0), vc("b", false, 100, 5)},
        {vc("control", true, 500, 50), vc("b", false, 0, 0)},
        {vc("control", true, big, big / 10), vc("b", false, big / 4, big / 40 + 100000)},
        {vc("c1", true, 5000, 500), vc("c2", true, 5000, 600)},
        {vc("a", false, 500, 50), vc("b", false, 500, 80)},
        {vc("control", true, 500, 50)},
        {},
    };
    const std::vector<std::vector<std::optional<double>>> histories{
        {}, {std::nullopt, 0.01, 0.5, 2.0}, {0.3, 1e-9, std::numeric_limits<double>::quiet_NaN(), 0.04}};
    int compared = 0;
    for (const auto& in : cases) {
        for (Method method : {Method::Fixed, Method::Sequential}) {
            for (Correction c : {Correction::None, Correction::HolmBonferroni, Correction::BenjaminiHochberg}) {
                for (const auto& history : histories) {
                    const AnalysisOptions o = options(method, 0.05, 5000, c);
                    const Analysis legacy = analyze(in, o, history);
                    const MetricsAnalysis now = analyze_metrics({conversion_metric(in)}, control_index(in), o, {history});
                    ASSERT_EQ(now.metrics.size(), 1u);
                    const MetricResult& m = now.metrics[0];
                    EXPECT_EQ(m.key, "conversion");
                    EXPECT_EQ(m.kind, MetricKind::Proportion);
                    EXPECT_EQ(now.correction, legacy.correction);
                    EXPECT_EQ(m.is_significant, legacy.is_significant);
                    EXPECT_EQ(m.min_p_values, legacy.min_p_values);
                    ASSERT_EQ(m.variants.size(), legacy.variants.size());
                    for (std::size_t i = 0; i < in.size(); ++i) {
                        const VariantResult& x = legacy.variants[i];
                        const MetricVariantResult& y = m.variants[i];
                        const std::string w = in[i].key;
                        // Exact: the same code computes both.
                        EXPECT_EQ(y.relative_lift, x.relative_lift) << w;
                        EXPECT_EQ(y.p_value, x.p_value) << w;
                        EXPECT_EQ(y.p_value_adjusted, x.p_value_adjusted) << w;
                        EXPECT_EQ(y.chance_to_win, x.chance_to_win) << w;
                        EXPECT_EQ(y.is_significant, x.is_significant) << w;
                        ASSERT_EQ(y.lift_ci.has_value(), x.lift_ci.has_value()) << w;
                        if (x.lift_ci) {
                            EXPECT_EQ(y.lift_ci->low, x.lift_ci->low) << w;
                            EXPECT_EQ(y.lift_ci->high, x.lift_ci->high) << w;
                        }
                        ASSERT_EQ(y.difference_ci.has_value(), x.difference_ci.has_value()) << w;
                        if (x.difference_ci) {
                            EXPECT_EQ(y.difference_ci->low, x.difference_ci->low) << w;
                            EXPECT_EQ(y.difference_ci->high, x.difference_ci->high) << w;
                        }
                        if (in[i].participants > 0) {
                            EXPECT_EQ(y.value, std::optional<double>(x.conversion_rate)) << w;
                        } else {
                            EXPECT_FALSE(y.value.has_value()) << w;
                        }
                        ++compared;
                    }
                }
            }
        }
    }
    EXPECT_GT(compared, 300);
}

TEST(ProportionMetric, FixedPValueIsThePooledZTest) {
    const MetricsAnalysis a =
        analyze_metrics({metric("c", MetricKind::Proportion, {conversions(1000, 100), conversions(250, 36)})}, 0,
                        options(Method::Fixed));
    EXPECT_EQ(a.metrics[0].variants[1].p_value, two_proportion_p_value(1000, 100, 250, 36));
    // ... not the Welch t-test of the same statistics, which a mean metric of 0/1 values gets.
    const auto t = t_test_p_value(proportion_statistic(1000, 100), proportion_statistic(250, 36), Scale::Relative);
    ASSERT_TRUE(t && a.metrics[0].variants[1].p_value);
    EXPECT_NE(*t, *a.metrics[0].variants[1].p_value);
}

TEST(ProportionMetric, ControlIndexAndConversionMetric) {
    EXPECT_FALSE(control_index({}).has_value());
    EXPECT_FALSE(control_index({vc("a", false, 1, 0), vc("b", false, 1, 0)}).has_value());
    EXPECT_EQ(control_index({vc("a", false, 1, 0), vc("c1", true, 1, 0), vc("c2", true, 1, 0)}),
              std::optional<std::size_t>(1));
    const MetricInput m = conversion_metric({vc("a", true, 10, 3), vc("b", false, 20, 5)}, "signup");
    EXPECT_EQ(m.key, "signup");
    EXPECT_EQ(m.kind, MetricKind::Proportion);
    EXPECT_EQ(m.role, MetricRole::Primary);
    EXPECT_EQ(m.direction, Direction::Increase);
    ASSERT_EQ(m.arms.size(), 2u);
    EXPECT_EQ(m.arms[1].n, 20);
    EXPECT_EQ(m.arms[1].sum, 5.0);
    EXPECT_EQ(m.arms[1].sum_squares, 5.0);
}

// =====================================================================================================
// Undefined cases

TEST(MetricValues, EmptyWhenThereIsNothingToDivideBy) {
    EXPECT_FALSE(metric_value(MetricKind::Mean, mean_sums(0, 0.0, 0.0)));
    EXPECT_FALSE(metric_value(MetricKind::Proportion, conversions(0, 0)));
    EXPECT_FALSE(metric_value(MetricKind::Ratio, ratio_sums(0, 0, 0, 0, 0, 0)));
    EXPECT_FALSE(metric_value(MetricKind::Ratio, ratio_sums(10, 5.0, 9.0, 0.0, 0.0, 0.0)));
    EXPECT_FALSE(metric_value(MetricKind::Mean, mean_sums(-3, 5.0, 9.0)));
    EXPECT_FALSE(metric_value(MetricKind::Mean, mean_sums(3, std::numeric_limits<double>::quiet_NaN(), 9.0)));
    EXPECT_EQ(metric_value(MetricKind::Mean, mean_sums(4, -10.0, 30.0)), std::optional<double>(-2.5));
    EXPECT_EQ(metric_value(MetricKind::Proportion, conversions(4, 1)), std::optional<double>(0.25));
    EXPECT_EQ(metric_value(MetricKind::Ratio, ratio_sums(4, 10.0, 30.0, 4.0, 6.0, 12.0)), std::optional<double>(2.5));
    EXPECT_EQ(metric_value(MetricKind::Ratio, ratio_sums(1, 3.0, 9.0, 2.0, 4.0, 6.0)), std::optional<double>(1.5));
}

TEST(MetricAnalysis, UndefinedCasesGiveEmptyOptionalsAndNoLabel) {
    const MetricSums good = mean_sums(100, 500.0, 3000.0);
    const MetricSums good_ratio = ratio_sums(100, 500.0, 3000.0, 150.0, 260.0, 900.0);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    struct Case {
        const char* label;
        MetricKind kind;
        MetricSums control, variant;
    };
    const std::vector<Case> cases{
        {"mean, one user per arm", MetricKind::Mean, mean_sums(1, 3.0, 9.0), mean_sums(1, 4.0, 16.0)},
        {"mean, empty control", MetricKind::Mean, mean_sums(0, 0.0, 0.0), good},
        {"mean, empty treatment", MetricKind::Mean, good, mean_sums(0, 0.0, 0.0)},
        {"mean, zero baseline", MetricKind::Mean, mean_sums(4, 0.0, 10.0), good},
        {"mean, zero variance", MetricKind::Mean, mean_sums(100, 500.0, 2500.0), good},
        {"mean, zero variance in treatment", MetricKind::Mean, good, mean_sums(100, 500.0, 2500.0)},
        {"mean, negative count", MetricKind::Mean, mean_sums(-100, 500.0, 3000.0), good},
        {"mean, NaN sum", MetricKind::Mean, good, mean_sums(100, nan, 3000.0)},
        {"mean, infinite sum of squares", MetricKind::Mean, mean_sums(100, 500.0, inf), good},
        {"mean, sum of squares too small (corrupt)", MetricKind::Mean, good, mean_sums(100, 500.0, 10.0)},
        {"ratio, zero control denominator", MetricKind::Ratio, ratio_sums(100, 0, 0, 0, 0, 0), good_ratio},
        {"ratio, zero treatment denominator", MetricKind::Ratio, good_ratio, ratio_sums(100, 40.0, 90.0, 0, 0, 0)},
        {"ratio, zero control numerator", MetricKind::Ratio, ratio_sums(100, 0, 0, 150.0, 260.0, 0), good_ratio},
        {"ratio, one user", MetricKind::Ratio, ratio_sums(1, 3, 9, 1, 1, 3), ratio_sums(1, 4, 16, 2, 4, 8)},
        {"ratio, NaN product", MetricKind::Ratio, good_ratio, ratio_sums(100, 500.0, 3000.0, 150.0, 260.0, nan)},
        {"proportion, zero control rate", MetricKind::Proportion, conversions(100, 0), conversions(100, 5)},
        {"proportion, all converted", MetricKind::Proportion, conversions(10, 10), conversions(20, 20)},
    };
    for (const auto& c : cases) {
        for (Method method : {Method::Fixed, Method::Sequential}) {
            for (Direction d : {Direction::Increase, Direction::Decrease}) {
                const MetricsAnalysis a = analyze_metrics(
                    {metric("m", c.kind, {c.control, c.variant}, MetricRole::Guardrail, d)}, 0, options(method));
                expect_all_finite(a);
                const MetricVariantResult& v = a.metrics[0].variants[1];
                EXPECT_FALSE(v.lift_ci.has_value()) << c.label;
                EXPECT_FALSE(v.difference_ci.has_value()) << c.label;
                EXPECT_FALSE(v.chance_to_win.has_value()) << c.label;
                EXPECT_FALSE(v.is_significant) << c.label;
                EXPECT_FALSE(v.is_regression) << c.label;
                if (c.kind != MetricKind::Proportion) {  // the pooled z-test is defined with one rate of 0
                    EXPECT_FALSE(v.p_value.has_value()) << c.label;
                    EXPECT_FALSE(v.p_value_adjusted.has_value()) << c.label;
                    EXPECT_FALSE(a.metrics[0].min_p_values[1].has_value()) << c.label;
                }
            }
        }
    }
}

TEST(MetricAnalysis, LiftIsEmptyWithoutBothValuesOrWithAZeroBaseline) {
    const auto lift = [](MetricKind kind, MetricSums a, MetricSums b) {
        return analyze_metrics({metric("m", kind, {a, b})}, 0, options(Method::Fixed)).metrics[0].variants[1].relative_lift;
    };
    EXPECT_FALSE(lift(MetricKind::Mean, mean_sums(0, 0, 0), mean_sums(10, 5, 5)));
    EXPECT_FALSE(lift(MetricKind::Mean, mean_sums(10, 5, 5), mean_sums(0, 0, 0)));
    EXPECT_FALSE(lift(MetricKind::Mean, mean_sums(10, 0, 5), mean_sums(10, 5, 5)));
    EXPECT_FALSE(lift(MetricKind::Ratio, ratio_sums(10, 5, 5, 0, 0, 0), ratio_sums(10, 5, 5, 5, 5, 5)));
    EXPECT_EQ(lift(MetricKind::Mean, mean_sums(10, -5, 5), mean_sums(10, -10, 20)), std::optional<double>(1.0));
    // Defined from one user on, though the tests need two.
    EXPECT_EQ(lift(MetricKind::Mean, mean_sums(1, 4, 16), mean_sums(1, 5, 25)), std::optional<double>(0.25));
    // Proportions keep today's rule: an empty treatment arm's rate is 0 (lift -1), as analyze says.
    EXPECT_EQ(lift(MetricKind::Proportion, conversions(100, 10), conversions(0, 0)), std::optional<double>(-1.0));
}

// =====================================================================================================
// Direction

TEST(MetricDirection, ChanceToWinIsTheProbabilityOfBeingBetter) {
    const MetricSums control = mean_sums(1000, 200000.0, 40000000.0 + 999.0 * 2500.0);  // mean 200, sd 50
    const MetricSums slower = mean_sums(1000, 210000.0, 210000.0 * 210.0 + 999.0 * 2500.0);  // mean 210
    for (Method method : {Method::Fixed, Method::Sequential}) {
        const MetricsAnalysis up = analyze_metrics(
            {metric("latency", MetricKind::Mean, {control, slower}, MetricRole::Guardrail, Direction::Increase)}, 0,
            options(method));
        const MetricsAnalysis down = analyze_metrics(
            {metric("latency", MetricKind::Mean, {control, slower}, MetricRole::Guardrail, Direction::Decrease)}, 0,
            options(method));
        const MetricVariantResult& u = up.metrics[0].variants[1];
        const MetricVariantResult& d = down.metrics[0].variants[1];
        ASSERT_TRUE(u.chance_to_win && d.chance_to_win);
        EXPECT_GT(*u.chance_to_win, 0.99);  // higher, and higher is better
        EXPECT_LT(*d.chance_to_win, 0.01);  // higher, and lower is better
        EXPECT_NEAR(*u.chance_to_win + *d.chance_to_win, 1.0, 1e-15);
        // Everything else does not depend on the direction.
        EXPECT_EQ(u.p_value, d.p_value);
        EXPECT_EQ(u.is_significant, d.is_significant);
        EXPECT_TRUE(u.is_significant);
        // +5 % latency is a regression only when lower is better.
        EXPECT_FALSE(u.is_regression);
        EXPECT_TRUE(d.is_regression);
        EXPECT_FALSE(up.has_guardrail_regression);
        EXPECT_TRUE(down.has_guardrail_regression);
        EXPECT_TRUE(down.metrics[0].has_regression);
    }
}

TEST(MetricDirection, SignificantRegressionLooksAtTheBadSideOfTheLiftInterval) {
    MetricVariantResult r;
    EXPECT_FALSE(is_significant_regression(r, Direction::Increase));  // no interval
    EXPECT_FALSE(is_significant_regression(r, Direction::Decrease));
    r.lift_ci = Interval{-0.2, -0.01};
    EXPECT_TRUE(is_significant_regression(r, Direction::Increase));
    EXPECT_FALSE(is_significant_regression(r, Direction::Decrease));
    r.lift_ci = Interval{0.01, 0.2};
    EXPECT_FALSE(is_significant_regression(r, Direction::Increase));
    EXPECT_TRUE(is_significant_regression(r, Direction::Decrease));
    r.lift_ci = Interval{-0.1, 0.1};
    EXPECT_FALSE(is_significant_regression(r, Direction::Increase));
    EXPECT_FALSE(is_significant_regression(r, Direction::Decrease));
    r.lift_ci = Interval{-0.1, 0.0};  // touching 0 is not excluding it
    EXPECT_FALSE(is_significant_regression(r, Direction::Increase));
    r.lift_ci = Interval{0.0, 0.1};
    EXPECT_FALSE(is_significant_regression(r, Direction::Decrease));
}

// =====================================================================================================
// The family

TEST(MetricFamily, PrimaryAndSecondaryMetricsTimesTreatmentsGuardrailsOutside) {
    const MetricSums c = mean_sums(2000, 2000.0 * 10.0, 2000.0 * 100.0 + 1999.0 * 16.0);
    const MetricSums t1 = mean_sums(2000, 2000.0 * 10.3, 2000.0 * 10.3 * 10.3 + 1999.0 * 16.0);
    const MetricSums t2 = mean_sums(2000, 2000.0 * 10.1, 2000.0 * 10.1 * 10.1 + 1999.0 * 16.0);
    const std::vector<MetricInput> in{
        metric("a", MetricKind::Mean, {c, t1, t2}, MetricRole::Primary),
        metric("b", MetricKind::Mean, {c, t2, t1}, MetricRole::Secondary),
        metric("g", MetricKind::Mean, {c, t1, t2}, MetricRole::Guardrail),
    };
    for (Correction corr : {Correction::HolmBonferroni, Correction::BenjaminiHochberg}) {
        const MetricsAnalysis a = analyze_metrics(in, 0, options(Method::Fixed, 0.05, 5000, corr));
        EXPECT_EQ(a.family_size, 4u);
        EXPECT_EQ(a.correction, corr);
        const std::vector<std::optional<double>> family{
            a.metrics[0].variants[1].p_value, a.metrics[0].variants[2].p_value, a.metrics[1].variants[1].p_value,
            a.metrics[1].variants[2].p_value};
        const auto adjusted = adjust_p_values(family, corr);
        EXPECT_EQ(a.metrics[0].variants[1].p_value_adjusted, adjusted[0]);
        EXPECT_EQ(a.metrics[0].variants[2].p_value_adjusted, adjusted[1]);
        EXPECT_EQ(a.metrics[1].variants[1].p_value_adjusted, adjusted[2]);
        EXPECT_EQ(a.metrics[1].variants[2].p_value_adjusted, adjusted[3]);
        // The guardrail's p is its own, and its numbers equal those of the same metric as a primary.
        for (std::size_t i : {1u, 2u}) {
            EXPECT_EQ(a.metrics[2].variants[i].p_value_adjusted, a.metrics[2].variants[i].p_value);
            EXPECT_EQ(a.metrics[2].variants[i].p_value, a.metrics[0].variants[i].p_value);
            EXPECT_GE(*a.metrics[0].variants[i].p_value_adjusted, *a.metrics[0].variants[i].p_value);
        }
    }
    const MetricsAnalysis none = analyze_metrics(in, 0, options(Method::Fixed, 0.05, 5000, Correction::None));
    EXPECT_EQ(none.family_size, 4u);
    EXPECT_EQ(none.correction, Correction::None);
    EXPECT_EQ(none.metrics[1].variants[2].p_value_adjusted, none.metrics[1].variants[2].p_value);
}

TEST(MetricFamily, CorrectionOnlyWithTwoOrMoreHypotheses) {
    const MetricSums c = mean_sums(2000, 20000.0, 2000.0 * 100.0 + 1999.0 * 16.0);
    const MetricSums t = mean_sums(2000, 20600.0, 2000.0 * 10.3 * 10.3 + 1999.0 * 16.0);
    // One primary, one treatment, any number of guardrails: a family of one.
    const MetricsAnalysis a = analyze_metrics(
        {metric("a", MetricKind::Mean, {c, t}), metric("g1", MetricKind::Mean, {c, t}, MetricRole::Guardrail),
         metric("g2", MetricKind::Ratio, {ratio_sums(100, 50, 40, 100, 120, 60), ratio_sums(100, 60, 50, 100, 120, 70)},
                MetricRole::Guardrail)},
        0, options(Method::Fixed));
    EXPECT_EQ(a.family_size, 1u);
    EXPECT_EQ(a.correction, Correction::None);
    EXPECT_EQ(a.metrics[0].variants[1].p_value_adjusted, a.metrics[0].variants[1].p_value);
    // Two metrics with one treatment: a family of two.
    const MetricsAnalysis b = analyze_metrics(
        {metric("a", MetricKind::Mean, {c, t}), metric("b", MetricKind::Mean, {c, t}, MetricRole::Secondary)}, 0,
        options(Method::Fixed));
    EXPECT_EQ(b.family_size, 2u);
    EXPECT_EQ(b.correction, Correction::HolmBonferroni);
    ASSERT_TRUE(b.metrics[0].variants[1].p_value);
    EXPECT_EQ(*b.metrics[0].variants[1].p_value_adjusted, std::min(1.0, 2.0 * *b.metrics[0].variants[1].p_value));
    // An untestable hypothesis stays in the family (and is adjusted to nothing).
    const MetricsAnalysis u = analyze_metrics(
        {metric("a", MetricKind::Mean, {c, t}), metric("broken", MetricKind::Mean, {c, mean_sums(1, 3, 9)})}, 0,
        options(Method::Fixed));
    EXPECT_EQ(u.family_size, 2u);
    EXPECT_EQ(u.correction, Correction::HolmBonferroni);
    EXPECT_FALSE(u.metrics[1].variants[1].p_value_adjusted.has_value());
    EXPECT_EQ(*u.metrics[0].variants[1].p_value_adjusted, std::min(1.0, 2.0 * *u.metrics[0].variants[1].p_value));
}

TEST(MetricFamily, WithoutAControlThereAreValuesOnly) {
    const std::vector<MetricInput> in{metric("a", MetricKind::Mean, {mean_sums(10, 50, 300), mean_sums(10, 60, 400)}),
                                      metric("short", MetricKind::Mean, {mean_sums(10, 50, 300)})};
    for (std::optional<std::size_t> control : {std::optional<std::size_t>{}, std::optional<std::size_t>(5)}) {
        const MetricsAnalysis a = analyze_metrics(in, control, options(Method::Sequential));
        EXPECT_EQ(a.family_size, 0u);
        EXPECT_EQ(a.correction, Correction::None);
        for (const auto& m : a.metrics) {
            for (const auto& v : m.variants) {
                EXPECT_TRUE(v.value.has_value());
                EXPECT_FALSE(v.relative_lift || v.p_value || v.p_value_adjusted || v.lift_ci || v.difference_ci ||
                             v.chance_to_win);
                EXPECT_FALSE(v.is_significant || v.is_regression);
            }
        }
    }
    // A control index beyond one metric's arms leaves only that metric uncompared.
    const MetricsAnalysis a = analyze_metrics(in, 1, options(Method::Fixed));
    EXPECT_EQ(a.metrics[0].variants[1].relative_lift, std::optional<double>(0.0));
    EXPECT_TRUE(a.metrics[0].variants[0].p_value.has_value());
    EXPECT_FALSE(a.metrics[1].variants[0].relative_lift.has_value());
    EXPECT_EQ(a.family_size, 1u);
    EXPECT_TRUE(analyze_metrics({}, 0, options(Method::Fixed)).metrics.empty());
}

// =====================================================================================================
// History and options

TEST(MetricHistory, RunningMinimumPerMetricAndVariant) {
    const MetricSums c = mean_sums(10000, 100000.0, 10000.0 * 100.0 + 9999.0 * 400.0);
    const MetricSums t = mean_sums(10000, 100100.0, 10000.0 * 10.01 * 10.01 + 9999.0 * 400.0);
    const std::vector<MetricInput> in{metric("a", MetricKind::Mean, {c, t}),
                                      metric("g", MetricKind::Mean, {c, t}, MetricRole::Guardrail)};
    const MetricsAnalysis now = analyze_metrics(in, 0, options(Method::Sequential));
    const auto p = now.metrics[0].variants[1].p_value;
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, 1.0);  // a tiny effect: the e-value is below 1
    // History below the current look wins, per metric; corrupt or missing history is ignored.
    const MetricsAnalysis later =
        analyze_metrics(in, 0, options(Method::Sequential), {{std::nullopt, 0.2}, {0.001, 1.5}});
    EXPECT_EQ(later.metrics[0].variants[1].p_value, std::optional<double>(0.2));
    EXPECT_EQ(later.metrics[0].min_p_values[1], std::optional<double>(0.2));
    EXPECT_EQ(later.metrics[1].variants[1].p_value, p);  // 1.5 is corrupt, the control's entry ignored
    EXPECT_FALSE(later.metrics[1].min_p_values[0].has_value());
    // An earlier crossing does not label an interval that covers 0 now.
    const MetricsAnalysis crossed = analyze_metrics(in, 0, options(Method::Sequential), {{std::nullopt, 0.001}});
    const MetricVariantResult& v = crossed.metrics[0].variants[1];
    EXPECT_EQ(v.p_value, std::optional<double>(0.001));
    ASSERT_TRUE(v.lift_ci);
    EXPECT_TRUE(v.lift_ci->contains(0.0));
    EXPECT_FALSE(v.is_significant);
    // Carried when the current look is undefined.
    const MetricsAnalysis undefined = analyze_metrics({metric("a", MetricKind::Mean, {mean_sums(1, 1, 1), t})}, 0,
                                                      options(Method::Sequential), {{std::nullopt, 0.03}});
    EXPECT_EQ(undefined.metrics[0].variants[1].p_value, std::optional<double>(0.03));
    EXPECT_EQ(undefined.metrics[0].min_p_values[1], std::optional<double>(0.03));
    // Ignored under Fixed.
    const MetricsAnalysis fixed = analyze_metrics(in, 0, options(Method::Fixed), {{std::nullopt, 1e-12}});
    EXPECT_EQ(fixed.metrics[0].variants[1].p_value,
              t_test_p_value(metric_statistic(MetricKind::Mean, c), metric_statistic(MetricKind::Mean, t),
                             Scale::Relative));
    for (const auto& m : fixed.metrics)
        for (const auto& h : m.min_p_values) EXPECT_FALSE(h.has_value());
}

TEST(MetricOptions, InvalidOptionsThrowAndAreRecorded) {
    const std::vector<MetricInput> in{metric("a", MetricKind::Mean, {mean_sums(10, 50, 300), mean_sums(10, 60, 400)})};
    for (double alpha : {0.0, 1.0, std::numeric_limits<double>::quiet_NaN()}) {
        EXPECT_THROW(analyze_metrics(in, 0, options(Method::Fixed, alpha)), std::invalid_argument);
    }
    EXPECT_THROW(analyze_metrics(in, 0, options(Method::Sequential, 0.05, -1.0)), std::invalid_argument);
    const MetricsAnalysis a = analyze_metrics(in, 0, options(Method::Sequential, 0.1, 2000, Correction::None));
    EXPECT_EQ(a.options.method, Method::Sequential);
    EXPECT_EQ(a.options.alpha, 0.1);
    EXPECT_EQ(a.options.sequential_tuning, 2000);
    EXPECT_EQ(a.options.correction, Correction::None);
}

TEST(MetricOptions, Spellings) {
    EXPECT_STREQ(to_string(MetricKind::Proportion), "proportion");
    EXPECT_STREQ(to_string(MetricKind::Mean), "mean");
    EXPECT_STREQ(to_string(MetricKind::Ratio), "ratio");
    EXPECT_STREQ(to_string(MetricRole::Primary), "primary");
    EXPECT_STREQ(to_string(MetricRole::Secondary), "secondary");
    EXPECT_STREQ(to_string(MetricRole::Guardrail), "guardrail");
    EXPECT_STREQ(to_string(Direction::Increase), "increase");
    EXPECT_STREQ(to_string(Direction::Decrease), "decrease");
    const MetricInput defaults;
    EXPECT_EQ(defaults.kind, MetricKind::Proportion);
    EXPECT_EQ(defaults.role, MetricRole::Primary);
    EXPECT_EQ(defaults.direction, Direction::Increase);
}

TEST(MetricAnalysis, AbsurdSumsNeverProduceNaN) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    const double huge = std::numeric_limits<double>::max();
    const std::int64_t max = std::numeric_limits<std::int64_t>::max();
    const std::vector<MetricSums> arms{
        MetricSums{},
        MetricSums{max, huge, huge, huge, huge, huge},
        MetricSums{2, -huge, huge, -huge, huge, -huge},
        MetricSums{3, nan, nan, nan, nan, nan},
        MetricSums{4, inf, inf, -inf, inf, inf},
        MetricSums{5, 1e-300, 1e-300, 1e-300, 1e-300, 1e-300},
        MetricSums{1000, 5.0, -7.0, 3.0, -1.0, 2.0},
        MetricSums{-5, 1.0, 1.0, 1.0, 1.0, 1.0},
        MetricSums{1000, 123.0, 4567.0, 89.0, 1011.0, 1213.0},
    };
    for (MetricKind kind : {MetricKind::Proportion, MetricKind::Mean, MetricKind::Ratio}) {
        for (std::size_t control = 0; control < arms.size(); ++control) {
            for (Method method : {Method::Fixed, Method::Sequential}) {
                const MetricsAnalysis a =
                    analyze_metrics({metric("m", kind, arms), metric("g", kind, arms, MetricRole::Guardrail,
                                                                     Direction::Decrease)},
                                    control, options(method), {{0.5, nan, -1.0, 0.2}});
                expect_all_finite(a);
                ASSERT_EQ(a.metrics[0].variants.size(), arms.size());
            }
        }
    }
}
