#include "expstream/snapshot.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace expstream;

namespace {

// Parses text with simdjson; fails the test if it is not valid JSON (simdjson also validates UTF-8).
simdjson::dom::element parse(simdjson::dom::parser& parser, const std::string& text) {
    simdjson::dom::element doc;
    auto err = parser.parse(text).get(doc);
    EXPECT_EQ(err, simdjson::SUCCESS) << simdjson::error_message(err) << " in: " << text;
    return doc;
}

std::vector<std::string> keys_of(simdjson::dom::object obj) {
    std::vector<std::string> keys;
    for (auto field : obj) keys.emplace_back(field.key);
    return keys;
}

std::string json_string(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
}

std::string json_number(double d) {
    std::string out;
    append_json_number(out, d);
    return out;
}

// Writes s as the name of a variant, parses the snapshot back and returns what the reader sees.
std::string round_trip_name(const std::string& s) {
    Snapshot snap;
    snap.experiment_id = "e";
    VariantResult v;
    v.name = s;
    snap.analysis.variants.push_back(v);
    simdjson::dom::parser parser;
    auto doc = parse(parser, to_json(snap));
    std::string_view name;
    EXPECT_EQ(doc["variants"].at(0)["name"].get_string().get(name), simdjson::SUCCESS);
    return std::string(name);
}

const std::string kFffd = "\xEF\xBF\xBD";

Snapshot sample_snapshot() {
    Snapshot s;
    s.experiment_id = "exp-123";
    s.timestamp = "2026-03-07T12:00:00.123456+00:00";
    s.status = "active";
    VariantResult c;
    c.key = "control";
    c.name = "Control";
    c.is_control = true;
    c.participants = 500;
    c.conversions = 50;
    c.conversion_rate = 0.1;
    c.relative_lift = 0.0;
    VariantResult b;
    b.key = "b";
    b.name = "Big button";
    b.participants = 500;
    b.conversions = 65;
    b.conversion_rate = 0.13;
    b.relative_lift = 0.3;
    b.p_value = 0.13705122503762361;
    b.lift_ci = Interval{-0.25, 0.85};
    b.chance_to_win = 0.93;
    s.analysis.variants = {c, b};
    s.analysis.options = AnalysisOptions{Method::Sequential, 0.05, 5000, Correction::HolmBonferroni};
    s.weights = {1.0, 2.0};
    s.srm.p_value = 0.5;
    s.analysis.total_participants = 1000;
    s.analysis.is_significant = false;
    s.days_running = 7;
    s.seq = 12;
    return s;
}

}  // namespace

TEST(SnapshotJson, MatchesTheWireSchemaExactly) {
    EXPECT_EQ(to_json(sample_snapshot()),
              "{\"event\":\"results_update\",\"experiment_id\":\"exp-123\","
              "\"timestamp\":\"2026-03-07T12:00:00.123456+00:00\",\"status\":\"active\",\"variants\":["
              "{\"key\":\"control\",\"name\":\"Control\",\"participant_count\":500,\"conversion_count\":50,"
              "\"conversion_rate\":0.1,\"relative_lift\":0,\"p_value\":null,\"is_control\":true,\"weight\":1,"
              "\"lift_ci\":null,\"difference_ci\":null,\"p_value_adjusted\":null,\"chance_to_win\":null,"
              "\"is_significant\":false},"
              "{\"key\":\"b\",\"name\":\"Big button\",\"participant_count\":500,\"conversion_count\":65,"
              "\"conversion_rate\":0.13,\"relative_lift\":0.3,\"p_value\":0.1370512250376236,\"is_control\":false,"
              "\"weight\":2,\"lift_ci\":[-0.25,0.85],\"difference_ci\":null,\"p_value_adjusted\":null,"
              "\"chance_to_win\":0.93,\"is_significant\":false}"
              "],\"total_participants\":1000,\"days_running\":7,\"is_significant\":false,\"seq\":12,"
              "\"analysis\":{\"method\":\"sequential\",\"alpha\":0.05,\"sequential_tuning\":5000,"
              "\"correction\":\"none\"},\"srm\":{\"p_value\":0.5,\"mismatch\":false}}");
}

TEST(SnapshotJson, ParsesBackWithEveryFieldInOrder) {
    Snapshot snap = sample_snapshot();
    snap.analysis.is_significant = true;
    snap.seq = 9007199254740993;  // above 2^53: must stay an exact integer
    snap.days_running = 0;
    std::string text = to_json(snap);
    simdjson::dom::parser parser;
    auto doc = parse(parser, text);

    simdjson::dom::object obj;
    ASSERT_EQ(doc.get_object().get(obj), simdjson::SUCCESS);
    EXPECT_EQ(keys_of(obj), (std::vector<std::string>{"event", "experiment_id", "timestamp", "status", "variants",
                                                      "total_participants", "days_running", "is_significant",
                                                      "seq", "analysis", "srm"}));
    EXPECT_EQ(std::string_view(obj["event"]), "results_update");
    EXPECT_EQ(std::string_view(obj["experiment_id"]), "exp-123");
    EXPECT_EQ(std::string_view(obj["timestamp"]), "2026-03-07T12:00:00.123456+00:00");
    EXPECT_EQ(std::string_view(obj["status"]), "active");
    EXPECT_EQ(int64_t(obj["total_participants"]), 1000);
    EXPECT_EQ(int64_t(obj["days_running"]), 0);
    EXPECT_EQ(bool(obj["is_significant"]), true);
    EXPECT_EQ(int64_t(obj["seq"]), 9007199254740993);

    simdjson::dom::array variants;
    ASSERT_EQ(obj["variants"].get_array().get(variants), simdjson::SUCCESS);
    ASSERT_EQ(variants.size(), 2u);
    const std::vector<std::string> variant_keys{"key",           "name",          "participant_count",
                                                "conversion_count", "conversion_rate", "relative_lift",
                                                "p_value",       "is_control",    "weight",
                                                "lift_ci",       "difference_ci", "p_value_adjusted",
                                                "chance_to_win", "is_significant"};
    for (auto v : variants) EXPECT_EQ(keys_of(v.get_object().value()), variant_keys);

    auto c = variants.at(0);
    EXPECT_EQ(std::string_view(c["key"]), "control");
    EXPECT_EQ(std::string_view(c["name"]), "Control");
    EXPECT_EQ(int64_t(c["participant_count"]), 500);
    EXPECT_EQ(int64_t(c["conversion_count"]), 50);
    EXPECT_EQ(double(c["conversion_rate"]), 0.1);
    EXPECT_EQ(double(c["relative_lift"]), 0.0);
    EXPECT_TRUE(c["p_value"].is_null());
    EXPECT_EQ(bool(c["is_control"]), true);

    auto b = variants.at(1);
    EXPECT_EQ(std::string_view(b["key"]), "b");
    EXPECT_EQ(std::string_view(b["name"]), "Big button");
    EXPECT_EQ(int64_t(b["participant_count"]), 500);
    EXPECT_EQ(int64_t(b["conversion_count"]), 65);
    EXPECT_EQ(double(b["conversion_rate"]), 0.13);
    EXPECT_EQ(double(b["relative_lift"]), 0.3);
    EXPECT_EQ(double(b["p_value"]), 0.13705122503762361);
    EXPECT_EQ(bool(b["is_control"]), false);
}

TEST(SnapshotJson, EmptyVariantListIsAnEmptyArray) {
    Snapshot snap;
    std::string text = to_json(snap);
    EXPECT_NE(text.find("\"variants\":[]"), std::string::npos);
    simdjson::dom::parser parser;
    auto doc = parse(parser, text);
    EXPECT_EQ(doc["variants"].get_array().value().size(), 0u);
}

TEST(SnapshotJson, MissingLiftAndPValueAreNull) {
    Snapshot snap = sample_snapshot();
    snap.analysis.variants[1].relative_lift.reset();
    snap.analysis.variants[1].p_value.reset();
    simdjson::dom::parser parser;
    auto doc = parse(parser, to_json(snap));
    EXPECT_TRUE(doc["variants"].at(1)["relative_lift"].is_null());
    EXPECT_TRUE(doc["variants"].at(1)["p_value"].is_null());
}

TEST(SnapshotJson, NonFiniteNumbersBecomeNull) {
    Snapshot snap = sample_snapshot();
    auto& v = snap.analysis.variants[1];
    v.conversion_rate = std::numeric_limits<double>::quiet_NaN();
    v.relative_lift = std::numeric_limits<double>::infinity();
    v.p_value = -std::numeric_limits<double>::infinity();
    std::string text = to_json(snap);
    for (const char* bad : {"nan", "NaN", "inf", "Inf"}) EXPECT_EQ(text.find(bad), std::string::npos) << text;
    simdjson::dom::parser parser;
    auto doc = parse(parser, text);
    EXPECT_TRUE(doc["variants"].at(1)["conversion_rate"].is_null());
    EXPECT_TRUE(doc["variants"].at(1)["relative_lift"].is_null());
    EXPECT_TRUE(doc["variants"].at(1)["p_value"].is_null());
}

TEST(SnapshotJson, HostileIdsAndStatusStillParse) {
    Snapshot snap = sample_snapshot();
    snap.experiment_id = "\"},{\"event\":\"pwned";
    snap.status = std::string("a\0b", 3);
    simdjson::dom::parser parser;
    auto doc = parse(parser, to_json(snap));
    EXPECT_EQ(std::string_view(doc["experiment_id"]), snap.experiment_id);
    EXPECT_EQ(std::string_view(doc["status"]), snap.status);
    EXPECT_EQ(std::string_view(doc["event"]), "results_update");
}

TEST(JsonString, EscapesQuotesBackslashesAndControlCharacters) {
    EXPECT_EQ(json_string(""), "\"\"");
    EXPECT_EQ(json_string("plain"), "\"plain\"");
    EXPECT_EQ(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(json_string("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
    EXPECT_EQ(json_string(std::string("\x00\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\x7f\"");
    EXPECT_EQ(json_string("/"), "\"/\"");
}

TEST(JsonString, AppendsToExistingContent) {
    std::string out = "x=";
    append_json_string(out, "y");
    EXPECT_EQ(out, "x=\"y\"");
}

TEST(JsonString, PassesValidUtf8ThroughUnchanged) {
    EXPECT_EQ(json_string("Ünïcødé 🚀"), "\"Ünïcødé 🚀\"");
    EXPECT_EQ(json_string("\xC2\x80\xDF\xBF"), "\"\xC2\x80\xDF\xBF\"");          // 2-byte bounds
    EXPECT_EQ(json_string("\xE0\xA0\x80\xEF\xBF\xBF"), "\"\xE0\xA0\x80\xEF\xBF\xBF\"");  // 3-byte bounds
    EXPECT_EQ(json_string("\xED\x9F\xBF\xEE\x80\x80"), "\"\xED\x9F\xBF\xEE\x80\x80\"");  // around surrogates
    EXPECT_EQ(json_string("\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"), "\"\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\"");  // 4-byte
}

TEST(JsonString, EscapesLineAndParagraphSeparators) {
    EXPECT_EQ(json_string("a\xE2\x80\xA8" "b\xE2\x80\xA9"), "\"a\\u2028b\\u2029\"");
    EXPECT_EQ(json_string("\xE2\x80\xA7"), "\"\xE2\x80\xA7\"");  // neighbour stays raw
}

TEST(JsonString, ReplacesEachMaximalInvalidSubpartWithFffd) {
    // Same results as Python's bytes.decode("utf-8", "replace").
    EXPECT_EQ(json_string("\xff\xc0\x80"), "\"" + kFffd + kFffd + kFffd + "\"");
    EXPECT_EQ(json_string("\x80"), "\"" + kFffd + "\"");                                 // stray continuation
    EXPECT_EQ(json_string("\xE0\x80\xAF"), "\"" + kFffd + kFffd + kFffd + "\"");          // overlong
    EXPECT_EQ(json_string("\xED\xA0\x80"), "\"" + kFffd + kFffd + kFffd + "\"");          // surrogate
    EXPECT_EQ(json_string("\xF4\x90\x80\x80"), "\"" + kFffd + kFffd + kFffd + kFffd + "\"");  // > U+10FFFF
    EXPECT_EQ(json_string("\xF5\x80"), "\"" + kFffd + kFffd + "\"");
    EXPECT_EQ(json_string("a\xE2\x82" "b"), "\"a" + kFffd + "b\"");                       // truncated 3-byte
    EXPECT_EQ(json_string("\xF0\x9F\x9A"), "\"" + kFffd + "\"");                          // truncated at end
    EXPECT_EQ(json_string("\xF0\x9F\x9A\""), "\"" + kFffd + "\\\"\"");                     // truncated by a quote
    EXPECT_EQ(json_string("\xC3"), "\"" + kFffd + "\"");
}

TEST(JsonString, HostileNamesRoundTripThroughTheSnapshot) {
    for (const std::string& s : {std::string("quote \" and backslash \\"), std::string("ctl \x01 \x1f end"),
                                std::string("line\nbreak\r\n"), std::string("Ünïcødé 🚀"),
                                std::string("\\u0000 literal"), std::string("\x00", 1)}) {
        EXPECT_EQ(round_trip_name(s), s);
    }
    EXPECT_EQ(round_trip_name("ok\xff\xc0\x80!"), "ok" + kFffd + kFffd + kFffd + "!");
}

TEST(JsonString, RandomBytesAlwaysGiveValidJson) {
    std::mt19937 rng(12345);
    std::uniform_int_distribution<int> byte(0, 255), len(0, 40);
    simdjson::dom::parser parser;
    for (int i = 0; i < 5000; ++i) {
        std::string s(static_cast<std::size_t>(len(rng)), '\0');
        // Bias towards high bytes so multi-byte sequences are common.
        for (auto& ch : s) ch = static_cast<char>(rng() % 3 ? byte(rng) | 0x80 : byte(rng));
        std::string text = json_string(s);
        simdjson::dom::element doc;
        ASSERT_EQ(parser.parse(text).get(doc), simdjson::SUCCESS) << "input #" << i;
        std::string_view back;
        ASSERT_EQ(doc.get_string().get(back), simdjson::SUCCESS);
        if (simdjson::validate_utf8(s.data(), s.size())) {
            EXPECT_EQ(back, s);
        }
    }
}

TEST(JsonNumber, UsesShortestRoundTripForm) {
    EXPECT_EQ(json_number(0.1), "0.1");
    EXPECT_EQ(json_number(0.13), "0.13");
    EXPECT_EQ(json_number(0.0), "0");
    EXPECT_EQ(json_number(-1.5), "-1.5");
    EXPECT_EQ(json_number(0.30000000000000004), "0.30000000000000004");
    EXPECT_EQ(json_number(123456.0), "123456");
    EXPECT_EQ(json_number(1e21), "1e+21");
    // Large integral values keep an exponent so no parser reads them as an out-of-range integer.
    EXPECT_EQ(json_number(-4334270042473571549184.0), "-4.3342700424735715e+21");
    EXPECT_EQ(json_number(12345678901234567e3), "1.2345678901234567e+19");
    std::mt19937_64 rng(7);
    simdjson::dom::parser parser;
    for (int i = 0; i < 2000; ++i) {
        std::uint64_t bits = rng();
        double d;
        std::memcpy(&d, &bits, sizeof d);
        if (!std::isfinite(d)) continue;
        std::string text = json_number(d);
        double back;
        ASSERT_EQ(parser.parse(text).get_double().get(back), simdjson::SUCCESS) << text;
        EXPECT_EQ(back, d) << text;
    }
}

TEST(JsonNumber, ExtremeFiniteValuesAreValidJson) {
    simdjson::dom::parser parser;
    for (double d : {1e300, -1e-300, 5e-324, std::numeric_limits<double>::max(), 1e-7, 1e21, -0.0}) {
        std::string text = json_number(d);
        double back;
        ASSERT_EQ(parser.parse(text).get_double().get(back), simdjson::SUCCESS) << text;
        EXPECT_EQ(back, d) << text;
    }
}

TEST(JsonNumber, NonFiniteIsNull) {
    EXPECT_EQ(json_number(std::numeric_limits<double>::quiet_NaN()), "null");
    EXPECT_EQ(json_number(std::numeric_limits<double>::infinity()), "null");
    EXPECT_EQ(json_number(-std::numeric_limits<double>::infinity()), "null");
}

TEST(ErrorJson, HasEventCodeIdAndMessageInOrder) {
    EXPECT_EQ(error_json("not_found", "exp-1", "Experiment not found"),
              "{\"event\":\"error\",\"code\":\"not_found\",\"experiment_id\":\"exp-1\","
              "\"message\":\"Experiment not found\"}");
}

TEST(ErrorJson, EscapesHostileContent) {
    std::string text = error_json("c\"", "id\n\xff", "msg \\ \x01");
    simdjson::dom::parser parser;
    auto doc = parse(parser, text);
    EXPECT_EQ(std::string_view(doc["event"]), "error");
    EXPECT_EQ(std::string_view(doc["code"]), "c\"");
    EXPECT_EQ(std::string_view(doc["experiment_id"]), "id\n" + kFffd);
    EXPECT_EQ(std::string_view(doc["message"]), "msg \\ \x01");
}

TEST(PongJson, IsTheFixedPongEvent) {
    EXPECT_EQ(pong_json(), "{\"event\":\"pong\"}");
    EXPECT_EQ(&pong_json(), &pong_json());
}

TEST(UtcNow, IsIso8601WithMicrosecondsAndUtcOffset) {
    const std::time_t before = std::time(nullptr);
    const std::string ts = utc_now_iso8601();
    const std::time_t after = std::time(nullptr);
    // Pattern: 'd' a digit, anything else literal.
    const std::string pattern = "dddd-dd-ddTdd:dd:dd.dddddd+00:00";
    ASSERT_EQ(ts.size(), pattern.size()) << ts;
    for (std::size_t i = 0; i < ts.size(); ++i) {
        if (pattern[i] == 'd') {
            ASSERT_TRUE(ts[i] >= '0' && ts[i] <= '9') << ts;
        } else {
            ASSERT_EQ(ts[i], pattern[i]) << ts;
        }
    }
    std::tm tm{};
    tm.tm_year = std::stoi(ts.substr(0, 4)) - 1900;
    tm.tm_mon = std::stoi(ts.substr(5, 2)) - 1;
    tm.tm_mday = std::stoi(ts.substr(8, 2));
    tm.tm_hour = std::stoi(ts.substr(11, 2));
    tm.tm_min = std::stoi(ts.substr(14, 2));
    tm.tm_sec = std::stoi(ts.substr(17, 2));
    const std::time_t t = timegm(&tm);  // interpreted as UTC: must match the clock, not local time
    EXPECT_GE(t, before);
    EXPECT_LE(t, after);
}
