// What one server process tells the others through PostgreSQL NOTIFY when it changes an
// experiment, and the STATUS_CHANGED envelope subscribers receive for a lifecycle change.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace expstream {

struct StatusNotice {
    std::string status;
    std::string previous_status;
    std::string changed_at;  // ISO 8601, UTC
    std::string trace_id;
};

struct ChangeNotice {
    std::string node_id;  // who made the change; it pushes to its own subscribers without waiting
    std::string experiment_id;
    std::optional<StatusNotice> status;  // set when the lifecycle status changed
};

// NOTIFY payloads are limited to 8000 bytes; longer trace ids are cut to this (on a character
// boundary), in notices and envelopes alike, so every node shows the same trace id.
inline constexpr std::size_t kMaxTraceIdBytes = 128;

// {"n":node,"e":experiment[,"s":status,"p":previous,"at":changed_at,"t":trace]}
std::string notice_json(const ChangeNotice& notice);
// Empty for anything that is not a notice this version wrote; then *why (if given) says what was wrong.
std::optional<ChangeNotice> parse_notice(std::string_view payload, std::string* why = nullptr);

// {"topic":"experiment:<id>","event":"STATUS_CHANGED","data":{...},"trace_id":...}, the lifecycle
// envelope shared with other services' event streams. The trace id is cut like a notice's.
std::string status_changed_json(const std::string& experiment_id, const StatusNotice& status);

}  // namespace expstream
