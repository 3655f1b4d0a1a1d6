// A dimension breakdown: every bucket (a value, "(other)", "(none)") analysed like the whole
// experiment, on its users only, and the JSON the API and the stream carry.
#pragma once

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

}  // namespace expstream
