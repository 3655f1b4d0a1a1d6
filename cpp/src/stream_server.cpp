#include "expstream/stream_server.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "expstream/runtime.hpp"
#include "ws_stream.hpp"

namespace expstream {

namespace net = boost::asio;

struct StreamServer::Impl {
    Impl(StreamServer& owner, StreamOptions options, std::shared_ptr<Registry> registry,
         std::function<void(const std::string&, ConnectionId, bool fresh)> request_snapshot)
        : owner(owner), registry(std::move(registry)), work(net::make_work_guard(io)) {
        context.options = options;
        context.log = owner.log_;
        context.request_snapshot = std::move(request_snapshot);
        context.on_end = [this](WsStream& stream) { forget(stream); };
        context.on_auth = [this](WsStream& stream, std::string token) {
            StreamEvent e;
            e.kind = StreamEvent::Kind::Authenticate;
            e.id = stream.id();
            e.token = std::move(token);
            this->owner.events_.push(std::move(e));
        };
        context.messages_sent = &owner.messages_sent_;
        sweep_every = std::max(std::chrono::milliseconds(10), std::min(options.send_timeout, options.auth_timeout) / 4);
        arm_sweep();
        thread = std::thread([this] { run(); });
    }

    // The send (and first-message auth) timeout of every stream, checked a few times per timeout
    // (so a stalled reader goes between 1 and 1.25 timeouts after its write began).
    void arm_sweep() {
        sweep.expires_after(sweep_every);
        sweep.async_wait([this](const boost::system::error_code& ec) {
            if (ec) return;
            const auto now = std::chrono::steady_clock::now();
            for (auto& s : all_streams()) s->check_deadline(now);
            arm_sweep();
        });
    }

    // Every open stream, held: what is done to one may end it and erase it from by_id.
    std::vector<std::shared_ptr<WsStream>> all_streams() const {
        std::vector<std::shared_ptr<WsStream>> streams;
        streams.reserve(by_id.size());
        for (const auto& [id, s] : by_id) streams.push_back(s);
        return streams;
    }

    void run() {
        for (;;) {
            try {
                io.run();
                return;
            } catch (const std::exception& e) {
                // A handler threw: that stream is lost, the others carry on.
                emit(owner.log_, LogLevel::Error, kLogStreams, std::string("stream handler failed: ") + e.what());
            }
        }
    }

    // On the thread: the stream is over. Its registry entry and our maps go; Python hears of it.
    void forget(WsStream& stream) {
        auto it = by_id.find(stream.id());
        if (it == by_id.end()) return;
        std::shared_ptr<WsStream> keep = it->second;  // alive until its pending handlers return
        by_id.erase(it);
        auto& peers = by_experiment[stream.experiment_id()];
        peers.erase(stream.id());
        if (peers.empty()) by_experiment.erase(stream.experiment_id());
        if (stream.admitted()) registry->disconnect(stream.experiment_id(), stream.id());
        owner.open_.fetch_sub(1);
        owner.events_.push(stream.report());
    }

    StreamServer& owner;
    std::shared_ptr<Registry> registry;
    StreamContext context;
    net::io_context io{1};
    net::executor_work_guard<net::io_context::executor_type> work;
    net::steady_timer sweep{io};
    std::chrono::milliseconds sweep_every{1000};
    // Touched on the thread only.
    std::unordered_map<ConnectionId, std::shared_ptr<WsStream>> by_id;
    std::unordered_map<std::string, std::unordered_map<ConnectionId, WsStream*>> by_experiment;
    std::once_flag stopped;
    std::thread thread;  // last: started once everything above exists
};

StreamServer::StreamServer(StreamOptions options, std::shared_ptr<Registry> registry, std::shared_ptr<LogSink> log,
                           std::function<void(const std::string&, ConnectionId, bool fresh)> request_snapshot)
    : log_(log ? std::move(log) : std::make_shared<LogSink>()),
      events_(log_->notifier()),
      impl_(std::make_unique<Impl>(*this, options, std::move(registry), std::move(request_snapshot))) {}

StreamServer::~StreamServer() { stop(); }

void StreamServer::adopt(Handover handover) {
    if (handover.fd < 0 || !core_served(handover.id)) throw std::invalid_argument("adopt: a socket and a core-served id");
    if (impl_->context.options.send_buffer_bytes > 0) {
        // A fixed kernel send buffer: left to autotuning, a client that stops reading pins up to
        // tcp_wmem's maximum (4 MiB) long after the send timeout should have caught it.
        const int size = impl_->context.options.send_buffer_bytes;
        (void)::setsockopt(handover.fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    }
    open_.fetch_add(1);
    // Registered before the first snapshot is asked for, so the runtime counts it as a subscriber.
    if (handover.authenticated) impl_->registry->connect(handover.experiment_id, handover.id);
    net::post(impl_->io, [impl = impl_.get(), h = std::move(handover)]() mutable {
        boost::system::error_code ec;
        net::ip::tcp::socket socket(impl->io);
        socket.assign(net::ip::tcp::v6(), h.fd, ec);  // the protocol family only picks option levels
        if (ec) {
            ::close(h.fd);
            emit(impl->owner.log_, LogLevel::Error, kLogStreams, "cannot adopt a socket: " + ec.message(), h.experiment_id);
            if (h.authenticated) impl->registry->disconnect(h.experiment_id, h.id);
            impl->owner.open_.fetch_sub(1);
            StreamEvent ended;
            ended.id = h.id;
            ended.close_code = close_code::kAbnormal;
            impl->owner.events_.push(std::move(ended));
            return;
        }
        const ConnectionId id = h.id;
        const std::string experiment_id = h.experiment_id;
        const bool authenticated = h.authenticated;
        auto stream = std::make_shared<WsStream>(impl->context, std::move(socket), std::move(h));
        impl->by_id.emplace(id, stream);
        impl->by_experiment[experiment_id].emplace(id, stream.get());
        stream->start();
        if (authenticated) impl->context.request_snapshot(experiment_id, id, false);
    });
}

void StreamServer::admit(ConnectionId id) {
    net::post(impl_->io, [impl = impl_.get(), id] {
        auto it = impl->by_id.find(id);
        if (it == impl->by_id.end() || it->second->admitted()) return;  // gone meanwhile
        WsStream& s = *it->second;
        s.admit();
        impl->registry->connect(s.experiment_id(), id);
        impl->context.request_snapshot(s.experiment_id(), id, false);
    });
}

void StreamServer::deliver(const Delivery& d) {
    // One copy of the bytes for every stream of this node; each write references it.
    auto payload = std::make_shared<const std::string>(d.payload);
    net::post(impl_->io, [impl = impl_.get(), kind = d.kind, experiment_id = d.experiment_id, target = d.target,
                          seq = d.seq, payload = std::move(payload)] {
        auto offer = [&](WsStream& s) {
            switch (kind) {
                case Delivery::Kind::Snapshot:
                    s.offer_snapshot(seq, payload);
                    break;
                case Delivery::Kind::NotFound:
                    s.offer_control(payload);
                    s.request_close(close_code::kNotFound, "experiment not found");
                    break;
                case Delivery::Kind::Unavailable:
                case Delivery::Kind::Control:
                    s.offer_control(payload);
                    break;
            }
        };
        if (target != 0) {
            auto it = impl->by_id.find(target);
            if (it != impl->by_id.end() && it->second->experiment_id() == experiment_id) offer(*it->second);
            return;
        }
        auto it = impl->by_experiment.find(experiment_id);
        if (it == impl->by_experiment.end()) return;
        // offer() may end a stream (and erase it from this map): walk a copy of the pointers.
        std::vector<std::shared_ptr<WsStream>> streams;
        streams.reserve(it->second.size());
        for (auto& [id, s] : it->second) streams.push_back(s->shared_from_this());
        for (auto& s : streams) offer(*s);
    });
}

void StreamServer::close(ConnectionId id, int code, std::string reason, std::string message) {
    net::post(impl_->io, [impl = impl_.get(), id, code, reason = std::move(reason), message = std::move(message)]() mutable {
        auto it = impl->by_id.find(id);
        if (it == impl->by_id.end()) return;
        std::shared_ptr<WsStream> s = it->second;
        if (!message.empty()) s->offer_control(std::make_shared<const std::string>(std::move(message)));
        s->request_close(code, std::move(reason));
    });
}

void StreamServer::close_all(int code, std::string reason) {
    net::post(impl_->io, [impl = impl_.get(), code, reason = std::move(reason)] {
        for (auto& s : impl->all_streams()) s->request_close(code, reason);
    });
}

void StreamServer::stop() {
    std::call_once(impl_->stopped, [this] {
        net::post(impl_->io, [impl = impl_.get()] {
            for (auto& s : impl->all_streams()) s->abort(close_code::kAbnormal);
            impl->sweep.cancel();
            impl->io.stop();  // Beast's idle timers would otherwise keep run() going
        });
        impl_->work.reset();
        if (impl_->thread.joinable()) impl_->thread.join();
    });
}

}  // namespace expstream
