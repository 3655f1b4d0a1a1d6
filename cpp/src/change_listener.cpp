#include "change_listener.hpp"

#include <pqxx/pqxx>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>

#include "expstream/log.hpp"

namespace expstream {

namespace net = boost::asio;

namespace {
class Receiver : public pqxx::notification_receiver {
public:
    Receiver(pqxx::connection_base& c, const std::string& channel, const ChangeListener::OnPayload& f)
        : pqxx::notification_receiver(c, channel), f_(f) {}
    void operator()(const std::string& payload, int /*backend_pid*/) override { f_(payload); }

private:
    const ChangeListener::OnPayload& f_;
};
}  // namespace

struct ChangeListener::Link {
    Link(const Options& options, const OnPayload& on_payload) : conn(options.url) {
        {
            pqxx::nontransaction tx(conn);
            tx.exec("SET application_name = " + tx.quote(options.application_name));
        }
        receiver = std::make_unique<Receiver>(conn, options.channel, on_payload);  // sends LISTEN
    }
    ~Link() {
        conn.disconnect();  // first, so the receiver does not try UNLISTEN on a dead line
        receiver.reset();
    }
    pqxx::connection conn;
    std::unique_ptr<Receiver> receiver;
};

ChangeListener::ChangeListener(net::thread_pool& pool, Options options, OnPayload on_payload, OnConnect on_connect,
                               OnLost on_lost)
    : options_(std::move(options)),
      on_payload_(std::move(on_payload)),
      on_connect_(std::move(on_connect)),
      on_lost_(std::move(on_lost)),
      strand_(net::make_strand(pool.get_executor())),
      timer_(strand_) {}

ChangeListener::~ChangeListener() { teardown(); }

void ChangeListener::start() {
    net::post(strand_, [this] { connect(); });
}

// On the strand. Connecting blocks one pool thread briefly, which is what the pool is for.
void ChangeListener::connect() {
    try {
        link_ = std::make_unique<Link>(options_, on_payload_);
        socket_ = std::make_unique<net::posix::stream_descriptor>(strand_, link_->conn.sock());
    } catch (const std::exception& e) {
        teardown();
        retry();
        emit(options_.log, LogLevel::Warning, kLogListener,
             "cannot LISTEN for other processes' changes (next try in " + std::to_string(delay_.count()) +
                 " ms): " + e.what());
        return;
    }
    delay_ = std::chrono::milliseconds{0};
    backend_pid_ = link_->conn.backendpid();
    connected_ = true;
    if (ever_connected_) reconnects_.fetch_add(1);
    ever_connected_ = true;
    on_connect_();
    wait();
}

void ChangeListener::wait() {
    socket_->async_wait(net::posix::stream_descriptor::wait_read,
                        net::bind_executor(strand_, [this](const boost::system::error_code& ec) {
                            if (ec == net::error::operation_aborted) return;
                            try {
                                if (ec) throw pqxx::broken_connection(ec.message());
                                link_->conn.get_notifs();  // reads what arrived; throws when the server went away
                                if (!link_->conn.is_open()) throw pqxx::broken_connection("listener connection closed");
                            } catch (const std::exception& e) {
                                emit(options_.log, LogLevel::Warning, kLogListener,
                                     std::string("the LISTEN connection broke; reconnecting: ") + e.what());
                                teardown();
                                on_lost_();
                                retry();
                                return;
                            }
                            wait();
                        }));
}

void ChangeListener::teardown() {
    connected_ = false;
    backend_pid_ = 0;
    if (socket_) {
        socket_->release();  // the socket belongs to libpq: asio must not close it
        socket_.reset();
    }
    link_.reset();
}

void ChangeListener::retry() {
    delay_ = delay_.count() == 0 ? options_.retry_initial : std::min(delay_ * 2, options_.retry_max);
    timer_.expires_after(delay_);
    timer_.async_wait(net::bind_executor(strand_, [this](const boost::system::error_code& ec) {
        if (!ec) connect();
    }));
}

}  // namespace expstream
