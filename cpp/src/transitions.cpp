#include "transitions.hpp"

#include <algorithm>

#include "json_write.hpp"

namespace expstream {
namespace {

const Look::MetricLook* find_metric(const Look& look, const MetricFlags& f) {
    const auto it = std::find_if(look.metrics.begin(), look.metrics.end(), [&](const Look::MetricLook& m) {
        return m.metric == f.metric && m.variant == f.variant;
    });
    return it == look.metrics.end() ? nullptr : &*it;
}

std::string lift_detail(const Look::MetricLook* m) {
    std::string out = "{\"relative_lift\":";
    append_optional_number(out, m ? m->relative_lift : std::nullopt);
    out += ",\"p_value\":";
    append_optional_number(out, m ? m->p_value : std::nullopt);
    out += '}';
    return out;
}

}  // namespace

std::vector<Transition> look_transitions(const Look& look, const std::vector<MetricFlags>& flags, bool srm_flipped,
                                         bool exposures_flipped) {
    std::vector<Transition> out;
    for (const auto& f : flags) {
        const Look::MetricLook* m = find_metric(look, f);
        if (f.was_significant != f.significant)
            out.push_back({"significance", f.significant ? "significant" : "not_significant", f.metric, f.variant,
                           lift_detail(m)});
        if (f.was_alarm != f.alarm)
            out.push_back({"guardrail", f.alarm ? "regressed" : "recovered", f.metric, f.variant, lift_detail(m)});
    }
    if (srm_flipped) {
        std::string detail = "{\"p_value\":";
        append_optional_number(detail, look.srm_p_value);
        detail += '}';
        out.push_back({"srm", look.srm_mismatch ? "raised" : "cleared", "", "", std::move(detail)});
    }
    if (exposures_flipped) {
        std::string detail = "{\"users\":";
        append_int(detail, look.multiple_exposures);
        detail += ",\"share\":";
        append_json_number(detail, look.assigned_users > 0 ? static_cast<double>(look.multiple_exposures) /
                                                                 static_cast<double>(look.assigned_users)
                                                           : 0.0);
        detail += '}';
        out.push_back({"multiple_exposures", look.exposure_alarm ? "raised" : "cleared", "", "", std::move(detail)});
    }
    return out;
}

Transition status_transition(const std::string& from, const std::string& to) {
    std::string detail = "{\"from\":";
    append_json_string(detail, from);
    detail += ",\"to\":";
    append_json_string(detail, to);
    detail += '}';
    return {"status_changed", to, "", "", std::move(detail)};
}

std::string transitions_json(const std::vector<Transition>& transitions) {
    std::string out = "[";
    for (std::size_t i = 0; i < transitions.size(); ++i) {
        const Transition& t = transitions[i];
        if (i) out += ',';
        out += "{\"type\":";
        append_json_string(out, t.type);
        out += ",\"state\":";
        append_json_string(out, t.state);
        out += ",\"metric\":";
        append_json_string(out, t.metric);
        out += ",\"variant\":";
        append_json_string(out, t.variant);
        out += ",\"detail\":";
        out += t.detail.empty() ? "{}" : t.detail;
        out += ",\"o\":";
        append_int(out, static_cast<std::int64_t>(i));
        out += '}';
    }
    out += ']';
    return out;
}

}  // namespace expstream
