// The results snapshot value and its JSON writer: the wire schema lives here, once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "expstream/metric_stats.hpp"
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
    // Several metrics (add_metrics): names aligned with metrics->metrics. Empty: no "metrics" key.
    std::vector<std::string> metric_names;
    std::optional<MetricsAnalysis> metrics;
    std::int64_t multiple_exposures = 0;  // users assigned to more than one variant
    std::int64_t assigned_users = 0;      // every assigned user (the share's denominator)
};

// Past this share of users exposed to more than one variant, results are suspect: an alert.
inline constexpr double kExposureAlarmShare = 0.01;
bool exposure_alarm(const Snapshot& snapshot);

// {"event":"anomaly","type":"multiple_exposures","experiment_id","users","share","message","timestamp"}
std::string exposure_anomaly_json(const Snapshot& snapshot);

// Analyses the experiment's metrics into the snapshot. When one of them is the proportion the
// variants' own fields describe (legacy_metric), those fields take its family-corrected p-values
// and significance, so the two never disagree.
void add_metrics(Snapshot& snapshot, const std::vector<MetricInput>& metrics, const std::vector<std::string>& names,
                 const AnalysisOptions& options, const std::vector<std::vector<std::optional<double>>>& previous_min_p,
                 std::optional<std::size_t> legacy_metric);

// The guardrail regressions of the snapshot: (metric index, variant index) pairs.
std::vector<std::pair<std::size_t, std::size_t>> guardrail_regressions(const Snapshot& snapshot);

// {"event":"anomaly","type":"guardrail","experiment_id","metric","variant","relative_lift","lift_ci",
// "message","timestamp"}
std::string guardrail_anomaly_json(const Snapshot& snapshot, std::size_t metric, std::size_t variant);

// The snapshot's "metrics" and "alerts" members, and the history point's "metrics" (snapshot_metrics.cpp).
void append_metrics_json(std::string& out, const Snapshot& snapshot);
// The "metrics" member's array alone ("[]" without metrics), and the "variants" member's array.
void append_metric_list(std::string& out, const Snapshot& snapshot);
void append_variants_json(std::string& out, const Snapshot& snapshot);
void append_history_metrics_json(std::string& out, const Snapshot& snapshot);

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
