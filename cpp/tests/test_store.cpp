// The libpqxx store against a real PostgreSQL.
#include <gtest/gtest.h>
#include <simdjson.h>

#include "expstream/store.hpp"
#include "pg_fixture.hpp"

using namespace expstream;

namespace {

class StoreTest : public expstream::testing::PostgresTest {
protected:
    void SetUp() override {
        store = std::make_unique<Store>(url(), 2);
        store->migrate();
    }
    std::string new_experiment() {
        return store->create_experiment("t", {{"control", "C", true, 1.0}, {"b", "B", false, 1.0}}).id;
    }
    std::unique_ptr<Store> store;
};

std::pair<std::int64_t, std::int64_t> counts(const SnapshotData& d, std::size_t i) {
    return {d.variants.at(i).participants, d.variants.at(i).conversions};
}

TEST_F(StoreTest, MigrateIsIdempotent) {
    EXPECT_NO_THROW(store->migrate());
    EXPECT_TRUE(store->ping());
}

TEST_F(StoreTest, FirstAssignmentWinsAndDuplicatesAreCounted) {
    const std::string id = new_experiment();
    const IngestResult r = store->add_assignments(id, {{"u1", "control"}, {"u2", "b"}, {"u1", "b"}});
    EXPECT_EQ(r.accepted, 2);
    EXPECT_EQ(r.duplicates, 1);
    EXPECT_TRUE(r.changed);
    const auto data = store->read_snapshot_data(id);
    ASSERT_TRUE(data);
    EXPECT_EQ(counts(*data, 0), std::make_pair(std::int64_t{1}, std::int64_t{0}));
    EXPECT_EQ(counts(*data, 1), std::make_pair(std::int64_t{1}, std::int64_t{0}));
}

TEST_F(StoreTest, UnknownVariantRejectsTheWholeBatch) {
    const std::string id = new_experiment();
    EXPECT_THROW(store->add_assignments(id, {{"u1", "control"}, {"u2", "nope"}}), InvalidInput);
    EXPECT_EQ(store->read_snapshot_data(id)->variants.at(0).participants, 0);
}

TEST_F(StoreTest, SeqMovesOnlyWhenNumbersOrStatusChange) {
    const std::string id = new_experiment();
    const auto seq0 = store->read_snapshot_data(id)->seq;
    store->add_assignments(id, {{"u1", "control"}});
    const auto seq1 = store->read_snapshot_data(id)->seq;
    EXPECT_GT(seq1, seq0);
    EXPECT_FALSE(store->add_assignments(id, {{"u1", "control"}}).changed);  // a duplicate
    EXPECT_FALSE(store->add_conversions(id, {{"stranger", std::nullopt}}).changed);  // not assigned
    EXPECT_EQ(store->read_snapshot_data(id)->seq, seq1);
    EXPECT_TRUE(store->add_conversions(id, {{"u1", std::string("e1")}}).changed);
    EXPECT_FALSE(store->add_conversions(id, {{"u1", std::string("e2")}}).changed);  // already converted
    EXPECT_EQ(store->set_status(id, "active").previous_status, "draft");
    EXPECT_EQ(store->read_snapshot_data(id)->seq, seq1 + 2);
}

TEST_F(StoreTest, SameEventIdCountsOnce) {
    const std::string id = new_experiment();
    store->add_assignments(id, {{"u1", "b"}});
    EXPECT_EQ(store->add_conversions(id, {{"u1", std::string("e")}, {"u1", std::string("e")}}).accepted, 1);
    EXPECT_EQ(store->add_conversions(id, {{"u1", std::string("e")}}).duplicates, 1);
    EXPECT_EQ(counts(*store->read_snapshot_data(id), 1), std::make_pair(std::int64_t{1}, std::int64_t{1}));
}

TEST_F(StoreTest, LifecycleRulesAreEnforced) {
    const std::string id = new_experiment();
    store->set_status(id, "active");
    EXPECT_THROW(store->set_status(id, "draft"), Conflict);
    store->set_status(id, "completed");
    EXPECT_THROW(store->set_status(id, "active"), Conflict);
    EXPECT_THROW(store->add_assignments(id, {{"late", "b"}}), Conflict);
    EXPECT_THROW(store->set_status("00000000-0000-0000-0000-000000000000", "active"), NotFound);
    EXPECT_FALSE(store->read_snapshot_data("00000000-0000-0000-0000-000000000000"));
}

TEST_F(StoreTest, RecordedMinimaOnlyGoDownAndHistoryKeepsOnePointPerSeq) {
    const std::string id = new_experiment();
    Look look;
    look.seq = 5;
    look.analysis_signature = "sig";
    look.history_point = R"({"seq":5})";
    look.min_p = {{"b", 0.2}};
    store->record_look(id, look);
    look.min_p = {{"b", 0.5}};
    store->record_look(id, look);  // same seq: no second point, and 0.5 does not raise the minimum
    const auto data = store->read_snapshot_data(id);
    EXPECT_EQ(data->analysis_signature, "sig");
    ASSERT_TRUE(data->min_p.at(1));
    EXPECT_DOUBLE_EQ(*data->min_p.at(1), 0.2);
    simdjson::dom::parser parser;
    const simdjson::padded_string history(store->history_json(id, 500));
    simdjson::dom::element doc = parser.parse(history);
    EXPECT_EQ(std::string_view(doc["experiment_id"]), id);
    ASSERT_EQ(simdjson::dom::array(doc["points"]).size(), 1u);
    EXPECT_EQ(int64_t(doc["points"].at(0)["seq"]), 5);
    look.analysis_signature = "other";
    look.min_p = {{"b", 0.9}};
    store->record_look(id, look);  // other options: minima start over
    EXPECT_DOUBLE_EQ(*store->read_snapshot_data(id)->min_p.at(1), 0.9);
}

TEST_F(StoreTest, TheSrmAlarmFiresOnce) {
    const std::string id = new_experiment();
    Look look;
    look.seq = 1;
    look.analysis_signature = "sig";
    look.history_point = "{}";
    look.srm_mismatch = true;
    EXPECT_TRUE(store->record_look(id, look).first_srm_alarm);
    look.seq = 2;
    EXPECT_FALSE(store->record_look(id, look).first_srm_alarm);
}

TEST_F(StoreTest, AGuardrailAlarmIsAnnouncedOncePerTransition) {
    const std::string id = new_experiment();
    Look look;
    look.analysis_signature = "sig";
    look.history_point = "{}";
    const auto at = [&](std::int64_t seq, bool alarm) {
        look.seq = seq;
        look.metrics = {{"conversion", "b", 0.01, alarm}};
        return store->record_look(id, look).guardrails_raised;
    };
    using Raised = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(at(1, true), (Raised{{"conversion", "b"}}));
    EXPECT_EQ(at(2, true), Raised{});  // still standing: not announced again
    EXPECT_EQ(at(3, false), Raised{});  // recovered
    EXPECT_EQ(at(4, true), (Raised{{"conversion", "b"}}));  // regressed again: a new transition
    const auto data = store->read_snapshot_data(id);
    EXPECT_TRUE(data->sums.at(0).at(1).alerted);
    EXPECT_DOUBLE_EQ(*data->sums.at(0).at(1).min_p, 0.01);
}

TEST(StoreOutage, AnUnreachableServerIsDatabaseUnavailable) {
    Store store("postgresql://postgres@127.0.0.1:1/nothing?connect_timeout=2", 1);
    EXPECT_FALSE(store.ping());
    EXPECT_THROW(store.read_snapshot_data("00000000-0000-0000-0000-000000000000"), DatabaseUnavailable);
}

}  // namespace
