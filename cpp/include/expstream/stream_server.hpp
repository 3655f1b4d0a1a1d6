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
    // A stream handed over without a token must send {"action":"auth"} within this (else 4401).
    std::chrono::milliseconds auth_timeout{5000};
};

// An upgrade request the route admitted, with the socket it came on (a duplicate the server owns).
struct Handover {
    int fd = -1;
    ConnectionId id = 0;  // carries kCoreServed
    std::string experiment_id;
    std::string target;  // path and query, as requested
    std::vector<std::pair<std::string, std::string>> headers;
    std::int64_t after_seq = -1;  // resume: only snapshots newer than this (-1: everything)
    // false: the upgrade carried no token; the stream's first message must be {"action":"auth"},
    // whose token the Python layer checks (StreamEvent::Authenticate) before admit() or close().
    bool authenticated = true;
};

// What the Python layer hears of a stream the core serves.
struct StreamEvent {
    enum class Kind { Ended, Authenticate };
    Kind kind = Kind::Ended;
    ConnectionId id = 0;
    int close_code = 1005;  // Ended: as sent or received; 1006 when the connection just dropped
    std::uint64_t messages_sent = 0;                             // Ended
    std::vector<std::pair<std::string, std::uint64_t>> ignored;  // Ended: client messages ignored, by reason
    std::string token;                                           // Authenticate: from the first message
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
    // A stream handed over unauthenticated passed the Python layer's checks: it subscribes now.
    void admit(ConnectionId id);
    // Sends `message` (if any), then closes with code and reason, after what is already queued.
    void close(ConnectionId id, int code, std::string reason, std::string message = {});
    // Closes every stream with code and reason; their ends are reported as usual.
    void close_all(int code, std::string reason);
    // Streams that ended, or want their first-message token checked, since the last call.
    std::vector<StreamEvent> take_events() { return events_.take(); }
    std::size_t open_streams() const { return open_.load(); }
    std::uint64_t messages_sent() const { return messages_sent_.load(); }
    // Stops the thread; streams still open are dropped without a close frame. Idempotent.
    void stop();

private:
    struct Impl;
    friend struct StreamConnectionAccess;
    std::shared_ptr<LogSink> log_;
    ReadyQueue<StreamEvent> events_;
    std::atomic<std::size_t> open_{0};
    std::atomic<std::uint64_t> messages_sent_{0};
    std::unique_ptr<Impl> impl_;
};

}  // namespace expstream
