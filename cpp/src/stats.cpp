#include "expstream/stats.hpp"

#include "stats_internal.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <boost/math/special_functions/gamma.hpp>

namespace expstream {

double normal_sf(double z) {
    // erfc keeps full relative precision in the far upper tail, unlike 1 - cdf.
    return 0.5 * std::erfc(z / std::sqrt(2.0));
}

namespace internal {

double rate(double n, double sum) { return n > 0.0 ? sum / n : 0.0; }

std::optional<double> pooled_z_p_value(double n1, double c1, double n2, double c2) {
    if (!(n1 > 0.0 && n2 > 0.0)) {
        return std::nullopt;
    }
    const double pooled = (c1 + c2) / (n1 + n2);
    if (!(pooled > 0.0 && pooled < 1.0)) {
        return std::nullopt;  // no variance: every arm all-or-nothing, the test is undefined
    }
    const double se = std::sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2));
    if (!(se > 0.0) || !std::isfinite(se)) {
        return std::nullopt;
    }
    const double z = (c2 / n2 - c1 / n1) / se;
    if (!std::isfinite(z)) {
        return std::nullopt;
    }
    // Two-sided: 2 * sf(|z|) == erfc(|z| / sqrt 2), computed directly to avoid the extra rounding.
    double p = std::erfc(std::fabs(z) / std::sqrt(2.0));
    if (p < 0.0) p = 0.0;
    if (p > 1.0) p = 1.0;
    return p;
}

}  // namespace internal

double conversion_rate(std::int64_t participants, std::int64_t conversions) {
    if (participants <= 0) {
        return 0.0;
    }
    return internal::rate(static_cast<double>(participants), static_cast<double>(conversions));
}

std::optional<double> two_proportion_p_value(std::int64_t n_control, std::int64_t c_control,
                                             std::int64_t n_variant, std::int64_t c_variant) {
    if (n_control <= 0 || n_variant <= 0) {
        return std::nullopt;
    }
    // Everything in double from here on: sums of two int64 counts could overflow.
    return internal::pooled_z_p_value(static_cast<double>(n_control), static_cast<double>(c_control),
                                      static_cast<double>(n_variant), static_cast<double>(c_variant));
}

namespace {

// a + b, clamped to the int64 range instead of overflowing (undefined behaviour) on absurd counts.
std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
    std::int64_t sum;
    if (!__builtin_add_overflow(a, b, &sum)) return sum;
    return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
}

// The control is the first variant marked is_control; null when there is none.
const VariantCounts* find_control(const std::vector<VariantCounts>& variants) {
    for (const auto& v : variants)
        if (v.is_control) return &v;
    return nullptr;
}

// What every analysis reports for a variant: counts, rate, and its relative lift over the control
// (exactly 0 for the control itself, empty with no control or a control rate of 0).
VariantResult describe(const VariantCounts& v, const VariantCounts* control, double control_rate) {
    VariantResult r;
    r.key = v.key;
    r.name = v.name;
    r.is_control = v.is_control;
    r.participants = v.participants;
    r.conversions = v.conversions;
    r.conversion_rate = conversion_rate(v.participants, v.conversions);
    if (&v == control) {
        r.relative_lift = 0.0;  // the control compared with itself
    } else if (control && control_rate > 0.0) {
        r.relative_lift = (r.conversion_rate - control_rate) / control_rate;
    }
    return r;
}

}  // namespace

Analysis analyze(const std::vector<VariantCounts>& variants, double alpha) {
    Analysis out;
    out.variants.reserve(variants.size());
    const VariantCounts* control = find_control(variants);
    const double control_rate = control ? conversion_rate(control->participants, control->conversions) : 0.0;

    for (const auto& v : variants) {
        VariantResult r = describe(v, control, control_rate);
        out.total_participants = saturating_add(out.total_participants, v.participants);
        if (control && &v != control) {
            r.p_value = two_proportion_p_value(control->participants, control->conversions, v.participants,
                                               v.conversions);
            if (r.p_value && *r.p_value < alpha) {
                r.is_significant = true;
                out.is_significant = true;
            }
        }
        out.variants.push_back(std::move(r));
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------
// Summary statistics and the two-sample tests over them

namespace {

namespace bmp = boost::math::policies;
// Never throw from Boost.Math: errors come back as NaN/Inf and are turned into empty optionals below.
using NoThrow = bmp::policy<bmp::domain_error<bmp::ignore_error>, bmp::pole_error<bmp::ignore_error>,
                            bmp::overflow_error<bmp::ignore_error>, bmp::underflow_error<bmp::ignore_error>,
                            bmp::evaluation_error<bmp::ignore_error>, bmp::rounding_error<bmp::ignore_error>,
                            bmp::indeterminate_result_error<bmp::ignore_error>>;

// gbstats Statistic.unadjusted_mean: the mean itself unless the arm is regression adjusted.
double unadjusted(const ArmStatistic& s) { return s.unadjusted_mean.value_or(s.mean); }

bool finite(const ArmStatistic& s) {
    return std::isfinite(s.n) && std::isfinite(s.mean) && std::isfinite(s.variance) && std::isfinite(unadjusted(s));
}

// The domain every test shares (gbstats: no "uninformative default"): see stats.hpp.
bool in_domain(const ArmStatistic& a, const ArmStatistic& b) {
    return finite(a) && finite(b) && a.n > 0.0 && b.n > 0.0 && a.mean != 0.0 && unadjusted(a) != 0.0 &&
           a.variance > 0.0 && b.variance > 0.0;
}

// An estimate with its variance (gbstats frequentist_diff / frequentist_variance).
struct Effect {
    double estimate;
    double variance;
};

// Regression-adjusted arms (CUPED): the estimate is on the adjusted means, the relative one divided by the
// control's unadjusted mean, and the relative variance weighs by the unadjusted means (gbstats TTest.
// point_estimate / .variance). Without unadjusted means, u == m and this is the plain delta method.
Effect effect(const ArmStatistic& a, const ArmStatistic& b, Scale scale) {
    if (scale == Scale::Absolute) return {b.mean - a.mean, b.variance / b.n + a.variance / a.n};
    const double ua = unadjusted(a), ub = unadjusted(b);
    return {(b.mean - a.mean) / ua, b.variance / (ua * ua * b.n) + a.variance * ub * ub / (ua * ua * ua * ua * a.n)};
}

bool usable(const Effect& e) { return std::isfinite(e.estimate) && std::isfinite(e.variance) && e.variance > 0.0; }

// Welch-Satterthwaite degrees of freedom on the arms' own variances (gbstats TTest.dof).
double welch_dof(const ArmStatistic& a, const ArmStatistic& b) {
    const double sb = b.variance / b.n;
    const double sa = a.variance / a.n;
    return (sb + sa) * (sb + sa) / (sb * sb / (b.n - 1.0) + sa * sa / (a.n - 1.0));
}

bool valid_alpha(double alpha) { return alpha > 0.0 && alpha < 1.0; }

bool valid_tuning(double tuning) { return std::isfinite(tuning) && tuning > 0.0; }

std::optional<Interval> make_interval(double estimate, double half_width) {
    if (!std::isfinite(estimate) || !std::isfinite(half_width) || half_width < 0.0) return std::nullopt;
    Interval ci{estimate - half_width, estimate + half_width};
    if (!std::isfinite(ci.low) || !std::isfinite(ci.high)) return std::nullopt;
    return ci;
}

// rho^2 of eq. 161: (-2 ln alpha + ln(-2 ln alpha + 1)) / N*.
double rho_squared(double alpha, double tuning) {
    const double l = -2.0 * std::log(alpha);
    return (l + std::log(l + 1.0)) / tuning;
}

std::optional<double> clamp_probability(double p) {
    if (std::isnan(p)) return std::nullopt;
    if (p < 0.0) p = 0.0;
    if (p > 1.0) p = 1.0;
    return p;
}

bool usable(const std::optional<double>& p) { return p && !std::isnan(*p); }

}  // namespace

ArmStatistic proportion_statistic(double n, double sum) {
    ArmStatistic s;
    s.n = n;
    s.mean = n == 0.0 ? 0.0 : sum / n;
    s.variance = s.mean * (1.0 - s.mean);
    return s;
}

ArmStatistic sample_mean_statistic(double n, double sum, double sum_squares) {
    ArmStatistic s;
    s.n = n;
    s.mean = n == 0.0 ? 0.0 : sum / n;
    s.variance = n <= 1.0 ? 0.0 : (sum_squares - sum * sum / n) / (n - 1.0);
    return s;
}

ArmStatistic ratio_statistic(double n, double sum, double sum_squares, double denominator_sum,
                             double denominator_sum_squares, double sum_of_products) {
    const ArmStatistic m = sample_mean_statistic(n, sum, sum_squares);
    const ArmStatistic d = sample_mean_statistic(n, denominator_sum, denominator_sum_squares);
    ArmStatistic s;
    s.n = n;
    s.mean = denominator_sum == 0.0 ? 0.0 : sum / denominator_sum;
    if (d.mean == 0.0 || n <= 1.0) {
        s.variance = 0.0;
    } else {
        // In gbstats' order of operations, so that the cancellation between the terms rounds alike.
        const double covariance = (sum_of_products - sum * denominator_sum / n) / (n - 1.0);
        const double dm = d.mean;
        s.variance = m.variance / (dm * dm) - 2.0 * covariance * m.mean / (dm * dm * dm) +
                     m.mean * m.mean * d.variance / (dm * dm * dm * dm);
    }
    return s;
}

std::optional<Interval> t_confidence_interval(const ArmStatistic& control, const ArmStatistic& variant, Scale scale,
                                              double alpha) {
    if (!valid_alpha(alpha) || !in_domain(control, variant)) return std::nullopt;
    const Effect e = effect(control, variant, scale);
    if (!usable(e)) return std::nullopt;
    const double dof = welch_dof(control, variant);
    if (!(dof > 0.0) || !std::isfinite(dof)) return std::nullopt;
    const boost::math::students_t_distribution<double, NoThrow> t(dof);
    // quantile(complement(t, alpha / 2)) == t.ppf(1 - alpha / 2) without rounding 1 - alpha / 2.
    const double q = boost::math::quantile(boost::math::complement(t, alpha / 2.0));
    return make_interval(e.estimate, q * std::sqrt(e.variance));
}

std::optional<double> t_test_p_value(const ArmStatistic& control, const ArmStatistic& variant, Scale scale) {
    if (!in_domain(control, variant)) return std::nullopt;
    const Effect e = effect(control, variant, scale);
    if (!usable(e)) return std::nullopt;
    const double dof = welch_dof(control, variant);
    if (!(dof > 0.0) || !std::isfinite(dof)) return std::nullopt;
    const double t_stat = std::fabs(e.estimate / std::sqrt(e.variance));
    if (std::isnan(t_stat)) return std::nullopt;
    const boost::math::students_t_distribution<double, NoThrow> t(dof);
    return clamp_probability(2.0 * boost::math::cdf(boost::math::complement(t, t_stat)));
}

std::optional<Interval> sequential_confidence_interval(const ArmStatistic& control, const ArmStatistic& variant,
                                                       Scale scale, double alpha, double tuning) {
    if (!valid_alpha(alpha) || !valid_tuning(tuning) || !in_domain(control, variant)) return std::nullopt;
    const Effect e = effect(control, variant, scale);
    if (!usable(e)) return std::nullopt;
    const double n = control.n + variant.n;
    const double r2 = rho_squared(alpha, tuning);
    const double nr2p1 = n * r2 + 1.0;
    // width = sqrt(s2) sqrt(2 (N rho^2 + 1) ln(sqrt(N rho^2 + 1) / alpha) / (N rho)^2), s2 = variance N.
    const double s2 = e.variance * n;
    const double half =
        std::sqrt(s2) * std::sqrt(2.0 * nr2p1 * std::log(std::sqrt(nr2p1) / alpha) / (n * n * r2));
    return make_interval(e.estimate, half);
}

std::optional<double> sequential_test_p_value(const ArmStatistic& control, const ArmStatistic& variant, Scale scale,
                                              double alpha, double tuning) {
    if (!valid_alpha(alpha) || !valid_tuning(tuning) || !in_domain(control, variant)) return std::nullopt;
    const Effect e = effect(control, variant, scale);
    if (!usable(e)) return std::nullopt;
    const double n = control.n + variant.n;
    const double r2 = rho_squared(alpha, tuning);
    const double nr2p1 = n * r2 + 1.0;
    const double st2 = e.estimate * e.estimate * n / e.variance;
    // e-value = exp(rho^2 st2 / (2 (N rho^2 + 1))) / sqrt(N rho^2 + 1); p = min(1, 1 / e-value).
    const double log_evalue = r2 * st2 / (2.0 * nr2p1) - 0.5 * std::log(nr2p1);
    if (std::isnan(log_evalue)) return std::nullopt;
    if (log_evalue <= 0.0) return 1.0;
    return clamp_probability(std::exp(-log_evalue));
}

std::optional<double> chance_to_win(const ArmStatistic& control, const ArmStatistic& variant, bool inverse) {
    if (!in_domain(control, variant)) return std::nullopt;
    const Effect e = effect(control, variant, Scale::Relative);
    if (!usable(e)) return std::nullopt;
    // norm.sf(0, mean, sd) = P(N(mean, sd) > 0) = Phi(mean / sd) = sf(-mean / sd); inverse: sf(mean / sd).
    const double z = e.estimate / std::sqrt(e.variance);
    return clamp_probability(normal_sf(inverse ? z : -z));
}

// ---- Conversions

namespace {
ArmStatistic conversions(std::int64_t n, std::int64_t c) {
    return proportion_statistic(static_cast<double>(n), static_cast<double>(c));
}
}  // namespace

std::optional<Interval> fixed_lift_ci(std::int64_t n_control, std::int64_t c_control, std::int64_t n_variant,
                                      std::int64_t c_variant, double alpha) {
    return t_confidence_interval(conversions(n_control, c_control), conversions(n_variant, c_variant), Scale::Relative,
                                 alpha);
}

std::optional<Interval> fixed_difference_ci(std::int64_t n_control, std::int64_t c_control,
                                            std::int64_t n_variant, std::int64_t c_variant, double alpha) {
    return t_confidence_interval(conversions(n_control, c_control), conversions(n_variant, c_variant), Scale::Absolute,
                                 alpha);
}

std::optional<Interval> sequential_lift_ci(std::int64_t n_control, std::int64_t c_control,
                                           std::int64_t n_variant, std::int64_t c_variant, double alpha,
                                           double tuning) {
    return sequential_confidence_interval(conversions(n_control, c_control), conversions(n_variant, c_variant),
                                          Scale::Relative, alpha, tuning);
}

std::optional<Interval> sequential_difference_ci(std::int64_t n_control, std::int64_t c_control,
                                                 std::int64_t n_variant, std::int64_t c_variant, double alpha,
                                                 double tuning) {
    return sequential_confidence_interval(conversions(n_control, c_control), conversions(n_variant, c_variant),
                                          Scale::Absolute, alpha, tuning);
}

std::optional<double> sequential_p_value(std::int64_t n_control, std::int64_t c_control, std::int64_t n_variant,
                                         std::int64_t c_variant, double alpha, double tuning) {
    return sequential_test_p_value(conversions(n_control, c_control), conversions(n_variant, c_variant),
                                   Scale::Relative, alpha, tuning);
}

std::optional<double> chance_to_win(std::int64_t n_control, std::int64_t c_control, std::int64_t n_variant,
                                    std::int64_t c_variant) {
    return chance_to_win(conversions(n_control, c_control), conversions(n_variant, c_variant));
}

// ---------------------------------------------------------------------------------------------------
// Multiple testing

std::vector<std::optional<double>> holm_adjust(const std::vector<std::optional<double>>& p_values) {
    const std::size_t m = p_values.size();
    std::vector<std::optional<double>> out(m);
    std::vector<std::size_t> order(m);
    for (std::size_t i = 0; i < m; ++i) order[i] = i;
    auto value = [&](std::size_t i) { return usable(p_values[i]) ? *p_values[i] : 1.0; };
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return value(x) < value(y); });
    double running = 0.0;
    for (std::size_t rank = 0; rank < m; ++rank) {
        const std::size_t i = order[rank];
        const double adjusted = std::min(1.0, value(i) * static_cast<double>(m - rank));
        running = std::max(running, adjusted);
        if (usable(p_values[i])) out[i] = clamp_probability(running);
    }
    return out;
}

std::vector<std::optional<double>> benjamini_hochberg_adjust(const std::vector<std::optional<double>>& p_values) {
    const std::size_t m = p_values.size();
    std::vector<std::optional<double>> out(m);
    std::vector<std::size_t> order(m);
    for (std::size_t i = 0; i < m; ++i) order[i] = i;
    auto value = [&](std::size_t i) { return usable(p_values[i]) ? *p_values[i] : 1.0; };
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return value(x) < value(y); });
    double running = std::numeric_limits<double>::infinity();
    for (std::size_t rank = m; rank-- > 0;) {
        const std::size_t i = order[rank];
        // As statsmodels: p / ecdf with ecdf = k / m, then a running minimum from the largest p down.
        const double ecdf = static_cast<double>(rank + 1) / static_cast<double>(m);
        running = std::min(running, value(i) / ecdf);
        if (usable(p_values[i])) out[i] = clamp_probability(std::min(1.0, running));
    }
    return out;
}

std::vector<std::optional<double>> adjust_p_values(const std::vector<std::optional<double>>& p_values,
                                                   Correction correction) {
    switch (correction) {
        case Correction::HolmBonferroni:
            return holm_adjust(p_values);
        case Correction::BenjaminiHochberg:
            return benjamini_hochberg_adjust(p_values);
        case Correction::None:
            break;
    }
    return p_values;
}

// ---------------------------------------------------------------------------------------------------
// Sample-ratio mismatch

namespace {

// The arms a sample-ratio test looks at, after the checks both tests share (stats.hpp).
struct SrmArms {
    enum class Kind { Undefined, Impossible, Test };
    Kind kind = Kind::Undefined;  // Impossible: participants in an arm of weight 0
    std::vector<double> counts;   // participants of the arms with weight > 0 ...
    std::vector<double> shares;   // ... and their expected shares p0_i = weight_i / sum(weights)
    double total = 0.0;           // participants in all arms
};

SrmArms srm_arms(const std::vector<std::int64_t>& observed, const std::vector<double>& weights) {
    SrmArms out;
    if (observed.size() != weights.size()) return out;
    double total_weight = 0.0;
    std::size_t arms_in_test = 0;
    bool unexpected_traffic = false;
    for (std::size_t i = 0; i < observed.size(); ++i) {
        if (observed[i] < 0 || !std::isfinite(weights[i]) || weights[i] < 0.0) return out;
        if (weights[i] > 0.0) {
            total_weight += weights[i];
            ++arms_in_test;
        } else if (observed[i] > 0) {
            unexpected_traffic = true;
        }
        out.total += static_cast<double>(observed[i]);
    }
    if (!(out.total > 0.0) || arms_in_test == 0) return out;
    if (unexpected_traffic) {
        out.kind = SrmArms::Kind::Impossible;
        return out;
    }
    if (arms_in_test < 2 || !(total_weight > 0.0) || !std::isfinite(total_weight)) return out;
    out.kind = SrmArms::Kind::Test;
    out.counts.reserve(arms_in_test);
    out.shares.reserve(arms_in_test);
    for (std::size_t i = 0; i < observed.size(); ++i) {
        if (!(weights[i] > 0.0)) continue;
        out.counts.push_back(static_cast<double>(observed[i]));
        out.shares.push_back(weights[i] / total_weight);
    }
    return out;
}

// Participants in an arm that should receive none: a mismatch with certainty.
SrmResult certain_mismatch() {
    SrmResult out;
    out.p_value = 0.0;
    out.mismatch = true;
    return out;
}

// ln Gamma(z) for z > 0. Boost's, not std::lgamma: glibc's writes the global signgam (a data race when
// snapshots are computed on several threads).
double log_gamma(double z) { return boost::math::lgamma(z, NoThrow()); }

}  // namespace

SrmResult srm_chi_square(const std::vector<std::int64_t>& observed, const std::vector<double>& weights,
                         double threshold) {
    const SrmArms arms = srm_arms(observed, weights);
    if (arms.kind == SrmArms::Kind::Impossible) return certain_mismatch();
    SrmResult out;
    if (arms.kind != SrmArms::Kind::Test) return out;
    double x = 0.0;
    for (std::size_t i = 0; i < arms.counts.size(); ++i) {
        const double e = arms.shares[i] * arms.total;
        const double d = arms.counts[i] - e;
        x += d * d / e;
    }
    if (!std::isfinite(x)) return out;
    const boost::math::chi_squared_distribution<double, NoThrow> chi2(static_cast<double>(arms.counts.size() - 1));
    out.p_value = clamp_probability(boost::math::cdf(boost::math::complement(chi2, x)));
    out.mismatch = out.p_value && *out.p_value < threshold;
    return out;
}

std::optional<double> srm_log_bayes_factor(const std::vector<std::int64_t>& observed,
                                           const std::vector<double>& weights, double concentration) {
    if (!(std::isfinite(concentration) && concentration > 0.0)) return std::nullopt;
    const SrmArms arms = srm_arms(observed, weights);
    if (arms.kind == SrmArms::Kind::Impossible) return std::numeric_limits<double>::infinity();
    if (arms.kind != SrmArms::Kind::Test) return std::nullopt;
    // ln BF = ln Gamma(A) - ln Gamma(A + n) + sum_i [ln Gamma(a_i + x_i) - ln Gamma(a_i) - x_i ln p0_i].
    double prior_total = 0.0;
    double log_bf = 0.0;
    for (std::size_t i = 0; i < arms.counts.size(); ++i) {
        const double a = concentration * arms.shares[i];
        const double x = arms.counts[i];
        prior_total += a;
        log_bf += log_gamma(a + x) - log_gamma(a) - x * std::log(arms.shares[i]);
    }
    log_bf += log_gamma(prior_total) - log_gamma(prior_total + arms.total);
    // NaN or +-inf only from absurd inputs (a share that underflows to 0): undefined, not a verdict.
    if (!std::isfinite(log_bf)) return std::nullopt;
    return log_bf;
}

SrmResult srm_sequential(const std::vector<std::int64_t>& observed, const std::vector<double>& weights,
                         double threshold, double concentration) {
    const std::optional<double> log_bf = srm_log_bayes_factor(observed, weights, concentration);
    SrmResult out;
    if (!log_bf) return out;
    if (std::isinf(*log_bf)) return certain_mismatch();
    out.p_value = *log_bf <= 0.0 ? 1.0 : clamp_probability(std::exp(-*log_bf));
    out.mismatch = out.p_value && *out.p_value < threshold;
    return out;
}

SrmResult srm(const std::vector<std::int64_t>& observed, const std::vector<double>& weights, double threshold,
              SrmMethod method) {
    return method == SrmMethod::ChiSquare ? srm_chi_square(observed, weights, threshold)
                                          : srm_sequential(observed, weights, threshold);
}

// ---------------------------------------------------------------------------------------------------
// Extended analysis

const char* to_string(Method method) { return method == Method::Fixed ? "fixed" : "sequential"; }

const char* to_string(Correction correction) {
    switch (correction) {
        case Correction::HolmBonferroni:
            return "holm-bonferroni";
        case Correction::BenjaminiHochberg:
            return "benjamini-hochberg";
        case Correction::None:
            break;
    }
    return "none";
}

std::optional<Correction> parse_correction(const std::string& name) {
    if (name == "none") return Correction::None;
    if (name == "holm" || name == "holm-bonferroni") return Correction::HolmBonferroni;
    if (name == "bh" || name == "benjamini-hochberg") return Correction::BenjaminiHochberg;
    return std::nullopt;
}

std::optional<std::string> validate(const AnalysisOptions& options) {
    if (!valid_alpha(options.alpha)) return std::string("alpha must be in (0, 1)");
    if (!valid_tuning(options.sequential_tuning)) return std::string("sequential_tuning must be finite and > 0");
    return std::nullopt;
}

namespace internal {

std::optional<double> history(const std::vector<std::optional<double>>& previous, std::size_t i) {
    // History outside [0, 1] (or NaN) is corrupt: ignored rather than trusted.
    if (i < previous.size() && previous[i] && *previous[i] >= 0.0 && *previous[i] <= 1.0) return *previous[i];
    return std::nullopt;
}

Comparison compare(const ArmStatistic& control, const ArmStatistic& variant, const AnalysisOptions& options,
                   const std::optional<PooledCounts>& pooled, const std::optional<double>& previous_min_p,
                   bool inverse) {
    Comparison c;
    const double alpha = options.alpha;
    if (options.method == Method::Sequential) {
        const double tuning = options.sequential_tuning;
        std::optional<double> p = sequential_test_p_value(control, variant, Scale::Relative, alpha, tuning);
        if (previous_min_p) p = p ? std::min(*p, *previous_min_p) : *previous_min_p;
        c.p_value = p;
        c.min_p = p;
        c.lift_ci = sequential_confidence_interval(control, variant, Scale::Relative, alpha, tuning);
        c.difference_ci = sequential_confidence_interval(control, variant, Scale::Absolute, alpha, tuning);
    } else {
        c.p_value = pooled
                        ? pooled_z_p_value(pooled->n_control, pooled->c_control, pooled->n_variant, pooled->c_variant)
                        : t_test_p_value(control, variant, Scale::Relative);
        c.lift_ci = t_confidence_interval(control, variant, Scale::Relative, alpha);
        c.difference_ci = t_confidence_interval(control, variant, Scale::Absolute, alpha);
    }
    c.chance_to_win = chance_to_win(control, variant, inverse);
    return c;
}

std::optional<double> effect_variance(const ArmStatistic& control, const ArmStatistic& variant, Scale scale) {
    if (!in_domain(control, variant)) return std::nullopt;
    const Effect e = effect(control, variant, scale);
    if (!usable(e)) return std::nullopt;
    return e.variance;
}

bool significant(const std::optional<double>& p_value_adjusted, const std::optional<Interval>& lift_ci,
                 const std::optional<Interval>& difference_ci, double alpha) {
    return p_value_adjusted && *p_value_adjusted < alpha && lift_ci && !lift_ci->contains(0.0) && difference_ci &&
           !difference_ci->contains(0.0);
}

}  // namespace internal

Analysis analyze(const std::vector<VariantCounts>& variants, const AnalysisOptions& options,
                 const std::vector<std::optional<double>>& previous_min_p) {
    if (auto error = validate(options)) throw std::invalid_argument(*error);
    const bool sequential = options.method == Method::Sequential;

    Analysis out;
    out.options = options;
    out.variants.reserve(variants.size());
    out.min_p_values.assign(variants.size(), std::nullopt);

    const VariantCounts* control = find_control(variants);
    const double control_rate = control ? conversion_rate(control->participants, control->conversions) : 0.0;

    std::vector<std::size_t> treatments;
    for (std::size_t i = 0; i < variants.size(); ++i) {
        const VariantCounts& v = variants[i];
        VariantResult r = describe(v, control, control_rate);
        out.total_participants = saturating_add(out.total_participants, v.participants);

        if (control && &v != control) {
            treatments.push_back(i);
            const internal::PooledCounts counts{
                static_cast<double>(control->participants), static_cast<double>(control->conversions),
                static_cast<double>(v.participants), static_cast<double>(v.conversions)};
            const internal::Comparison c = internal::compare(
                conversions(control->participants, control->conversions), conversions(v.participants, v.conversions),
                options, counts, sequential ? internal::history(previous_min_p, i) : std::nullopt);
            r.p_value = c.p_value;
            out.min_p_values[i] = c.min_p;
            r.lift_ci = c.lift_ci;
            r.difference_ci = c.difference_ci;
            r.chance_to_win = c.chance_to_win;
        }
        out.variants.push_back(std::move(r));
    }

    std::vector<std::optional<double>> p;
    p.reserve(treatments.size());
    for (std::size_t i : treatments) p.push_back(out.variants[i].p_value);
    out.correction = treatments.size() >= 2 ? options.correction : Correction::None;
    const auto adjusted = adjust_p_values(p, out.correction);
    for (std::size_t k = 0; k < treatments.size(); ++k) {
        VariantResult& r = out.variants[treatments[k]];
        r.p_value_adjusted = adjusted[k];
        r.is_significant = internal::significant(r.p_value_adjusted, r.lift_ci, r.difference_ci, options.alpha);
        out.is_significant = out.is_significant || r.is_significant;
    }
    return out;
}

}  // namespace expstream
