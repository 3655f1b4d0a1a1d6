// A dimension breakdown: every bucket (a value, "(other)", "(none)") analysed like the whole
// experiment, on its users only, and the JSON the API and the stream carry.
#pragma once

#include <optional>
#include <string>

#include "expstream/stats.hpp"
#include "expstream/store.hpp"

namespace expstream {

// What every breakdown says about reading it: many values, many tests.
inline constexpr const char* kBreakdownNote =
    "Each value is analysed on its own users, like the whole experiment: with many values some "
    "differences will look significant by chance (at alpha 0.05, about 1 in 20 tests of equal arms). "
    "Treat a value's result as a lead to confirm, not a finding; no correction is made across values.";

// {"event":"breakdown","experiment_id","dimension","seq","timestamp","note","values":[{"value",
// "users","variants":[...],"metrics":[...]}]}: "variants" and "metrics" exactly as in the snapshot.
// Running minima are not carried between looks here: each breakdown is analysed afresh.
std::string breakdown_json(const BreakdownData& data, const AnalysisOptions& options);

// Reads and analyses the breakdown on the calling thread. Empty when the experiment does not exist;
// the store's errors pass (InvalidInput for a dimension the experiment did not declare).
std::optional<std::string> compute_breakdown(Store& store, const std::string& experiment_id,
                                             const std::string& dimension, const AnalysisOptions& options);

}  // namespace expstream
