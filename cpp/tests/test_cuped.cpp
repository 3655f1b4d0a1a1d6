// CUPED (issue 15): metrics regression adjusted on a pre-exposure covariate (metric_stats.hpp). Golden
// values from gbstats 0.8.0 RegressionAdjustedStatistic / compute_theta inside TwoSidedTTest,
// SequentialTwoSidedTTest and EffectBayesianABTest (cpp/tests/golden/make_stats_golden.py ->
// golden/cuped_golden.inc); then what the oracles do not pin down: a covariate without information is
// exactly the unadjusted analysis, θ is pooled per pair of arms, the variance reduction's definition and
// size (≈ ρ² = 0.49 for a 0.7-correlated covariate), Ratio metrics, undefined and absurd inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "expstream/metric_stats.hpp"
#include "expstream/stats.hpp"
#include "golden/golden_support.hpp"

using namespace expstream;
using namespace expstream::golden;

namespace {

struct GSums9 {
    std::int64_t n;
    double sum, sum_squares, denominator_sum, denominator_sum_squares, sum_of_products;
    double covariate_sum, covariate_sum_squares, covariate_products;
};

MetricSums sums(const GSums9& g) {
    MetricSums s;
    s.n = g.n;
    s.sum = g.sum;
    s.sum_squares = g.sum_squares;
    s.denominator_sum = g.denominator_sum;
    s.denominator_sum_squares = g.denominator_sum_squares;
    s.sum_of_products = g.sum_of_products;
    s.covariate_sum = g.covariate_sum;
    s.covariate_sum_squares = g.covariate_sum_squares;
    s.covariate_products = g.covariate_products;
    return s;
}

struct GoldenCupedComparison {
    const char* label;
    MetricKind kind;
    double alpha, tuning;
    GSums9 a, b;
    double theta;
    double a_mean, a_variance, b_mean, b_variance;  // the statistics the tests use (cuped_statistics)
    GOpt t_p;                                       // TwoSidedTTest relative p on those statistics
    GOpt fixed_p;                                   // analyze_metrics' Fixed p (pooled z when θ = 0, Proportion)
    GIv fixed_lift, fixed_diff;
    GOpt seq_p;
    GIv seq_lift, seq_diff;
    GOpt ctw, ctw_inverse, lift, variance_reduction;
};
struct GCuped {
    bool has;
    double theta;
    GOpt variance_reduction;
};
struct GoldenCupedMetricIn {
    const char* key;
    MetricKind kind;
    MetricRole role;
    Direction direction;
    bool cuped;
    std::vector<GSums9> arms;
};
struct GoldenCupedVariantOut {
    GOpt value, lift, p, p_adj;
    GIv lift_ci, diff_ci;
    GOpt ctw;
    bool sig, regression;
    GCuped cuped;
};
struct GoldenCupedMetricOut {
    bool cuped;
    std::vector<GoldenCupedVariantOut> variants;
    bool sig, regression;
};
struct GoldenCupedAnalysis {
    const char* label;
    Method method;
    double alpha, tuning;
    Correction asked;
    int control;  // -1: none
    std::vector<GoldenCupedMetricIn> in;
    std::vector<GoldenCupedMetricOut> out;
    Correction applied;
    std::size_t family_size;
    bool guardrail_regression;
};
struct GoldenCupedLook {
    GSums9 a, b;
    double theta;
    GOpt p, running;
};

#include "golden/cuped_golden.inc"

AnalysisOptions options(Method method, double alpha = 0.05, double tuning = 5000,
                        Correction correction = Correction::HolmBonferroni) {
    AnalysisOptions o;
    o.method = method;
    o.alpha = alpha;
    o.sequential_tuning = tuning;
    o.correction = correction;
    return o;
}

MetricInput metric(const char* key, MetricKind kind, std::vector<MetricSums> arms, bool cuped,
                   MetricRole role = MetricRole::Primary, Direction direction = Direction::Increase) {
    MetricInput m;
    m.key = key;
    m.kind = kind;
    m.role = role;
    m.direction = direction;
    m.arms = std::move(arms);
    m.cuped = cuped;
    return m;
}

const GoldenCupedComparison& golden_case(const std::string& label) {
    for (const auto& g : kGoldenCupedComparisons)
        if (label == g.label) return g;
    throw std::logic_error("no golden case " + label);
}

// The same metric without its covariate sums.
MetricSums without_covariate(MetricSums s) {
    s.covariate_sum = s.covariate_sum_squares = s.covariate_products = 0.0;
    return s;
}

void expect_same(const std::optional<double>& a, const std::optional<double>& b, const std::string& what) {
    ASSERT_EQ(a.has_value(), b.has_value()) << what;
    if (a) {
        EXPECT_EQ(*a, *b) << what;
    }
}

void expect_same(const std::optional<Interval>& a, const std::optional<Interval>& b, const std::string& what) {
    ASSERT_EQ(a.has_value(), b.has_value()) << what;
    if (a) {
        EXPECT_EQ(a->low, b->low) << what;
        EXPECT_EQ(a->high, b->high) << what;
    }
}

// Every number of two analyses equal to the last bit, cuped aside.
void expect_same_analysis(const MetricsAnalysis& x, const MetricsAnalysis& y, const std::string& l) {
    EXPECT_EQ(x.family_size, y.family_size) << l;
    EXPECT_EQ(x.correction, y.correction) << l;
    EXPECT_EQ(x.has_guardrail_regression, y.has_guardrail_regression) << l;
    ASSERT_EQ(x.metrics.size(), y.metrics.size()) << l;
    for (std::size_t m = 0; m < x.metrics.size(); ++m) {
        const MetricResult& a = x.metrics[m];
        const MetricResult& b = y.metrics[m];
        EXPECT_EQ(a.is_significant, b.is_significant) << l;
        EXPECT_EQ(a.has_regression, b.has_regression) << l;
        ASSERT_EQ(a.variants.size(), b.variants.size()) << l;
        for (std::size_t i = 0; i < a.variants.size(); ++i) {
            const std::string w = l + " / " + a.key + " / variant " + std::to_string(i);
            const MetricVariantResult& u = a.variants[i];
            const MetricVariantResult& v = b.variants[i];
            expect_same(u.value, v.value, w + " value");
            expect_same(u.relative_lift, v.relative_lift, w + " lift");
            expect_same(u.p_value, v.p_value, w + " p");
            expect_same(u.p_value_adjusted, v.p_value_adjusted, w + " p_adj");
            expect_same(u.chance_to_win, v.chance_to_win, w + " ctw");
            expect_same(u.lift_ci, v.lift_ci, w + " lift_ci");
            expect_same(u.difference_ci, v.difference_ci, w + " difference_ci");
            EXPECT_EQ(u.is_significant, v.is_significant) << w;
            EXPECT_EQ(u.is_regression, v.is_regression) << w;
            expect_same(a.min_p_values[i], b.min_p_values[i], w + " min p");
        }
    }
}

// No NaN/Inf anywhere, probabilities in [0, 1], intervals ordered, theta finite.
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
            if (v.cuped) {
                EXPECT_TRUE(std::isfinite(v.cuped->theta)) << m.key;
                if (v.cuped->variance_reduction) {
                    EXPECT_TRUE(std::isfinite(*v.cuped->variance_reduction)) << m.key;
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

// Users with a covariate c correlated rho with their value x (both N(mean, sd²)), from mt19937_64 (fully
// specified by the standard) and Box-Muller, folded into sums as the store does.
struct User {
    double x, c;
};

std::vector<User> correlated_users(std::size_t n, std::uint64_t seed, double rho, double effect = 0.0,
                                   double mean = 50.0, double sd = 10.0) {
    std::mt19937_64 rng(seed);
    auto uniform = [&] { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; };  // (0, 1)
    constexpr double kTwoPi = 6.283185307179586;
    auto normal = [&] { return std::sqrt(-2.0 * std::log(uniform())) * std::cos(kTwoPi * uniform()); };
    std::vector<User> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double z1 = normal(), z2 = normal();
        out.push_back({mean + effect + sd * (rho * z1 + std::sqrt(1.0 - rho * rho) * z2), mean + sd * z1});
    }
    return out;
}

MetricSums fold(const std::vector<User>& users) {
    MetricSums s;
    for (const User& u : users) {
        s.n += 1;
        s.sum += u.x;
        s.sum_squares += u.x * u.x;
        s.covariate_sum += u.c;
        s.covariate_sum_squares += u.c * u.c;
        s.covariate_products += u.x * u.c;
    }
    return s;
}

double half_width(const Interval& ci) { return (ci.high - ci.low) / 2.0; }

}  // namespace

// =====================================================================================================
// Golden values

TEST(GoldenCupedComparisons, ThetaAndStatisticsMatchGbstats) {
    for (const auto& g : kGoldenCupedComparisons) {
        const std::string l = g.label;
        const MetricSums a = sums(g.a), b = sums(g.b);
        const double theta = cuped_theta(g.kind, a, b);
        expect_close(theta, g.theta, 0.0, l + " theta");
        EXPECT_EQ(theta == 0.0, g.theta == 0.0) << l;  // reverting to the unadjusted tests is all or nothing
        const CupedStatistics s = cuped_statistics(g.kind, a, b);
        EXPECT_EQ(s.theta, theta) << l;
        EXPECT_EQ(s.control.n, static_cast<double>(g.a.n)) << l;
        EXPECT_EQ(s.variant.n, static_cast<double>(g.b.n)) << l;
        expect_close(s.control.mean, g.a_mean, 0.0, l + " control mean");
        expect_close(s.control.variance, g.a_variance, 0.0, l + " control variance");
        expect_close(s.variant.mean, g.b_mean, 0.0, l + " variant mean");
        expect_close(s.variant.variance, g.b_variance, 0.0, l + " variant variance");
        if (theta == 0.0) {
            // gbstats reverts to the plain statistics: no unadjusted mean to tell apart.
            EXPECT_FALSE(s.control.unadjusted_mean || s.variant.unadjusted_mean) << l;
        } else {
            EXPECT_EQ(s.control.unadjusted_mean, metric_statistic(g.kind, a).mean) << l;
            EXPECT_EQ(s.variant.unadjusted_mean, metric_statistic(g.kind, b).mean) << l;
            // cuped_statistic with that θ is what cuped_statistics returns.
            const ArmStatistic c = cuped_statistic(g.kind, a, theta);
            EXPECT_EQ(c.mean, s.control.mean) << l;
            EXPECT_EQ(c.variance, s.control.variance) << l;
        }
    }
}

TEST(GoldenCupedComparisons, TestsOnTheAdjustedStatisticsMatchGbstats) {
    for (const auto& g : kGoldenCupedComparisons) {
        const std::string l = g.label;
        const CupedStatistics s = cuped_statistics(g.kind, sums(g.a), sums(g.b));
        const ArmStatistic& a = s.control;
        const ArmStatistic& b = s.variant;
        expect_opt(t_test_p_value(a, b, Scale::Relative), g.t_p, l + " t p");
        expect_iv(t_confidence_interval(a, b, Scale::Relative, g.alpha), g.fixed_lift, l + " fixed lift");
        expect_iv(t_confidence_interval(a, b, Scale::Absolute, g.alpha), g.fixed_diff, l + " fixed diff");
        expect_opt(sequential_test_p_value(a, b, Scale::Relative, g.alpha, g.tuning), g.seq_p, l + " seq p");
        expect_iv(sequential_confidence_interval(a, b, Scale::Relative, g.alpha, g.tuning), g.seq_lift, l + " seq lift");
        expect_iv(sequential_confidence_interval(a, b, Scale::Absolute, g.alpha, g.tuning), g.seq_diff, l + " seq diff");
        expect_opt(chance_to_win(a, b), g.ctw, l + " chance to win");
        expect_opt(chance_to_win(a, b, true), g.ctw_inverse, l + " chance to win, inverse");
        expect_opt(cuped_variance_reduction(g.kind, sums(g.a), sums(g.b)), g.variance_reduction,
                   l + " variance reduction");
    }
}

TEST(GoldenCupedComparisons, TwoArmAnalysesGiveTheSameNumbers) {
    for (const auto& g : kGoldenCupedComparisons) {
        for (Method method : {Method::Fixed, Method::Sequential}) {
            for (Direction direction : {Direction::Increase, Direction::Decrease}) {
                const std::string l = std::string(g.label) + (method == Method::Fixed ? " fixed" : " sequential") +
                                      (direction == Direction::Increase ? " increase" : " decrease");
                const MetricsAnalysis a = analyze_metrics(
                    {metric("m", g.kind, {sums(g.a), sums(g.b)}, true, MetricRole::Primary, direction)}, 0,
                    options(method, g.alpha, g.tuning));
                expect_all_finite(a);
                const MetricResult& m = a.metrics[0];
                EXPECT_TRUE(m.cuped) << l;
                ASSERT_EQ(m.variants.size(), 2u);
                const MetricVariantResult& c = m.variants[0];
                EXPECT_FALSE(c.cuped.has_value()) << l;  // θ belongs to a comparison, not to the control
                EXPECT_EQ(c.relative_lift, std::optional<double>(0.0)) << l;
                expect_opt(c.value, {g.a.n > 0, g.a.n > 0 ? g.a.sum / static_cast<double>(g.a.n) : 0.0}, l);
                const MetricVariantResult& v = m.variants[1];
                const bool fixed = method == Method::Fixed;
                expect_opt(v.relative_lift, g.lift, l + " lift");
                expect_opt(v.p_value, fixed ? g.fixed_p : g.seq_p, l + " p");
                expect_opt(v.p_value_adjusted, fixed ? g.fixed_p : g.seq_p, l + " p adjusted");
                expect_iv(v.lift_ci, fixed ? g.fixed_lift : g.seq_lift, l + " lift_ci");
                expect_iv(v.difference_ci, fixed ? g.fixed_diff : g.seq_diff, l + " difference_ci");
                expect_opt(v.chance_to_win, direction == Direction::Increase ? g.ctw : g.ctw_inverse, l + " ctw");
                ASSERT_TRUE(v.cuped.has_value()) << l;
                expect_close(v.cuped->theta, g.theta, 0.0, l + " theta");
                expect_opt(v.cuped->variance_reduction, g.variance_reduction, l + " variance reduction");
                EXPECT_EQ(v.is_significant, v.p_value && *v.p_value < g.alpha && excludes_zero(v.lift_ci) &&
                                                excludes_zero(v.difference_ci))
                    << l;
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

TEST(GoldenCupedAnalyses, MatchOraclesAcrossMetricsAndTheFamily) {
    for (const auto& g : kGoldenCupedAnalyses) {
        const std::string l = g.label;
        std::vector<MetricInput> in;
        for (const auto& m : g.in) {
            std::vector<MetricSums> arms;
            for (const auto& s : m.arms) arms.push_back(sums(s));
            in.push_back(metric(m.key, m.kind, arms, m.cuped, m.role, m.direction));
        }
        const std::optional<std::size_t> control =
            g.control < 0 ? std::nullopt : std::optional<std::size_t>(static_cast<std::size_t>(g.control));
        const MetricsAnalysis a = analyze_metrics(in, control, options(g.method, g.alpha, g.tuning, g.asked));
        expect_all_finite(a);
        EXPECT_EQ(a.correction, g.applied) << l;
        EXPECT_EQ(a.family_size, g.family_size) << l;
        EXPECT_EQ(a.has_guardrail_regression, g.guardrail_regression) << l;
        ASSERT_EQ(a.metrics.size(), g.out.size()) << l;
        for (std::size_t m = 0; m < g.out.size(); ++m) {
            const MetricResult& r = a.metrics[m];
            const GoldenCupedMetricOut& e = g.out[m];
            const std::string lm = l + " / " + r.key;
            EXPECT_EQ(r.cuped, e.cuped) << lm;
            EXPECT_EQ(r.is_significant, e.sig) << lm;
            EXPECT_EQ(r.has_regression, e.regression) << lm;
            ASSERT_EQ(r.variants.size(), e.variants.size()) << lm;
            for (std::size_t i = 0; i < e.variants.size(); ++i) {
                const MetricVariantResult& v = r.variants[i];
                const GoldenCupedVariantOut& x = e.variants[i];
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
                ASSERT_EQ(v.cuped.has_value(), x.cuped.has) << w;
                if (v.cuped) {
                    expect_close(v.cuped->theta, x.cuped.theta, 0.0, w + " theta");
                    expect_opt(v.cuped->variance_reduction, x.cuped.variance_reduction, w + " variance reduction");
                }
                if (g.method == Method::Sequential && control && i != *control) {
                    EXPECT_EQ(r.min_p_values[i], v.p_value) << w;
                } else {
                    EXPECT_FALSE(r.min_p_values[i].has_value()) << w;
                }
            }
        }
    }
}

TEST(GoldenCupedLooks, SequentialPValueIsARunningMinimumOfTheAdjustedTest) {
    const AnalysisOptions o = options(Method::Sequential);
    std::vector<std::vector<std::optional<double>>> previous;
    for (const auto& g : kGoldenCupedLooks) {
        const std::string w = "look n=" + std::to_string(g.a.n);
        const MetricSums a = sums(g.a), b = sums(g.b);
        expect_close(cuped_theta(MetricKind::Mean, a, b), g.theta, 0.0, w + " theta");
        const CupedStatistics s = cuped_statistics(MetricKind::Mean, a, b);
        expect_opt(sequential_test_p_value(s.control, s.variant, Scale::Relative, o.alpha, o.sequential_tuning), g.p,
                   w + " raw");
        const MetricsAnalysis r =
            analyze_metrics({metric("revenue", MetricKind::Mean, {a, b}, true, MetricRole::Secondary)}, 0, o, previous);
        expect_opt(r.metrics[0].variants[1].p_value, g.running, w + " running");
        expect_opt(r.metrics[0].min_p_values[1], g.running, w + " persisted");
        expect_all_finite(r);
        previous = {r.metrics[0].min_p_values};
    }
}

// =====================================================================================================
// A covariate without information is the unadjusted analysis

TEST(Cuped, ZeroOrConstantCovariateIsExactlyTheUnadjustedAnalysis) {
    for (const auto& g : kGoldenCupedAnalyses) {
        for (Method method : {Method::Fixed, Method::Sequential}) {
            std::vector<MetricInput> zero, constant, plain;
            for (const auto& m : g.in) {
                std::vector<MetricSums> z, k, p;
                for (const auto& s : m.arms) {
                    const MetricSums u = without_covariate(sums(s));
                    z.push_back(u);
                    MetricSums c = u;  // every user's covariate is 3
                    c.covariate_sum = 3.0 * static_cast<double>(u.n);
                    c.covariate_sum_squares = 9.0 * static_cast<double>(u.n);
                    c.covariate_products = 3.0 * u.sum;
                    k.push_back(c);
                    p.push_back(u);
                }
                zero.push_back(metric(m.key, m.kind, z, true, m.role, m.direction));
                constant.push_back(metric(m.key, m.kind, k, true, m.role, m.direction));
                plain.push_back(metric(m.key, m.kind, p, false, m.role, m.direction));
            }
            const std::optional<std::size_t> control =
                g.control < 0 ? std::nullopt : std::optional<std::size_t>(static_cast<std::size_t>(g.control));
            const AnalysisOptions o = options(method, g.alpha, g.tuning, g.asked);
            const MetricsAnalysis unadjusted = analyze_metrics(plain, control, o);
            for (const MetricsAnalysis& a : {analyze_metrics(zero, control, o), analyze_metrics(constant, control, o)}) {
                const std::string l = std::string(g.label) + (method == Method::Fixed ? " fixed" : " sequential");
                expect_same_analysis(a, unadjusted, l);
                for (std::size_t m = 0; m < a.metrics.size(); ++m) {
                    const MetricResult& r = a.metrics[m];
                    EXPECT_EQ(r.cuped, r.kind != MetricKind::Ratio) << l;
                    for (std::size_t i = 0; i < r.variants.size(); ++i) {
                        const bool compared = control && i != *control && r.cuped;
                        ASSERT_EQ(r.variants[i].cuped.has_value(), compared) << l;
                        if (compared) {
                            EXPECT_EQ(r.variants[i].cuped->theta, 0.0) << l;
                            EXPECT_EQ(r.variants[i].cuped->variance_reduction, std::optional<double>(0.0)) << l;
                        }
                    }
                }
            }
        }
    }
}

TEST(Cuped, CovariateSumsAreIgnoredWithoutCuped) {
    for (const auto& g : kGoldenCupedAnalyses) {
        std::vector<MetricInput> with, without;
        for (const auto& m : g.in) {
            std::vector<MetricSums> w, o;
            for (const auto& s : m.arms) {
                w.push_back(sums(s));
                o.push_back(without_covariate(sums(s)));
            }
            with.push_back(metric(m.key, m.kind, w, false, m.role, m.direction));
            without.push_back(metric(m.key, m.kind, o, false, m.role, m.direction));
        }
        const std::optional<std::size_t> control =
            g.control < 0 ? std::nullopt : std::optional<std::size_t>(static_cast<std::size_t>(g.control));
        const AnalysisOptions o = options(g.method, g.alpha, g.tuning, g.asked);
        const MetricsAnalysis a = analyze_metrics(with, control, o);
        expect_same_analysis(a, analyze_metrics(without, control, o), g.label);
        for (const auto& r : a.metrics) {
            EXPECT_FALSE(r.cuped);
            for (const auto& v : r.variants) EXPECT_FALSE(v.cuped.has_value());
        }
    }
}

TEST(Cuped, RatioMetricsIgnoreTheFlag) {
    MetricSums a, b;
    a.n = 100, a.sum = 50, a.sum_squares = 40, a.denominator_sum = 100, a.denominator_sum_squares = 120;
    a.sum_of_products = 60, a.covariate_sum = 30, a.covariate_sum_squares = 20, a.covariate_products = 25;
    b = a;
    b.sum = 60, b.sum_squares = 50, b.sum_of_products = 70, b.covariate_products = 31;
    EXPECT_EQ(cuped_theta(MetricKind::Ratio, a, b), 0.0);
    const ArmStatistic s = cuped_statistic(MetricKind::Ratio, a, 0.5);
    const ArmStatistic r = metric_statistic(MetricKind::Ratio, a);
    EXPECT_EQ(s.mean, r.mean);
    EXPECT_EQ(s.variance, r.variance);
    EXPECT_FALSE(s.unadjusted_mean.has_value());
    EXPECT_EQ(cuped_variance_reduction(MetricKind::Ratio, a, b), std::optional<double>(0.0));
    for (Method method : {Method::Fixed, Method::Sequential}) {
        const MetricsAnalysis with = analyze_metrics({metric("aov", MetricKind::Ratio, {a, b}, true)}, 0, options(method));
        const MetricsAnalysis without =
            analyze_metrics({metric("aov", MetricKind::Ratio, {a, b}, false)}, 0, options(method));
        expect_same_analysis(with, without, "ratio");
        EXPECT_FALSE(with.metrics[0].cuped);
        EXPECT_FALSE(with.metrics[0].variants[1].cuped.has_value());
        EXPECT_TRUE(with.metrics[0].variants[1].p_value.has_value());
    }
}

TEST(Cuped, NoControlNoCupedButTheMetricSaysItApplies) {
    const auto& g = golden_case("revenue, covariate correlated 0.7");
    for (std::optional<std::size_t> control : {std::optional<std::size_t>{}, std::optional<std::size_t>(7)}) {
        const MetricsAnalysis a =
            analyze_metrics({metric("m", MetricKind::Mean, {sums(g.a), sums(g.b)}, true)}, control, options(Method::Fixed));
        EXPECT_TRUE(a.metrics[0].cuped);
        for (const auto& v : a.metrics[0].variants) {
            EXPECT_FALSE(v.cuped.has_value());
            EXPECT_TRUE(v.value.has_value());
            EXPECT_FALSE(v.relative_lift || v.p_value || v.lift_ci);
        }
    }
}

// =====================================================================================================
// θ, the adjusted lift and the variance reduction

TEST(Cuped, ThetaIsTheSlopeOfTheControlAndThatTreatmentPooled) {
    const auto control = correlated_users(3000, 1, 0.7);
    const auto t1 = correlated_users(3000, 2, 0.7, 1.0);
    const auto t2 = correlated_users(2000, 3, 0.3, 0.5);
    const MetricSums a = fold(control), b1 = fold(t1), b2 = fold(t2);
    // The OLS slope of x on c over the users of both arms, computed from the users themselves.
    auto slope = [&](const std::vector<User>& t) {
        std::vector<User> all = control;
        all.insert(all.end(), t.begin(), t.end());
        double mx = 0, mc = 0;
        for (const User& u : all) mx += u.x, mc += u.c;
        mx /= static_cast<double>(all.size());
        mc /= static_cast<double>(all.size());
        double sxc = 0, scc = 0;
        for (const User& u : all) sxc += (u.x - mx) * (u.c - mc), scc += (u.c - mc) * (u.c - mc);
        return sxc / scc;
    };
    EXPECT_NEAR(cuped_theta(MetricKind::Mean, a, b1), slope(t1), 1e-9);
    EXPECT_NEAR(cuped_theta(MetricKind::Mean, a, b2), slope(t2), 1e-9);
    const MetricsAnalysis r =
        analyze_metrics({metric("m", MetricKind::Mean, {a, b1, b2}, true)}, 0, options(Method::Fixed));
    ASSERT_TRUE(r.metrics[0].variants[1].cuped && r.metrics[0].variants[2].cuped);
    EXPECT_EQ(r.metrics[0].variants[1].cuped->theta, cuped_theta(MetricKind::Mean, a, b1));
    EXPECT_EQ(r.metrics[0].variants[2].cuped->theta, cuped_theta(MetricKind::Mean, a, b2));
    EXPECT_GT(std::fabs(r.metrics[0].variants[1].cuped->theta - r.metrics[0].variants[2].cuped->theta), 0.1);
    // Symmetric in the two arms, and the same for either order of the arms in the analysis.
    EXPECT_EQ(cuped_theta(MetricKind::Mean, a, b1), cuped_theta(MetricKind::Mean, b1, a));
}

TEST(Cuped, CorrelatedCovariateNarrowsTheLiftIntervalByAboutRhoSquared) {
    // 20000 users per arm, corr(x, c) = 0.7: about 49 % of the variance goes, intervals shrink to ~0.71.
    const auto control = correlated_users(20000, 11, 0.7);
    const auto treated = correlated_users(20000, 12, 0.7, 0.3);
    const MetricSums a = fold(control), b = fold(treated);
    // ρ² of the pooled users.
    double n = 0, sx = 0, sc = 0, sxx = 0, scc = 0, sxc = 0;
    for (const auto* arm : {&control, &treated})
        for (const User& u : *arm) n += 1, sx += u.x, sc += u.c, sxx += u.x * u.x, scc += u.c * u.c, sxc += u.x * u.c;
    const double cov = sxc / n - sx * sc / (n * n);
    const double rho2 = cov * cov / ((sxx / n - sx * sx / (n * n)) * (scc / n - sc * sc / (n * n)));
    EXPECT_NEAR(rho2, 0.49, 0.02);

    for (Method method : {Method::Fixed, Method::Sequential}) {
        const MetricsAnalysis adjusted =
            analyze_metrics({metric("m", MetricKind::Mean, {a, b}, true)}, 0, options(method));
        const MetricsAnalysis plain = analyze_metrics({metric("m", MetricKind::Mean, {a, b}, false)}, 0, options(method));
        const MetricVariantResult& v = adjusted.metrics[0].variants[1];
        const MetricVariantResult& u = plain.metrics[0].variants[1];
        ASSERT_TRUE(v.cuped && v.cuped->variance_reduction && v.lift_ci && u.lift_ci && v.difference_ci &&
                    u.difference_ci);
        const double vr = *v.cuped->variance_reduction;
        EXPECT_NEAR(vr, 0.49, 0.03);
        EXPECT_NEAR(vr, rho2, 0.01);  // the arms are alike: the lift's variance loses ρ²
        EXPECT_NEAR(v.cuped->theta, 0.7, 0.02);
        const double ratio = half_width(*v.lift_ci) / half_width(*u.lift_ci);
        EXPECT_LT(ratio, 0.75);  // clearly narrower
        if (method == Method::Sequential) {
            // The definition: half-widths scale with the square root of the lift's variance.
            EXPECT_NEAR(ratio * ratio, 1.0 - vr, 1e-12);
        } else {
            EXPECT_NEAR(ratio * ratio, 1.0 - vr, 1e-4);  // up to the t quantile's degrees of freedom
        }
        EXPECT_LT(half_width(*v.difference_ci), 0.75 * half_width(*u.difference_ci));
        // The adjusted lift is the centre of the adjusted interval; the values shown stay unadjusted.
        ASSERT_TRUE(v.relative_lift);
        EXPECT_NEAR(*v.relative_lift, (v.lift_ci->low + v.lift_ci->high) / 2.0, 1e-12);
        EXPECT_EQ(v.value, u.value);
        EXPECT_EQ(adjusted.metrics[0].variants[0].value, plain.metrics[0].variants[0].value);
        // The adjusted estimate moves less than the sampling error of the unadjusted one.
        EXPECT_LT(std::fabs(*v.relative_lift - *u.relative_lift), half_width(*u.lift_ci));
    }
}

TEST(Cuped, VarianceReductionIsOneMinusTheRatioOfTheLiftVariances) {
    for (const auto& g : kGoldenCupedComparisons) {
        const std::string l = g.label;
        const MetricSums a = sums(g.a), b = sums(g.b);
        const auto vr = cuped_variance_reduction(g.kind, a, b);
        const CupedStatistics s = cuped_statistics(g.kind, a, b);
        if (s.theta == 0.0) {
            EXPECT_EQ(vr, std::optional<double>(0.0)) << l;
            continue;
        }
        // Under Sequential the relative CS half-width is sqrt(variance) times a constant of N, alpha, N*.
        const auto adjusted = sequential_confidence_interval(s.control, s.variant, Scale::Relative, 0.05, 5000);
        const auto plain = sequential_confidence_interval(metric_statistic(g.kind, a), metric_statistic(g.kind, b),
                                                          Scale::Relative, 0.05, 5000);
        ASSERT_EQ(vr.has_value(), adjusted && plain) << l;
        if (!vr) continue;
        const double ratio = half_width(*adjusted) / half_width(*plain);
        EXPECT_NEAR(ratio * ratio, 1.0 - *vr, 1e-12) << l;
    }
}

TEST(Cuped, ProportionsUseTheRelativeTTestOnceAdjusted) {
    const auto& g = golden_case("conversion with sessions before exposure");
    const MetricsAnalysis a =
        analyze_metrics({metric("conversion", MetricKind::Proportion, {sums(g.a), sums(g.b)}, true)}, 0,
                        options(Method::Fixed));
    const CupedStatistics s = cuped_statistics(MetricKind::Proportion, sums(g.a), sums(g.b));
    ASSERT_NE(s.theta, 0.0);
    EXPECT_EQ(a.metrics[0].variants[1].p_value, t_test_p_value(s.control, s.variant, Scale::Relative));
    // Without the adjustment the same metric keeps today's pooled z-test.
    const MetricsAnalysis plain =
        analyze_metrics({metric("conversion", MetricKind::Proportion, {sums(g.a), sums(g.b)}, false)}, 0,
                        options(Method::Fixed));
    EXPECT_EQ(plain.metrics[0].variants[1].p_value,
              two_proportion_p_value(g.a.n, static_cast<std::int64_t>(g.a.sum), g.b.n,
                                     static_cast<std::int64_t>(g.b.sum)));
}

TEST(Cuped, UnadjustedMeanEqualToTheMeanChangesNothing) {
    const ArmStatistic a{1000, 10.0, 25.0};
    const ArmStatistic b{900, 10.6, 27.0};
    ArmStatistic a2 = a, b2 = b;
    a2.unadjusted_mean = a.mean;
    b2.unadjusted_mean = b.mean;
    for (Scale scale : {Scale::Relative, Scale::Absolute}) {
        EXPECT_EQ(t_test_p_value(a, b, scale), t_test_p_value(a2, b2, scale));
        expect_same(t_confidence_interval(a, b, scale, 0.05), t_confidence_interval(a2, b2, scale, 0.05), "t ci");
        expect_same(sequential_confidence_interval(a, b, scale, 0.05, 5000),
                    sequential_confidence_interval(a2, b2, scale, 0.05, 5000), "cs");
        EXPECT_EQ(sequential_test_p_value(a, b, scale, 0.05, 5000), sequential_test_p_value(a2, b2, scale, 0.05, 5000));
    }
    EXPECT_EQ(chance_to_win(a, b), chance_to_win(a2, b2));
    // A zero unadjusted control mean is gbstats' zero baseline: undefined, whatever the adjusted mean.
    a2.unadjusted_mean = 0.0;
    EXPECT_FALSE(t_test_p_value(a2, b, Scale::Relative) || chance_to_win(a2, b) ||
                 sequential_confidence_interval(a2, b, Scale::Absolute, 0.05, 5000));
    a2.unadjusted_mean = std::numeric_limits<double>::quiet_NaN();
    EXPECT_FALSE(t_test_p_value(a2, b, Scale::Relative) || t_confidence_interval(a2, b, Scale::Absolute, 0.05));
}

// =====================================================================================================
// Robustness

TEST(Cuped, AbsurdSumsNeverProduceNaN) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    const double huge = std::numeric_limits<double>::max();
    const std::int64_t max = std::numeric_limits<std::int64_t>::max();
    std::vector<MetricSums> arms{
        MetricSums{},
        MetricSums{max, huge, huge, 0, 0, 0, huge, huge, huge},
        MetricSums{2, -huge, huge, 0, 0, 0, -huge, huge, -huge},
        MetricSums{3, nan, nan, 0, 0, 0, nan, nan, nan},
        MetricSums{4, 1.0, 1.0, 0, 0, 0, inf, inf, -inf},
        MetricSums{5, 1e-300, 1e-300, 0, 0, 0, 1e-300, 1e-300, 1e-300},
        MetricSums{1000, 5.0, -7.0, 0, 0, 0, 3.0, -1.0, 2.0},
        MetricSums{-5, 1.0, 1.0, 0, 0, 0, 1.0, 1.0, 1.0},
        MetricSums{1000, 123.0, 4567.0, 0, 0, 0, 89.0, 1011.0, 1213.0},
        MetricSums{1000, 100.0, 100.0, 0, 0, 0, 1000.0, 1000.0, 100.0},  // c == 1 for all, x 0/1
        MetricSums{1000, 500.0, 500.0, 0, 0, 0, 500.0, 500.0, 500.0},    // c == x: adjusted variance ~0
    };
    for (MetricKind kind : {MetricKind::Proportion, MetricKind::Mean, MetricKind::Ratio}) {
        for (std::size_t control = 0; control < arms.size(); ++control) {
            for (Method method : {Method::Fixed, Method::Sequential}) {
                const MetricsAnalysis a = analyze_metrics(
                    {metric("m", kind, arms, true),
                     metric("g", kind, arms, true, MetricRole::Guardrail, Direction::Decrease)},
                    control, options(method), {{0.5, nan, -1.0, 0.2}});
                expect_all_finite(a);
                ASSERT_EQ(a.metrics[0].variants.size(), arms.size());
            }
            for (const MetricSums& b : arms) {
                EXPECT_TRUE(std::isfinite(cuped_theta(kind, arms[control], b)));
            }
        }
    }
}
