// Streams served by the core: a real TCP connection whose upgrade request was read by someone else
// (as uvicorn does), handed over, answered, streamed to and closed. A Beast client on the other end.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket.hpp>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "expstream/runtime.hpp"
#include "expstream/stream_server.hpp"

using namespace expstream;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr ConnectionId kId = kCoreServed | 7;
const std::string kExperiment = "e-1";

class StreamServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        registry = std::make_shared<Registry>();
        StreamOptions options;
        options.max_message_bytes = 64;
        server = std::make_unique<StreamServer>(options, registry, log,
                                                [this](const std::string& id, ConnectionId c, bool) {
                                                    std::lock_guard<std::mutex> lock(mutex);
                                                    asked.emplace_back(id, c);
                                                    changed.notify_all();
                                                });
    }

    // Connects a client whose upgrade request this side reads (as uvicorn would), then hands the
    // socket over; returns once the client's handshake got its 101.
    websocket::stream<tcp::socket> connect(bool authenticated = true) {
        tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
        websocket::stream<tcp::socket> client(io);
        client.next_layer().connect(acceptor.local_endpoint());
        tcp::socket accepted = acceptor.accept();
        std::thread handshake([&] { client.handshake("127.0.0.1", "/api/v1/ws/experiments/e-1/results"); });
        beast::flat_buffer buffer;
        http::request<http::string_body> request;
        http::read(accepted, buffer, request);
        Handover h;
        h.fd = ::dup(accepted.native_handle());
        h.id = kId;
        h.experiment_id = kExperiment;
        h.authenticated = authenticated;
        h.target = std::string(request.target());
        for (const auto& field : request) h.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
        accepted.close();  // ours only: the duplicate keeps the connection, as after uvicorn's abort
        server->adopt(std::move(h));
        handshake.join();
        return client;
    }

    void wait_asked(std::size_t n) {
        std::unique_lock<std::mutex> lock(mutex);
        ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return asked.size() >= n; }));
    }

    // Waits on the eventfd a stream event signals (the log sink's notifier), never on a sleep.
    std::vector<StreamEvent> wait_events() {
        std::vector<StreamEvent> all;
        while (all.empty()) {
            pollfd p{log->notifier().fd(), POLLIN, 0};
            if (::poll(&p, 1, 10'000) <= 0) break;  // nothing for 10 s: let the assertions say so
            log->notifier().clear();
            all = server->take_events();
        }
        return all;
    }

    static Delivery snapshot(std::int64_t seq) {
        Delivery d;
        d.kind = Delivery::Kind::Snapshot;
        d.experiment_id = kExperiment;
        d.seq = seq;
        d.payload = "{\"seq\":" + std::to_string(seq) + "}";
        return d;
    }

    static std::string read(websocket::stream<tcp::socket>& ws) {
        beast::flat_buffer b;
        ws.read(b);
        return beast::buffers_to_string(b.data());
    }

    net::io_context io;
    std::shared_ptr<LogSink> log = std::make_shared<LogSink>();
    std::shared_ptr<Registry> registry;
    std::unique_ptr<StreamServer> server;
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<std::pair<std::string, ConnectionId>> asked;
};

TEST_F(StreamServerTest, AHandedOverUpgradeIsAnsweredStreamedToAndClosed) {
    auto ws = connect();
    wait_asked(1);  // its first snapshot was asked for, for this stream
    EXPECT_EQ(asked[0], std::make_pair(kExperiment, kId));
    EXPECT_EQ(registry->subscriber_count(kExperiment), 1u);
    EXPECT_EQ(registry->python_served_count(kExperiment), 0u);

    server->deliver(snapshot(5));
    EXPECT_EQ(read(ws), "{\"seq\":5}");
    server->deliver(snapshot(4));  // older than what it has: never sent
    server->deliver(snapshot(6));
    EXPECT_EQ(read(ws), "{\"seq\":6}");

    ws.write(net::buffer(std::string("{\"action\":\"ping\"}")));
    EXPECT_EQ(read(ws), "{\"event\":\"pong\"}");
    ws.write(net::buffer(std::string("{\"action\":\"refresh\"}")));
    wait_asked(2);

    server->close(kId, 4404, "experiment not found", "{\"event\":\"error\"}");
    EXPECT_EQ(read(ws), "{\"event\":\"error\"}");
    beast::flat_buffer b;
    beast::error_code ec;
    ws.read(b, ec);
    EXPECT_EQ(ec, websocket::error::closed);
    EXPECT_EQ(ws.reason().code, 4404);

    const auto ended = wait_events();
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].id, kId);
    EXPECT_EQ(ended[0].close_code, 4404);
    EXPECT_EQ(ended[0].messages_sent, 4u);
    EXPECT_EQ(registry->subscriber_count(kExperiment), 0u);
    EXPECT_EQ(server->open_streams(), 0u);
}

TEST_F(StreamServerTest, AnOversizedMessageClosesWith1009AndIgnoredOnesAreCounted) {
    auto ws = connect();
    ws.write(net::buffer(std::string("{\"action\":\"dance\"}")));
    ws.binary(true);
    ws.write(net::buffer(std::string("\x01\x02", 2)));
    ws.text(true);
    ws.write(net::buffer(std::string(100, 'x')));  // over max_message_bytes (64)
    beast::flat_buffer b;
    beast::error_code ec;
    ws.read(b, ec);
    EXPECT_EQ(ec, websocket::error::closed);
    EXPECT_EQ(ws.reason().code, 1009);
    const auto ended = wait_events();
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].close_code, 1009);
    std::size_t ignored = 0;
    for (const auto& [reason, n] : ended[0].ignored) ignored += n;
    EXPECT_EQ(ignored, 2u);
}

TEST_F(StreamServerTest, AFirstMessageTokenIsHandedUpAndTheStreamSubscribesOnceAdmitted) {
    auto ws = connect(/*authenticated=*/false);
    EXPECT_EQ(registry->subscriber_count(kExperiment), 0u);  // not before its token is accepted
    ws.write(net::buffer(std::string("{\"action\":\"auth\",\"token\":\"t-1\"}")));
    const auto events = wait_events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, StreamEvent::Kind::Authenticate);
    EXPECT_EQ(events[0].id, kId);
    EXPECT_EQ(events[0].token, "t-1");
    {
        std::lock_guard<std::mutex> lock(mutex);
        EXPECT_TRUE(asked.empty());
    }
    server->admit(kId);
    wait_asked(1);
    EXPECT_EQ(registry->subscriber_count(kExperiment), 1u);
    server->deliver(snapshot(3));
    EXPECT_EQ(read(ws), "{\"seq\":3}");
}

TEST_F(StreamServerTest, AFirstMessageThatIsNotAuthClosesWith4401) {
    auto ws = connect(/*authenticated=*/false);
    ws.write(net::buffer(std::string("{\"action\":\"ping\"}")));
    beast::flat_buffer b;
    beast::error_code ec;
    ws.read(b, ec);
    EXPECT_EQ(ec, websocket::error::closed);
    EXPECT_EQ(ws.reason().code, 4401);
    const auto events = wait_events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, StreamEvent::Kind::Ended);
    EXPECT_EQ(events[0].close_code, 4401);
}

TEST_F(StreamServerTest, StopDropsOpenStreamsAndReleasesTheirSockets) {
    auto ws = connect();
    wait_asked(1);
    server->stop();
    beast::flat_buffer b;
    beast::error_code ec;
    ws.read(b, ec);
    EXPECT_TRUE(ec);  // the connection is gone
    EXPECT_EQ(registry->subscriber_count(kExperiment), 0u);
}

}  // namespace
