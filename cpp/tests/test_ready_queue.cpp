#include "expstream/ready_queue.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <fcntl.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

using namespace expstream;

namespace {

bool readable(int fd, int timeout_ms = 0) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

}  // namespace

TEST(Notifier, HasAValidNonBlockingCloseOnExecFd) {
    Notifier n;
    ASSERT_GE(n.fd(), 0);
    EXPECT_TRUE(::fcntl(n.fd(), F_GETFL) & O_NONBLOCK);
    EXPECT_TRUE(::fcntl(n.fd(), F_GETFD) & FD_CLOEXEC);
}

TEST(Notifier, SignalMakesFdReadableUntilCleared) {
    Notifier n;
    EXPECT_FALSE(readable(n.fd()));
    n.signal();
    n.signal();
    n.signal();
    EXPECT_TRUE(readable(n.fd()));
    EXPECT_TRUE(readable(n.fd()));  // polling does not consume it
    n.clear();
    EXPECT_FALSE(readable(n.fd()));
    n.clear();  // clearing an unsignalled notifier must not block
    EXPECT_FALSE(readable(n.fd()));
    n.signal();
    EXPECT_TRUE(readable(n.fd()));
}

TEST(Notifier, DestructorClosesTheFd) {
    int fd;
    {
        Notifier n;
        fd = n.fd();
        ASSERT_NE(::fcntl(fd, F_GETFD), -1);
    }
    EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
}

TEST(ReadyQueue, PushSignalsAndTakeReturnsItemsInOrder) {
    Notifier n;
    ReadyQueue<std::string> q(n);
    EXPECT_TRUE(q.take().empty());
    q.push("a");
    q.push("b");
    EXPECT_TRUE(readable(n.fd()));
    EXPECT_EQ(q.take(), (std::vector<std::string>{"a", "b"}));
    EXPECT_TRUE(q.take().empty());  // take drains
    n.clear();
    EXPECT_FALSE(readable(n.fd()));
}

TEST(ReadyQueue, ItemsPushedFromThreadsAllArriveAtAPollingConsumer) {
    Notifier n;
    ReadyQueue<int> q(n);
    constexpr int kThreads = 4;
    constexpr int kPerThread = 5000;
    std::vector<std::thread> producers;
    for (int t = 0; t < kThreads; ++t) {
        producers.emplace_back([&q, t] {
            for (int i = 0; i < kPerThread; ++i) q.push(t * kPerThread + i);
        });
    }

    // The consumer the way the event loop does it: wait for readability, clear, then take.
    // Clearing before taking means a push racing with take() re-signals and is not stranded.
    std::vector<int> got;
    while (got.size() < static_cast<std::size_t>(kThreads * kPerThread)) {
        ASSERT_TRUE(readable(n.fd(), 5000)) << "stalled with " << got.size() << " items";
        n.clear();
        auto batch = q.take();
        got.insert(got.end(), batch.begin(), batch.end());
    }
    for (auto& th : producers) th.join();

    EXPECT_TRUE(q.take().empty());
    std::sort(got.begin(), got.end());
    ASSERT_EQ(got.size(), static_cast<std::size_t>(kThreads * kPerThread));
    for (int i = 0; i < kThreads * kPerThread; ++i) ASSERT_EQ(got[i], i);

    // Each producer's items stay in its push order within what take() returns.
    Notifier n2;
    ReadyQueue<int> q2(n2);
    std::thread p([&q2] {
        for (int i = 0; i < 1000; ++i) q2.push(i);
    });
    p.join();
    auto all = q2.take();
    ASSERT_EQ(all.size(), 1000u);
    EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
}
