// LISTENs on the changes channel over a connection of its own, driven by the runtime's Boost.Asio
// pool: it waits for the socket to become readable, hands each payload over, and reconnects by
// itself (with backoff) when the connection drops. Private to the core: the runtime owns it.
#pragma once

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace expstream {

class LogSink;

class ChangeListener {
public:
    struct Options {
        std::string url;
        std::string channel;
        std::string application_name;  // how the connection shows in pg_stat_activity
        std::chrono::milliseconds retry_initial{250};
        std::chrono::milliseconds retry_max{5000};
        std::shared_ptr<LogSink> log;  // why connecting failed or the line broke (null: nowhere)
    };
    using OnPayload = std::function<void(const std::string& payload)>;
    // Called on every successful (re)connect: whatever was notified while disconnected is lost.
    using OnConnect = std::function<void()>;

    // Called when an established connection breaks: the database may be down, or only this line.
    using OnLost = std::function<void()>;

    ChangeListener(boost::asio::thread_pool& pool, Options options, OnPayload on_payload, OnConnect on_connect,
                   OnLost on_lost);
    // The pool must be stopped (or joined) first: no handler of ours may still run.
    ~ChangeListener();
    ChangeListener(const ChangeListener&) = delete;
    ChangeListener& operator=(const ChangeListener&) = delete;

    void start();

    bool connected() const { return connected_.load(); }
    std::uint64_t reconnects() const { return reconnects_.load(); }
    int backend_pid() const { return backend_pid_.load(); }

private:
    struct Link;  // the connection and its LISTEN registration; libpqxx stays out of this header
    void connect();
    void wait();
    void teardown();
    void retry();

    Options options_;
    OnPayload on_payload_;
    OnConnect on_connect_;
    OnLost on_lost_;
    boost::asio::strand<boost::asio::thread_pool::executor_type> strand_;
    boost::asio::steady_timer timer_;
    // Touched only on the strand.
    std::unique_ptr<Link> link_;
    std::unique_ptr<boost::asio::posix::stream_descriptor> socket_;
    std::chrono::milliseconds delay_{0};
    bool ever_connected_ = false;

    std::atomic<bool> connected_{false};
    std::atomic<std::uint64_t> reconnects_{0};
    std::atomic<int> backend_pid_{0};
};

}  // namespace expstream
