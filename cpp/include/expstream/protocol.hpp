// Client -> server WebSocket messages, parsed with simdjson into plain structs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace expstream {

enum class ClientAction {
    Ping,         // {"action":"ping"}
    Refresh,      // {"action":"refresh"[,"experiment_id"]}
    Auth,         // {"action":"auth","token"}
    Subscribe,    // {"action":"subscribe","experiment_id"[,"dimension"]}
    Unsubscribe,  // {"action":"unsubscribe","experiment_id"}
    Resume,       // {"action":"resume","experiment_id","seq"}
    Ignored,      // unknown action, missing field, non-object, malformed JSON, oversized
};

struct ClientMessage {
    ClientAction action = ClientAction::Ignored;
    std::string error;  // why it was ignored, for logs and counters; empty when understood
    std::string experiment_id;
    std::string token;
    std::optional<std::int64_t> seq;
    std::string dimension;  // subscribe: also stream the breakdown by this dimension (empty: none)
};

// Messages longer than max_bytes are ignored ("too_large") without being parsed. The limit is the
// caller's (the app's EXPSTREAM_WS_MAX_MESSAGE_BYTES setting): one source, no second copy here.
ClientMessage parse_client_message(std::string_view text, std::size_t max_bytes);

}  // namespace expstream
