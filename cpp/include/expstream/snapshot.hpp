// The results snapshot value and its JSON writer: the wire schema lives here, once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "expstream/stats.hpp"

namespace expstream {

struct Snapshot {
    std::string experiment_id;
    std::string timestamp;  // ISO 8601 with UTC offset, e.g. 2026-03-07T12:00:00.123456+00:00
    std::string status;
    Analysis analysis;
    std::vector<double> weights;  // traffic weight per variant, aligned with analysis.variants
    SrmResult srm;
    std::int64_t days_running = 0;
    std::int64_t seq = 0;
};

// Builds a snapshot from counts: the analysis under `options`, SRM against `weights` (equal when
// empty), previous running-minimum p-values from earlier looks (see analyze()).
Snapshot make_snapshot(std::string experiment_id, std::string status, const std::vector<VariantCounts>& counts,
                       const std::vector<double>& weights, const AnalysisOptions& options,
                       const std::vector<std::optional<double>>& previous_min_p, std::int64_t days_running,
                       std::int64_t seq);

// One point of the results history: {"seq","timestamp","variants":[{"key","participant_count",
// "conversion_count","relative_lift","lift_ci"}]}.
std::string history_point_json(const Snapshot& snapshot);

// {"event":"anomaly","type":"sample_ratio_mismatch","experiment_id","p_value","message","timestamp"}
std::string srm_anomaly_json(const Snapshot& snapshot);

// {"event":"results_update",...}: always valid JSON, never NaN/Infinity (non-finite -> null).
std::string to_json(const Snapshot& snapshot);

// {"event":"error","code":...,"experiment_id":...,"message":...}
std::string error_json(std::string_view code, std::string_view experiment_id, std::string_view message);

// {"event":"pong"}
const std::string& pong_json();

// Appends s as a JSON string literal (quotes included); invalid UTF-8 bytes become U+FFFD.
void append_json_string(std::string& out, std::string_view s);

// Appends a finite double in shortest round-trip form, or null when not finite.
void append_json_number(std::string& out, double value);

// Current UTC time as ISO 8601 with microseconds and a +00:00 offset.
std::string utc_now_iso8601();

}  // namespace expstream
