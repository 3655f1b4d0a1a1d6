// Pure statistics for conversion experiments: rates, lift and the pooled two-proportion z-test.
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
};

struct Analysis {
    std::vector<VariantResult> variants;
    std::int64_t total_participants = 0;
    bool is_significant = false;
};

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
Analysis analyze(const std::vector<VariantCounts>& variants, double alpha);

}  // namespace expstream
