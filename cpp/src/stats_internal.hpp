// Internals shared by stats.cpp (analyze) and metric_stats.cpp (analyze_metrics), so that conversions
// and per-user metrics go through one implementation of the per-treatment comparison, the running
// minimum of the sequential p and the significance rule. Not installed; not part of the API.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "expstream/stats.hpp"

namespace expstream::internal {

// sum / n, 0 when n <= 0 (conversion_rate on doubles).
double rate(double n, double sum);

// The pooled two-proportion z-test on doubles (two_proportion_p_value).
std::optional<double> pooled_z_p_value(double n_control, double c_control, double n_variant, double c_variant);

// Counts for the pooled z-test, the fixed-horizon p-value of proportions.
struct PooledCounts {
    double n_control, c_control, n_variant, c_variant;
};

// What analyze / analyze_metrics report for one treatment before the correction.
struct Comparison {
    std::optional<double> p_value;        // Fixed: the fixed-horizon p; Sequential: the running minimum
    std::optional<double> min_p;          // Sequential only: the running minimum to persist (== p_value)
    std::optional<Interval> lift_ci;      // relative scale
    std::optional<Interval> difference_ci;  // absolute scale
    std::optional<double> chance_to_win;  // P(lift > 0); inverse: P(lift < 0)
};

// One treatment against the control; options must be valid. Under Fixed, p is the pooled z-test of
// `pooled` when given (proportions), otherwise t_test_p_value(Relative). Under Sequential, p is
// min(previous_min_p, sequential_test_p_value(Relative)) (see analyze in stats.hpp). inverse: lower is
// better (chance_to_win's inverse).
Comparison compare(const ArmStatistic& control, const ArmStatistic& variant, const AnalysisOptions& options,
                   const std::optional<PooledCounts>& pooled, const std::optional<double>& previous_min_p,
                   bool inverse = false);

// The variance of the tests' estimate on `scale` (stats.hpp: gbstats frequentist_variance, with unadjusted
// means when set) where the tests are defined (their domain, a finite positive variance); empty elsewhere.
std::optional<double> effect_variance(const ArmStatistic& control, const ArmStatistic& variant, Scale scale);

// previous[i] when it is usable history (inside [0, 1], so not NaN); empty otherwise or when missing.
std::optional<double> history(const std::vector<std::optional<double>>& previous, std::size_t i);

// The significance rule of stats.hpp: adjusted p < alpha and both intervals defined and excluding 0.
bool significant(const std::optional<double>& p_value_adjusted, const std::optional<Interval>& lift_ci,
                 const std::optional<Interval>& difference_ci, double alpha);

}  // namespace expstream::internal
