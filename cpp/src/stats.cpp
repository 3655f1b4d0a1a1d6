#include "expstream/stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/students_t.hpp>

namespace expstream {

double normal_sf(double z) {
    // erfc keeps full relative precision in the far upper tail, unlike 1 - cdf.
    return 0.5 * std::erfc(z / std::sqrt(2.0));
}

double conversion_rate(std::int64_t participants, std::int64_t conversions) {
    if (participants <= 0) {
        return 0.0;
    }
    return static_cast<double>(conversions) / static_cast<double>(participants);
}

std::optional<double> two_proportion_p_value(std::int64_t n_control, std::int64_t c_control,
                                             std::int64_t n_variant, std::int64_t c_variant) {
    if (n_control <= 0 || n_variant <= 0) {
        return std::nullopt;
    }
    // Everything in double from here on: sums of two int64 counts could overflow.
    const double n1 = static_cast<double>(n_control);
    const double n2 = static_cast<double>(n_variant);
    const double c1 = static_cast<double>(c_control);
    const double c2 = static_cast<double>(c_variant);
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
// Extended analysis

namespace {

namespace bmp = boost::math::policies;
// Never throw from Boost.Math: errors come back as NaN/Inf and are turned into empty optionals below.
using NoThrow = bmp::policy<bmp::domain_error<bmp::ignore_error>, bmp::pole_error<bmp::ignore_error>,
                            bmp::overflow_error<bmp::ignore_error>, bmp::underflow_error<bmp::ignore_error>,
                            bmp::evaluation_error<bmp::ignore_error>, bmp::rounding_error<bmp::ignore_error>,
                            bmp::indeterminate_result_error<bmp::ignore_error>>;

// The two arms as gbstats sees them: Bernoulli means and population variances, in double.
struct Arms {
    double na, nb;  // participants
    double ma, mb;  // rates
    double va, vb;  // p (1 - p)
};

// Empty outside the domain every unpooled test shares: both rates strictly inside (0, 1).
std::optional<Arms> arms(std::int64_t n_control, std::int64_t c_control, std::int64_t n_variant,
                         std::int64_t c_variant) {
    if (n_control <= 0 || n_variant <= 0) return std::nullopt;
    Arms a;
    a.na = static_cast<double>(n_control);
    a.nb = static_cast<double>(n_variant);
    a.ma = static_cast<double>(c_control) / a.na;
    a.mb = static_cast<double>(c_variant) / a.nb;
    if (!(a.ma > 0.0 && a.ma < 1.0 && a.mb > 0.0 && a.mb < 1.0)) return std::nullopt;
    a.va = a.ma * (1.0 - a.ma);
    a.vb = a.mb * (1.0 - a.mb);
    if (!(a.va > 0.0 && a.vb > 0.0)) return std::nullopt;
    return a;
}

// An estimate with its variance (gbstats frequentist_diff / frequentist_variance).
struct Effect {
    double estimate;
    double variance;
};

Effect relative_effect(const Arms& a) {
    return {(a.mb - a.ma) / a.ma,
            a.vb / (a.ma * a.ma * a.nb) + a.va * a.mb * a.mb / (a.ma * a.ma * a.ma * a.ma * a.na)};
}

Effect absolute_effect(const Arms& a) { return {a.mb - a.ma, a.vb / a.nb + a.va / a.na}; }

// Welch-Satterthwaite degrees of freedom on the arms' own variances (gbstats TTest.dof).
double welch_dof(const Arms& a) {
    const double sb = a.vb / a.nb;
    const double sa = a.va / a.na;
    return (sb + sa) * (sb + sa) / (sb * sb / (a.nb - 1.0) + sa * sa / (a.na - 1.0));
}

bool valid_alpha(double alpha) { return alpha > 0.0 && alpha < 1.0; }

std::optional<Interval> make_interval(double estimate, double half_width) {
    if (!std::isfinite(estimate) || !std::isfinite(half_width) || half_width < 0.0) return std::nullopt;
    Interval ci{estimate - half_width, estimate + half_width};
    if (!std::isfinite(ci.low) || !std::isfinite(ci.high)) return std::nullopt;
    return ci;
}

std::optional<Interval> t_interval(const Arms& a, const Effect& e, double alpha) {
    if (!valid_alpha(alpha) || !(e.variance > 0.0) || !std::isfinite(e.variance)) return std::nullopt;
    const double dof = welch_dof(a);
    if (!(dof > 0.0) || !std::isfinite(dof)) return std::nullopt;
    const boost::math::students_t_distribution<double, NoThrow> t(dof);
    // quantile(complement(t, alpha / 2)) == t.ppf(1 - alpha / 2) without rounding 1 - alpha / 2.
    const double q = boost::math::quantile(boost::math::complement(t, alpha / 2.0));
    return make_interval(e.estimate, q * std::sqrt(e.variance));
}

bool valid_tuning(double tuning) { return std::isfinite(tuning) && tuning > 0.0; }

// rho^2 of eq. 161: (-2 ln alpha + ln(-2 ln alpha + 1)) / N*.
double rho_squared(double alpha, double tuning) {
    const double l = -2.0 * std::log(alpha);
    return (l + std::log(l + 1.0)) / tuning;
}

std::optional<Interval> cs_interval(const Arms& a, const Effect& e, double alpha, double tuning) {
    if (!valid_alpha(alpha) || !valid_tuning(tuning)) return std::nullopt;
    if (!(e.variance > 0.0) || !std::isfinite(e.variance)) return std::nullopt;
    const double n = a.na + a.nb;
    const double r2 = rho_squared(alpha, tuning);
    const double nr2p1 = n * r2 + 1.0;
    // width = sqrt(s2) sqrt(2 (N rho^2 + 1) ln(sqrt(N rho^2 + 1) / alpha) / (N rho)^2), s2 = variance N.
    const double s2 = e.variance * n;
    const double half =
        std::sqrt(s2) * std::sqrt(2.0 * nr2p1 * std::log(std::sqrt(nr2p1) / alpha) / (n * n * r2));
    return make_interval(e.estimate, half);
}

std::optional<double> clamp_probability(double p) {
    if (std::isnan(p)) return std::nullopt;
    if (p < 0.0) p = 0.0;
    if (p > 1.0) p = 1.0;
    return p;
}

bool usable(const std::optional<double>& p) { return p && !std::isnan(*p); }

}  // namespace

const char* to_string(Method method) { return method == Method::Fixed ? "fixed" : "sequential"; }

const char* to_string(Correction correction) {
    return correction == Correction::HolmBonferroni ? "holm-bonferroni" : "none";
}

std::optional<Interval> fixed_lift_ci(std::int64_t n_control, std::int64_t c_control, std::int64_t n_variant,
                                      std::int64_t c_variant, double alpha) {
    auto a = arms(n_control, c_control, n_variant, c_variant);
    if (!a) return std::nullopt;
    return t_interval(*a, relative_effect(*a), alpha);
}

std::optional<Interval> fixed_difference_ci(std::int64_t n_control, std::int64_t c_control,
                                            std::int64_t n_variant, std::int64_t c_variant, double alpha) {
    auto a = arms(n_control, c_control, n_variant, c_variant);
    if (!a) return std::nullopt;
    return t_interval(*a, absolute_effect(*a), alpha);
}

std::optional<Interval> sequential_lift_ci(std::int64_t n_control, std::int64_t c_control,
                                           std::int64_t n_variant, std::int64_t c_variant, double alpha,
                                           double tuning) {
    auto a = arms(n_control, c_control, n_variant, c_variant);
    if (!a) return std::nullopt;
    return cs_interval(*a, relative_effect(*a), alpha, tuning);
}

std::optional<Interval> sequential_difference_ci(std::int64_t n_control, std::int64_t c_control,
                                                 std::int64_t n_variant, std::int64_t c_variant, double alpha,
                                                 double tuning) {
    auto a = arms(n_control, c_control, n_variant, c_variant);
    if (!a) return std::nullopt;
    return cs_interval(*a, absolute_effect(*a), alpha, tuning);
}

std::optional<double> sequential_p_value(std::int64_t n_control, std::int64_t c_control, std::int64_t n_variant,
                                         std::int64_t c_variant, double alpha, double tuning) {
    if (!valid_alpha(alpha) || !valid_tuning(tuning)) return std::nullopt;
    auto a = arms(n_control, c_control, n_variant, c_variant);
    if (!a) return std::nullopt;
    const Effect e = relative_effect(*a);
    if (!(e.variance > 0.0) || !std::isfinite(e.variance) || !std::isfinite(e.estimate)) return std::nullopt;
    const double n = a->na + a->nb;
    const double r2 = rho_squared(alpha, tuning);
    const double nr2p1 = n * r2 + 1.0;
    const double st2 = e.estimate * e.estimate * n / e.variance;
    // e-value = exp(rho^2 st2 / (2 (N rho^2 + 1))) / sqrt(N rho^2 + 1); p = min(1, 1 / e-value).
    const double log_evalue = r2 * st2 / (2.0 * nr2p1) - 0.5 * std::log(nr2p1);
    if (std::isnan(log_evalue)) return std::nullopt;
    if (log_evalue <= 0.0) return 1.0;
    return clamp_probability(std::exp(-log_evalue));
}

std::optional<double> chance_to_win(std::int64_t n_control, std::int64_t c_control, std::int64_t n_variant,
                                    std::int64_t c_variant) {
    auto a = arms(n_control, c_control, n_variant, c_variant);
    if (!a) return std::nullopt;
    const Effect e = relative_effect(*a);
    if (!(e.variance > 0.0) || !std::isfinite(e.variance)) return std::nullopt;
    // norm.sf(0, mean, sd) = P(N(mean, sd) > 0) = Phi(mean / sd) = sf(-mean / sd).
    return clamp_probability(normal_sf(-e.estimate / std::sqrt(e.variance)));
}

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

SrmResult srm(const std::vector<std::int64_t>& observed, const std::vector<double>& weights, double threshold) {
    SrmResult out;
    if (observed.size() != weights.size()) return out;
    double total_weight = 0.0;
    double total = 0.0;
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
        total += static_cast<double>(observed[i]);
    }
    if (!(total > 0.0) || arms_in_test == 0) return out;
    if (unexpected_traffic) {
        // Participants in an arm that should receive none: a mismatch with certainty.
        out.p_value = 0.0;
        out.mismatch = true;
        return out;
    }
    if (arms_in_test < 2 || !(total_weight > 0.0) || !std::isfinite(total_weight)) return out;
    double x = 0.0;
    for (std::size_t i = 0; i < observed.size(); ++i) {
        if (!(weights[i] > 0.0)) continue;
        const double e = weights[i] / total_weight * total;
        const double d = static_cast<double>(observed[i]) - e;
        x += d * d / e;
    }
    if (!std::isfinite(x)) return out;
    const boost::math::chi_squared_distribution<double, NoThrow> chi2(static_cast<double>(arms_in_test - 1));
    out.p_value = clamp_probability(boost::math::cdf(boost::math::complement(chi2, x)));
    out.mismatch = out.p_value && *out.p_value < threshold;
    return out;
}

std::optional<std::string> validate(const AnalysisOptions& options) {
    if (!valid_alpha(options.alpha)) return std::string("alpha must be in (0, 1)");
    if (!valid_tuning(options.sequential_tuning)) return std::string("sequential_tuning must be finite and > 0");
    return std::nullopt;
}

Analysis analyze(const std::vector<VariantCounts>& variants, const AnalysisOptions& options,
                 const std::vector<std::optional<double>>& previous_min_p) {
    if (auto error = validate(options)) throw std::invalid_argument(*error);
    const bool sequential = options.method == Method::Sequential;
    const double alpha = options.alpha;

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
            const std::int64_t na = control->participants, ca = control->conversions;
            const std::int64_t nb = v.participants, cb = v.conversions;
            if (sequential) {
                std::optional<double> p = sequential_p_value(na, ca, nb, cb, alpha, options.sequential_tuning);
                // History outside [0, 1] (or NaN) is corrupt: ignored rather than trusted.
                if (i < previous_min_p.size() && previous_min_p[i] && *previous_min_p[i] >= 0.0 &&
                    *previous_min_p[i] <= 1.0) {
                    const double prev = *previous_min_p[i];
                    p = p ? std::min(*p, prev) : prev;
                }
                r.p_value = p;
                out.min_p_values[i] = p;
                r.lift_ci = sequential_lift_ci(na, ca, nb, cb, alpha, options.sequential_tuning);
                r.difference_ci = sequential_difference_ci(na, ca, nb, cb, alpha, options.sequential_tuning);
            } else {
                r.p_value = two_proportion_p_value(na, ca, nb, cb);
                r.lift_ci = fixed_lift_ci(na, ca, nb, cb, alpha);
                r.difference_ci = fixed_difference_ci(na, ca, nb, cb, alpha);
            }
            r.chance_to_win = chance_to_win(na, ca, nb, cb);
        }
        out.variants.push_back(std::move(r));
    }

    if (options.holm && treatments.size() >= 2) {
        out.correction = Correction::HolmBonferroni;
        std::vector<std::optional<double>> p;
        p.reserve(treatments.size());
        for (std::size_t i : treatments) p.push_back(out.variants[i].p_value);
        const auto adjusted = holm_adjust(p);
        for (std::size_t k = 0; k < treatments.size(); ++k) out.variants[treatments[k]].p_value_adjusted = adjusted[k];
    } else {
        for (std::size_t i : treatments) out.variants[i].p_value_adjusted = out.variants[i].p_value;
    }

    for (std::size_t i : treatments) {
        VariantResult& r = out.variants[i];
        r.is_significant = r.p_value_adjusted && *r.p_value_adjusted < alpha && r.lift_ci && !r.lift_ci->contains(0.0) &&
                           r.difference_ci && !r.difference_ci->contains(0.0);
        out.is_significant = out.is_significant || r.is_significant;
    }
    return out;
}

}  // namespace expstream
