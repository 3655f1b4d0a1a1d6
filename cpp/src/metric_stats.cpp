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
            v.relative_lift = relative_lift(in.kind, a, b);
            std::optional<internal::PooledCounts> pooled;
            if (in.kind == MetricKind::Proportion) {
                pooled = internal::PooledCounts{static_cast<double>(a.n), a.sum, static_cast<double>(b.n), b.sum};
            }
            const internal::Comparison c = internal::compare(
                metric_statistic(in.kind, a), metric_statistic(in.kind, b), options, pooled,
                sequential ? internal::history(history, i) : std::nullopt, in.direction == Direction::Decrease);
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
