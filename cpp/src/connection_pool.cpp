#include "connection_pool.hpp"

#include <poll.h>

#include <utility>

#include "expstream/log.hpp"
#include "expstream/store.hpp"

namespace expstream {

namespace {
// SQLSTATE classes that mean "the server went away", not "the query was wrong".
bool is_unavailable(const pqxx::sql_error& e) {
    const std::string& state = e.sqlstate();
    return state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0 || state == "53300";
}

// A server that ends an idle session sends its last words and closes: the socket turns readable
// while nobody asked anything. Such a connection is dropped before use instead of failing its next
// query (which also costs a leaked result in libpqxx 6, whose make_result throws on a dead line).
bool closed_while_idle(pqxx::connection& c) {
    const int fd = c.sock();
    if (fd < 0) return true;
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) != 0;  // readable, hung up or failed
}
}  // namespace

ConnectionPool::ConnectionPool(std::string url, std::size_t size, std::shared_ptr<LogSink> log)
    : url_(std::move(url)), size_(size ? size : 1), log_(std::move(log)) {}

std::unique_ptr<pqxx::connection> ConnectionPool::acquire() {
    for (;;) {
        std::unique_ptr<pqxx::connection> conn;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            available_.wait(lock, [this] { return !idle_.empty() || open_ < size_; });
            if (idle_.empty()) {
                ++open_;
                break;  // room for a new connection
            }
            conn = std::move(idle_.back());
            idle_.pop_back();
        }
        if (!closed_while_idle(*conn)) return conn;
        emit(log_, LogLevel::Warning, kLogStore,
             "the server closed a pooled connection while it was idle (restart, pg_terminate_backend or a "
             "timeout); using another");
        conn.reset();
        release(nullptr, false);
    }
    try {
        return std::make_unique<pqxx::connection>(url_);
    } catch (const std::exception& e) {
        release(nullptr, false);
        throw DatabaseUnavailable(std::string("cannot connect to PostgreSQL: ") + e.what());
    }
}

void ConnectionPool::release(std::unique_ptr<pqxx::connection> conn, bool healthy) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (conn && healthy && conn->is_open())
            idle_.push_back(std::move(conn));
        else
            --open_;
    }
    available_.notify_one();
}

void ConnectionPool::run(const std::function<void(pqxx::connection&)>& f) {
    for (int attempt = 0;; ++attempt) {
        auto conn = acquire();
        const auto retrying = [&](const char* why, const std::exception& e) {
            emit(log_, LogLevel::Warning, kLogStore,
                 std::string(why) + " (attempt " + std::to_string(attempt + 1) + "), running it again: " + e.what());
        };
        try {
            f(*conn);
            release(std::move(conn), true);
            return;
        } catch (const pqxx::transaction_rollback& e) {
            // Deadlock or serialization failure: PostgreSQL rolled the whole transaction back, so
            // running it again is safe. Should not happen with one lock order; cheap insurance.
            release(std::move(conn), true);
            if (attempt < 3) {
                retrying("PostgreSQL rolled the transaction back", e);
                continue;
            }
            throw;
        } catch (const pqxx::in_doubt_error& e) {
            release(std::move(conn), false);
            throw DatabaseUnavailable(std::string("commit outcome unknown: ") + e.what());
        } catch (const pqxx::broken_connection& e) {
            release(std::move(conn), false);
            // A pooled connection may have died while idle (server restart): one fresh try.
            if (attempt == 0) {
                retrying("a pooled connection was broken", e);
                continue;
            }
            throw DatabaseUnavailable(e.what());
        } catch (const pqxx::sql_error& e) {
            const bool unavailable = is_unavailable(e);
            release(std::move(conn), !unavailable);
            if (unavailable) {
                if (attempt == 0) {
                    retrying("the server ended the session", e);
                    continue;
                }
                throw DatabaseUnavailable(e.what());
            }
            throw;
        } catch (...) {
            release(std::move(conn), true);
            throw;
        }
    }
}

}  // namespace expstream
