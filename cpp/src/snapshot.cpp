#include "expstream/snapshot.hpp"

#include "json_write.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace expstream {

namespace {

// Byte classes for the string writer: most bytes are plain ASCII and get copied in bulk.
enum : unsigned char { kPlain = 0, kEscape = 1, kNonAscii = 2 };

constexpr std::array<unsigned char, 256> make_byte_classes() {
    std::array<unsigned char, 256> t{};
    for (int c = 0; c < 256; ++c) {
        if (c < 0x20 || c == '"' || c == '\\') {
            t[c] = kEscape;
        } else if (c >= 0x80) {
            t[c] = kNonAscii;
        } else {
            t[c] = kPlain;
        }
    }
    return t;
}

constexpr auto kByteClass = make_byte_classes();

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

void append_escape(std::string& out, unsigned char c) {
    switch (c) {
        case '"': out += "\\\""; return;
        case '\\': out += "\\\\"; return;
        case '\n': out += "\\n"; return;
        case '\r': out += "\\r"; return;
        case '\t': out += "\\t"; return;
        case '\b': out += "\\b"; return;
        case '\f': out += "\\f"; return;
        default: {
            static constexpr char hex[] = "0123456789abcdef";
            char buf[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
            out.append(buf, 6);
        }
    }
}

// Length of the well-formed UTF-8 sequence at p (Unicode Table 3-7), or, when ill-formed, minus the
// length of its maximal subpart (at least 1), so each maximal subpart becomes one U+FFFD the way
// Python's errors="replace" and the WHATWG decoder do.
int utf8_sequence(const unsigned char* p, const unsigned char* end) {
    const unsigned char lead = p[0];
    int len;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) {
        len = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        len = 3;
        if (lead == 0xE0) lo = 0xA0;       // overlong
        else if (lead == 0xED) hi = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        len = 4;
        if (lead == 0xF0) lo = 0x90;       // overlong
        else if (lead == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
        return -1;  // stray continuation byte, C0/C1 overlong lead, or F5..FF
    }
    int have = 1;
    if (p + 1 >= end || p[1] < lo || p[1] > hi) return -have;
    ++have;
    for (; have < len; ++have) {
        if (p + have >= end || (p[have] & 0xC0) != 0x80) return -have;
    }
    return len;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* const end = p + s.size();
    const auto* run = p;  // start of bytes not yet copied; they need no change
    out.reserve(out.size() + s.size() + 2);
    out += '"';
    auto flush = [&](const unsigned char* upto) {
        out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(upto - run));
    };
    while (p < end) {
        const unsigned char cls = kByteClass[*p];
        if (cls == kPlain) {
            ++p;
            continue;
        }
        if (cls == kEscape) {
            flush(p);
            append_escape(out, *p);
            run = ++p;
            continue;
        }
        const int n = utf8_sequence(p, end);
        if (n < 0) {
            flush(p);
            out.append(kReplacement, 3);
            p += -n;
            run = p;
        } else if (n == 3 && p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)) {
            // U+2028/U+2029 are valid JSON but end lines in older JavaScript; escaping costs nothing.
            flush(p);
            out += p[2] == 0xA8 ? "\\u2028" : "\\u2029";
            p += 3;
            run = p;
        } else {
            p += n;  // valid: stays in the run
        }
    }
    flush(p);
    out += '"';
}

void append_json_number(std::string& out, double value) {
    if (!std::isfinite(value)) {
        out += "null";
        return;
    }
    // Shortest round-trip; for finite values to_chars only emits digits, '-', '.', 'e', '+'.
    char buf[32];
    auto res = std::to_chars(buf, buf + sizeof buf, value);
    // to_chars picks plain digits for large integral values when that is shorter
    // ("-4334270042473571549184"); many parsers (simdjson, Python's int) would then read an integer
    // beyond int64 or change the type, so keep large values in exponent form.
    if (std::fabs(value) >= 1e16 && std::find_if(buf, res.ptr, [](char c) { return c == '.' || c == 'e'; }) == res.ptr) {
        res = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
    }
    out.append(buf, static_cast<std::size_t>(res.ptr - buf));
}

void append_variants_json(std::string& out, const Snapshot& snapshot) {
    const auto& a = snapshot.analysis;
    out += '[';
    bool first = true;
    std::size_t i = 0;
    for (const auto& v : a.variants) {
        if (!first) out += ',';
        first = false;
        out += "{\"key\":";
        append_json_string(out, v.key);
        out += ",\"name\":";
        append_json_string(out, v.name);
        out += ",\"participant_count\":";
        append_int(out, v.participants);
        out += ",\"conversion_count\":";
        append_int(out, v.conversions);
        out += ",\"conversion_rate\":";
        append_json_number(out, v.conversion_rate);
        out += ",\"relative_lift\":";
        append_optional_number(out, v.relative_lift);
        out += ",\"p_value\":";
        append_optional_number(out, v.p_value);
        out += ",\"is_control\":";
        out += v.is_control ? "true" : "false";
        out += ",\"weight\":";
        append_json_number(out, i < snapshot.weights.size() ? snapshot.weights[i] : 1.0);
        out += ",\"lift_ci\":";
        append_interval(out, v.lift_ci);
        out += ",\"difference_ci\":";
        append_interval(out, v.difference_ci);
        out += ",\"p_value_adjusted\":";
        append_optional_number(out, v.p_value_adjusted);
        out += ",\"chance_to_win\":";
        append_optional_number(out, v.chance_to_win);
        out += ",\"is_significant\":";
        out += v.is_significant ? "true" : "false";
        out += '}';
        ++i;
    }
    out += ']';
}

std::string to_json(const Snapshot& snapshot) {
    const auto& a = snapshot.analysis;
    std::size_t estimate = 256 + snapshot.experiment_id.size() + snapshot.status.size();
    for (const auto& v : a.variants) {
        estimate += 200 + v.key.size() + v.name.size();
    }
    std::string out;
    out.reserve(estimate);

    out += "{\"event\":\"results_update\",\"experiment_id\":";
    append_json_string(out, snapshot.experiment_id);
    out += ",\"timestamp\":";
    append_json_string(out, snapshot.timestamp);
    out += ",\"status\":";
    append_json_string(out, snapshot.status);
    out += ",\"variants\":";
    append_variants_json(out, snapshot);
    out += ",\"total_participants\":";
    append_int(out, a.total_participants);
    out += ",\"days_running\":";
    append_int(out, snapshot.days_running);
    out += ",\"is_significant\":";
    out += a.is_significant ? "true" : "false";
    out += ",\"seq\":";
    append_int(out, snapshot.seq);
    const AnalysisOptions options = a.options.value_or(AnalysisOptions{Method::Fixed, 0.05, 0, Correction::None});
    out += ",\"analysis\":{\"method\":";
    append_json_string(out, to_string(options.method));
    out += ",\"alpha\":";
    append_json_number(out, options.alpha);
    out += ",\"sequential_tuning\":";
    if (options.method == Method::Sequential)
        append_json_number(out, options.sequential_tuning);
    else
        out += "null";
    out += ",\"correction\":";
    append_json_string(out, to_string(a.correction));
    out += "},\"srm\":{\"p_value\":";
    append_optional_number(out, snapshot.srm.p_value);
    out += ",\"mismatch\":";
    out += snapshot.srm.mismatch ? "true" : "false";
    out += '}';
    append_metrics_json(out, snapshot);
    out += '}';
    return out;
}

Snapshot make_snapshot(std::string experiment_id, std::string status, const std::vector<VariantCounts>& counts,
                       const std::vector<double>& weights, const AnalysisOptions& options,
                       const std::vector<std::optional<double>>& previous_min_p, std::int64_t days_running,
                       std::int64_t seq) {
    Snapshot s;
    s.experiment_id = std::move(experiment_id);
    s.timestamp = utc_now_iso8601();
    s.status = std::move(status);
    s.analysis = analyze(counts, options, previous_min_p);
    s.weights = weights.size() == counts.size() ? weights : std::vector<double>(counts.size(), 1.0);
    std::vector<std::int64_t> observed;
    observed.reserve(counts.size());
    for (const auto& c : counts) observed.push_back(c.participants);
    s.srm = srm(observed, s.weights, kSrmAlpha, SrmMethod::Sequential);  // anytime valid: read on every push
    s.days_running = days_running;
    s.seq = seq;
    return s;
}

std::string history_point_json(const Snapshot& snapshot) {
    std::string out = "{\"seq\":";
    append_int(out, snapshot.seq);
    out += ",\"timestamp\":";
    append_json_string(out, snapshot.timestamp);
    out += ",\"variants\":[";
    bool first = true;
    for (const auto& v : snapshot.analysis.variants) {
        if (!first) out += ',';
        first = false;
        out += "{\"key\":";
        append_json_string(out, v.key);
        out += ",\"participant_count\":";
        append_int(out, v.participants);
        out += ",\"conversion_count\":";
        append_int(out, v.conversions);
        out += ",\"relative_lift\":";
        append_optional_number(out, v.relative_lift);
        out += ",\"lift_ci\":";
        append_interval(out, v.lift_ci);
        out += '}';
    }
    out += ']';
    append_history_metrics_json(out, snapshot);
    out += '}';
    return out;
}

std::string srm_anomaly_json(const Snapshot& snapshot) {
    return anomaly_json(
        snapshot, "sample_ratio_mismatch",
        [&](std::string& out) {
            out += "\"p_value\":";
            append_optional_number(out, snapshot.srm.p_value);
        },
        "traffic is not split as configured (sample ratio mismatch): results cannot be trusted");
}

std::string error_json(std::string_view code, std::string_view experiment_id, std::string_view message) {
    std::string out;
    out.reserve(64 + code.size() + experiment_id.size() + message.size());
    out += "{\"event\":\"error\",\"code\":";
    append_json_string(out, code);
    out += ",\"experiment_id\":";
    append_json_string(out, experiment_id);
    out += ",\"message\":";
    append_json_string(out, message);
    out += '}';
    return out;
}

const std::string& pong_json() {
    static const std::string pong = "{\"event\":\"pong\"}";
    return pong;
}

std::string utc_now_iso8601() {
    using namespace std::chrono;
    const auto us = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
    // Floor division so times before 1970 would still get a non-negative fraction.
    std::int64_t secs = us / 1000000;
    std::int64_t frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        --secs;
    }
    const std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);  // gmtime's static buffer is not thread-safe
    char buf[48];
    const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(frac));
    return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

}  // namespace expstream
