// Pure statistics for conversion experiments: rates, lift, the pooled two-proportion z-test, and the
// extended analysis (confidence intervals, always-valid sequential tests, chance to win, Holm-Bonferroni /
// Benjamini-Hochberg, sample-ratio mismatch). The two-sample tests are written once over gbstats'
// (n, mean, variance) view of an arm (ArmStatistic), so proportions, means and ratios share them; the
// metric-level analysis (several metrics per experiment) is in metric_stats.hpp. Everything here is a
// pure function: no I/O, no state, no exceptions except std::invalid_argument for invalid AnalysisOptions.
//
// Conventions
// - Every "undefined" quantity is an empty optional (JSON null), never NaN or Infinity (one documented
//   exception, not written to JSON: srm_log_bayes_factor's +infinity).
// - "Relative lift" is (rate_variant - rate_control) / rate_control; "difference" is
//   rate_variant - rate_control. Intervals are on those scales (0.05 == +5 %).
// - Conversions are Bernoulli: a variant's mean is its rate p and its variance p(1 - p) (population
//   variance, exactly as gbstats' ProportionStatistic).
// - The control is the first variant with is_control; any further variant marked is_control is treated
//   as a treatment. Without a control nothing is compared.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace expstream {

// Raw per-variant numbers as read from the store.
struct VariantCounts {
    std::string key;
    std::string name;
    bool is_control = false;
    std::int64_t participants = 0;
    std::int64_t conversions = 0;
};

// A closed interval [low, high]; low <= high always.
struct Interval {
    double low = 0.0;
    double high = 0.0;
    bool contains(double x) const { return low <= x && x <= high; }
};

// How p-values and intervals are computed.
//   Fixed:      fixed-horizon tests, valid only when looked at once (the classic t/z tests).
//   Sequential: asymptotic confidence sequences (Waudby-Smith et al. 2023, as gbstats'
//               SequentialTwoSidedTTest) — valid under continuous monitoring ("peeking").
enum class Method { Fixed, Sequential };

// Multiple-comparison correction: the one asked for (AnalysisOptions::correction) and the one actually
// applied to the p-values of an analysis (Analysis::correction; None when the family has < 2 hypotheses).
//   HolmBonferroni:    step-down, controls the family-wise error rate (statsmodels method="holm").
//   BenjaminiHochberg: step-up, controls the false discovery rate (statsmodels method="fdr_bh").
enum class Correction { None, HolmBonferroni, BenjaminiHochberg };

struct AnalysisOptions {
    Method method = Method::Sequential;
    double alpha = 0.05;               // in (0, 1): significance level and 1 - coverage of every interval
    double sequential_tuning = 5000;   // N* > 0 (Sequential only): total sample size the CS is tightest at
    // Across the family of hypotheses (analyze: the treatments; analyze_metrics: primary and secondary
    // metrics x treatments); applied only when the family has >= 2 hypotheses.
    Correction correction = Correction::HolmBonferroni;
};

// Per-variant figures as shown to users. Empty optionals are written as JSON null.
struct VariantResult {
    std::string key;
    std::string name;
    bool is_control = false;
    std::int64_t participants = 0;
    std::int64_t conversions = 0;
    double conversion_rate = 0.0;
    std::optional<double> relative_lift;
    std::optional<double> p_value;

    // ---- Filled by analyze(variants, options, previous_min_p) only (see there). The legacy
    // analyze(variants, alpha) leaves these empty, except is_significant (p_value < alpha there).
    std::optional<Interval> lift_ci;         // (1 - alpha) interval on the relative lift
    std::optional<Interval> difference_ci;   // (1 - alpha) interval on the absolute difference of rates
    std::optional<double> p_value_adjusted;  // adjusted by Analysis::correction; == p_value when None
    std::optional<double> chance_to_win;     // P(variant rate > control rate), Bayesian, flat prior
    bool is_significant = false;             // see "Significance rule" at analyze(...) below
};

struct Analysis {
    std::vector<VariantResult> variants;
    std::int64_t total_participants = 0;
    bool is_significant = false;  // any variant is_significant

    // ---- Filled by analyze(variants, options, previous_min_p) only.
    std::optional<AnalysisOptions> options;  // the options used (empty for the legacy analyze)
    Correction correction = Correction::None;  // the correction actually applied
    // Sequential only: the running minimum of each variant's sequential p-value, aligned with `variants`
    // (empty optional for the control, for undefined tests, and for every entry under Method::Fixed).
    // Persist it and pass it back as previous_min_p at the next look.
    std::vector<std::optional<double>> min_p_values;
};

// Sample-ratio mismatch check (see srm() below).
struct SrmResult {
    std::optional<double> p_value;  // the test's p-value (SrmMethod); empty when the test is undefined
    bool mismatch = false;          // p_value < threshold (kSrmAlpha by default); false when undefined
};

// Which sample-ratio-mismatch test.
//   ChiSquare:  Pearson's chi-square goodness of fit, a fixed-horizon test: valid when read once. Checked
//               after every update it raises false alarms far more often than its threshold says.
//   Sequential: the Dirichlet-multinomial mixture Bayes factor of Lindon & Malek ("Anytime-valid inference
//               for multinomial count data", NeurIPS 2022; Optimizely's "SSRM"): anytime valid, so
//               P(some look has p < alpha | traffic split as configured) <= alpha however often it is read.
enum class SrmMethod { ChiSquare, Sequential };

// The snapshot's SRM threshold: a mismatch is p < 0.001 (both methods).
inline constexpr double kSrmAlpha = 0.001;
// k of the sequential test's Dirichlet prior, alpha_i = k * expected share_i (Lindon's reference
// implementation and savvi's Multinomial use k = 100): the prior centred on the configured split, as
// confident as 100 users. Larger k tests for small mismatches more efficiently and big ones more slowly.
inline constexpr double kSrmConcentration = 100.0;

// "fixed" / "sequential"; "none" / "holm-bonferroni" / "benjamini-hochberg" — the JSON spellings.
const char* to_string(Method method);
const char* to_string(Correction correction);

// The correction named by a setting: "none"; "holm" or "holm-bonferroni"; "bh" or "benjamini-hochberg"
// (exact, lower case). Empty for anything else.
std::optional<Correction> parse_correction(const std::string& name);

// ---------------------------------------------------------------------------------------------------
// Legacy (unchanged behaviour)

// Upper tail of the standard normal, P(Z > z), from erfc (no tables).
double normal_sf(double z);

// conversions / participants, 0.0 when there are no participants.
double conversion_rate(std::int64_t participants, std::int64_t conversions);

// Two-sided p-value of the pooled two-proportion z-test; empty when undefined
// (a side with 0 participants, or a pooled rate of 0 or 1).
std::optional<double> two_proportion_p_value(std::int64_t n_control, std::int64_t c_control,
                                             std::int64_t n_variant, std::int64_t c_variant);

// Rates, lifts and p-values of every variant against the control (the first variant with
// is_control; with none, no lift and no p-value). is_significant = any non-control p < alpha.
// Also sets each variant's is_significant = (p_value < alpha); the other extended fields stay empty.
Analysis analyze(const std::vector<VariantCounts>& variants, double alpha);

// ---------------------------------------------------------------------------------------------------
// Two-sample tests over summary statistics (control first, then variant; all match gbstats 0.8.0)

// One arm as gbstats' tests see it: n units, the mean, and the per-unit variance (Statistic.n, .mean,
// .variance). Built from running sums exactly as gbstats' statistics are.
struct ArmStatistic {
    double n = 0.0;
    double mean = 0.0;
    double variance = 0.0;
    // gbstats Statistic.unadjusted_mean: set only for a regression-adjusted (CUPED) arm (cuped_statistic in
    // metric_stats.hpp), whose `mean` is adjusted; empty means "equal to mean". The relative tests divide
    // by the control's unadjusted mean and weigh the variances by the unadjusted means (see below).
    std::optional<double> unadjusted_mean = std::nullopt;
};

// ProportionStatistic(n, sum): mean sum / n (0 when n == 0), variance mean (1 - mean).
ArmStatistic proportion_statistic(double n, double sum);
// SampleMeanStatistic(n, sum, sum_squares): mean sum / n (0 when n == 0), sample variance
// (sum_squares - sum^2 / n) / (n - 1) (0 when n <= 1).
ArmStatistic sample_mean_statistic(double n, double sum, double sum_squares);
// RatioStatistic(n, m_statistic = SampleMean(n, Σx, Σx²), d_statistic = SampleMean(n, Σy, Σy²),
// m_d_sum_of_products = Σxy): mean Σx / Σy (0 when Σy == 0); delta-method variance
// var_x / ȳ² - 2 cov_xy x̄ / ȳ³ + x̄² var_y / ȳ⁴ with cov_xy = (Σxy - Σx Σy / n) / (n - 1)
// (0 when ȳ == 0 or n <= 1).
ArmStatistic ratio_statistic(double n, double sum, double sum_squares, double denominator_sum,
                             double denominator_sum_squares, double sum_of_products);

// gbstats' difference_type: (mean_b - mean_a) / mean_a, or mean_b - mean_a.
enum class Scale { Relative, Absolute };

// Domain shared by every function below (where gbstats does not return its "uninformative default" —
// zero baseline, zero or negative variance, no units): both n > 0, control mean != 0 (and control
// unadjusted mean != 0), both variances > 0, everything finite. Outside it they return an empty
// optional; also for alpha outside (0, 1) or a tuning that is not finite and > 0. (A proportion is in the
// domain iff both rates are strictly inside (0, 1), which implies >= 2 participants per arm; a sample
// mean or ratio needs n >= 2 per arm.)
//
// Estimates and effect variances (gbstats frequentist_diff / frequentist_variance), with m the means and
// u the unadjusted means (u = m unless unadjusted_mean is set): relative (mb - ma) / ua with variance
// vb/(ua² nb) + va ub²/(ua⁴ na) (delta method); absolute mb - ma with variance va/na + vb/nb.

// TwoSidedTTest.confidence_interval: estimate ± t_{1-alpha/2, dof} sqrt(variance), Welch-Satterthwaite dof.
std::optional<Interval> t_confidence_interval(const ArmStatistic& control, const ArmStatistic& variant, Scale scale,
                                              double alpha);
// TwoSidedTTest.p_value: 2 P(T_dof > |estimate| / sqrt(variance)), same dof. Computed from the upper
// tail directly (gbstats computes 2 (1 - cdf), which loses the digits of p below ~1e-16 and agrees to
// ~1e-16 absolute elsewhere).
std::optional<double> t_test_p_value(const ArmStatistic& control, const ArmStatistic& variant, Scale scale);
// SequentialTwoSidedTTest.confidence_interval: asymptotic confidence sequence (eq. 9 of Waudby-Smith et
// al.), N = n_control + n_variant, rho = sqrt((-2 ln alpha + ln(1 - 2 ln alpha)) / tuning).
std::optional<Interval> sequential_confidence_interval(const ArmStatistic& control, const ArmStatistic& variant,
                                                       Scale scale, double alpha, double tuning);
// SequentialTwoSidedTTest.p_value (eq. 155: 1 / e-value, capped at 1), in log space, so it underflows to
// 0 instead of overflowing. Duality: p < alpha <=> the confidence sequence on the same scale excludes 0.
std::optional<double> sequential_test_p_value(const ArmStatistic& control, const ArmStatistic& variant, Scale scale,
                                              double alpha, double tuning);
// EffectBayesianABTest, relative effect, improper flat prior: the posterior of the lift is
// N(lift, relative variance); returns P(lift > 0) = Phi(lift / sd) (gbstats chance_to_win). With
// inverse (gbstats BayesianConfig.inverse: lower is better) P(lift < 0) = Phi(-lift / sd), computed as that
// tail directly (gbstats computes 1 - P(lift > 0), the same up to ~1e-16 absolute).
std::optional<double> chance_to_win(const ArmStatistic& control, const ArmStatistic& variant, bool inverse = false);

// ---------------------------------------------------------------------------------------------------
// The same tests for conversions (n participants, c conversions): thin wrappers building
// proportion_statistic(n, c) for each arm. Domain: both rates strictly inside (0, 1).

// Fixed horizon, Welch t: t_confidence_interval, Relative / Absolute.
std::optional<Interval> fixed_lift_ci(std::int64_t n_control, std::int64_t c_control, std::int64_t n_variant,
                                      std::int64_t c_variant, double alpha);
std::optional<Interval> fixed_difference_ci(std::int64_t n_control, std::int64_t c_control,
                                            std::int64_t n_variant, std::int64_t c_variant, double alpha);

// Confidence sequences on the relative lift / absolute difference: sequential_confidence_interval.
std::optional<Interval> sequential_lift_ci(std::int64_t n_control, std::int64_t c_control,
                                           std::int64_t n_variant, std::int64_t c_variant, double alpha,
                                           double tuning);
std::optional<Interval> sequential_difference_ci(std::int64_t n_control, std::int64_t c_control,
                                                 std::int64_t n_variant, std::int64_t c_variant, double alpha,
                                                 double tuning);
// Always-valid p-value of the relative lift at this look: sequential_test_p_value(Relative).
// Duality: p < alpha  <=>  sequential_lift_ci(alpha) excludes 0 (same alpha and tuning).
std::optional<double> sequential_p_value(std::int64_t n_control, std::int64_t c_control, std::int64_t n_variant,
                                         std::int64_t c_variant, double alpha, double tuning);

// P(variant beats control): chance_to_win over the two proportions.
std::optional<double> chance_to_win(std::int64_t n_control, std::int64_t c_control, std::int64_t n_variant,
                                    std::int64_t c_variant);

// ---------------------------------------------------------------------------------------------------
// Multiple testing. An empty (or NaN) entry is an untestable hypothesis: it stays in the family (counts
// in m, sorted as p = 1) so that the family size is fixed by design, and its adjusted value is empty.

// Holm-Bonferroni step-down adjusted p-values (statsmodels multipletests(method="holm")):
// p_(k) (m - k + 1), made monotone from the smallest p up, capped at 1.
std::vector<std::optional<double>> holm_adjust(const std::vector<std::optional<double>>& p_values);
// Benjamini-Hochberg step-up adjusted p-values (statsmodels multipletests(method="fdr_bh")):
// p_(k) m / k, made monotone from the largest p down, capped at 1.
std::vector<std::optional<double>> benjamini_hochberg_adjust(const std::vector<std::optional<double>>& p_values);
// holm_adjust / benjamini_hochberg_adjust, or the p-values unchanged for Correction::None.
std::vector<std::optional<double>> adjust_p_values(const std::vector<std::optional<double>>& p_values,
                                                   Correction correction);

// ---------------------------------------------------------------------------------------------------
// Sample-ratio mismatch and options

// Both tests compare the observed participants with the expected split p0_i = weight_i / sum(weights)
// and share these cases, in order:
//   sizes differ, a weight negative or not finite, an observed count negative, no participants at all,
//   or no arm with weight > 0                           -> p_value empty, mismatch false;
//   an arm with weight 0 but participants               -> p_value 0, mismatch true;
//   fewer than 2 arms with weight > 0                   -> p_value empty, mismatch false;
//   arms with weight 0 and no participants are left out of the test (and of df).
// mismatch = p_value < threshold.

// The test `method` (the sequential one unless asked otherwise) at `threshold`.
SrmResult srm(const std::vector<std::int64_t>& observed, const std::vector<double>& weights,
              double threshold = kSrmAlpha, SrmMethod method = SrmMethod::Sequential);

// Chi-square goodness of fit (expected_i = p0_i * total; df = k - 1, k = number of arms with weight > 0);
// matches gbstats check_srm and scipy.stats.chisquare on ordinary inputs.
SrmResult srm_chi_square(const std::vector<std::int64_t>& observed, const std::vector<double>& weights,
                         double threshold = kSrmAlpha);

// ln BF_n, the log Bayes factor of Lindon & Malek over the arms in the test (x_i participants, n = sum x_i),
// for "assignment probabilities ~ Dirichlet(alpha)" against "= p0", alpha_i = concentration * p0_i,
// A = sum alpha_i:
//   BF_n = Gamma(A) / Gamma(A + n) * prod_i Gamma(alpha_i + x_i) / Gamma(alpha_i)  /  prod_i p0_i^x_i,
// evaluated with lgamma in log space. Its terms are ~n ln n, so ln BF_n carries an absolute rounding error
// of a few 1e-16 * n ln n (against mpmath: 3e-10 at 10^6 participants, 4e-7 at 10^8), which is the
// relative error of p.
// Under the expected split BF_n is a nonnegative martingale with mean 1 user by user, so by Ville's
// inequality P(BF_n ever >= 1 / alpha) <= alpha. +infinity when an arm of weight 0 has participants (the
// expected split rules that out); empty where the tests are undefined (above) and for a concentration that
// is not finite and > 0.
std::optional<double> srm_log_bayes_factor(const std::vector<std::int64_t>& observed,
                                           const std::vector<double>& weights,
                                           double concentration = kSrmConcentration);

// The anytime-valid p-value at this look, p_n = min(1, 1 / BF_n) = min(1, exp(-ln BF_n)): a mismatch is
// BF_n > 1 / threshold. Stateless: the current look's value, not the running minimum over looks (which is
// never larger, and needs persisting). Both first cross alpha at the same look, so "alarm at the first look
// with p < alpha" keeps its false-alarm rate <= alpha either way; this one can rise again after a chance
// excursion, the running minimum cannot. Under a real mismatch ln BF_n grows linearly in n, so once the
// evidence is there the alarm stays on. The price of validity: a 1 % ratio mismatch (50.5/49.5) trips it
// at ~2.1 * 10^5 users, where the chi-square read once needs ~1.1 * 10^5 (bench/peeking).
SrmResult srm_sequential(const std::vector<std::int64_t>& observed, const std::vector<double>& weights,
                         double threshold = kSrmAlpha, double concentration = kSrmConcentration);

// Empty when valid, otherwise a message: alpha must be in (0, 1), sequential_tuning finite and > 0.
std::optional<std::string> validate(const AnalysisOptions& options);

// ---------------------------------------------------------------------------------------------------
// The extended analysis. Throws std::invalid_argument when validate(options) fails.
//
// Per treatment (every variant except the control), with c = control:
//   conversion_rate, relative_lift: as the legacy analyze.
//   Fixed:      p_value = two_proportion_p_value (the pooled z-test, exactly as today);
//               lift_ci = fixed_lift_ci; difference_ci = fixed_difference_ci.
//   Sequential: p_value = min(previous_min_p[i], sequential_p_value) — the running minimum over looks
//               (the current look's value when there is no history; the history alone when the
//               current look is undefined); lift_ci / difference_ci = the current look's confidence
//               sequences (not intersected over looks).
//   p_value_adjusted: adjust_p_values(options.correction) over the treatments' p_values when there are
//               >= 2 treatments (Analysis::correction = options.correction); otherwise equal to p_value
//               (Analysis::correction = None).
//   chance_to_win: chance_to_win(c, variant), for both methods.
// The control: relative_lift = 0, every other extended field empty, is_significant false.
// Without a control: no lift, p-value, interval or chance to win for anybody.
//
// Significance rule (so that the label never contradicts a number shown next to it):
//   is_significant  <=>  p_value_adjusted < alpha
//                        AND lift_ci is defined and excludes 0
//                        AND difference_ci is defined and excludes 0.
// Hence a CI that contains 0 (or is undefined) never comes with the label. Under Fixed the pooled p and
// the unpooled Welch intervals can disagree near the boundary (or when an arm has a rate of 0 or 1, where
// the intervals are undefined): those cases are labelled not significant. Under Sequential,
// p < alpha <=> lift CS excludes 0 at the same look, so only the running minimum (an earlier crossing
// while the current CS covers 0 again), the correction, or the difference CS can withhold the label.
//
// previous_min_p: aligned with `variants` (index i -> variants[i]); missing entries (a shorter or empty
// vector), empty optionals and values outside [0, 1] (NaN included) all mean "no history"; entries for
// the control or beyond variants.size() are ignored. Ignored under Fixed. Reset it whenever the
// method, alpha or sequential_tuning change, or the experiment restarts.
Analysis analyze(const std::vector<VariantCounts>& variants, const AnalysisOptions& options,
                 const std::vector<std::optional<double>>& previous_min_p = {});

}  // namespace expstream
