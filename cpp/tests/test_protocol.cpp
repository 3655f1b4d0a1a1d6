#include "expstream/protocol.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace expstream;

namespace {

// The app's default EXPSTREAM_WS_MAX_MESSAGE_BYTES; the parser itself has no limit of its own.
constexpr std::size_t kLimit = 4096;

ClientMessage parse(std::string_view text, std::size_t max_bytes = kLimit) {
    return parse_client_message(text, max_bytes);
}

void expect_ignored(std::string_view text, const char* why, std::size_t max_bytes = kLimit) {
    ClientMessage m = parse(text, max_bytes);
    EXPECT_EQ(m.action, ClientAction::Ignored) << text;
    EXPECT_EQ(m.error, why) << text;
}

}  // namespace

TEST(ParseClientMessage, RecognisesPing) {
    ClientMessage m = parse(R"({"action":"ping"})");
    EXPECT_EQ(m.action, ClientAction::Ping);
    EXPECT_TRUE(m.error.empty());
}

TEST(ParseClientMessage, RecognisesRefresh) {
    ClientMessage m = parse(R"({"action":"refresh"})");
    EXPECT_EQ(m.action, ClientAction::Refresh);
    EXPECT_TRUE(m.error.empty());
}

TEST(ParseClientMessage, ToleratesWhitespaceAndExtraFields) {
    EXPECT_EQ(parse(" \n{ \"id\": 3, \"action\" : \"ping\", \"x\": [1, {}] }\t").action,
              ClientAction::Ping);
    EXPECT_EQ(parse(R"({"action":"refresh","experiment_id":"other"})").action, ClientAction::Refresh);
}

TEST(ParseClientMessage, ActionsAreCaseSensitive) {
    expect_ignored(R"({"action":"PING"})", "unknown_action");
    expect_ignored(R"({"action":" ping"})", "unknown_action");
}

TEST(ParseClientMessage, UnknownActionIsIgnored) {
    expect_ignored(R"({"action":"dance"})", "unknown_action");
    expect_ignored(R"({"action":""})", "unknown_action");
    expect_ignored(R"({"action":"ping\u0000"})", "unknown_action");
}

TEST(ParseClientMessage, MissingOrNonStringActionIsIgnored) {
    expect_ignored("{}", "missing_action");
    expect_ignored(R"({"type":"ping"})", "missing_action");
    expect_ignored(R"({"action":1})", "missing_action");
    expect_ignored(R"({"action":null})", "missing_action");
    expect_ignored(R"({"action":["ping"]})", "missing_action");
    expect_ignored(R"({"action":{"ping":true}})", "missing_action");
    expect_ignored(R"({"nested":{"action":"ping"}})", "missing_action");
}

TEST(ParseClientMessage, NonObjectDocumentsAreIgnored) {
    expect_ignored(R"(["ping"])", "not_an_object");
    expect_ignored("[]", "not_an_object");
    expect_ignored("42", "not_an_object");
    expect_ignored("-1.5e3", "not_an_object");
    expect_ignored(R"("ping")", "not_an_object");
    expect_ignored("null", "not_an_object");
    expect_ignored("true", "not_an_object");
}

TEST(ParseClientMessage, MalformedJsonIsIgnored) {
    expect_ignored("", "malformed");
    expect_ignored("   ", "malformed");
    expect_ignored("ping", "malformed");
    expect_ignored("{", "malformed");
    expect_ignored(R"({"action":"ping")", "malformed");
    expect_ignored(R"({"action":"ping"}})", "malformed");
    expect_ignored(R"({"action":"ping"} {})", "malformed");
    expect_ignored(R"({'action':'ping'})", "malformed");
    expect_ignored(R"({"action":"ping",})", "malformed");
    expect_ignored("{\"action\":\"pi\nng\"}", "malformed");  // raw control char in a string
    expect_ignored("{\"action\":\"\xff\"}", "malformed");    // invalid UTF-8
    expect_ignored(std::string("{\"action\":\"ping\"}\0", 18), "malformed");
}

TEST(ParseClientMessage, BinaryGarbageIsIgnored) {
    std::mt19937 rng(99);
    for (int i = 0; i < 2000; ++i) {
        std::string s(rng() % 64, '\0');
        for (auto& ch : s) ch = static_cast<char>(rng());
        ClientMessage m = parse(s);
        EXPECT_EQ(m.action, ClientAction::Ignored);
        EXPECT_FALSE(m.error.empty());
    }
}

TEST(ParseClientMessage, DeepNestingIsIgnoredWithoutCrashing) {
    std::string deep(2000, '[');
    deep += std::string(2000, ']');
    ClientMessage m = parse(deep);
    EXPECT_EQ(m.action, ClientAction::Ignored);
    EXPECT_FALSE(m.error.empty());
    expect_ignored(std::string(4000, '{'), "malformed");
}

TEST(ParseClientMessage, MessageAtTheSizeLimitIsParsed) {
    std::string msg = R"({"action":"ping","pad":")";
    msg += std::string(kLimit - msg.size() - 2, 'x');
    msg += "\"}";
    ASSERT_EQ(msg.size(), kLimit);
    EXPECT_EQ(parse(msg).action, ClientAction::Ping);
}

TEST(ParseClientMessage, OversizedMessageIsIgnoredEvenIfValid) {
    std::string msg = R"({"action":"ping","pad":")";
    msg += std::string(kLimit - msg.size() - 1, 'x');
    msg += "\"}";
    ASSERT_EQ(msg.size(), kLimit + 1);
    expect_ignored(msg, "too_large");
    expect_ignored(std::string(10 * 1024 * 1024, '{'), "too_large");
}

// A ping padded to `size` bytes.
std::string padded_ping(std::size_t size) {
    std::string msg = R"({"action":"ping","pad":")";
    msg += std::string(size - msg.size() - 2, 'x');
    msg += "\"}";
    return msg;
}

TEST(ParseClientMessage, TheLimitIsTheCallersNotAFixedFourKilobytes) {
    // Between 4 KiB and a larger configured limit: parsed, not silently ignored.
    const std::string big = padded_ping(20000);
    EXPECT_EQ(parse(big, 65536).action, ClientAction::Ping);
    EXPECT_EQ(parse(big, big.size()).action, ClientAction::Ping);
    // One byte over the configured limit: refused as before, whatever the default would say.
    expect_ignored(big, "too_large", big.size() - 1);
    expect_ignored(padded_ping(100), "too_large", 64);
    // After a large message grew this thread's buffer, small ones still parse exactly.
    EXPECT_EQ(parse(R"({"action":"resume","experiment_id":"e","seq":3})", 64).seq, 3);
}

TEST(ParseClientMessage, ParsesOnlyTheViewNotTheBytesAfterIt) {
    const std::string buf = R"({"action":"ping"}garbage)";
    EXPECT_EQ(parse(std::string_view(buf).substr(0, 17)).action, ClientAction::Ping);
}

TEST(ParseClientMessage, IsSafeFromManyThreads) {
    std::vector<std::thread> threads;
    std::vector<int> wrong(4, 0);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([t, &wrong] {
            for (int i = 0; i < 2000; ++i) {
                bool ping = (i + t) % 2 == 0;
                auto m = parse(ping ? R"({"action":"ping"})" : R"({"action":"refresh"})");
                if (m.action != (ping ? ClientAction::Ping : ClientAction::Refresh)) ++wrong[t];
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int w : wrong) EXPECT_EQ(w, 0);
}

TEST(ParseClientMessage, AuthCarriesTheToken) {
    const ClientMessage m = parse(R"({"action":"auth","token":"a.b.c"})");
    EXPECT_EQ(m.action, ClientAction::Auth);
    EXPECT_EQ(m.token, "a.b.c");
    expect_ignored(R"({"action":"auth"})", "missing_field");
    expect_ignored(R"({"action":"auth","token":42})", "missing_field");
}

TEST(ParseClientMessage, SubscribeAndUnsubscribeNeedAnExperimentId) {
    const ClientMessage sub = parse(R"({"action":"subscribe","experiment_id":"e-1"})");
    EXPECT_EQ(sub.action, ClientAction::Subscribe);
    EXPECT_EQ(sub.experiment_id, "e-1");
    EXPECT_EQ(parse(R"({"action":"unsubscribe","experiment_id":"e-1"})").action,
              ClientAction::Unsubscribe);
    expect_ignored(R"({"action":"subscribe"})", "missing_field");
    expect_ignored(R"({"action":"unsubscribe","experiment_id":7})", "missing_field");
}

TEST(ParseClientMessage, ResumeNeedsAnExperimentAndAnIntegerSeq) {
    const ClientMessage m = parse(R"({"action":"resume","experiment_id":"e","seq":41})");
    EXPECT_EQ(m.action, ClientAction::Resume);
    EXPECT_EQ(m.experiment_id, "e");
    ASSERT_TRUE(m.seq.has_value());
    EXPECT_EQ(*m.seq, 41);
    expect_ignored(R"({"action":"resume","experiment_id":"e"})", "missing_field");
    expect_ignored(R"({"action":"resume","experiment_id":"e","seq":"41"})", "missing_field");
    expect_ignored(R"({"action":"resume","seq":41})", "missing_field");
}

TEST(ParseClientMessage, RefreshMayNameAnExperiment) {
    EXPECT_EQ(parse(R"({"action":"refresh","experiment_id":"e-9"})").experiment_id, "e-9");
    EXPECT_EQ(parse(R"({"action":"refresh"})").experiment_id, "");
}

TEST(ParseClientMessage, SubscribeMayAskForABreakdown) {
    ClientMessage m = parse(R"({"action":"subscribe","experiment_id":"e1","dimension":"country"})");
    EXPECT_EQ(m.action, ClientAction::Subscribe);
    EXPECT_EQ(m.dimension, "country");
    EXPECT_TRUE(parse(R"({"action":"subscribe","experiment_id":"e1"})").dimension.empty());
    EXPECT_TRUE(parse(R"({"action":"subscribe","experiment_id":"e1","dimension":7})").dimension.empty());
    EXPECT_TRUE(parse(R"({"action":"resume","experiment_id":"e1","seq":3,"dimension":"x"})").dimension.empty());
}
