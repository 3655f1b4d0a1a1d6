// The Boost.Asio runtime with a real store: pushes, coalescing, targeted snapshots, not-found.
// Waits are on the runtime's eventfd (poll), never on sleeps.
#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>

#include "expstream/runtime.hpp"
#include "expstream/store.hpp"
#include "pg_fixture.hpp"

using namespace expstream;
using namespace std::chrono_literals;

namespace {

class RuntimeTest : public expstream::testing::PostgresTest {
protected:
    void SetUp() override {
        store = std::make_shared<Store>(url(), 2);
        store->migrate();
        registry = std::make_shared<Registry>();
    }
    std::unique_ptr<Runtime> start(std::chrono::milliseconds min_push = 0ms) {
        RuntimeOptions options;
        options.threads = 2;
        options.tick_interval = 0ms;  // no periodic tick: every delivery here comes from the test
        options.min_push_interval = min_push;
        options.listen = false;  // no pushes from the listener's connect: each delivery comes from the test
        options.presence_interval = 0ms;
        return std::make_unique<Runtime>(store, registry, options);
    }
    // Everything delivered until `done` says stop, waiting on the eventfd between takes.
    template <class Done>
    std::vector<Delivery> collect(Runtime& rt, Done done) {
        std::vector<Delivery> all;
        while (!done(all)) {
            pollfd p{rt.notifier().fd(), POLLIN, 0};
            if (::poll(&p, 1, 10'000) <= 0) break;  // nothing for 10 s: let the assertions say what is missing
            rt.notifier().clear();
            for (auto& d : rt.take_deliveries()) all.push_back(std::move(d));
        }
        return all;
    }
    std::shared_ptr<Store> store;
    std::shared_ptr<Registry> registry;
};

TEST_F(RuntimeTest, ATargetedSnapshotReachesOnlyItsConnection) {
    const std::string id = store->create_experiment("t", {{"control", "C", true, 1}, {"b", "B", false, 1}}).id;
    auto rt = start();
    rt->request_snapshot(id, 7);
    auto got = collect(*rt, [](const auto& all) { return !all.empty(); });
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].kind, Delivery::Kind::Snapshot);
    EXPECT_EQ(got[0].target, 7u);
    EXPECT_NE(got[0].payload.find("\"results_update\""), std::string::npos);
}

TEST_F(RuntimeTest, AnUnknownExperimentIsNotFound) {
    auto rt = start();
    rt->request_snapshot("00000000-0000-0000-0000-000000000000", 3);
    auto got = collect(*rt, [](const auto& all) { return !all.empty(); });
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].kind, Delivery::Kind::NotFound);
    EXPECT_NE(got[0].payload.find("experiment_not_found"), std::string::npos);
}

// Nobody tells the runtime: the store's commit does.
TEST_F(RuntimeTest, CommittedChangesReachSubscribersAndNobodyElse) {
    const std::string watched = store->create_experiment("w", {{"control", "C", true, 1}, {"b", "B", false, 1}}).id;
    const std::string unwatched = store->create_experiment("u", {{"control", "C", true, 1}, {"b", "B", false, 1}}).id;
    registry->connect(watched, 1);
    auto rt = start();
    store->add_assignments(unwatched, {{"u1", "b"}});  // no subscribers: no work at all
    store->add_assignments(watched, {{"u1", "b"}});
    auto got = collect(*rt, [](const auto& all) { return !all.empty(); });
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].experiment_id, watched);
    EXPECT_EQ(got[0].target, 0u);  // a broadcast
    EXPECT_NE(got[0].payload.find("\"total_participants\":1"), std::string::npos);
}

TEST_F(RuntimeTest, ABurstOfChangesIsCoalescedAndTheLastPushHasTheLastNumbers) {
    const std::string id = store->create_experiment("c", {{"control", "C", true, 1}, {"b", "B", false, 1}}).id;
    registry->connect(id, 1);
    auto rt = start(100ms);
    for (int i = 0; i < 500; ++i) {
        store->add_assignments(id, {{"u" + std::to_string(i), "b"}});
    }
    auto got = collect(*rt, [](const auto& all) {
        return !all.empty() && all.back().payload.find("\"total_participants\":500") != std::string::npos;
    });
    std::vector<Delivery> snapshots;
    std::size_t anomalies = 0;
    for (auto& d : got) {
        if (d.kind == Delivery::Kind::Snapshot) snapshots.push_back(d);
        if (d.kind == Delivery::Kind::Control) ++anomalies;
    }
    ASSERT_FALSE(snapshots.empty());
    EXPECT_NE(snapshots.back().payload.find("\"total_participants\":500"), std::string::npos);
    EXPECT_LT(snapshots.size(), 500u);
    EXPECT_GT(rt->changes_coalesced(), 0u);
    for (std::size_t i = 1; i < snapshots.size(); ++i) EXPECT_GE(snapshots[i].seq, snapshots[i - 1].seq);
    // Every user went to one arm of an equal split: the sample-ratio alarm, exactly once.
    EXPECT_EQ(anomalies, 1u);
}

// The envelope is built once, in the core, and reaches the subscribers before the new snapshot.
TEST_F(RuntimeTest, AStatusChangeIsAnnouncedThenPushed) {
    const std::string id = store->create_experiment("s", {{"control", "C", true, 1}, {"b", "B", false, 1}}).id;
    registry->connect(id, 1);
    auto rt = start();
    store->set_status(id, "active", "trace-1");
    auto got = collect(*rt, [](const auto& all) {
        return !all.empty() && all.back().kind == Delivery::Kind::Snapshot;
    });
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].kind, Delivery::Kind::Control);
    EXPECT_NE(got[0].payload.find("\"STATUS_CHANGED\""), std::string::npos);
    EXPECT_NE(got[0].payload.find("\"previous_status\":\"draft\""), std::string::npos);
    EXPECT_NE(got[0].payload.find("\"trace_id\":\"trace-1\""), std::string::npos);
    EXPECT_NE(got[1].payload.find("\"status\":\"active\""), std::string::npos);
    store->set_status(id, "active", "trace-2");  // no change: nothing announced, nothing pushed
    store->add_assignments(id, {{"u1", "b"}});
    got = collect(*rt, [](const auto& all) { return !all.empty(); });
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].kind, Delivery::Kind::Snapshot);
}

// A crowd connecting to one experiment costs one database read, not one each; a change, or a
// refresh, reads again.
TEST_F(RuntimeTest, NewSubscribersGetTheCurrentSnapshotUntilSomethingChanges) {
    const std::string id = store->create_experiment("r", {{"control", "C", true, 1}, {"b", "B", false, 1}}).id;
    registry->connect(id, 1);
    auto rt = start();
    rt->request_snapshot(id, 1);
    auto first = collect(*rt, [](const auto& all) { return !all.empty(); });
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(rt->snapshots_computed(), 1u);
    rt->request_snapshot(id, 2);
    auto second = collect(*rt, [](const auto& all) { return !all.empty(); });
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(second[0].target, 2u);
    EXPECT_EQ(second[0].payload, first[0].payload);
    EXPECT_EQ(rt->snapshots_computed(), 1u);
    EXPECT_EQ(rt->snapshots_reused(), 1u);

    store->add_assignments(id, {{"u1", "b"}});  // the broadcast it causes is computed anew
    auto pushed = collect(*rt, [](const auto& all) { return !all.empty(); });
    ASSERT_FALSE(pushed.empty());
    rt->request_snapshot(id, 3);
    auto third = collect(*rt, [](const auto& all) { return !all.empty(); });
    ASSERT_EQ(third.size(), 1u);
    EXPECT_NE(third[0].payload.find("\"total_participants\":1"), std::string::npos);

    const auto computed = rt->snapshots_computed();
    rt->request_snapshot(id, 4, /*fresh=*/true);
    collect(*rt, [](const auto& all) { return !all.empty(); });
    EXPECT_EQ(rt->snapshots_computed(), computed + 1);
}

TEST_F(RuntimeTest, StopIsIdempotentAndJoinsTheWorkers) {
    auto rt = start();
    rt->stop();
    rt->stop();
    SUCCEED();
}

}  // namespace
