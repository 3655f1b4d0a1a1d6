// Properties of the sequential (always-valid) analysis that the golden values in test_stats.cpp do not
// pin down: the running minimum's input handling, the p-value / confidence-sequence duality over a grid,
// and how the label behaves when the history and the current look disagree.
#include "expstream/stats.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

using namespace expstream;

namespace {

VariantCounts arm(const char* key, bool control, std::int64_t n, std::int64_t c) {
    VariantCounts v;
    v.key = key;
    v.name = key;
    v.is_control = control;
    v.participants = n;
    v.conversions = c;
    return v;
}

AnalysisOptions sequential(double alpha = 0.05, double tuning = 5000,
                           Correction correction = Correction::HolmBonferroni) {
    AnalysisOptions o;
    o.method = Method::Sequential;
    o.alpha = alpha;
    o.sequential_tuning = tuning;
    o.correction = correction;
    return o;
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

TEST(SequentialRunningMin, HistoryBelowTheCurrentLookWins) {
    const std::vector<VariantCounts> in{arm("control", true, 10000, 1000), arm("b", false, 10000, 1010)};
    const auto now = sequential_p_value(10000, 1000, 10000, 1010, 0.05, 5000);
    ASSERT_TRUE(now.has_value());
    EXPECT_EQ(*now, 1.0);
    const Analysis a = analyze(in, sequential(), {std::nullopt, 0.2});
    ASSERT_TRUE(a.variants[1].p_value.has_value());
    EXPECT_EQ(*a.variants[1].p_value, 0.2);
    EXPECT_EQ(a.min_p_values[1], std::optional<double>(0.2));
}

TEST(SequentialRunningMin, HistoryAboveTheCurrentLookIsReplaced) {
    const std::vector<VariantCounts> in{arm("control", true, 20000, 2000), arm("b", false, 20000, 2300)};
    const auto now = sequential_p_value(20000, 2000, 20000, 2300, 0.05, 5000);
    const Analysis a = analyze(in, sequential(), {std::nullopt, 0.9});
    EXPECT_EQ(a.variants[1].p_value, now);
    EXPECT_TRUE(a.variants[1].is_significant);
}

TEST(SequentialRunningMin, MissingNaNAndShortHistoriesMeanNoHistory) {
    const std::vector<VariantCounts> in{arm("control", true, 20000, 2000), arm("b", false, 20000, 2300),
                                        arm("c", false, 20000, 2050)};
    const Analysis base = analyze(in, sequential());
    for (const std::vector<std::optional<double>>& history :
         std::vector<std::vector<std::optional<double>>>{{}, {std::nullopt}, {kNaN, kNaN, kNaN}, {0.0001}}) {
        const Analysis a = analyze(in, sequential(), history);
        for (std::size_t i = 0; i < in.size(); ++i) EXPECT_EQ(a.variants[i].p_value, base.variants[i].p_value) << i;
    }
    // Longer histories: extra entries are ignored.
    const Analysis longer = analyze(in, sequential(), {std::nullopt, std::nullopt, std::nullopt, 0.0});
    EXPECT_EQ(longer.variants[2].p_value, base.variants[2].p_value);
}

TEST(SequentialRunningMin, CorruptHistoryIsIgnoredAndTheControlHasNone) {
    const std::vector<VariantCounts> in{arm("control", true, 10000, 1000), arm("b", false, 10000, 1010)};
    const auto now = sequential_p_value(10000, 1000, 10000, 1010, 0.05, 5000);
    for (double bad : {-3.0, 1.5, kNaN, std::numeric_limits<double>::infinity()}) {
        const Analysis a = analyze(in, sequential(), {0.0001, bad});
        EXPECT_FALSE(a.variants[0].p_value.has_value());
        EXPECT_FALSE(a.min_p_values[0].has_value());
        EXPECT_EQ(a.variants[1].p_value, now) << bad;
    }
}

TEST(SequentialRunningMin, CarriedWhenTheCurrentLookIsUndefined) {
    // E.g. the control's counts were reset: the history still holds, but nothing else can be computed,
    // and without intervals there is no label.
    const std::vector<VariantCounts> in{arm("control", true, 0, 0), arm("b", false, 100, 5)};
    const Analysis a = analyze(in, sequential(), {std::nullopt, 0.01});
    EXPECT_EQ(a.variants[1].p_value, std::optional<double>(0.01));
    EXPECT_EQ(a.min_p_values[1], std::optional<double>(0.01));
    EXPECT_FALSE(a.variants[1].lift_ci.has_value());
    EXPECT_FALSE(a.variants[1].is_significant);
}

TEST(SequentialRunningMin, EarlierCrossingDoesNotLabelACurrentIntervalThatCoversZero) {
    // The running minimum remembers p < alpha from an earlier look; the current CS covers 0 again. The
    // rule keeps the label off so that no interval containing 0 is labelled significant.
    const std::vector<VariantCounts> in{arm("control", true, 10000, 1000), arm("b", false, 10000, 1010)};
    const Analysis a = analyze(in, sequential(), {std::nullopt, 0.001});
    ASSERT_TRUE(a.variants[1].p_value && a.variants[1].lift_ci);
    EXPECT_LT(*a.variants[1].p_value, 0.05);
    EXPECT_TRUE(a.variants[1].lift_ci->contains(0.0));
    EXPECT_FALSE(a.variants[1].is_significant);
    EXPECT_FALSE(a.is_significant);
}

TEST(SequentialRunningMin, IgnoredByTheFixedMethod) {
    const std::vector<VariantCounts> in{arm("control", true, 10000, 1000), arm("b", false, 10000, 1010)};
    AnalysisOptions fixed = sequential();
    fixed.method = Method::Fixed;
    const Analysis a = analyze(in, fixed, {std::nullopt, 1e-9});
    EXPECT_EQ(a.variants[1].p_value, two_proportion_p_value(10000, 1000, 10000, 1010));
    for (const auto& m : a.min_p_values) EXPECT_FALSE(m.has_value());
}

TEST(SequentialDuality, PValueBelowAlphaExactlyWhenTheLiftSequenceExcludesZero) {
    int checked = 0, rejected = 0;
    for (double alpha : {0.01, 0.05, 0.1}) {
        for (double tuning : {500.0, 5000.0, 50000.0}) {
            for (std::int64_t n : {40, 400, 4000, 40000}) {
                const std::int64_t ca = n / 10;
                for (std::int64_t cb = 1; cb < n; cb += std::max<std::int64_t>(1, n / 400)) {
                    auto p = sequential_p_value(n, ca, n, cb, alpha, tuning);
                    auto ci = sequential_lift_ci(n, ca, n, cb, alpha, tuning);
                    ASSERT_EQ(p.has_value(), ci.has_value());
                    if (!p) continue;
                    ++checked;
                    const bool excludes = !ci->contains(0.0);
                    rejected += excludes;
                    if (std::fabs(*p - alpha) > 1e-12 * alpha) {
                        EXPECT_EQ(*p < alpha, excludes) << "n=" << n << " cb=" << cb << " alpha=" << alpha;
                    }
                }
            }
        }
    }
    EXPECT_GT(checked, 5000);
    EXPECT_GT(rejected, 1000);
}

TEST(SequentialIntervals, AreWiderThanTheFixedHorizonOnes) {
    // The price of peeking: at the same alpha the confidence sequence is wider than the t interval.
    for (std::int64_t n : {100, 1000, 5000, 100000, 1000000000}) {
        auto f = fixed_lift_ci(n, n / 10, n, n / 9, 0.05);
        auto s = sequential_lift_ci(n, n / 10, n, n / 9, 0.05, 5000);
        ASSERT_TRUE(f && s);
        EXPECT_GT(s->high - s->low, f->high - f->low) << n;
        auto fd = fixed_difference_ci(n, n / 10, n, n / 9, 0.05);
        auto sd = sequential_difference_ci(n, n / 10, n, n / 9, 0.05, 5000);
        ASSERT_TRUE(fd && sd);
        EXPECT_GT(sd->high - sd->low, fd->high - fd->low) << n;
    }
}

TEST(SequentialPValue, UnderflowsToZeroInsteadOfOverflowing) {
    // gbstats computes exp(...) first and gets 1 / inf = 0 here; the log-space form gives the same 0.
    auto p = sequential_p_value(1000000000, 100000000, 1000000000, 200000000, 0.05, 5000);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(*p, 0.0);
    auto same = sequential_p_value(1000000000, 100000000, 1000000000, 100000000, 0.05, 5000);
    ASSERT_TRUE(same.has_value());
    EXPECT_EQ(*same, 1.0);
}
