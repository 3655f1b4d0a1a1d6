// Which transitions a look (or a status change) stands for, decided from the state flags the look's
// transaction flipped. Pure: the store records what these return (store_webhooks.cpp). Internal.
#pragma once

#include <string>
#include <vector>

#include "expstream/store.hpp"

namespace expstream {

// A metric/variant's flags before and after the look's upsert.
struct MetricFlags {
    std::string metric;
    std::string variant;
    bool was_alarm = false;
    bool alarm = false;
    bool was_significant = false;
    bool significant = false;
};

// The transitions, in a stable order: significance and guardrail per (metric, variant) as flags
// lists them, then SRM, then multiple exposures. srm_flipped / exposures_flipped: the stored flag
// changed to the look's value.
std::vector<Transition> look_transitions(const Look& look, const std::vector<MetricFlags>& flags, bool srm_flipped,
                                         bool exposures_flipped);

// status_changed from -> to.
Transition status_transition(const std::string& from, const std::string& to);

// [{"type","state","metric","variant","detail"}, ...] for one set-based INSERT.
std::string transitions_json(const std::vector<Transition>& transitions);

}  // namespace expstream
