// Running totals, the consistency check, change notices between processes, the LISTEN connection's
// recovery and node presence, against a real PostgreSQL. Two Stores with different node ids stand
// for two server processes.
#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "expstream/runtime.hpp"
#include "expstream/store.hpp"
#include "pg_fixture.hpp"

using namespace expstream;
using namespace std::chrono_literals;

namespace {

class ScaleOutTest : public expstream::testing::PostgresTest {
protected:
    void SetUp() override {
        here = std::make_shared<Store>(url(), 4, "node-here");
        here->migrate();
        there = std::make_shared<Store>(url(), 4, "node-there");
        registry = std::make_shared<Registry>();
    }
    std::string new_experiment() {
        return here->create_experiment("t", {{"control", "C", true, 1.0}, {"b", "B", false, 1.0}}).id;
    }
    std::unique_ptr<Runtime> listening_runtime() {
        RuntimeOptions options;
        options.threads = 2;
        options.tick_interval = 0ms;  // no safety-net tick: pushes here come from notices or reconnects
        options.min_push_interval = 0ms;
        options.presence_interval = 0ms;
        options.retry_initial = 20ms;
        auto rt = std::make_unique<Runtime>(here, registry, options);
        rt->start();
        return rt;
    }
    // Deliveries until `done`, waiting on the eventfd (10 s without one ends the wait).
    template <class Done>
    std::vector<Delivery> collect(Runtime& rt, Done done) {
        std::vector<Delivery> all;
        while (!done(all)) {
            pollfd p{rt.notifier().fd(), POLLIN, 0};
            if (::poll(&p, 1, 10'000) <= 0) break;
            rt.notifier().clear();
            for (auto& d : rt.take_deliveries()) all.push_back(std::move(d));
        }
        return all;
    }
    static bool has(const std::vector<Delivery>& all, const std::string& text) {
        for (const auto& d : all)
            if (d.payload.find(text) != std::string::npos) return true;
        return false;
    }
    std::shared_ptr<Store> here, there;
    std::shared_ptr<Registry> registry;
};

TEST_F(ScaleOutTest, SnapshotsReadRunningTotalsThatMatchARecount) {
    const std::string id = new_experiment();
    // A conversion before its user's assignment, a repeated conversion, a duplicate event id,
    // a conversion of a user never assigned.
    here->add_conversions(id, {{"u1", std::string("e1")}});
    here->add_assignments(id, {{"u1", "b"}, {"u2", "b"}, {"u3", "control"}, {"u1", "control"}});
    here->add_conversions(id, {{"u1", std::string("e2")}, {"u2", std::nullopt}, {"u2", std::nullopt},
                               {"u2", std::string("e1")}, {"ghost", std::nullopt}});
    const auto data = here->read_snapshot_data(id);
    ASSERT_TRUE(data);
    EXPECT_EQ(data->variants[0].participants, 1);  // control: u3
    EXPECT_EQ(data->variants[0].conversions, 0);
    EXPECT_EQ(data->variants[1].participants, 2);  // b: u1 (first assignment wins), u2
    EXPECT_EQ(data->variants[1].conversions, 2);
    std::int64_t checked = 0;
    EXPECT_TRUE(here->verify_totals(id, &checked).empty());
    EXPECT_EQ(checked, 2);
}

TEST_F(ScaleOutTest, ConcurrentIngestFromTwoProcessesKeepsTotalsExact) {
    const std::string id = new_experiment();
    // Overlapping users on both "processes", assignments and conversions interleaved.
    auto work = [&](Store& store, int offset) {
        for (int round = 0; round < 20; ++round) {
            std::vector<Assignment> a;
            std::vector<Conversion> c;
            for (int i = 0; i < 50; ++i) {
                const int user = (round * 37 + i * 7 + offset) % 400;
                a.push_back({"u" + std::to_string(user), user % 2 ? "b" : "control"});
                c.push_back({"u" + std::to_string((user * 3) % 500), std::nullopt});
            }
            store.add_assignments(id, a);
            store.add_conversions(id, c);
        }
    };
    std::thread t1([&] { work(*here, 0); });
    std::thread t2([&] { work(*there, 11); });
    std::thread t3([&] { work(*here, 23); });
    t1.join();
    t2.join();
    t3.join();
    EXPECT_TRUE(here->verify_totals(id).empty());
    pqxx::connection c(url());
    pqxx::read_transaction tx(c);
    const auto assigned = tx.exec_params1("SELECT count(*) FROM assignments WHERE experiment_id = $1::uuid", id)[0].as<int>();
    const auto data = here->read_snapshot_data(id);
    EXPECT_EQ(data->variants[0].participants + data->variants[1].participants, assigned);
}

TEST_F(ScaleOutTest, IngestAndLookRecordsOfOneExperimentNeverDeadlock) {
    // Both write the experiment's variants rows; with two lock orders they deadlocked.
    const std::string id = new_experiment();
    std::atomic<bool> failed{false};
    std::thread ingest([&] {
        try {
            for (int i = 0; i < 150; ++i) {
                here->add_assignments(id, {{"u" + std::to_string(i), i % 2 ? "b" : "control"}});
                here->add_conversions(id, {{"u" + std::to_string(i / 2), std::nullopt}});
            }
        } catch (const std::exception& e) {
            ADD_FAILURE() << "ingest: " << e.what();
            failed = true;
        }
    });
    std::thread looks([&] {
        try {
            for (std::int64_t seq = 1; seq <= 300; ++seq) {
                Look look;
                look.seq = seq;
                look.analysis_signature = "sig";
                look.min_p = {{"b", 1.0 / static_cast<double>(seq)}};
                look.history_point = "{}";
                there->record_look(id, look);
            }
        } catch (const std::exception& e) {
            ADD_FAILURE() << "record_look: " << e.what();
            failed = true;
        }
    });
    ingest.join();
    looks.join();
    EXPECT_FALSE(failed);
    EXPECT_TRUE(here->verify_totals(id).empty());
}

TEST_F(ScaleOutTest, VerifyReportsDriftAndUnknownExperiments) {
    const std::string id = new_experiment();
    here->add_assignments(id, {{"u1", "b"}});
    here->add_conversions(id, {{"u1", std::string("e1")}});
    {
        pqxx::connection c(url());
        pqxx::work tx(c);
        tx.exec_params(
            "UPDATE metric_sums s SET sum = s.sum + 3 FROM variants v "
            "WHERE s.variant_id = v.id AND v.experiment_id = $1::uuid AND v.key = 'b' AND s.metric = 'conversion'",
            id);
        tx.exec_params("UPDATE variants SET participants = participants + 1 WHERE experiment_id = $1::uuid AND key = 'control'", id);
        tx.commit();
    }
    const auto drift = here->verify_totals(std::nullopt);
    ASSERT_EQ(drift.size(), 2u);
    EXPECT_EQ(drift[0].experiment_id, id);
    EXPECT_EQ(drift[0].variant_key, "control");
    EXPECT_EQ(drift[0].total, "participants");
    EXPECT_EQ(drift[0].stored, "1");
    EXPECT_EQ(drift[0].recounted, "0");
    EXPECT_EQ(drift[1].variant_key, "b");
    EXPECT_EQ(drift[1].total, "conversion.sum");
    EXPECT_EQ(drift[1].stored, "4");
    EXPECT_EQ(drift[1].recounted, "1");
    EXPECT_THROW(here->verify_totals(std::string("00000000-0000-0000-0000-000000000000")), NotFound);
}

TEST_F(ScaleOutTest, AnotherProcessesIngestReachesOurSubscribersThroughNotify) {
    const std::string id = new_experiment();
    registry->connect(id, 1);
    auto rt = listening_runtime();
    // The listener's first connect refreshes everything watched: that delivery says it is listening.
    ASSERT_EQ(collect(*rt, [](const auto& all) { return !all.empty(); }).size(), 1u);
    there->add_assignments(id, {{"u1", "b"}, {"u2", "control"}});
    auto got = collect(*rt, [](const auto& all) { return has(all, "\"total_participants\":2"); });
    EXPECT_TRUE(has(got, "\"total_participants\":2"));
    EXPECT_GE(rt->notices_received(), 1u);
    // A status change elsewhere brings the lifecycle envelope and a snapshot with the new status.
    there->set_status(id, "paused", "trace-1");
    got = collect(*rt, [](const auto& all) { return has(all, "STATUS_CHANGED") && has(all, "\"status\":\"paused\""); });
    EXPECT_TRUE(has(got, "\"trace_id\":\"trace-1\""));
    EXPECT_TRUE(has(got, "\"previous_status\":\"draft\""));
}

TEST_F(ScaleOutTest, OurOwnNoticesAreNotPushedTwice) {
    const std::string id = new_experiment();
    registry->connect(id, 1);
    auto rt = listening_runtime();
    ASSERT_EQ(collect(*rt, [](const auto& all) { return !all.empty(); }).size(), 1u);
    here->add_assignments(id, {{"u1", "b"}});  // ours: pushed at commit; its notice comes back, ignored
    auto ours = collect(*rt, [](const auto& all) { return has(all, "\"total_participants\":1"); });
    EXPECT_EQ(ours.size(), 1u);
    there->add_assignments(id, {{"u2", "b"}});  // theirs: arrives after ours, in commit order
    auto got = collect(*rt, [](const auto& all) { return has(all, "\"total_participants\":2"); });
    EXPECT_TRUE(has(got, "\"total_participants\":2"));
    EXPECT_EQ(got.size(), 1u);  // one push, for their notice only
    EXPECT_EQ(rt->notices_received(), 1u);
}

TEST_F(ScaleOutTest, TheListenerComesBackAfterItsBackendIsTerminated) {
    const std::string id = new_experiment();
    registry->connect(id, 1);
    auto rt = listening_runtime();
    ASSERT_EQ(collect(*rt, [](const auto& all) { return !all.empty(); }).size(), 1u);
    const int pid = rt->listener_backend_pid();
    ASSERT_GT(pid, 0);
    {
        pqxx::connection admin(url());
        pqxx::nontransaction tx(admin);
        EXPECT_TRUE(tx.exec_params1("SELECT pg_terminate_backend($1)", pid)[0].as<bool>());
    }
    // Losing the line and getting it back each refresh everything watched (the database may be
    // down; a notice may have been missed meanwhile).
    const auto refreshed = collect(*rt, [&](const auto& all) { return !all.empty() && rt->listener_reconnects() == 1; });
    EXPECT_GE(refreshed.size(), 1u);
    EXPECT_EQ(rt->listener_reconnects(), 1u);
    EXPECT_NE(rt->listener_backend_pid(), pid);
    bool said_why = false;  // the reason reaches the log, not only the reconnect counter
    for (const auto& r : rt->take_logs())
        said_why = said_why || (r.logger == kLogListener && r.message.find("LISTEN connection broke") != std::string::npos);
    EXPECT_TRUE(said_why);
    there->add_assignments(id, {{"u1", "b"}});
    auto got = collect(*rt, [](const auto& all) { return has(all, "\"total_participants\":1"); });
    EXPECT_TRUE(has(got, "\"total_participants\":1"));
}

TEST_F(ScaleOutTest, NodesSeeEachOthersCountsUntilTheyLeaveOrFallSilent) {
    here->publish_presence({{"exp-a", 3}, {"exp-b", 1}});
    there->publish_presence({{"exp-a", 2}});
    // Counts come only for experiments that exist; both ids above are unknown.
    EXPECT_TRUE(there->other_nodes_subscribers(60'000ms).empty());
    const std::string id = new_experiment();
    here->publish_presence({{id, 3}});
    there->publish_presence({{id, 2}});
    auto seen = there->other_nodes_subscribers(60'000ms);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].experiment_id, id);
    EXPECT_EQ(seen[0].subscribers, 3);  // only the others' counts: its own it knows live
    EXPECT_EQ(here->other_nodes_subscribers(60'000ms).at(0).subscribers, 2);
    EXPECT_TRUE(there->other_nodes_subscribers(0ms).empty());  // a heartbeat older than the bound does not count
    here->leave();
    EXPECT_TRUE(there->other_nodes_subscribers(60'000ms).empty());
}

}  // namespace
