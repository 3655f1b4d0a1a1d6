// The core's log records: the bounded queue behind the eventfd, and real failures (a snapshot the
// store cannot read, a pooled connection the server closed, an unreachable server) that now say why.
#include <gtest/gtest.h>
#include <poll.h>

#include <pqxx/pqxx>
#include <thread>

#include "expstream/log.hpp"
#include "expstream/runtime.hpp"
#include "expstream/store.hpp"
#include "pg_fixture.hpp"

using namespace expstream;
using namespace std::chrono_literals;

namespace {

bool readable(int fd, int timeout_ms = 0) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

bool contains(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

TEST(LogSink, ARecordWakesTheNotifierAndKeepsItsFields) {
    LogSink sink;
    EXPECT_FALSE(readable(sink.notifier().fd()));
    sink.emit(LogLevel::Error, kLogRuntime, "snapshot failed: boom\n", "e-1");
    EXPECT_TRUE(readable(sink.notifier().fd()));
    const auto got = sink.take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].level, LogLevel::Error);
    EXPECT_EQ(got[0].logger, "expstream.core.runtime");
    EXPECT_EQ(got[0].message, "snapshot failed: boom");  // libpq's trailing newline goes
    EXPECT_EQ(got[0].experiment_id, "e-1");
    EXPECT_TRUE(sink.take().empty());
}

TEST(LogSink, LevelsHavePythonsNames) {
    EXPECT_STREQ(to_string(LogLevel::Debug), "debug");
    EXPECT_STREQ(to_string(LogLevel::Info), "info");
    EXPECT_STREQ(to_string(LogLevel::Warning), "warning");
    EXPECT_STREQ(to_string(LogLevel::Error), "error");
}

TEST(LogSink, AFloodIsBoundedAndTheDropsAreReportedOnce) {
    LogSink sink;  // the default bound: 1000 waiting records
    for (int i = 0; i < 1500; ++i) sink.emit(LogLevel::Warning, kLogStore, "m" + std::to_string(i));
    auto got = sink.take();
    ASSERT_EQ(got.size(), LogSink::kDefaultCapacity + 1);
    EXPECT_EQ(got[0].message, "m0");
    EXPECT_EQ(got[999].message, "m999");  // the oldest are kept, the newest dropped
    EXPECT_EQ(got.back().level, LogLevel::Warning);
    EXPECT_EQ(got.back().logger, "expstream.core");
    EXPECT_TRUE(contains(got.back().message, "500 log records dropped")) << got.back().message;
    EXPECT_EQ(sink.dropped_total(), 500u);
    EXPECT_TRUE(sink.take().empty());
    sink.emit(LogLevel::Info, kLogStore, "room again");
    got = sink.take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].message, "room again");
}

TEST(LogSink, ManyThreadsLoseNothingBelowTheBound) {
    LogSink sink;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&sink, t] {
            for (int i = 0; i < 200; ++i) sink.emit(LogLevel::Debug, kLogRuntime, std::to_string(t), std::to_string(i));
        });
    std::size_t taken = 0;
    while (taken < 800 && readable(sink.notifier().fd(), 10'000)) {
        sink.notifier().clear();
        taken += sink.take().size();
    }
    for (auto& th : threads) th.join();
    taken += sink.take().size();
    EXPECT_EQ(taken, 800u);
    EXPECT_EQ(sink.dropped_total(), 0u);
}

TEST(LogStoreOutage, AFailedPingSaysWhy) {
    auto log = std::make_shared<LogSink>();
    Store store("postgresql://postgres@127.0.0.1:1/nothing?connect_timeout=2", 1, "", log);
    EXPECT_FALSE(store.ping());
    const auto got = log->take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].level, LogLevel::Warning);
    EXPECT_EQ(got[0].logger, "expstream.core.store");
    EXPECT_TRUE(contains(got[0].message, "ping failed: cannot connect to PostgreSQL")) << got[0].message;
}

class LogTest : public expstream::testing::PostgresTest {
protected:
    void SetUp() override {
        log = std::make_shared<LogSink>();
        store = std::make_shared<Store>(url(), 1, "node-log", log);  // one connection: the test knows which
        store->migrate();
        registry = std::make_shared<Registry>();
    }
    std::unique_ptr<Runtime> start() {
        RuntimeOptions options;
        options.threads = 2;
        options.tick_interval = 0ms;
        options.min_push_interval = 0ms;
        options.listen = false;
        options.presence_interval = 0ms;
        return std::make_unique<Runtime>(store, registry, options, log);  // one sink, one eventfd
    }
    void exec(const std::string& sql) {
        pqxx::connection c(url());
        pqxx::work tx(c);
        tx.exec(sql);
        tx.commit();
    }
    std::shared_ptr<LogSink> log;
    std::shared_ptr<Store> store;
    std::shared_ptr<Registry> registry;
};

TEST_F(LogTest, ASnapshotTheStoreCannotReadSaysWhyNotOnlyUnavailable) {
    const std::string id = store->create_experiment("t", {{"control", "C", true, 1}, {"b", "B", false, 1}}).id;
    // Data that makes the snapshot query fail (days running from -infinity): not an outage.
    exec("UPDATE experiments SET activated_at = '-infinity' WHERE id = '" + id + "'");
    auto rt = start();
    rt->request_snapshot(id, 7);
    std::vector<Delivery> deliveries;
    std::vector<LogRecord> logs;
    while ((deliveries.empty() || logs.empty()) && readable(rt->notifier().fd(), 10'000)) {
        rt->notifier().clear();  // as Service.drain(): deliveries and records behind one eventfd
        for (auto& d : rt->take_deliveries()) deliveries.push_back(std::move(d));
        for (auto& r : rt->take_logs()) logs.push_back(std::move(r));
    }
    ASSERT_EQ(deliveries.size(), 1u);
    EXPECT_EQ(deliveries[0].kind, Delivery::Kind::Unavailable);  // subscribers' view is unchanged
    ASSERT_EQ(logs.size(), 1u);
    EXPECT_EQ(logs[0].level, LogLevel::Error);  // not DatabaseUnavailable: an error, not a warning
    EXPECT_EQ(logs[0].logger, "expstream.core.runtime");
    EXPECT_EQ(logs[0].experiment_id, id);
    EXPECT_TRUE(contains(logs[0].message, "snapshot failed: "));
    // PostgreSQL's own reason (15: "cannot subtract infinite timestamps"; 17: out of range).
    EXPECT_TRUE(contains(logs[0].message, "infinite") || contains(logs[0].message, "out of range")) << logs[0].message;
}

TEST_F(LogTest, APooledConnectionTheServerClosedIsReplacedAndThatLogged) {
    ASSERT_TRUE(store->ping());
    ASSERT_TRUE(log->take().empty());
    // The server ends the pooled connection's session while it sits idle (as a restart would);
    // the call waits until the backend is gone.
    exec("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
         "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    EXPECT_TRUE(store->ping());  // a fresh connection: the caller never notices
    const auto got = log->take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].level, LogLevel::Warning);
    EXPECT_EQ(got[0].logger, "expstream.core.store");
    EXPECT_TRUE(contains(got[0].message, "closed a pooled connection while it was idle")) << got[0].message;
}

}  // namespace
