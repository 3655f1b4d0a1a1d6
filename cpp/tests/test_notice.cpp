// Change notices between server processes, and the STATUS_CHANGED envelope.
#include <gtest/gtest.h>
#include <simdjson.h>

#include "expstream/notice.hpp"

using namespace expstream;

namespace {

TEST(Notice, ADataChangeRoundTrips) {
    const auto parsed = parse_notice(notice_json(ChangeNotice{"node \"1\"", "e-1", std::nullopt}));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->node_id, "node \"1\"");
    EXPECT_EQ(parsed->experiment_id, "e-1");
    EXPECT_FALSE(parsed->status);
}

TEST(Notice, AStatusChangeRoundTrips) {
    const auto parsed =
        parse_notice(notice_json(ChangeNotice{"n", "e", StatusNotice{"active", "draft", "2026-01-01T00:00:00+00:00", "t"}}));
    ASSERT_TRUE(parsed && parsed->status);
    EXPECT_EQ(parsed->status->status, "active");
    EXPECT_EQ(parsed->status->previous_status, "draft");
    EXPECT_EQ(parsed->status->changed_at, "2026-01-01T00:00:00+00:00");
    EXPECT_EQ(parsed->status->trace_id, "t");
}

TEST(Notice, AnythingElseIsIgnored) {
    for (const char* junk : {"", "x", "[]", "{}", "{\"n\":\"a\"}", "{\"n\":1,\"e\":\"x\"}", "{\"n\":\"a\",\"e\":\"\"}",
                             "{\"n\":\"a\",\"e\":\"x\",\"s\":\"active\"}", "{\"n\":\"a\",\"e\":\"x\""}) {
        EXPECT_FALSE(parse_notice(junk)) << junk;
        std::string why;
        EXPECT_FALSE(parse_notice(junk, &why));
        EXPECT_FALSE(why.empty()) << junk;  // the runtime logs it
    }
}

TEST(Notice, ALongTraceIdIsCutWithoutBreakingUtf8) {
    std::string trace(kMaxTraceIdBytes - 1, 'a');
    trace += "\xC3\xA9\xC3\xA9";  // a two-byte character straddles the limit
    const std::string json = notice_json(ChangeNotice{"n", "e", StatusNotice{"active", "draft", "at", trace}});
    const auto parsed = parse_notice(json);
    ASSERT_TRUE(parsed && parsed->status);
    EXPECT_EQ(parsed->status->trace_id, std::string(kMaxTraceIdBytes - 1, 'a'));
}

TEST(Notice, TheEnvelopeCutsTheTraceIdAsTheNoticeDoes) {
    // The changing node builds its envelope directly, the others from the notice: same trace id.
    const StatusNotice status{"active", "draft", "at", std::string(kMaxTraceIdBytes - 1, 'a') + "\xC3\xA9\xC3\xA9"};
    const auto relayed = parse_notice(notice_json(ChangeNotice{"n", "e", status}));
    ASSERT_TRUE(relayed && relayed->status);
    EXPECT_EQ(status_changed_json("e", status), status_changed_json("e", *relayed->status));
}

TEST(Notice, TheStatusEnvelopeIsValidJsonWithEveryField) {
    const std::string json =
        status_changed_json("e-1", StatusNotice{"paused", "active", "2026-01-01T00:00:00+00:00", "tr\"ace"});
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_FALSE(parser.parse(json).get(doc));
    EXPECT_EQ(std::string_view(doc["topic"]), "experiment:e-1");
    EXPECT_EQ(std::string_view(doc["event"]), "STATUS_CHANGED");
    EXPECT_EQ(std::string_view(doc["data"]["entity_id"]), "e-1");
    EXPECT_EQ(std::string_view(doc["data"]["payload"]["status"]), "paused");
    EXPECT_EQ(std::string_view(doc["data"]["payload"]["previous_status"]), "active");
    EXPECT_EQ(std::string_view(doc["data"]["timestamp"]), "2026-01-01T00:00:00+00:00");
    EXPECT_EQ(std::string_view(doc["trace_id"]), "tr\"ace");
}

}  // namespace
