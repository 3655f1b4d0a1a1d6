// libFuzzer target: the NOTIFY payloads between server processes (notice.hpp).
//
// First byte even: a ChangeNotice is built from the fuzz bytes, and parse_notice(notice_json(n)) must
// give n back (fields byte for byte when valid UTF-8; the trace id cut to kMaxTraceIdBytes at a
// character boundary), or nothing exactly when the experiment id is empty. status_changed_json must
// parse as JSON. First byte odd: parse_notice on the raw bytes never crashes, and what it accepts
// writes back to the same notice.
#include <fuzzer/FuzzedDataProvider.h>
#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "expstream/notice.hpp"

#define FUZZ_TARGET_NAME "fuzz_notice"
#include "fuzz_check.hpp"

using namespace expstream;

namespace {

using fuzz::valid_utf8;

// The longest prefix of whole characters of at most max bytes (s is valid UTF-8).
std::string_view cut(std::string_view s, std::size_t max) {
    std::size_t n = 0;
    while (n < s.size()) {
        const auto lead = static_cast<unsigned char>(s[n]);
        const std::size_t len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
        if (n + len > max) break;
        n += len;
    }
    return s.substr(0, n);
}

// Equal when the original was valid UTF-8; otherwise only valid UTF-8 (U+FFFD replacements).
void check_field(const std::string& got, std::string_view original) {
    if (valid_utf8(original)) {
        CHECK(got == original);
    } else {
        CHECK(valid_utf8(got));
    }
}

std::string pick_string(FuzzedDataProvider& in, std::size_t max) {
    if (in.ConsumeIntegralInRange<int>(0, 7) == 0) {
        return in.PickValueInArray<std::string>({"", "active", "paused", "\"", "\\", std::string("\0", 1), "\xC3\xA9",
                                                 "\xFF", "\xE2\x80\xA8", "2026-03-07T12:00:00.123456+00:00"});
    }
    return in.ConsumeRandomLengthString(max);
}

bool same(const ChangeNotice& a, const ChangeNotice& b) {
    if (a.node_id != b.node_id || a.experiment_id != b.experiment_id || a.status.has_value() != b.status.has_value())
        return false;
    if (!a.status) return true;
    return a.status->status == b.status->status && a.status->previous_status == b.status->previous_status &&
           a.status->changed_at == b.status->changed_at && a.status->trace_id == b.status->trace_id;
}

void round_trip(FuzzedDataProvider& in) {
    ChangeNotice notice;
    notice.node_id = pick_string(in, 40);
    notice.experiment_id = pick_string(in, 40);
    if (in.ConsumeBool()) {
        StatusNotice st;
        st.status = pick_string(in, 16);
        st.previous_status = pick_string(in, 16);
        st.changed_at = pick_string(in, 40);
        st.trace_id = in.ConsumeBool() ? in.ConsumeRemainingBytesAsString() : pick_string(in, 300);
        notice.status = st;
    }
    const std::string json = notice_json(notice);
    const auto parsed = parse_notice(json);
    if (notice.experiment_id.empty()) {
        CHECK(!parsed);
        return;
    }
    CHECK(parsed.has_value());
    check_field(parsed->node_id, notice.node_id);
    check_field(parsed->experiment_id, notice.experiment_id);
    CHECK(parsed->status.has_value() == notice.status.has_value());
    if (notice.status) {
        check_field(parsed->status->status, notice.status->status);
        check_field(parsed->status->previous_status, notice.status->previous_status);
        check_field(parsed->status->changed_at, notice.status->changed_at);
        const std::string& trace = notice.status->trace_id;
        CHECK(parsed->status->trace_id.size() <= (valid_utf8(trace) ? kMaxTraceIdBytes : 3 * kMaxTraceIdBytes));
        if (valid_utf8(trace)) CHECK(parsed->status->trace_id == cut(trace, kMaxTraceIdBytes));

        static simdjson::dom::parser parser;
        simdjson::dom::element doc;
        CHECK(!parser.parse(status_changed_json(notice.experiment_id, *notice.status)).get(doc));
        CHECK(doc.is_object());
    }
}

void parse_raw(std::string_view payload) {
    const auto parsed = parse_notice(payload);
    if (!parsed) return;
    CHECK(!parsed->experiment_id.empty());
    if (parsed->status && parsed->status->trace_id.size() > kMaxTraceIdBytes) return;  // would be cut
    // What it accepted writes back to the same notice (everything accepted is valid UTF-8 already).
    const auto again = parse_notice(notice_json(*parsed));
    CHECK(again.has_value() && same(*again, *parsed));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    if (data[0] % 2 == 0) {
        FuzzedDataProvider in(data + 1, size - 1);
        round_trip(in);
    } else {
        parse_raw(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
    }
    return 0;
}
