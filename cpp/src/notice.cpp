#include "expstream/notice.hpp"

#include <simdjson.h>

#include "expstream/snapshot.hpp"

namespace expstream {

namespace {
// At most max bytes, never ending inside a UTF-8 sequence (PostgreSQL rejects broken UTF-8).
std::string_view utf8_prefix(std::string_view s, std::size_t max) {
    if (s.size() <= max) return s;
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return s.substr(0, n);
}

void field(std::string& out, const char* name, std::string_view value) {
    out += ",\"";
    out += name;
    out += "\":";
    append_json_string(out, value);
}
}  // namespace

std::string notice_json(const ChangeNotice& notice) {
    std::string out = "{\"n\":";
    append_json_string(out, notice.node_id);
    field(out, "e", notice.experiment_id);
    if (notice.status) {
        field(out, "s", notice.status->status);
        field(out, "p", notice.status->previous_status);
        field(out, "at", notice.status->changed_at);
        field(out, "t", utf8_prefix(notice.status->trace_id, kMaxTraceIdBytes));
    }
    out += '}';
    return out;
}

std::optional<ChangeNotice> parse_notice(std::string_view payload, std::string* why) {
    const auto refuse = [why](const char* reason) -> std::optional<ChangeNotice> {
        if (why) *why = reason;
        return std::nullopt;
    };
    try {
        thread_local simdjson::dom::parser parser;
        const simdjson::padded_string padded(payload);
        simdjson::dom::object o;
        if (parser.parse(padded).get(o)) return refuse("not a JSON object");
        std::string_view node, experiment;
        if (o["n"].get(node) || o["e"].get(experiment) || experiment.empty())
            return refuse("no node or experiment id");
        ChangeNotice notice{std::string(node), std::string(experiment), std::nullopt};
        std::string_view status;
        if (!o["s"].get(status)) {
            std::string_view previous, at, trace;
            if (o["p"].get(previous) || o["at"].get(at) || o["t"].get(trace))
                return refuse("a status change without its fields");
            notice.status = StatusNotice{std::string(status), std::string(previous), std::string(at), std::string(trace)};
        }
        return notice;
    } catch (const std::exception& e) {
        if (why) *why = e.what();  // allocation failure: the caller logs it
        return std::nullopt;
    }
}

std::string status_changed_json(const std::string& experiment_id, const StatusNotice& status) {
    std::string out = "{\"topic\":";
    append_json_string(out, "experiment:" + experiment_id);
    out += ",\"event\":\"STATUS_CHANGED\",\"data\":{\"entity_id\":";
    append_json_string(out, experiment_id);
    out += ",\"payload\":{\"status\":";
    append_json_string(out, status.status);
    out += ",\"previous_status\":";
    append_json_string(out, status.previous_status);
    out += "},\"timestamp\":";
    append_json_string(out, status.changed_at);
    out += "},\"trace_id\":";
    append_json_string(out, utf8_prefix(status.trace_id, kMaxTraceIdBytes));
    out += '}';
    return out;
}

}  // namespace expstream
