#include "ws_stream.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <utility>

#include "expstream/protocol.hpp"
#include "expstream/snapshot.hpp"

namespace expstream {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;

namespace {
// Control messages (pongs, errors, lifecycle events) are few and small; past this many unsent, the
// oldest go (the Python transports keep the same bound: hub.CONTROL_QUEUE_LIMIT).
constexpr std::size_t kControlQueueLimit = 32;
}  // namespace

using namespace close_code;

WsStream::WsStream(StreamContext& context, net::ip::tcp::socket socket, Handover handover)
    : context_(context),
      ws_(std::move(socket)),
      id_(handover.id),
      experiment_id_(std::move(handover.experiment_id)),
      floor_(handover.after_seq),
      auth_(handover.authenticated ? Auth::Admitted : Auth::Waiting) {
    request_.method(http::verb::get);
    request_.target(handover.target);
    request_.version(11);
    for (auto& [name, value] : handover.headers) request_.insert(name, value);
}

void WsStream::start() {
    const StreamOptions& o = context_.options;
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = o.handshake_timeout;
    timeout.idle_timeout =
        o.idle_timeout.count() > 0 ? websocket::stream_base::duration(o.idle_timeout) : websocket::stream_base::none();
    timeout.keep_alive_pings = o.idle_timeout.count() > 0;
    ws_.set_option(timeout);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& response) { response.set(http::field::server, "expstream"); }));
    ws_.read_message_max(o.max_message_bytes);
    ws_.auto_fragment(false);
    ws_.async_accept(request_, [self = shared_from_this()](const beast::error_code& ec) { self->on_accept(ec); });
}

void WsStream::on_accept(const beast::error_code& ec) {
    if (ec) {
        // Beast answered a malformed upgrade itself (the route had checked it: rare).
        emit(context_.log, LogLevel::Info, kLogStreams, "upgrade refused: " + ec.message(), experiment_id_);
        end(kAbnormal);
        return;
    }
    open_ = true;
    read();
    pump();
}

void WsStream::read() {
    ws_.async_read(buffer_, [self = shared_from_this()](const beast::error_code& ec, std::size_t) { self->on_read(ec); });
}

void WsStream::on_read(const beast::error_code& ec) {
    if (ended_) return;
    if (ec) {
        if (ec == websocket::error::closed) {
            // The peer's close frame: an answer to ours, or its own.
            end(close_ && closing_ ? close_->first : (ws_.reason().code ? ws_.reason().code : kNoStatus));
        } else if (ec == websocket::error::message_too_big) {
            end(kTooBig);  // Beast sent the 1009 close itself
        } else {
            end(close_ && closing_ ? close_->first : kAbnormal);
        }
        return;
    }
    if (!close_) {
        if (over_rate_limit()) {
            request_close(kPolicy, "rate limit exceeded");
        } else if (auth_ == Auth::Waiting) {
            first_message(ws_.got_text() ? beast::buffers_to_string(buffer_.data()) : std::string());
        } else if (!ws_.got_text()) {
            ++ignored_["binary"];
        } else {
            handle(beast::buffers_to_string(buffer_.data()));
        }
    }
    buffer_.consume(buffer_.size());
    read();  // keep reading: the peer's close frame, pings and pongs come this way
}

bool WsStream::over_rate_limit() {
    const auto now = std::chrono::steady_clock::now();
    while (!recent_.empty() && recent_.front() <= now - context_.options.rate_limit_window) recent_.pop_front();
    recent_.push_back(now);
    return recent_.size() > context_.options.rate_limit_messages;
}

// The upgrade carried no token: the first message must be {"action":"auth","token":…}.
void WsStream::first_message(const std::string& text) {
    const ClientMessage m = parse_client_message(text, context_.options.max_message_bytes);
    if (m.action != ClientAction::Auth || m.token.empty()) {
        request_close(kUnauthorized, "authentication required");
        return;
    }
    auth_ = Auth::Checking;
    context_.on_auth(*this, m.token);
}

void WsStream::handle(const std::string& text) {
    const ClientMessage m = parse_client_message(text, context_.options.max_message_bytes);
    if (auth_ != Auth::Admitted) {
        ++ignored_["not_authenticated"];  // sent before the token was accepted
        return;
    }
    const bool ours = m.experiment_id.empty() || m.experiment_id == experiment_id_;
    switch (m.action) {
        case ClientAction::Ping:
            // pong_json() lives as long as the program: an owner-less pointer to it, no copy.
            offer_control(Payload(std::shared_ptr<void>(), &pong_json()));
            return;
        case ClientAction::Refresh:
            if (ours) {
                context_.request_snapshot(experiment_id_, id_, true);
                return;
            }
            break;
        case ClientAction::Resume:
            if (ours) {
                if (m.seq) floor_ = *m.seq;
                context_.request_snapshot(experiment_id_, id_, false);
                return;
            }
            break;
        default:
            break;
    }
    ++ignored_[m.error.empty() ? "not_applicable" : m.error];
}

void WsStream::offer_snapshot(std::int64_t seq, const Payload& payload) {
    // Never back in time, never a resumed client's old news; equal seq is a periodic refresh.
    if (ended_ || seq <= floor_ || seq < sent_seq_) return;
    if (snapshot_ && seq < snapshot_->first) return;
    snapshot_.emplace(seq, payload);
    pump();
}

void WsStream::offer_control(const Payload& payload) {
    if (ended_) return;
    if (control_.size() >= kControlQueueLimit) control_.pop_front();
    control_.push_back(payload);
    pump();
}

void WsStream::request_close(int code, std::string reason) {
    if (ended_ || close_) return;
    close_.emplace(code, std::move(reason));
    pump();
}

void WsStream::abort(int close_code) { end(close_code); }

void WsStream::pump() {
    if (!open_ || writing_ || closing_ || ended_) return;
    if (!control_.empty()) {
        Payload next = std::move(control_.front());
        control_.pop_front();
        write(std::move(next));
    } else if (snapshot_) {
        sent_seq_ = snapshot_->first;
        Payload next = std::move(snapshot_->second);
        snapshot_.reset();
        write(std::move(next));
    } else if (close_) {
        closing_ = true;
        mark_busy();  // the send timeout bounds our close frame and the peer's answer alike
        websocket::close_reason reason;
        reason.code = static_cast<std::uint16_t>(close_->first);
        reason.reason = close_->second;
        ws_.async_close(reason,
                        [self = shared_from_this()](const beast::error_code& ec) {
                            if (ec && !self->ended_) self->end(self->close_->first);
                            // Otherwise the pending read completes with `closed` once the peer answers.
                        });
    }
}

void WsStream::write(Payload payload) {
    writing_ = true;
    mark_busy();
    ws_.text(true);
    const net::const_buffer bytes(payload->data(), payload->size());
    ws_.async_write(bytes, [self = shared_from_this(), payload = std::move(payload)](const beast::error_code& ec,
                                                                                     std::size_t) { self->on_write(ec); });
}

void WsStream::on_write(const beast::error_code& ec) {
    writing_ = false;
    if (ended_) return;
    if (ec) {
        end(kAbnormal);
        return;
    }
    ++sent_;
    context_.messages_sent->fetch_add(1, std::memory_order_relaxed);
    pump();
}

void WsStream::check_deadline(std::chrono::steady_clock::time_point now) {
    if (ended_) return;
    if (auth_ == Auth::Waiting && now - created_ >= context_.options.auth_timeout) {
        request_close(kUnauthorized, "authentication required");
    }
    if (!(writing_ || closing_) || now - busy_since_ < context_.options.send_timeout) return;
    if (writing_) {
        // A reader too slow to take one message within the bound: drop it rather than buffer.
        end(kTryLater);
    } else {
        end(close_->first);  // our close frame went out; the peer never answered
    }
}

void WsStream::end(int close_code) {
    if (ended_) return;
    ended_ = true;
    close_code_ = close_code;
    snapshot_.reset();
    control_.clear();
    beast::error_code ignored;
    ws_.next_layer().close(ignored);  // the fd goes now, whatever is pending
    context_.on_end(*this);
}

StreamEvent WsStream::report() const {
    StreamEvent r;
    r.id = id_;
    r.close_code = close_code_;
    r.messages_sent = sent_;
    r.ignored.assign(ignored_.begin(), ignored_.end());
    return r;
}

}  // namespace expstream
