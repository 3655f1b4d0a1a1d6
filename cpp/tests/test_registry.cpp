#include "expstream/registry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

using namespace expstream;

namespace {

std::vector<ConnectionId> sorted(std::vector<ConnectionId> v) {
    std::sort(v.begin(), v.end());
    return v;
}

}  // namespace

TEST(Registry, StartsEmpty) {
    Registry r;
    EXPECT_EQ(r.total(), 0u);
    EXPECT_EQ(r.subscriber_count("x"), 0u);
    EXPECT_TRUE(r.subscribers("x").empty());
    EXPECT_TRUE(r.active_experiments().empty());
}

TEST(Registry, ConnectAddsSubscribersPerExperiment) {
    Registry r;
    EXPECT_TRUE(r.connect("a", 1));
    EXPECT_TRUE(r.connect("a", 2));
    EXPECT_TRUE(r.connect("b", 1));  // one connection may watch several experiments
    EXPECT_EQ(r.subscriber_count("a"), 2u);
    EXPECT_EQ(r.subscriber_count("b"), 1u);
    EXPECT_EQ(r.total(), 3u);
    EXPECT_EQ(sorted(r.subscribers("a")), (std::vector<ConnectionId>{1, 2}));
    EXPECT_EQ(r.subscribers("b"), (std::vector<ConnectionId>{1}));
}

TEST(Registry, DuplicateConnectIsRejectedAndNotCounted) {
    Registry r;
    EXPECT_TRUE(r.connect("a", 7));
    EXPECT_FALSE(r.connect("a", 7));
    EXPECT_EQ(r.subscriber_count("a"), 1u);
    EXPECT_EQ(r.total(), 1u);
}

TEST(Registry, DisconnectRemovesOnlyThatSubscription) {
    Registry r;
    r.connect("a", 1);
    r.connect("a", 2);
    r.connect("b", 1);
    EXPECT_TRUE(r.disconnect("a", 1));
    EXPECT_EQ(r.subscribers("a"), (std::vector<ConnectionId>{2}));
    EXPECT_EQ(r.subscribers("b"), (std::vector<ConnectionId>{1}));
    EXPECT_EQ(r.total(), 2u);
}

TEST(Registry, DisconnectOfUnknownSubscriptionReturnsFalse) {
    Registry r;
    r.connect("a", 1);
    EXPECT_FALSE(r.disconnect("a", 2));
    EXPECT_FALSE(r.disconnect("zzz", 1));
    EXPECT_TRUE(r.disconnect("a", 1));
    EXPECT_FALSE(r.disconnect("a", 1));
    EXPECT_EQ(r.total(), 0u);
}

TEST(Registry, EmptyExperimentsAreRemoved) {
    Registry r;
    r.connect("a", 1);
    r.connect("b", 2);
    r.disconnect("a", 1);
    auto active = r.active_experiments();
    ASSERT_EQ(active.size(), 1u);
    EXPECT_EQ(active[0].first, "b");
    EXPECT_EQ(r.subscriber_count("a"), 0u);
    // Reconnecting after removal works as new.
    EXPECT_TRUE(r.connect("a", 1));
    EXPECT_EQ(r.subscriber_count("a"), 1u);
}

TEST(Registry, ActiveExperimentsAreSortedWithCounts) {
    Registry r;
    r.connect("zeta", 1);
    r.connect("alpha", 1);
    r.connect("alpha", 2);
    r.connect("mid", 3);
    r.connect("mid", 4);
    r.connect("mid", 5);
    using P = std::pair<std::string, std::size_t>;
    EXPECT_EQ(r.active_experiments(), (std::vector<P>{{"alpha", 2}, {"mid", 3}, {"zeta", 1}}));
}

TEST(Registry, ConcurrentConnectAndDisconnectKeepTotalsConsistent) {
    Registry r;
    constexpr int kThreads = 8;
    constexpr int kPerThread = 2000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&r, t] {
            for (int i = 0; i < kPerThread; ++i) {
                const std::string exp = "exp-" + std::to_string(i % 4);
                const ConnectionId id = static_cast<ConnectionId>(t) * 1000000 + static_cast<ConnectionId>(i);
                ASSERT_TRUE(r.connect(exp, id));
                r.total();
                r.active_experiments();
                // Drop every odd one again, so half of each thread's connections remain.
                if (i % 2 == 1) {
                    ASSERT_TRUE(r.disconnect(exp, id));
                }
            }
        });
    }
    for (auto& th : threads) th.join();

    EXPECT_EQ(r.total(), static_cast<std::size_t>(kThreads * kPerThread / 2));
    std::size_t sum = 0;
    for (const auto& [id, count] : r.active_experiments()) {
        EXPECT_EQ(count, r.subscriber_count(id));
        EXPECT_EQ(count, r.subscribers(id).size());
        sum += count;
    }
    EXPECT_EQ(sum, r.total());
    // Even i values only hit exp-0 and exp-2; the odd experiments were emptied and removed.
    using P = std::pair<std::string, std::size_t>;
    EXPECT_EQ(r.active_experiments(), (std::vector<P>{{"exp-0", 4000}, {"exp-2", 4000}}));

    // Now tear everything down concurrently.
    threads.clear();
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&r, t] {
            for (int i = 0; i < kPerThread; i += 2) {
                const ConnectionId id = static_cast<ConnectionId>(t) * 1000000 + static_cast<ConnectionId>(i);
                ASSERT_TRUE(r.disconnect("exp-" + std::to_string(i % 4), id));
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(r.total(), 0u);
    EXPECT_TRUE(r.active_experiments().empty());
}
