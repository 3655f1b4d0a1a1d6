// Client -> server WebSocket messages, parsed with simdjson into plain structs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace expstream {

enum class ClientAction {
    Ping,
    Refresh,
    Ignored,  // unknown action, non-object, malformed JSON, oversized: the connection stays up
};

struct ClientMessage {
    ClientAction action = ClientAction::Ignored;
    std::string error;  // why it was ignored, for logs and counters; empty when understood
};

// Messages longer than this are ignored without being parsed.
inline constexpr std::size_t kMaxClientMessageBytes = 4096;

ClientMessage parse_client_message(std::string_view text);

}  // namespace expstream
