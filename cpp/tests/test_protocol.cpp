#include "expstream/protocol.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace expstream;

namespace {

void expect_ignored(std::string_view text, const char* why) {
    ClientMessage m = parse_client_message(text);
    EXPECT_EQ(m.action, ClientAction::Ignored) << text;
    EXPECT_EQ(m.error, why) << text;
}

}  // namespace

TEST(ParseClientMessage, RecognisesPing) {
    ClientMessage m = parse_client_message(R"({"action":"ping"})");
    EXPECT_EQ(m.action, ClientAction::Ping);
    EXPECT_TRUE(m.error.empty());
}

TEST(ParseClientMessage, RecognisesRefresh) {
    ClientMessage m = parse_client_message(R"({"action":"refresh"})");
    EXPECT_EQ(m.action, ClientAction::Refresh);
    EXPECT_TRUE(m.error.empty());
}

TEST(ParseClientMessage, ToleratesWhitespaceAndExtraFields) {
    EXPECT_EQ(parse_client_message(" \n{ \"id\": 3, \"action\" : \"ping\", \"x\": [1, {}] }\t").action,
              ClientAction::Ping);
    EXPECT_EQ(parse_client_message(R"({"action":"refresh","experiment_id":"other"})").action, ClientAction::Refresh);
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
        ClientMessage m = parse_client_message(s);
        EXPECT_EQ(m.action, ClientAction::Ignored);
        EXPECT_FALSE(m.error.empty());
    }
}

TEST(ParseClientMessage, DeepNestingIsIgnoredWithoutCrashing) {
    std::string deep(2000, '[');
    deep += std::string(2000, ']');
    ClientMessage m = parse_client_message(deep);
    EXPECT_EQ(m.action, ClientAction::Ignored);
    EXPECT_FALSE(m.error.empty());
    expect_ignored(std::string(4000, '{'), "malformed");
}

TEST(ParseClientMessage, MessageAtTheSizeLimitIsParsed) {
    std::string msg = R"({"action":"ping","pad":")";
    msg += std::string(kMaxClientMessageBytes - msg.size() - 2, 'x');
    msg += "\"}";
    ASSERT_EQ(msg.size(), kMaxClientMessageBytes);
    EXPECT_EQ(parse_client_message(msg).action, ClientAction::Ping);
}

TEST(ParseClientMessage, OversizedMessageIsIgnoredEvenIfValid) {
    std::string msg = R"({"action":"ping","pad":")";
    msg += std::string(kMaxClientMessageBytes - msg.size() - 1, 'x');
    msg += "\"}";
    ASSERT_EQ(msg.size(), kMaxClientMessageBytes + 1);
    expect_ignored(msg, "too_large");
    expect_ignored(std::string(10 * 1024 * 1024, '{'), "too_large");
}

TEST(ParseClientMessage, ParsesOnlyTheViewNotTheBytesAfterIt) {
    const std::string buf = R"({"action":"ping"}garbage)";
    EXPECT_EQ(parse_client_message(std::string_view(buf).substr(0, 17)).action, ClientAction::Ping);
}

TEST(ParseClientMessage, IsSafeFromManyThreads) {
    std::vector<std::thread> threads;
    std::vector<int> wrong(4, 0);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([t, &wrong] {
            for (int i = 0; i < 2000; ++i) {
                bool ping = (i + t) % 2 == 0;
                auto m = parse_client_message(ping ? R"({"action":"ping"})" : R"({"action":"refresh"})");
                if (m.action != (ping ? ClientAction::Ping : ClientAction::Refresh)) ++wrong[t];
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int w : wrong) EXPECT_EQ(w, 0);
}

TEST(ParseClientMessage, AuthCarriesTheToken) {
    const ClientMessage m = parse_client_message(R"({"action":"auth","token":"a.b.c"})");
    EXPECT_EQ(m.action, ClientAction::Auth);
    EXPECT_EQ(m.token, "a.b.c");
    expect_ignored(R"({"action":"auth"})", "missing_field");
    expect_ignored(R"({"action":"auth","token":42})", "missing_field");
}

TEST(ParseClientMessage, SubscribeAndUnsubscribeNeedAnExperimentId) {
    const ClientMessage sub = parse_client_message(R"({"action":"subscribe","experiment_id":"e-1"})");
    EXPECT_EQ(sub.action, ClientAction::Subscribe);
    EXPECT_EQ(sub.experiment_id, "e-1");
    EXPECT_EQ(parse_client_message(R"({"action":"unsubscribe","experiment_id":"e-1"})").action,
              ClientAction::Unsubscribe);
    expect_ignored(R"({"action":"subscribe"})", "missing_field");
    expect_ignored(R"({"action":"unsubscribe","experiment_id":7})", "missing_field");
}

TEST(ParseClientMessage, ResumeNeedsAnExperimentAndAnIntegerSeq) {
    const ClientMessage m = parse_client_message(R"({"action":"resume","experiment_id":"e","seq":41})");
    EXPECT_EQ(m.action, ClientAction::Resume);
    EXPECT_EQ(m.experiment_id, "e");
    ASSERT_TRUE(m.seq.has_value());
    EXPECT_EQ(*m.seq, 41);
    expect_ignored(R"({"action":"resume","experiment_id":"e"})", "missing_field");
    expect_ignored(R"({"action":"resume","experiment_id":"e","seq":"41"})", "missing_field");
    expect_ignored(R"({"action":"resume","seq":41})", "missing_field");
}

TEST(ParseClientMessage, RefreshMayNameAnExperiment) {
    EXPECT_EQ(parse_client_message(R"({"action":"refresh","experiment_id":"e-9"})").experiment_id, "e-9");
    EXPECT_EQ(parse_client_message(R"({"action":"refresh"})").experiment_id, "");
}
