#include "look.hpp"

#include <algorithm>
#include <utility>

namespace expstream {

Look look_of(const Snapshot& snap, const std::string& signature) {
    Look look;
    look.seq = snap.seq;
    look.analysis_signature = signature;
    look.history_point = history_point_json(snap);
    look.srm_mismatch = snap.srm.mismatch;
    look.srm_p_value = snap.srm.p_value;
    look.exposure_alarm = exposure_alarm(snap);
    look.multiple_exposures = snap.multiple_exposures;
    look.assigned_users = snap.assigned_users;
    const auto& variants = snap.analysis.variants;
    for (std::size_t i = 0; i < variants.size() && i < snap.analysis.min_p_values.size(); ++i)
        if (snap.analysis.min_p_values[i]) look.min_p.emplace_back(variants[i].key, *snap.analysis.min_p_values[i]);
    if (!snap.metrics) return look;
    const auto regressions = guardrail_regressions(snap);
    const auto& results = snap.metrics->metrics;
    for (std::size_t m = 0; m < results.size(); ++m)
        for (std::size_t v = 0; v < results[m].variants.size() && v < variants.size(); ++v) {
            const bool alarm =
                std::find(regressions.begin(), regressions.end(), std::make_pair(m, v)) != regressions.end();
            const MetricVariantResult& r = results[m].variants[v];
            // Guardrails alert through their regressions, not as significance.
            const bool significant = r.is_significant && results[m].role != MetricRole::Guardrail;
            look.metrics.push_back({results[m].key, variants[v].key,
                                    v < results[m].min_p_values.size() ? results[m].min_p_values[v] : std::nullopt,
                                    alarm, results[m].cuped, significant, r.relative_lift, r.p_value_adjusted});
        }
    return look;
}

std::vector<std::string> announcements(const Snapshot& snap, const LookOutcome& outcome) {
    std::vector<std::string> out;
    if (outcome.first_srm_alarm) out.push_back(srm_anomaly_json(snap));
    if (outcome.exposures_raised) out.push_back(exposure_anomaly_json(snap));
    // Each guardrail regression once per transition: the look that raised it announces it.
    for (const auto& [m, v] : guardrail_regressions(snap)) {
        const auto raised = std::make_pair(snap.metrics->metrics[m].key, snap.analysis.variants[v].key);
        if (std::find(outcome.guardrails_raised.begin(), outcome.guardrails_raised.end(), raised) !=
            outcome.guardrails_raised.end())
            out.push_back(guardrail_anomaly_json(snap, m, v));
    }
    return out;
}

}  // namespace expstream
