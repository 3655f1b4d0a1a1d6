// One WebSocket stream served by the core (stream_server.hpp): answers the upgrade it was handed,
// then writes what it is offered and reads what the client sends. Everything runs on the server's
// one Asio thread, so nothing here locks.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "expstream/stream_server.hpp"

namespace expstream {

using Payload = std::shared_ptr<const std::string>;

// The close codes the core's streams send or report (README, "Close codes"; Python's twin:
// expstream.protocol.CloseCode).
namespace close_code {
inline constexpr int kNoStatus = 1005;
inline constexpr int kAbnormal = 1006;
inline constexpr int kPolicy = 1008;
inline constexpr int kTooBig = 1009;
inline constexpr int kTryLater = 1013;
inline constexpr int kUnauthorized = 4401;
inline constexpr int kNotFound = 4404;
}  // namespace close_code

class WsStream;

// What every stream of one server shares.
struct StreamContext {
    StreamOptions options;
    std::shared_ptr<LogSink> log;
    std::function<void(const std::string&, ConnectionId, bool fresh)> request_snapshot;
    std::function<void(WsStream&)> on_end;  // the stream is over: forget it, report it
    std::function<void(WsStream&, std::string token)> on_auth;  // its first-message token, to check
    std::atomic<std::uint64_t>* messages_sent = nullptr;
};

class WsStream : public std::enable_shared_from_this<WsStream> {
public:
    WsStream(StreamContext& context, boost::asio::ip::tcp::socket socket, Handover handover);

    // Answers the upgrade request, then reads until the stream ends.
    void start();
    // Newest wins: an unsent snapshot is replaced by a newer one; never one at or below the
    // resume floor, never one older than what was sent.
    void offer_snapshot(std::int64_t seq, const Payload& payload);
    // Errors, pongs, lifecycle envelopes: kept in order, the oldest dropped past a small bound.
    void offer_control(const Payload& payload);
    // Close after what is queued; the first request's code and reason win.
    void request_close(int code, std::string reason);
    // Drop the connection now (a peer that does not read would never take a close frame).
    void abort(int close_code);
    // Called now and then by the server: a write or close handshake still going after the send
    // timeout drops the connection. One sweep for every stream costs less than a timer per write.
    void check_deadline(std::chrono::steady_clock::time_point now);

    // The Python layer accepted the first-message token: snapshots may come now.
    void admit() { auth_ = Auth::Admitted; }
    bool admitted() const { return auth_ == Auth::Admitted; }
    ConnectionId id() const { return id_; }
    const std::string& experiment_id() const { return experiment_id_; }
    StreamEvent report() const;

private:
    void on_accept(const boost::system::error_code& ec);
    void read();
    void on_read(const boost::system::error_code& ec);
    void first_message(const std::string& text);
    void handle(const std::string& text);
    bool over_rate_limit();
    void pump();
    void write(Payload payload);
    void on_write(const boost::system::error_code& ec);
    void mark_busy() { busy_since_ = std::chrono::steady_clock::now(); }
    void end(int close_code);

    StreamContext& context_;
    // A plain socket under Beast: its tcp_stream's per-operation timeout machinery is not needed
    // (the websocket layer keeps its own handshake and idle timers).
    boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_;
    boost::beast::http::request<boost::beast::http::string_body> request_;
    boost::beast::flat_buffer buffer_;
    std::chrono::steady_clock::time_point busy_since_;  // when the current write or close began
    const ConnectionId id_;
    const std::string experiment_id_;
    std::int64_t floor_ = -1;
    // Waiting: for the first message (a token); Checking: the Python layer has the token.
    enum class Auth { Waiting, Checking, Admitted };
    Auth auth_;
    const std::chrono::steady_clock::time_point created_ = std::chrono::steady_clock::now();
    std::int64_t sent_seq_ = -1;
    std::optional<std::pair<std::int64_t, Payload>> snapshot_;
    std::deque<Payload> control_;
    std::optional<std::pair<int, std::string>> close_;
    std::deque<std::chrono::steady_clock::time_point> recent_;  // client messages in the window
    std::map<std::string, std::uint64_t> ignored_;
    std::uint64_t sent_ = 0;
    int close_code_ = 1006;
    bool open_ = false;
    bool writing_ = false;
    bool closing_ = false;
    bool ended_ = false;
};

}  // namespace expstream
