// Small JSON writers the snapshot files share (internal to the core).
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>

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

}  // namespace expstream
