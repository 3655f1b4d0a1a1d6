// A computed snapshot's look: what the store keeps of it (running minima, a history point, alarm
// states) and the anomaly messages the alarms it raised first call for. Internal to the runtime.
#pragma once

#include <string>
#include <vector>

#include "expstream/snapshot.hpp"
#include "expstream/store.hpp"

namespace expstream {

// signature: the analysis options the snapshot's running minima were computed under.
Look look_of(const Snapshot& snapshot, const std::string& signature);

// The anomaly payloads to push for the alarms this look raised first (record_look's outcome):
// sample ratio mismatch, multiple exposures, each guardrail regression.
std::vector<std::string> announcements(const Snapshot& snapshot, const LookOutcome& outcome);

}  // namespace expstream
