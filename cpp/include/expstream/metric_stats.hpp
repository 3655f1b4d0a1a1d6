// Statistics for experiments with several metrics (issue 14): per metric and variant the value, the
// relative lift over the control with its intervals, p-values corrected across the family of primary and
// secondary metrics, and the chance that the variant is better in the metric's direction. Everything here
// is a pure function (no I/O, no state); the only exception is std::invalid_argument for invalid
// AnalysisOptions. The tests themselves are stats.hpp's (one implementation over ArmStatistic), so a
// proportion metric gives exactly the numbers of analyze(variants, options, previous_min_p).
//
// Conventions are stats.hpp's: undefined quantities are empty optionals (JSON null), never NaN or
// Infinity; "relative lift" is (value_variant - value_control) / value_control; "difference" is
// value_variant - value_control; intervals are on those scales; the control is the first variant with
// is_control (control_index), and every other variant is a treatment compared with it.
//
// CUPED (issue 15): a Proportion or Mean metric with MetricInput::cuped is analysed regression adjusted on
// a pre-exposure covariate, exactly as gbstats 0.8.0's RegressionAdjustedStatistic (see "CUPED" below and
// analyze_metrics).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "expstream/stats.hpp"

namespace expstream {

// What a metric measures per user (x: the user's value; y: the user's denominator, ratio only).
//   Proportion: x in {0, 1} (the user had >= 1 event): a rate; gbstats ProportionStatistic.
//   Mean:       x = the user's (capped) value, any sign: a mean per user; gbstats SampleMeanStatistic.
//   Ratio:      sum x / sum y over the arm's users (e.g. revenue / orders); gbstats RatioStatistic with
//               SampleMeanStatistic numerator and denominator (delta-method variance).
enum class MetricKind { Proportion, Mean, Ratio };

// Primary and secondary metrics form the multiple-testing family; guardrails are outside it (their
// p_value_adjusted is their p_value) and are watched for significant regressions.
enum class MetricRole { Primary, Secondary, Guardrail };

// Which way is better: Increase (default: conversions, revenue) or Decrease (errors, latency).
enum class Direction { Increase, Decrease };

// JSON spellings: "proportion" / "mean" / "ratio"; "primary" / "secondary" / "guardrail";
// "increase" / "decrease".
const char* to_string(MetricKind kind);
const char* to_string(MetricRole role);
const char* to_string(Direction direction);

// Running sums of one arm for one metric, kept by the store (each user folded in once, with the user's
// final per-user value; adding a user is adding to every field). Fields a kind does not use are ignored.
struct MetricSums {
    std::int64_t n = 0;                    // users in the arm (all kinds)
    double sum = 0.0;                      // Σx  (Proportion: users with >= 1 event, so Σx² = Σx)
    double sum_squares = 0.0;              // Σx² (Mean, Ratio)
    double denominator_sum = 0.0;          // Σy  (Ratio)
    double denominator_sum_squares = 0.0;  // Σy² (Ratio)
    double sum_of_products = 0.0;          // Σxy (Ratio)
    // CUPED (MetricInput::cuped; Proportion and Mean): c = the user's pre-exposure covariate, 0 for a user
    // without one (who still counts in n and in the metric's sums, as gbstats counts such a user);
    // x = the user's value as in `sum` (capped for Mean; 0/1 for Proportion).
    double covariate_sum = 0.0;          // Σc
    double covariate_sum_squares = 0.0;  // Σc²
    double covariate_products = 0.0;     // Σxc
};

// The gbstats statistic of an arm: proportion_statistic(n, Σx), sample_mean_statistic(n, Σx, Σx²) or
// ratio_statistic(n, Σx, Σx², Σy, Σy², Σxy) (stats.hpp).
ArmStatistic metric_statistic(MetricKind kind, const MetricSums& sums);

// The value shown for an arm: rate Σx / n, mean Σx / n, or ratio Σx / Σy. Empty when n <= 0, when the
// denominator sum of a ratio is 0, or when the sums are not finite.
std::optional<double> metric_value(MetricKind kind, const MetricSums& sums);

// One metric of an experiment.
struct MetricInput {
    std::string key;  // the metric's id, echoed in MetricResult
    MetricKind kind = MetricKind::Proportion;
    MetricRole role = MetricRole::Primary;
    Direction direction = Direction::Increase;
    std::vector<MetricSums> arms;  // aligned with the experiment's variants (index i -> variants[i])
    // Analyse regression adjusted on the arms' covariate sums (CUPED). Applies to Proportion and Mean
    // metrics only; a Ratio metric ignores it (analysed unadjusted, MetricResult::cuped false).
    bool cuped = false;
};

// The index of the control: the first variant with is_control; empty when there is none.
std::optional<std::size_t> control_index(const std::vector<VariantCounts>& variants);

// Today's conversion metric from the variants' counts: a primary Proportion metric, n = participants,
// Σx = conversions. analyze_metrics({conversion_metric(v)}, control_index(v), o, {p}) gives exactly the
// p_value, p_value_adjusted, lift_ci, difference_ci, chance_to_win, is_significant, relative_lift and
// min_p_values of analyze(v, o, p).
MetricInput conversion_metric(const std::vector<VariantCounts>& variants, std::string key = "conversion");

// ---------------------------------------------------------------------------------------------------
// CUPED: regression adjustment on a pre-exposure covariate, as gbstats 0.8.0 (RegressionAdjustedStatistic,
// compute_theta, and BaseABTest, which computes theta for each pair of control and treatment).

// gbstats compute_theta(control, variant): θ = cov(x, c) / var(c) of the two arms pooled (n = n_a + n_b
// and every sum added), where var(x) is the pooled metric's own variance (Proportion: p (1 - p) of the
// pooled rate; Mean: the sample variance), var(c) the sample variance of the covariate and
// cov(x, c) = (Σxc - Σx Σc / n) / (n - 1). Only the control and this one treatment are pooled, so each
// treatment has its own θ. 0 when the pooled var(c) or var(x) is 0 (the covariate carries no
// information: no user has one, or all have the same; or the metric is constant), when θ is not finite,
// and for Ratio metrics.
double cuped_theta(MetricKind kind, const MetricSums& control, const MetricSums& variant);

// gbstats RegressionAdjustedStatistic(post = metric_statistic(kind, sums), pre = sample_mean_statistic(n,
// Σc, Σc²), Σxc, theta) of one arm: mean = post.mean - θ pre.mean; variance = post.variance + θ² pre.variance
// - 2θ cov(x, c) (0 when n <= 1); unadjusted_mean = post.mean. The covariate is always a sample mean (also
// when it is 0/1: the store keeps Σc², so gbstats' SampleMeanStatistic is what it matches). For a Ratio
// metric: metric_statistic(kind, sums), unadjusted.
ArmStatistic cuped_statistic(MetricKind kind, const MetricSums& sums, double theta);

// The statistics the tests use for one treatment against the control when CUPED applies (gbstats
// BaseABTest): with θ = cuped_theta(...) != 0 the regression-adjusted arms, with θ == 0 the unadjusted
// metric_statistic of each arm (gbstats "reverts to non-RA under the hood").
struct CupedStatistics {
    double theta = 0.0;
    ArmStatistic control;
    ArmStatistic variant;
};
CupedStatistics cuped_statistics(MetricKind kind, const MetricSums& control, const MetricSums& variant);

// The share of the variance of the relative-lift estimate removed by the adjustment:
//   variance_reduction = 1 - V(θ) / V(0),
//   V(θ) = var_b(θ) / (u_a² n_b) + var_a(θ) u_b² / (u_a⁴ n_a)
// (gbstats frequentist_variance, relative — the variance behind lift_ci and the relative p — with u the
// arms' unadjusted means), var(θ) = the arm's cuped_statistic variance, var(0) = its unadjusted variance.
// So under Sequential lift_ci's half-width is exactly sqrt(1 - variance_reduction) times the unadjusted
// one; under Fixed the same up to the t quantile (whose Welch degrees of freedom change too). When the
// arms are alike it is about ρ², the squared correlation of the metric and the covariate. Exactly 0 when
// θ is 0 (whatever the tests' domain). It can be (slightly) negative when the pooled θ suits an arm badly.
// Otherwise empty when V(θ) or V(0) is undefined (outside the tests' domain, stats.hpp).
std::optional<double> cuped_variance_reduction(MetricKind kind, const MetricSums& control,
                                               const MetricSums& variant);

// CUPED of one treatment against the control, in MetricVariantResult::cuped.
struct Cuped {
    double theta = 0.0;                        // cuped_theta (0: the comparison is the unadjusted one)
    std::optional<double> variance_reduction;  // cuped_variance_reduction (0 when theta is 0)
};

// Per metric and variant. Empty optionals are written as JSON null.
struct MetricVariantResult {
    std::optional<double> value;           // metric_value of the arm (never adjusted)
    // The control: 0. A treatment, Mean / Ratio: (value - control value) / control value, empty when
    // either value is empty or the control value is 0. Proportion: exactly today's relative_lift (rates
    // of empty arms count as 0, so an empty treatment against a non-zero control rate shows -1).
    // CUPED with theta != 0 (Proportion and Mean alike): the tests' point estimate (adjusted mean_b -
    // adjusted mean_a) / control value (gbstats TTest.point_estimate, the centre of lift_ci), empty when
    // either arm has no users or the control value is 0.
    std::optional<double> relative_lift;
    std::optional<Interval> lift_ci;        // (1 - alpha) interval on the relative lift
    std::optional<Interval> difference_ci;  // (1 - alpha) interval on the absolute difference of values
    std::optional<double> p_value;          // two-sided, of the relative lift (see analyze_metrics)
    std::optional<double> p_value_adjusted; // corrected across the family; == p_value for guardrails
    std::optional<double> chance_to_win;    // P(the variant is better in the metric's direction)
    bool is_significant = false;            // stats.hpp's rule: p_value_adjusted < alpha, both CIs exclude 0
    bool is_regression = false;             // is_significant_regression(*this, the metric's direction)
    // Set for every treatment compared with the control when CUPED applies (MetricResult::cuped), also
    // when theta is 0 (then theta 0, variance_reduction 0 and every number above is the unadjusted one);
    // empty for the control, without a comparison, and when CUPED does not apply.
    std::optional<Cuped> cuped;
};

struct MetricResult {
    std::string key;
    MetricKind kind = MetricKind::Proportion;
    MetricRole role = MetricRole::Primary;
    Direction direction = Direction::Increase;
    bool cuped = false;                         // CUPED applies: MetricInput::cuped and a Proportion or Mean kind
    std::vector<MetricVariantResult> variants;  // aligned with MetricInput::arms
    bool is_significant = false;                // any variant is_significant
    bool has_regression = false;                // any variant is_regression
    // Sequential only: the running minimum of each variant's sequential p-value, aligned with `variants`
    // (empty for the control, for undefined tests, and for every entry under Method::Fixed). Persist it
    // per (metric, variant) and pass it back as previous_min_p[metric index] at the next look.
    std::vector<std::optional<double>> min_p_values;
};

struct MetricsAnalysis {
    AnalysisOptions options;                    // the options used
    Correction correction = Correction::None;   // the correction actually applied to the family
    std::size_t family_size = 0;                // hypotheses in the family (primary + secondary x treatments)
    std::vector<MetricResult> metrics;          // aligned with the input metrics
    bool has_guardrail_regression = false;      // any guardrail metric has_regression
};

// A significant regression: the lift interval is defined and lies entirely on the bad side of 0
// (Increase: high < 0; Decrease: low > 0). For guardrail alarms. It looks at lift_ci only: at the current
// look that interval excludes 0 exactly when the relative test rejects at alpha (Welch t under Fixed, the
// confidence sequence under Sequential; for proportions under Fixed the pooled z-test may disagree near
// the boundary), and a guardrail's p is not corrected anyway.
bool is_significant_regression(const MetricVariantResult& result, Direction direction);

// The analysis of every metric against the control. Throws std::invalid_argument when
// validate(options) fails.
//
// control: the index of the control among the variants (control_index); empty, or not below a metric's
// arms.size(), means no comparison for that metric (values only; the control, if any, gets lift 0).
//
// Per metric, per treatment i (every index except the control), with statistics built by
// metric_statistic:
//   Proportion: exactly analyze's numbers — Fixed: p_value = the pooled z-test; lift_ci / difference_ci =
//               Welch t intervals; Sequential: as below.
//   Mean, Ratio, Fixed:      p_value = t_test_p_value(Relative) (gbstats TwoSidedTTest, relative);
//               lift_ci / difference_ci = t_confidence_interval(Relative / Absolute).
//   All kinds, Sequential:   p_value = min(previous_min_p[m][i], sequential_test_p_value(Relative)) — the
//               running minimum over looks (the current look when there is no history; the history alone
//               when the current look is undefined); lift_ci / difference_ci =
//               sequential_confidence_interval(Relative / Absolute) at this look.
//   chance_to_win: chance_to_win(control, variant, inverse = (direction == Decrease)): P(lift > 0) for
//               Increase, P(lift < 0) for Decrease.
//   A negative control value (means may be negative) is divided by as it is, as gbstats does: the
//   relative lift then has the opposite sign of the difference, and chance_to_win, lift_ci and
//   is_regression follow the relative lift.
//   Undefined cases (an empty arm, n < 2 for means and ratios, a zero control value, zero variance, a
//   denominator mean of 0, non-finite sums) give empty p, intervals and chance to win.
//
// CUPED (MetricResult::cuped), per treatment i, with s = cuped_statistics(kind, control arm, arm i):
//   theta != 0: every test above runs on the regression-adjusted s.control / s.variant, as gbstats'
//               TwoSidedTTest (Fixed) / SequentialTwoSidedTTest (Sequential) / EffectBayesianABTest (chance
//               to win) do with RegressionAdjustedStatistic: p_value and lift_ci on the relative scale,
//               difference_ci on the absolute one, and for Proportion too under Fixed p_value =
//               t_test_p_value(Relative) (gbstats has no pooled z-test for adjusted proportions);
//               relative_lift = the adjusted point estimate (MetricVariantResult::relative_lift).
//   theta == 0: exactly the unadjusted analysis (for Proportion the pooled z-test p under Fixed).
//   cuped = {theta, cuped_variance_reduction}. The running minimum, the family, the correction and the
//   significance and regression rules are unchanged, on the adjusted numbers.
//
// Multiple testing: the family is every (primary or secondary metric, treatment) pair, untestable ones
// included (adjust_p_values keeps them in the family); when it has >= 2 hypotheses, p_value_adjusted =
// adjust_p_values(family, options.correction) and `correction` = options.correction; otherwise
// p_value_adjusted = p_value and `correction` = None. Guardrails: p_value_adjusted = p_value.
//
// is_significant: stats.hpp's rule (p_value_adjusted < alpha AND lift_ci and difference_ci defined and
// excluding 0), whatever the direction. is_regression: is_significant_regression.
//
// previous_min_p[m][i]: the history of metric m (index into `metrics`), variant i, as returned in
// metrics[m].min_p_values; missing entries, empty optionals and values outside [0, 1] (NaN included) mean
// "no history"; entries for the control are ignored. Ignored under Fixed. Reset it whenever the method,
// alpha, sequential_tuning or a metric's definition change (MetricInput::cuped or the covariate included:
// adjusted and unadjusted p-values are different tests), or the experiment restarts.
MetricsAnalysis analyze_metrics(const std::vector<MetricInput>& metrics, std::optional<std::size_t> control,
                                const AnalysisOptions& options,
                                const std::vector<std::vector<std::optional<double>>>& previous_min_p = {});

}  // namespace expstream
