// The store's pooled libpqxx connections and its one retry policy: which failures are worth a
// second try, and which mean "the database is unavailable". Private to the core (store.cpp).
#pragma once

#include <pqxx/pqxx>

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace expstream {

class LogSink;

// Connections are opened lazily, at most `size` at once; a broken one is dropped, not reused.
class ConnectionPool {
public:
    ConnectionPool(std::string url, std::size_t size, std::shared_ptr<LogSink> log);
    ConnectionPool(const ConnectionPool&) = delete;
    ConnectionPool& operator=(const ConnectionPool&) = delete;

    // Runs f on a pooled connection. Runs it again on a fresh connection when a pooled one turns
    // out broken (once), and when PostgreSQL rolled the transaction back (deadlock, serialization:
    // up to 3 times); every retry is logged with its reason. Throws DatabaseUnavailable when the
    // server cannot be reached; any other error of f as it came.
    void run(const std::function<void(pqxx::connection&)>& f);

    const std::string& url() const { return url_; }
    const std::shared_ptr<LogSink>& log() const { return log_; }

private:
    std::unique_ptr<pqxx::connection> acquire();
    void release(std::unique_ptr<pqxx::connection> conn, bool healthy);

    const std::string url_;
    const std::size_t size_;
    const std::shared_ptr<LogSink> log_;  // may be null: no records
    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<std::unique_ptr<pqxx::connection>> idle_;
    std::size_t open_ = 0;
};

}  // namespace expstream
