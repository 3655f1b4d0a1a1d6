#include "expstream/protocol.hpp"

#include <simdjson.h>

#include <cstring>

namespace expstream {

namespace {

// Every reason below fits std::string's small buffer, so building the result cannot allocate.
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

ClientMessage parse_client_message(std::string_view text) {
    // Checked before parsing so a hostile client cannot make us grow the parser's buffers.
    if (text.size() > kMaxClientMessageBytes) {
        return ignored("too_large");
    }
    try {
        // One parser per thread: reuses its buffers, and parsers are not thread-safe.
        thread_local simdjson::dom::parser parser;
        // simdjson reads up to SIMDJSON_PADDING bytes past the end, which the caller's view does not
        // promise; copy into a per-thread padded buffer instead of allocating per message.
        thread_local char buffer[kMaxClientMessageBytes + simdjson::SIMDJSON_PADDING];
        if (!text.empty()) std::memcpy(buffer, text.data(), text.size());  // data() may be null
        std::memset(buffer + text.size(), 0, simdjson::SIMDJSON_PADDING);
        simdjson::dom::element doc;
        if (parser.parse(buffer, text.size(), false).get(doc) != simdjson::SUCCESS) {
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
        if (action == "refresh") {
            return understood(ClientAction::Refresh);
        }
        return ignored("unknown_action");
    } catch (...) {
        // Only allocation failure can get here; the connection must survive it.
        return ignored("internal");
    }
}

}  // namespace expstream
