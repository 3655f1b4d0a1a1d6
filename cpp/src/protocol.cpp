#include "expstream/protocol.hpp"

#include <simdjson.h>

#include <cstring>
#include <vector>

namespace expstream {

namespace {

// Every reason below fits std::string's small buffer.
ClientMessage ignored(const char* why) {
    ClientMessage m;
    m.action = ClientAction::Ignored;
    m.error = why;
    return m;
}

ClientMessage understood(ClientAction action) {
    ClientMessage m;
    m.action = action;
    return m;
}

}  // namespace

ClientMessage parse_client_message(std::string_view text, std::size_t max_bytes) {
    // Checked before parsing so a hostile client cannot make us grow the parser's buffers.
    if (text.size() > max_bytes) {
        return ignored("too_large");
    }
    try {
        // One parser per thread: reuses its buffers, and parsers are not thread-safe.
        thread_local simdjson::dom::parser parser;
        // simdjson reads up to SIMDJSON_PADDING bytes past the end, which the caller's view does not
        // promise; copy into a per-thread padded buffer instead of allocating per message. It grows
        // to the largest message accepted so far, at most max_bytes + padding.
        thread_local std::vector<char> buffer;
        if (buffer.size() < text.size() + simdjson::SIMDJSON_PADDING) buffer.resize(text.size() + simdjson::SIMDJSON_PADDING);
        if (!text.empty()) std::memcpy(buffer.data(), text.data(), text.size());  // data() may be null
        std::memset(buffer.data() + text.size(), 0, simdjson::SIMDJSON_PADDING);
        simdjson::dom::element doc;
        if (parser.parse(buffer.data(), text.size(), false).get(doc) != simdjson::SUCCESS) {
            return ignored("malformed");
        }
        simdjson::dom::object obj;
        if (doc.get_object().get(obj) != simdjson::SUCCESS) {
            return ignored("not_an_object");
        }
        std::string_view action;
        if (obj["action"].get_string().get(action) != simdjson::SUCCESS) {
            return ignored("missing_action");
        }
        if (action == "ping") {
            return understood(ClientAction::Ping);
        }
        // Optional on refresh (the per-experiment endpoint knows its experiment), required below.
        std::string_view experiment_id;
        const bool has_experiment = obj["experiment_id"].get_string().get(experiment_id) == simdjson::SUCCESS;
        if (action == "refresh") {
            ClientMessage m = understood(ClientAction::Refresh);
            if (has_experiment) m.experiment_id = experiment_id;
            return m;
        }
        if (action == "auth") {
            std::string_view token;
            if (obj["token"].get_string().get(token) != simdjson::SUCCESS) return ignored("missing_field");
            ClientMessage m = understood(ClientAction::Auth);
            m.token = token;
            return m;
        }
        const ClientAction with_experiment = action == "subscribe"     ? ClientAction::Subscribe
                                             : action == "unsubscribe" ? ClientAction::Unsubscribe
                                             : action == "resume"      ? ClientAction::Resume
                                                                       : ClientAction::Ignored;
        if (with_experiment == ClientAction::Ignored) return ignored("unknown_action");
        if (!has_experiment) return ignored("missing_field");
        ClientMessage m = understood(with_experiment);
        m.experiment_id = experiment_id;
        if (with_experiment == ClientAction::Subscribe) {
            std::string_view dimension;
            if (obj["dimension"].get_string().get(dimension) == simdjson::SUCCESS) m.dimension = dimension;
        }
        if (with_experiment == ClientAction::Resume) {
            std::int64_t seq = 0;
            if (obj["seq"].get_int64().get(seq) != simdjson::SUCCESS) return ignored("missing_field");
            m.seq = seq;
        }
        return m;
    } catch (...) {
        // Only allocation failure can get here; the connection must survive it.
        return ignored("internal");
    }
}

}  // namespace expstream
