// The several-metrics part of a snapshot: the analysis, its JSON ("metrics", "alerts", the history
// point's lifts) and the guardrail anomaly. The wire schema of these members lives here, once.
#include <utility>

#include "expstream/snapshot.hpp"
#include "json_write.hpp"

namespace expstream {

void add_metrics(Snapshot& snapshot, const std::vector<MetricInput>& metrics, const std::vector<std::string>& names,
                 const AnalysisOptions& options, const std::vector<std::vector<std::optional<double>>>& previous_min_p,
                 std::optional<std::size_t> legacy_metric) {
    std::vector<VariantCounts> counts;
    for (const auto& v : snapshot.analysis.variants) counts.push_back({v.key, v.name, v.is_control, 0, 0});
    snapshot.metrics = analyze_metrics(metrics, control_index(counts), options, previous_min_p);
    snapshot.metric_names = names;
    if (!legacy_metric || *legacy_metric >= metrics.size()) return;
    // The variants' own fields describe this metric: same family correction, same verdicts.
    const MetricResult& legacy = snapshot.metrics->metrics[*legacy_metric];
    Analysis& a = snapshot.analysis;
    a.is_significant = false;
    for (std::size_t i = 0; i < a.variants.size() && i < legacy.variants.size(); ++i) {
        a.variants[i].p_value_adjusted = legacy.variants[i].p_value_adjusted;
        a.variants[i].is_significant = legacy.variants[i].is_significant;
        a.is_significant = a.is_significant || a.variants[i].is_significant;
    }
    a.correction = snapshot.metrics->correction;
}

std::vector<std::pair<std::size_t, std::size_t>> guardrail_regressions(const Snapshot& snapshot) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    if (!snapshot.metrics) return out;
    const auto& results = snapshot.metrics->metrics;
    for (std::size_t m = 0; m < results.size(); ++m) {
        if (results[m].role != MetricRole::Guardrail) continue;
        for (std::size_t v = 0; v < results[m].variants.size(); ++v)
            if (results[m].variants[v].is_regression) out.emplace_back(m, v);
    }
    return out;
}

bool exposure_alarm(const Snapshot& snapshot) {
    return snapshot.assigned_users > 0 &&
           static_cast<double>(snapshot.multiple_exposures) > kExposureAlarmShare * static_cast<double>(snapshot.assigned_users);
}

namespace {

// "users":N,"share":S of the multiple exposures.
void append_exposures(std::string& out, const Snapshot& snapshot) {
    out += "\"users\":";
    append_int(out, snapshot.multiple_exposures);
    out += ",\"share\":";
    append_json_number(out, snapshot.assigned_users > 0 ? static_cast<double>(snapshot.multiple_exposures) /
                                                             static_cast<double>(snapshot.assigned_users)
                                                       : 0.0);
}

// {"theta","variance_reduction"} or null.
void append_cuped(std::string& out, const std::optional<Cuped>& cuped) {
    if (!cuped) {
        out += "null";
        return;
    }
    out += "{\"theta\":";
    append_json_number(out, cuped->theta);
    out += ",\"variance_reduction\":";
    append_optional_number(out, cuped->variance_reduction);
    out += '}';
}

const std::string& variant_key(const Snapshot& snapshot, std::size_t v) {
    static const std::string none;
    return v < snapshot.analysis.variants.size() ? snapshot.analysis.variants[v].key : none;
}

// {"metric","variant","relative_lift","lift_ci"}: what an alert and an anomaly say of a regression.
void append_regression(std::string& out, const Snapshot& snapshot, std::size_t m, std::size_t v) {
    const MetricVariantResult& r = snapshot.metrics->metrics[m].variants[v];
    out += "\"metric\":";
    append_json_string(out, snapshot.metrics->metrics[m].key);
    out += ",\"variant\":";
    append_json_string(out, variant_key(snapshot, v));
    out += ",\"relative_lift\":";
    append_optional_number(out, r.relative_lift);
    out += ",\"lift_ci\":";
    append_interval(out, r.lift_ci);
}

}  // namespace

void append_metric_list(std::string& out, const Snapshot& snapshot) {
    out += '[';
    if (!snapshot.metrics) {
        out += ']';
        return;
    }
    const auto& results = snapshot.metrics->metrics;
    for (std::size_t m = 0; m < results.size(); ++m) {
        const MetricResult& metric = results[m];
        if (m) out += ',';
        out += "{\"key\":";
        append_json_string(out, metric.key);
        out += ",\"name\":";
        append_json_string(out, m < snapshot.metric_names.size() ? snapshot.metric_names[m] : metric.key);
        out += ",\"kind\":";
        append_json_string(out, to_string(metric.kind));
        out += ",\"role\":";
        append_json_string(out, to_string(metric.role));
        out += ",\"direction\":";
        append_json_string(out, to_string(metric.direction));
        // CUPED: the first treatment's adjustment (each treatment has its own theta, in its entry).
        out += ",\"cuped\":";
        const MetricVariantResult* adjusted = nullptr;
        for (const auto& r : metric.variants)
            if (!adjusted && r.cuped) adjusted = &r;
        append_cuped(out, adjusted ? adjusted->cuped : std::nullopt);
        out += ",\"variants\":[";
        for (std::size_t v = 0; v < metric.variants.size(); ++v) {
            const MetricVariantResult& r = metric.variants[v];
            if (v) out += ',';
            out += "{\"key\":";
            append_json_string(out, variant_key(snapshot, v));
            out += ",\"users\":";
            append_int(out, v < snapshot.analysis.variants.size() ? snapshot.analysis.variants[v].participants : 0);
            out += ",\"value\":";
            append_optional_number(out, r.value);
            out += ",\"relative_lift\":";
            append_optional_number(out, r.relative_lift);
            out += ",\"lift_ci\":";
            append_interval(out, r.lift_ci);
            out += ",\"difference_ci\":";
            append_interval(out, r.difference_ci);
            out += ",\"p_value\":";
            append_optional_number(out, r.p_value);
            out += ",\"p_value_adjusted\":";
            append_optional_number(out, r.p_value_adjusted);
            out += ",\"chance_to_win\":";
            append_optional_number(out, r.chance_to_win);
            out += ",\"is_significant\":";
            out += r.is_significant ? "true" : "false";
            out += ",\"cuped\":";
            append_cuped(out, r.cuped);
            out += '}';
        }
        out += "]}";
    }
    out += ']';
}

void append_metrics_json(std::string& out, const Snapshot& snapshot) {
    if (!snapshot.metrics) return;
    out += ",\"metrics\":";
    append_metric_list(out, snapshot);
    out += ",\"alerts\":[";
    bool first = true;
    for (const auto& [m, v] : guardrail_regressions(snapshot)) {
        if (!first) out += ',';
        first = false;
        out += "{\"type\":\"guardrail\",";
        append_regression(out, snapshot, m, v);
        out += '}';
    }
    if (exposure_alarm(snapshot)) {
        if (!first) out += ',';
        out += "{\"type\":\"multiple_exposures\",";
        append_exposures(out, snapshot);
        out += '}';
    }
    out += "],\"multiple_exposures\":";
    append_int(out, snapshot.multiple_exposures);
}

void append_history_metrics_json(std::string& out, const Snapshot& snapshot) {
    if (!snapshot.metrics) return;
    out += ",\"metrics\":[";
    const auto& results = snapshot.metrics->metrics;
    for (std::size_t m = 0; m < results.size(); ++m) {
        if (m) out += ',';
        out += "{\"key\":";
        append_json_string(out, results[m].key);
        out += ",\"variants\":[";
        for (std::size_t v = 0; v < results[m].variants.size(); ++v) {
            if (v) out += ',';
            out += "{\"key\":";
            append_json_string(out, variant_key(snapshot, v));
            out += ",\"relative_lift\":";
            append_optional_number(out, results[m].variants[v].relative_lift);
            out += ",\"lift_ci\":";
            append_interval(out, results[m].variants[v].lift_ci);
            out += '}';
        }
        out += "]}";
    }
    out += ']';
}

std::string guardrail_anomaly_json(const Snapshot& snapshot, std::size_t metric, std::size_t variant) {
    const std::string name = metric < snapshot.metric_names.size() ? snapshot.metric_names[metric] : "a guardrail";
    return anomaly_json(
        snapshot, "guardrail", [&](std::string& out) { append_regression(out, snapshot, metric, variant); },
        "guardrail regressed: " + name + " got significantly worse in " + variant_key(snapshot, variant));
}

std::string exposure_anomaly_json(const Snapshot& snapshot) {
    return anomaly_json(
        snapshot, "multiple_exposures", [&](std::string& out) { append_exposures(out, snapshot); },
        "more than 1 % of users were assigned to more than one variant: check the assignment code");
}

}  // namespace expstream
