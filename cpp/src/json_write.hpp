// Small JSON writers the snapshot files share (internal to the core).
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "expstream/snapshot.hpp"

namespace expstream {

inline void append_int(std::string& out, std::int64_t value) {
    char buf[24];
    auto res = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, static_cast<std::size_t>(res.ptr - buf));
}

inline void append_optional_number(std::string& out, const std::optional<double>& value) {
    if (value) {
        append_json_number(out, *value);
    } else {
        out += "null";
    }
}

// [low, high], or null when the interval is undefined.
inline void append_interval(std::string& out, const std::optional<Interval>& interval) {
    if (!interval) {
        out += "null";
        return;
    }
    out += '[';
    append_json_number(out, interval->low);
    out += ',';
    append_json_number(out, interval->high);
    out += ']';
}

inline void append_optional_string(std::string& out, const std::optional<std::string>& value) {
    if (value)
        append_json_string(out, *value);
    else
        out += "null";
}

// {"event":"anomaly","type":<type>,"experiment_id":…,<what body writes>,"message":…,"timestamp":…}:
// the frame every anomaly message shares.
template <class Body>
std::string anomaly_json(const Snapshot& snapshot, std::string_view type, Body body, std::string_view message) {
    std::string out = "{\"event\":\"anomaly\",\"type\":";
    append_json_string(out, type);
    out += ",\"experiment_id\":";
    append_json_string(out, snapshot.experiment_id);
    out += ',';
    body(out);
    out += ",\"message\":";
    append_json_string(out, message);
    out += ",\"timestamp\":";
    append_json_string(out, snapshot.timestamp);
    out += '}';
    return out;
}

}  // namespace expstream
