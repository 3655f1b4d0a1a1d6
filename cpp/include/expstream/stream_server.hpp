// WebSocket streams served by the core itself. The Python route decides who may connect (origin,
// token, caps, access); it then hands the TCP socket over with the upgrade request it parsed, and
// from there one Asio thread answers the upgrade (Boost.Beast), writes every snapshot, answers
// pings and client messages, and closes. A push is one handler on that thread that offers the
// same payload bytes to every stream of the experiment: no per-subscriber object of Python's, no
// task woken per subscriber, no copy of the payload.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "expstream/log.hpp"
#include "expstream/ready_queue.hpp"
#include "expstream/registry.hpp"

namespace expstream {

struct Delivery;

struct StreamOptions {
    std::size_t max_message_bytes = 4096;  // larger client messages close 1009
    std::size_t rate_limit_messages = 10;  // more than this many in the window close 1008
    std::chrono::milliseconds rate_limit_window{10000};
    std::chrono::milliseconds send_timeout{10000};  // a write blocked this long closes (1013)
    int send_buffer_bytes = 0;                       // SO_SNDBUF; 0: the kernel's default
    // A peer silent this long is dropped; halfway it gets a ping (Beast's keep-alive; 0: never).
    std::chrono::milliseconds idle_timeout{50000};
    std::chrono::milliseconds handshake_timeout{10000};
};

// An upgrade request the route admitted, with the socket it came on (a duplicate the server owns).
struct Handover {
    int fd = -1;
    ConnectionId id = 0;  // carries kCoreServed
    std::string experiment_id;
    std::string target;  // path and query, as requested
    std::vector<std::pair<std::string, std::string>> headers;
    std::int64_t after_seq = -1;  // resume: only snapshots newer than this (-1: everything)
};

// A stream that ended, for the Python layer's counts and logs.
struct StreamEnded {
    ConnectionId id = 0;
    int close_code = 1005;  // as sent or received; 1006 when the connection just dropped
    std::uint64_t messages_sent = 0;
    std::vector<std::pair<std::string, std::uint64_t>> ignored;  // client messages ignored, by reason
};

class StreamServer {
public:
    // request_snapshot: asks the runtime for one experiment's snapshot for one stream (fresh: computed
    // now, for a refresh; else its current one will do).
    StreamServer(StreamOptions options, std::shared_ptr<Registry> registry, std::shared_ptr<LogSink> log,
                 std::function<void(const std::string&, ConnectionId, bool fresh)> request_snapshot);
    ~StreamServer();
    StreamServer(const StreamServer&) = delete;
    StreamServer& operator=(const StreamServer&) = delete;

    // Takes the socket over (it is closed when the stream ends) and answers the upgrade. Any thread.
    void adopt(Handover handover);
    // A delivery of the runtime for streams served here (broadcast or one stream). Any thread.
    void deliver(const Delivery& delivery);
    // Sends `message` (if any), then closes with code and reason, after what is already queued.
    void close(ConnectionId id, int code, std::string reason, std::string message = {});
    // Closes every stream with code and reason; their ends are reported as usual.
    void close_all(int code, std::string reason);
    // Streams that ended since the last call.
    std::vector<StreamEnded> take_ended() { return ended_.take(); }
    std::size_t open_streams() const { return open_.load(); }
    std::uint64_t messages_sent() const { return messages_sent_.load(); }
    // Stops the thread; streams still open are dropped without a close frame. Idempotent.
    void stop();

private:
    struct Impl;
    friend struct StreamConnectionAccess;
    std::shared_ptr<LogSink> log_;
    ReadyQueue<StreamEnded> ended_;
    std::atomic<std::size_t> open_{0};
    std::atomic<std::uint64_t> messages_sent_{0};
    std::unique_ptr<Impl> impl_;
};

}  // namespace expstream
