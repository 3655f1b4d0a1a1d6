// libFuzzer target: expstream::parse_client_message on arbitrary bytes (what a WebSocket client sends).
//
// Never crashes (ASan/UBSan watch it), and the result is consistent:
//   - Ignored <=> a non-empty error, which is one of the documented reasons; understood => no error;
//   - only Resume carries a seq, only Auth a token, only Refresh/Subscribe/Unsubscribe/Resume an id;
//   - the result equals an independent reading of the same bytes (simdjson DOM over a padded copy,
//     following the rules in protocol.hpp), and does not depend on the bytes after the view nor on
//     what was parsed before (the parser and its buffer are per-thread and reused).
#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <string_view>

#include "expstream/protocol.hpp"

using expstream::ClientAction;
using expstream::ClientMessage;

namespace {

// The limit the app passes by default (EXPSTREAM_WS_MAX_MESSAGE_BYTES); the parser has none of its own.
constexpr std::size_t kLimit = 4096;

[[noreturn]] void fail(const char* what, std::string_view input) {
    std::fprintf(stderr, "fuzz_client_message: %s (input %zu bytes)\n", what, input.size());
    std::abort();
}
#define CHECK(cond) \
    do {            \
        if (!(cond)) fail("check failed: " #cond, text); \
    } while (0)

bool same(const ClientMessage& a, const ClientMessage& b) {
    return a.action == b.action && a.error == b.error && a.experiment_id == b.experiment_id && a.token == b.token &&
           a.seq == b.seq;
}

ClientMessage ignored(const char* why) {
    ClientMessage m;
    m.error = why;
    return m;
}

// The rules of protocol.hpp, written again from the header's description.
ClientMessage expected(std::string_view text) {
    if (text.size() > kLimit) return ignored("too_large");
    static simdjson::dom::parser parser;
    const simdjson::padded_string padded(text);
    simdjson::dom::element doc;
    if (parser.parse(padded).get(doc)) return ignored("malformed");
    if (!doc.is_object()) return ignored("not_an_object");
    const simdjson::dom::object obj = doc.get_object().value_unsafe();
    std::string_view action;
    if (obj["action"].get_string().get(action)) return ignored("missing_action");
    ClientMessage m;
    std::string_view id;
    const bool has_id = !obj["experiment_id"].get_string().get(id);
    if (action == "ping") {
        m.action = ClientAction::Ping;
    } else if (action == "refresh") {
        m.action = ClientAction::Refresh;
        if (has_id) m.experiment_id = id;
    } else if (action == "auth") {
        std::string_view token;
        if (obj["token"].get_string().get(token)) return ignored("missing_field");
        m.action = ClientAction::Auth;
        m.token = token;
    } else if (action == "subscribe" || action == "unsubscribe" || action == "resume") {
        if (!has_id) return ignored("missing_field");
        m.action = action == "subscribe"     ? ClientAction::Subscribe
                   : action == "unsubscribe" ? ClientAction::Unsubscribe
                                             : ClientAction::Resume;
        m.experiment_id = id;
        if (m.action == ClientAction::Resume) {
            std::int64_t seq;
            if (obj["seq"].get_int64().get(seq)) return ignored("missing_field");
            m.seq = seq;
        }
    } else {
        return ignored("unknown_action");
    }
    return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const ClientMessage m = expstream::parse_client_message(text, kLimit);

    static const std::set<std::string> reasons = {"too_large",      "malformed",     "not_an_object", "missing_action",
                                                  "unknown_action", "missing_field", "internal"};
    if (m.action == ClientAction::Ignored) {
        CHECK(reasons.count(m.error) == 1);
        CHECK(m.experiment_id.empty() && m.token.empty() && !m.seq);
    } else {
        CHECK(m.error.empty());
    }
    CHECK(m.seq.has_value() == (m.action == ClientAction::Resume));
    CHECK(m.token.empty() || m.action == ClientAction::Auth);
    CHECK(m.experiment_id.empty() || m.action == ClientAction::Refresh || m.action == ClientAction::Subscribe ||
          m.action == ClientAction::Unsubscribe || m.action == ClientAction::Resume);
    if (m.action != ClientAction::Ignored) CHECK(text.size() <= kLimit);

    CHECK(same(m, expected(text)));

    // Only the view counts: the same bytes followed by a closing brace and garbage give the same result.
    std::string longer(text);
    longer += "} {\"action\":\"ping\"}";
    CHECK(same(m, expstream::parse_client_message(std::string_view(longer).substr(0, size), kLimit)));
    // The limit is only a size check: at a limit of exactly this size, the input is never too large.
    CHECK(expstream::parse_client_message(text, size).error != "too_large");
    return 0;
}
