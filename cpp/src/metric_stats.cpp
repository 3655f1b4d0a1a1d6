#include "expstream/metric_stats.hpp"

#include <cmath>
#include <stdexcept>
#include <utility>

#include "stats_internal.hpp"

namespace expstream {

const char* to_string(MetricKind kind) {
    switch (kind) {
        case MetricKind::Mean:
            return "mean";
        case MetricKind::Ratio:
            return "ratio";
        case MetricKind::Proportion:
            break;
    }
    return "proportion";
}

const char* to_string(MetricRole role) {
    switch (role) {
        case MetricRole::Secondary:
            return "secondary";
        case MetricRole::Guardrail:
            return "guardrail";
        case MetricRole::Primary:
            break;
    }
    return "primary";
}

const char* to_string(Direction direction) { return direction == Direction::Decrease ? "decrease" : "increase"; }

ArmStatistic metric_statistic(MetricKind kind, const MetricSums& s) {
    const double n = static_cast<double>(s.n);
    switch (kind) {
        case MetricKind::Mean:
            return sample_mean_statistic(n, s.sum, s.sum_squares);
        case MetricKind::Ratio:
            return ratio_statistic(n, s.sum, s.sum_squares, s.denominator_sum, s.denominator_sum_squares,
                                   s.sum_of_products);
        case MetricKind::Proportion:
            break;
    }
    return proportion_statistic(n, s.sum);
}

std::optional<double> metric_value(MetricKind kind, const MetricSums& s) {
    if (s.n <= 0) return std::nullopt;
    double value;
    if (kind == MetricKind::Ratio) {
        if (s.denominator_sum == 0.0) return std::nullopt;
        value = s.sum / s.denominator_sum;
    } else {
        value = s.sum / static_cast<double>(s.n);
    }
    if (!std::isfinite(value)) return std::nullopt;
    return value;
}

// ---- CUPED

namespace {

bool cuped_kind(MetricKind kind) { return kind == MetricKind::Proportion || kind == MetricKind::Mean; }

// gbstats RegressionAdjustedStatistic.covariance: (Σxc - Σx Σc / n) / (n - 1), 0 when n <= 1.
double covariance(double n, double sum, double covariate_sum, double covariate_products) {
    if (n <= 1.0) return 0.0;
    return (covariate_products - sum * covariate_sum / n) / (n - 1.0);
}

}  // namespace

double cuped_theta(MetricKind kind, const MetricSums& a, const MetricSums& b) {
    if (!cuped_kind(kind)) return 0.0;
    // gbstats create_joint_statistic: the sums of both arms over n = n_a + n_b.
    const double n = static_cast<double>(a.n) + static_cast<double>(b.n);
    const double sum = a.sum + b.sum;
    const double covariate_sum = a.covariate_sum + b.covariate_sum;
    const ArmStatistic post = kind == MetricKind::Proportion
                                  ? proportion_statistic(n, sum)
                                  : sample_mean_statistic(n, sum, a.sum_squares + b.sum_squares);
    const ArmStatistic pre = sample_mean_statistic(n, covariate_sum, a.covariate_sum_squares + b.covariate_sum_squares);
    if (pre.variance == 0.0 || post.variance == 0.0) return 0.0;
    const double theta = covariance(n, sum, covariate_sum, a.covariate_products + b.covariate_products) / pre.variance;
    return std::isfinite(theta) ? theta : 0.0;
}

ArmStatistic cuped_statistic(MetricKind kind, const MetricSums& s, double theta) {
    const ArmStatistic post = metric_statistic(kind, s);
    if (!cuped_kind(kind)) return post;
    const double n = static_cast<double>(s.n);
    const ArmStatistic pre = sample_mean_statistic(n, s.covariate_sum, s.covariate_sum_squares);
    ArmStatistic out;
    out.n = n;
    out.mean = post.mean - theta * pre.mean;
    // In gbstats' order of operations: (var_x + θ² var_c) - (2θ) cov.
    out.variance = n <= 1.0 ? 0.0
                            : post.variance + theta * theta * pre.variance -
                                  2.0 * theta * covariance(n, s.sum, s.covariate_sum, s.covariate_products);
    out.unadjusted_mean = post.mean;
    return out;
}

CupedStatistics cuped_statistics(MetricKind kind, const MetricSums& control, const MetricSums& variant) {
    CupedStatistics out;
    out.theta = cuped_theta(kind, control, variant);
    if (out.theta == 0.0) {
        out.control = metric_statistic(kind, control);
        out.variant = metric_statistic(kind, variant);
    } else {
        out.control = cuped_statistic(kind, control, out.theta);
        out.variant = cuped_statistic(kind, variant, out.theta);
    }
    return out;
}

namespace {

// cuped_variance_reduction given the pair's cuped_statistics.
std::optional<double> variance_reduction(MetricKind kind, const MetricSums& control, const MetricSums& variant,
                                         const CupedStatistics& s) {
    if (s.theta == 0.0) return 0.0;  // nothing adjusted, nothing removed
    const auto unadjusted = internal::effect_variance(metric_statistic(kind, control),
                                                      metric_statistic(kind, variant), Scale::Relative);
    const auto adjusted = internal::effect_variance(s.control, s.variant, Scale::Relative);
    if (!unadjusted || !adjusted) return std::nullopt;
    const double reduction = 1.0 - *adjusted / *unadjusted;
    if (!std::isfinite(reduction)) return std::nullopt;
    return reduction;
}

}  // namespace

std::optional<double> cuped_variance_reduction(MetricKind kind, const MetricSums& control,
                                               const MetricSums& variant) {
    return variance_reduction(kind, control, variant, cuped_statistics(kind, control, variant));
}

std::optional<std::size_t> control_index(const std::vector<VariantCounts>& variants) {
    for (std::size_t i = 0; i < variants.size(); ++i)
        if (variants[i].is_control) return i;
    return std::nullopt;
}

MetricInput conversion_metric(const std::vector<VariantCounts>& variants, std::string key) {
    MetricInput m;
    m.key = std::move(key);
    m.kind = MetricKind::Proportion;
    m.role = MetricRole::Primary;
    m.direction = Direction::Increase;
    m.arms.reserve(variants.size());
    for (const auto& v : variants) {
        MetricSums s;
        s.n = v.participants;
        s.sum = static_cast<double>(v.conversions);
        s.sum_squares = s.sum;
        m.arms.push_back(s);
    }
    return m;
}

bool is_significant_regression(const MetricVariantResult& result, Direction direction) {
    if (!result.lift_ci) return false;
    return direction == Direction::Decrease ? result.lift_ci->low > 0.0 : result.lift_ci->high < 0.0;
}

namespace {

std::optional<double> finite_or_empty(double x) {
    if (!std::isfinite(x)) return std::nullopt;
    return x;
}

// The relative lift shown next to the value (see MetricVariantResult::relative_lift).
std::optional<double> relative_lift(MetricKind kind, const MetricSums& control, const MetricSums& variant) {
    if (kind == MetricKind::Proportion) {
        // analyze's describe(): rates of empty arms are 0, lift defined when the control rate is > 0.
        const double control_rate = internal::rate(static_cast<double>(control.n), control.sum);
        if (!(control_rate > 0.0)) return std::nullopt;
        const double rate = internal::rate(static_cast<double>(variant.n), variant.sum);
        return finite_or_empty((rate - control_rate) / control_rate);
    }
    const auto a = metric_value(kind, control);
    const auto b = metric_value(kind, variant);
    if (!a || !b || *a == 0.0) return std::nullopt;
    return finite_or_empty((*b - *a) / *a);
}

// CUPED with theta != 0: gbstats TTest.point_estimate, (adjusted mean_b - adjusted mean_a) / unadjusted mean_a.
std::optional<double> adjusted_lift(MetricKind kind, const MetricSums& control, const MetricSums& variant,
                                    const CupedStatistics& s) {
    const auto a = metric_value(kind, control);
    if (!a || *a == 0.0 || !metric_value(kind, variant)) return std::nullopt;
    return finite_or_empty((s.variant.mean - s.control.mean) / *a);
}

}  // namespace

MetricsAnalysis analyze_metrics(const std::vector<MetricInput>& metrics, std::optional<std::size_t> control,
                                const AnalysisOptions& options,
                                const std::vector<std::vector<std::optional<double>>>& previous_min_p) {
    if (auto error = validate(options)) throw std::invalid_argument(*error);
    const bool sequential = options.method == Method::Sequential;
    static const std::vector<std::optional<double>> kNoHistory;

    MetricsAnalysis out;
    out.options = options;
    out.metrics.reserve(metrics.size());

    struct Hypothesis {
        std::size_t metric, variant;
    };
    std::vector<Hypothesis> family;

    for (std::size_t m = 0; m < metrics.size(); ++m) {
        const MetricInput& in = metrics[m];
        MetricResult r;
        r.key = in.key;
        r.kind = in.kind;
        r.role = in.role;
        r.direction = in.direction;
        r.cuped = in.cuped && cuped_kind(in.kind);
        r.variants.resize(in.arms.size());
        r.min_p_values.assign(in.arms.size(), std::nullopt);
        const bool compared = control && *control < in.arms.size();
        const std::vector<std::optional<double>>& history = m < previous_min_p.size() ? previous_min_p[m] : kNoHistory;

        for (std::size_t i = 0; i < in.arms.size(); ++i) {
            MetricVariantResult& v = r.variants[i];
            v.value = metric_value(in.kind, in.arms[i]);
            if (!compared) continue;
            if (i == *control) {
                v.relative_lift = 0.0;  // the control compared with itself
                continue;
            }
            const MetricSums& a = in.arms[*control];
            const MetricSums& b = in.arms[i];
            CupedStatistics s;  // theta 0: the unadjusted statistics
            if (r.cuped) {
                s = cuped_statistics(in.kind, a, b);
                v.cuped = Cuped{s.theta, variance_reduction(in.kind, a, b, s)};
            } else {
                s.control = metric_statistic(in.kind, a);
                s.variant = metric_statistic(in.kind, b);
            }
            const bool adjusted = s.theta != 0.0;
            v.relative_lift = adjusted ? adjusted_lift(in.kind, a, b, s) : relative_lift(in.kind, a, b);
            std::optional<internal::PooledCounts> pooled;
            if (in.kind == MetricKind::Proportion && !adjusted) {
                pooled = internal::PooledCounts{static_cast<double>(a.n), a.sum, static_cast<double>(b.n), b.sum};
            }
            const internal::Comparison c = internal::compare(
                s.control, s.variant, options, pooled, sequential ? internal::history(history, i) : std::nullopt,
                in.direction == Direction::Decrease);
            v.p_value = c.p_value;
            v.lift_ci = c.lift_ci;
            v.difference_ci = c.difference_ci;
            v.chance_to_win = c.chance_to_win;
            r.min_p_values[i] = c.min_p;
            if (in.role == MetricRole::Guardrail) {
                v.p_value_adjusted = v.p_value;
            } else {
                family.push_back({m, i});
            }
        }
        out.metrics.push_back(std::move(r));
    }

    out.family_size = family.size();
    out.correction = family.size() >= 2 ? options.correction : Correction::None;
    std::vector<std::optional<double>> p;
    p.reserve(family.size());
    for (const auto& h : family) p.push_back(out.metrics[h.metric].variants[h.variant].p_value);
    const auto adjusted = adjust_p_values(p, out.correction);
    for (std::size_t k = 0; k < family.size(); ++k) {
        out.metrics[family[k].metric].variants[family[k].variant].p_value_adjusted = adjusted[k];
    }

    for (MetricResult& r : out.metrics) {
        const bool compared = control && *control < r.variants.size();
        for (std::size_t i = 0; i < r.variants.size(); ++i) {
            if (!compared || i == *control) continue;
            MetricVariantResult& v = r.variants[i];
            v.is_significant = internal::significant(v.p_value_adjusted, v.lift_ci, v.difference_ci, options.alpha);
            v.is_regression = is_significant_regression(v, r.direction);
            r.is_significant = r.is_significant || v.is_significant;
            r.has_regression = r.has_regression || v.is_regression;
        }
        if (r.role == MetricRole::Guardrail && r.has_regression) out.has_guardrail_regression = true;
    }
    return out;
}

}  // namespace expstream
