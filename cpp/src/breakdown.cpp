#include "expstream/breakdown.hpp"

#include <cmath>

#include "expstream/snapshot.hpp"

namespace expstream {
namespace {

// The experiment as it would look with only this bucket's users in it.
Snapshot bucket_snapshot(const BreakdownData& data, const BucketData& bucket, const AnalysisOptions& options) {
    SnapshotData part = data.whole;
    part.sums = bucket.sums;
    for (std::size_t v = 0; v < part.variants.size(); ++v) {
        part.variants[v].participants = v < bucket.participants.size() ? bucket.participants[v] : 0;
        part.variants[v].conversions =
            part.legacy_metric ? std::llround(part.sums[*part.legacy_metric][v].sum) : 0;
    }
    Snapshot snap = make_snapshot(part.experiment_id, part.status, part.variants, part.weights, options, {},
                                  part.days_running, part.seq);
    const MetricAnalysisInput metrics = metric_analysis_input(part, false);
    add_metrics(snap, metrics.metrics, metrics.names, options, metrics.previous_min_p, metrics.legacy);
    return snap;
}

}  // namespace

std::string breakdown_json(const BreakdownData& data, const AnalysisOptions& options) {
    std::string out = "{\"event\":\"breakdown\",\"experiment_id\":";
    append_json_string(out, data.whole.experiment_id);
    out += ",\"dimension\":";
    append_json_string(out, data.dimension);
    out += ",\"seq\":" + std::to_string(data.whole.seq) + ",\"timestamp\":";
    append_json_string(out, utc_now_iso8601());
    out += ",\"note\":";
    append_json_string(out, kBreakdownNote);
    out += ",\"values\":[";
    for (std::size_t i = 0; i < data.buckets.size(); ++i) {
        const BucketData& bucket = data.buckets[i];
        const Snapshot snap = bucket_snapshot(data, bucket, options);
        if (i) out += ',';
        out += "{\"value\":";
        append_json_string(out, bucket.value);
        out += ",\"users\":" + std::to_string(bucket.users) + ",\"variants\":";
        append_variants_json(out, snap);
        out += ",\"metrics\":";
        append_metric_list(out, snap);
        out += '}';
    }
    out += "]}";
    return out;
}

std::optional<std::string> compute_breakdown(Store& store, const std::string& experiment_id,
                                             const std::string& dimension, const AnalysisOptions& options) {
    const std::optional<BreakdownData> data = store.read_breakdown_data(experiment_id, dimension);
    if (!data) return std::nullopt;
    return breakdown_json(*data, options);
}

}  // namespace expstream
