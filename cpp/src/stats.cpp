#include "expstream/stats.hpp"

#include <cmath>

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

Analysis analyze(const std::vector<VariantCounts>& variants, double alpha) {
    Analysis out;
    out.variants.reserve(variants.size());

    const VariantCounts* control = nullptr;
    for (const auto& v : variants) {
        if (v.is_control) {
            control = &v;
            break;
        }
    }
    const double control_rate = control ? conversion_rate(control->participants, control->conversions) : 0.0;

    for (const auto& v : variants) {
        VariantResult r;
        r.key = v.key;
        r.name = v.name;
        r.is_control = v.is_control;
        r.participants = v.participants;
        r.conversions = v.conversions;
        r.conversion_rate = conversion_rate(v.participants, v.conversions);
        out.total_participants += v.participants;

        if (&v == control) {
            // The control compared with itself: no lift by definition, no test.
            r.relative_lift = 0.0;
        } else if (control) {
            if (control_rate > 0.0) {
                r.relative_lift = (r.conversion_rate - control_rate) / control_rate;
            }
            r.p_value = two_proportion_p_value(control->participants, control->conversions, v.participants,
                                               v.conversions);
            if (r.p_value && *r.p_value < alpha) {
                out.is_significant = true;
            }
        }
        out.variants.push_back(std::move(r));
    }
    return out;
}

}  // namespace expstream
