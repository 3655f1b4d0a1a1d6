// loadgen: the one load generator every server in bench/ is driven by.
//
// Single-threaded epoll, raw sockets, no protocol library: it opens N WebSocket connections, answers
// pings, and counts frames without decoding them (RSV1/compressed frames are counted as well), so
// its own cost per delivered message is one read() share and a few header bytes of parsing.
//
// Modes (--mode):
//   fanout   N subscribers; R rounds: fire one HTTP trigger, wait until every subscriber has one more
//            message, record per-subscriber receipt times; gap; next round.
//   latency  N subscribers; ingest calls at a steady --rate; each message's "seq" tells which ingest
//            calls it covers (coalesced pushes cover several), latency = receipt - HTTP send time.
//   idle     N subscribers, connect, report, hold until told to close.
//   ingest   no subscribers; --batches HTTP POSTs of --batch conversion events, --http-conc in flight.
//            --bodies FILE sends FILE's lines instead (one request body per line, --batch events each):
//            events of any type and value, built by the runner.
// --header "Name: value" (repeatable) adds a header to every HTTP call (e.g. Authorization).
// --http-port P sends the HTTP calls (triggers, ingest) to another server on 127.0.0.1 than the one
// the subscribers are connected to (--port): two server processes on one database.
// In trigger bodies {i} is the round / call index and {cycle} the --cycle item i % size.
// --match-prefix P: only messages starting with P are deliveries (others, e.g. alerts, are counted
// as "other_messages"); without it every data message counts.
//
// With --control it prints {"event":"connected",...} when all subscribers hold their first message,
// waits for "go" on stdin, prints {"event":"result",...}, waits for "close" (or EOF), closes, exits.
// Output is JSON lines on stdout. Exit 0 ok, 2 the workload broke (lost messages, failed
// connections, HTTP errors, timeouts), 1 bad usage.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_self_s() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

[[noreturn]] void die_usage(const std::string& msg) {
    std::fprintf(stderr, "loadgen: %s\n", msg.c_str());
    std::exit(1);
}

struct Opts {
    std::string host = "127.0.0.1";
    int port = 0;
    int http_port = 0;  // HTTP calls; 0: --port
    std::string path = "/";
    std::string mode = "fanout";
    int conns = 0;
    int connect_concurrency = 200;
    // >0: subscribers connect from 127.0.0.2 .. 127.0.0.(1+K) in turn; one address has ~28k
    // ephemeral ports, so 50,000 subscribers need at least two.
    int source_ips = 0;
    bool offer_deflate = false;
    bool expect_initial = true;
    bool control = false;
    // fanout / latency: the HTTP call that makes the server push ({i} -> round or call index)
    std::string trigger_method = "POST";
    std::string trigger_path;
    std::string trigger_body;
    int rounds = 20;
    double gap_ms = 50;
    double round_timeout = 60;
    double connect_timeout = 240;
    // latency
    double rate = 4;
    int count = 40;
    double drain_timeout = 10;
    // ingest
    std::string ingest_path;
    int batch = 1000;
    int batches = 10;
    long users = 100000;
    int http_conc = 2;
    std::string prefix = "b";
    std::string bodies_file;           // ingest: request bodies, one per line (instead of conversions)
    std::vector<std::string> headers;  // extra HTTP request headers, "Name: value"
    std::vector<std::string> cycle;    // {cycle} in a trigger body -> cycle[i % size]
    std::string match_prefix;          // count only messages starting with this (others: "other")
};

Opts parse_args(int argc, char** argv) {
    Opts o;
    for (int i = 1; i < argc; ++i) {
        std::string k = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) die_usage("missing value for " + k);
            return argv[++i];
        };
        if (k == "--host") o.host = val();
        else if (k == "--port") o.port = std::stoi(val());
        else if (k == "--http-port") o.http_port = std::stoi(val());
        else if (k == "--path") o.path = val();
        else if (k == "--mode") o.mode = val();
        else if (k == "--conns") o.conns = std::stoi(val());
        else if (k == "--connect-concurrency") o.connect_concurrency = std::stoi(val());
        else if (k == "--source-ips") o.source_ips = std::stoi(val());
        else if (k == "--offer-deflate") o.offer_deflate = true;
        else if (k == "--no-initial") o.expect_initial = false;
        else if (k == "--control") o.control = true;
        else if (k == "--trigger-method") o.trigger_method = val();
        else if (k == "--trigger-path") o.trigger_path = val();
        else if (k == "--trigger-body") o.trigger_body = val();
        else if (k == "--rounds") o.rounds = std::stoi(val());
        else if (k == "--gap-ms") o.gap_ms = std::stod(val());
        else if (k == "--round-timeout") o.round_timeout = std::stod(val());
        else if (k == "--connect-timeout") o.connect_timeout = std::stod(val());
        else if (k == "--rate") o.rate = std::stod(val());
        else if (k == "--count") o.count = std::stoi(val());
        else if (k == "--drain-timeout") o.drain_timeout = std::stod(val());
        else if (k == "--ingest-path") o.ingest_path = val();
        else if (k == "--batch") o.batch = std::stoi(val());
        else if (k == "--batches") o.batches = std::stoi(val());
        else if (k == "--users") o.users = std::stol(val());
        else if (k == "--http-conc") o.http_conc = std::stoi(val());
        else if (k == "--prefix") o.prefix = val();
        else if (k == "--bodies") o.bodies_file = val();
        else if (k == "--header") o.headers.push_back(val());
        else if (k == "--match-prefix") o.match_prefix = val();
        else if (k == "--cycle") {
            std::string list = val();
            for (std::size_t b = 0, e; b <= list.size(); b = e + 1) {
                e = list.find(',', b);
                if (e == std::string::npos) e = list.size();
                o.cycle.push_back(list.substr(b, e - b));
            }
        }
        else die_usage("unknown option " + k);
    }
    if (o.port <= 0) die_usage("--port is required");
    if (o.http_port <= 0) o.http_port = o.port;
    return o;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
    return s;
}

std::string body_for(const Opts& o, long i) {
    std::string body = replace_all(o.trigger_body, "{i}", std::to_string(i));
    if (!o.cycle.empty()) body = replace_all(body, "{cycle}", o.cycle[static_cast<std::size_t>(i) % o.cycle.size()]);
    return body;
}

struct Stats {
    static double pct(std::vector<double> v, double p) {
        if (v.empty()) return NAN;
        std::sort(v.begin(), v.end());
        double rank = p / 100.0 * (v.size() - 1);
        std::size_t lo = static_cast<std::size_t>(std::floor(rank));
        std::size_t hi = std::min(lo + 1, v.size() - 1);
        return v[lo] + (v[hi] - v[lo]) * (rank - lo);
    }
};

std::string num(double v) {
    if (!std::isfinite(v)) return "null";
    char b[64];
    std::snprintf(b, sizeof b, "%.9g", v);
    return b;
}

int epfd = -1;
std::size_t g_prefix_len = 0;

struct Handler {
    virtual ~Handler() = default;
    virtual void on_event(uint32_t events) = 0;
};

void ep_ctl(int op, int fd, uint32_t events, Handler* h) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = h;
    if (epoll_ctl(epfd, op, fd, &ev) != 0 && op != EPOLL_CTL_DEL) {
        std::perror("epoll_ctl");
        std::exit(2);
    }
}

sockaddr_in server_addr(const Opts& o, int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, o.host.c_str(), &a.sin_addr) != 1) die_usage("--host must be an IPv4 address");
    return a;
}

void abortive_close(int fd) {
    // RST instead of FIN: no TIME_WAIT, so repeated 10k-connection runs never run out of ports.
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 client connection (keep-alive; reconnects when the server closes).
struct HttpConn : Handler {
    const Opts& o;
    int fd = -1;
    std::string out;
    std::size_t out_off = 0;
    std::string in;
    bool busy = false;
    bool want_out = false;
    double t_sent = 0;
    long tag = 0;
    std::function<void(HttpConn&, int status, const std::string& body)> on_done;
    std::function<void(HttpConn&, const std::string& err)> on_error;

    explicit HttpConn(const Opts& opts) : o(opts) {}
    ~HttpConn() override {
        if (fd >= 0) close(fd);
    }

    bool ensure_connected(std::string& err) {
        if (fd >= 0) return true;
        fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a = server_addr(o, o.http_port);
        if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            err = std::string("http connect: ") + std::strerror(errno);
            close(fd);
            fd = -1;
            return false;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        ep_ctl(EPOLL_CTL_ADD, fd, EPOLLIN, this);
        want_out = false;
        return true;
    }

    void drop() {
        if (fd < 0) return;
        ep_ctl(EPOLL_CTL_DEL, fd, 0, nullptr);
        close(fd);
        fd = -1;
        in.clear();
    }

    // Returns the send time; the request is written (or queued for EPOLLOUT) before returning.
    double request(const std::string& method, const std::string& path, const std::string& body, long t) {
        std::string err;
        if (!ensure_connected(err)) {
            on_error(*this, err);
            return 0;
        }
        out.clear();
        out_off = 0;
        out.reserve(body.size() + 256);
        out += method + " " + path + " HTTP/1.1\r\nHost: " + o.host + ":" + std::to_string(o.http_port) + "\r\n";
        for (const auto& h : o.headers) out += h + "\r\n";
        if (!body.empty() || method == "POST")
            out += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
        out += "\r\n";
        out += body;
        busy = true;
        tag = t;
        in.clear();
        t_sent = now_s();
        flush();
        return t_sent;
    }

    void flush() {
        while (out_off < out.size()) {
            ssize_t n = ::send(fd, out.data() + out_off, out.size() - out_off, MSG_NOSIGNAL);
            if (n > 0) {
                out_off += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (!want_out) {
                    ep_ctl(EPOLL_CTL_MOD, fd, EPOLLIN | EPOLLOUT, this);
                    want_out = true;
                }
                return;
            }
            fail(std::string("http send: ") + std::strerror(errno));
            return;
        }
        if (want_out) {
            ep_ctl(EPOLL_CTL_MOD, fd, EPOLLIN, this);
            want_out = false;
        }
    }

    void fail(const std::string& err) {
        const bool was_busy = busy;
        busy = false;
        drop();
        if (was_busy) on_error(*this, err);
    }

    // Tries to parse one complete response out of `in`.
    bool try_complete(bool eof) {
        std::size_t hdr_end = in.find("\r\n\r\n");
        if (hdr_end == std::string::npos) return false;
        int status = 0;
        if (in.compare(0, 5, "HTTP/") != 0 || std::sscanf(in.c_str(), "HTTP/%*s %d", &status) != 1) {
            fail("bad http response");
            return true;
        }
        std::string headers = in.substr(0, hdr_end);
        std::string lower = headers;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        const bool close_after = lower.find("\r\nconnection: close") != std::string::npos;
        std::string body;
        std::size_t cl_pos = lower.find("\r\ncontent-length:");
        std::size_t body_start = hdr_end + 4;
        if (cl_pos != std::string::npos) {
            std::size_t len = std::strtoul(lower.c_str() + cl_pos + 17, nullptr, 10);
            if (in.size() < body_start + len) return false;
            body = in.substr(body_start, len);
        } else if (lower.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
            std::size_t pos = body_start;
            for (;;) {
                std::size_t le = in.find("\r\n", pos);
                if (le == std::string::npos) return false;
                std::size_t clen = std::strtoul(in.c_str() + pos, nullptr, 16);
                if (clen == 0) {
                    if (in.find("\r\n\r\n", le) == std::string::npos && in.compare(le, 4, "\r\n\r\n") != 0) return false;
                    break;
                }
                if (in.size() < le + 2 + clen + 2) return false;
                body += in.substr(le + 2, clen);
                pos = le + 2 + clen + 2;
            }
        } else {
            if (!eof) return false;  // body until close
            body = in.substr(body_start);
        }
        busy = false;
        if (close_after || eof) drop();
        in.clear();
        on_done(*this, status, body);
        return true;
    }

    void on_event(uint32_t events) override {
        if (events & EPOLLOUT) flush();
        if (fd < 0) return;
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            char buf[65536];
            for (;;) {
                ssize_t n = ::recv(fd, buf, sizeof buf, 0);
                if (n > 0) {
                    in.append(buf, static_cast<std::size_t>(n));
                    if (busy) try_complete(false);
                    if (fd < 0) return;
                    continue;
                }
                if (n == 0) {
                    if (busy && !try_complete(true)) fail("http connection closed before the response");
                    else drop();
                    return;
                }
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;
                fail(std::string("http recv: ") + std::strerror(errno));
                return;
            }
        }
    }
};

// ---------------------------------------------------------------------------------------------
struct WsConn;

struct Ctx {
    Opts o;
    std::vector<std::unique_ptr<WsConn>> conns;
    int open = 0;           // handshakes completed and still open
    int ready = 0;          // open and holding their first message (or open, with --no-initial)
    int failed = 0;         // connect/handshake failures and unexpected closes
    int in_flight = 0;      // connecting, not yet ready
    int next_to_start = 0;
    std::string first_error;
    enum Phase { Connecting, Connected, Running, Finished } phase = Connecting;
    bool closing = false;
    bool broken = false;
    // fanout
    int round = 0;          // current round, 1-based; 0 before the first
    double t_trigger = 0;
    int recv_in_round = 0;
    bool trigger_answered = true;
    bool round_complete = true;
    double next_trigger_at = 0;
    double round_deadline = 0;
    std::vector<double> deliveries;   // every (round, subscriber) receipt delay
    std::vector<double> round_last;   // per round: trigger -> last subscriber
    std::vector<double> round_first;
    long extras = 0;                  // data messages beyond the expected ones
    long other_messages = 0;          // not matching --match-prefix
    long pings = 0;
    // latency
    long seq0 = -1;
    bool seq0_mixed = false;
    std::vector<double> call_sent;    // send time of ingest call k
    std::vector<double> call_last;    // latest receipt among subscribers for call k
    std::vector<int> call_receipts;
    std::vector<double> lat_samples;
    int calls_sent = 0;
    int calls_answered = 0;
    double start_at = 0;
    long unexpected_seq = 0;
    double drain_deadline = 0;
    // ingest
    std::vector<std::string> bodies;
    int next_body = 0;
    int batches_done = 0;
    std::vector<double> batch_times;
    std::vector<double> batch_done;   // completion time of each call, seconds after "go"
    double ingest_t0 = 0, ingest_t1 = 0;
    // timing and cpu
    double t_connect_start = 0, t_connected = 0, t_go = 0, t_end = 0;
    double cpu_go = 0, cpu_end = 0;
    std::vector<std::unique_ptr<HttpConn>> http;
    std::string stdin_buf;

    void error(const std::string& e) {
        if (first_error.empty()) first_error = e;
        broken = true;
    }
    void start_more();
    void maybe_connected();
    void on_message(WsConn& c, double t);
    void on_conn_closed(WsConn& c, const std::string& why);
    void tick(double t);
    void begin_run();
    void finish_run();
    void print_connected();
    void print_result();
    HttpConn* idle_http();
};

Ctx* g = nullptr;

struct WsConn : Handler {
    int idx = 0;
    int fd = -1;
    enum State { Connecting, Handshake, Open, Closed } state = Connecting;
    std::string hs;  // handshake response bytes
    // frame parser
    unsigned char hdr[14]{};
    int hlen = 0, hneed = 2;
    bool in_payload = false;
    uint64_t left = 0;
    unsigned char op = 0;
    bool fin = false;
    std::string ctl;
    std::string msg;
    std::string head;  // first bytes of the current data message, for --match-prefix
    bool keep_payload = false;
    bool got_initial = false;
    bool counted_ready = false;
    long msgs = 0;
    long covered_seq = -1;
    std::string out;
    bool want_out = false;

    void start(const sockaddr_in& a) {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            g->error(std::string("socket: ") + std::strerror(errno));
            state = Closed;
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (g->o.source_ips > 0) {
            static unsigned next_source = 0;
            sockaddr_in src{};
            src.sin_family = AF_INET;
            src.sin_addr.s_addr = htonl(0x7f000002u + next_source++ % static_cast<unsigned>(g->o.source_ips));
            // The port is chosen at connect(), per destination: bind() alone would take one per address.
            setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            if (bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) != 0) {
                closed(std::string("bind: ") + std::strerror(errno));
                return;
            }
        }
        int r = connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
        if (r != 0 && errno != EINPROGRESS) {
            closed(std::string("connect: ") + std::strerror(errno));
            return;
        }
        ep_ctl(EPOLL_CTL_ADD, fd, EPOLLOUT | EPOLLIN, this);
        want_out = true;
    }

    void send_raw(const char* data, std::size_t len) {
        if (state == Closed) return;
        if (!out.empty()) {
            out.append(data, len);
            return;
        }
        ssize_t n = ::send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                closed(std::string("send: ") + std::strerror(errno));
                return;
            }
            n = 0;
        }
        if (static_cast<std::size_t>(n) < len) {
            out.append(data + n, len - static_cast<std::size_t>(n));
            if (!want_out) {
                ep_ctl(EPOLL_CTL_MOD, fd, EPOLLIN | EPOLLOUT, this);
                want_out = true;
            }
        }
    }

    void send_frame(unsigned char opcode, const std::string& payload) {
        // Client frames are masked (RFC 6455 5.3); control payloads are < 126 bytes.
        static std::mt19937 rng(12345);
        std::string f;
        f += static_cast<char>(0x80 | opcode);
        const std::size_t n = payload.size();
        if (n < 126) {
            f += static_cast<char>(0x80 | n);
        } else {
            f += static_cast<char>(0x80 | 126);
            f += static_cast<char>((n >> 8) & 0xFF);
            f += static_cast<char>(n & 0xFF);
        }
        uint32_t m = rng();
        unsigned char mask[4] = {static_cast<unsigned char>(m), static_cast<unsigned char>(m >> 8),
                                 static_cast<unsigned char>(m >> 16), static_cast<unsigned char>(m >> 24)};
        f.append(reinterpret_cast<char*>(mask), 4);
        for (std::size_t i = 0; i < n; ++i) f += static_cast<char>(payload[i] ^ mask[i & 3]);
        send_raw(f.data(), f.size());
    }

    void closed(const std::string& why) {
        if (state == Closed) return;
        const State was = state;
        state = Closed;
        if (fd >= 0) {
            ep_ctl(EPOLL_CTL_DEL, fd, 0, nullptr);
            abortive_close(fd);
            fd = -1;
        }
        if (was == Open) --g->open;
        g->on_conn_closed(*this, why);
    }

    void on_handshake_sent() {
        const Opts& o = g->o;
        std::string req = "GET " + o.path + " HTTP/1.1\r\nHost: " + o.host + ":" + std::to_string(o.port) +
                          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n";
        if (o.offer_deflate) req += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
        req += "\r\n";
        state = Handshake;
        send_raw(req.data(), req.size());
    }

    void finish_frame(double t) {
        in_payload = false;
        hlen = 0;
        hneed = 2;
        if (op >= 0x8) {
            if (op == 0x9) {  // ping -> pong
                ++g->pings;
                send_frame(0xA, ctl);
            } else if (op == 0x8) {
                ctl.clear();
                closed("server closed the websocket");
                return;
            }
            ctl.clear();
            return;
        }
        if (fin) {
            g->on_message(*this, t);
            msg.clear();
            head.clear();
        }
    }

    void feed(const unsigned char* p, const unsigned char* end, double t) {
        while (p < end && state == Open) {
            if (!in_payload) {
                while (hlen < hneed && p < end) {
                    hdr[hlen++] = *p++;
                    if (hlen == 2) {
                        const unsigned len7 = hdr[1] & 0x7F;
                        hneed = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((hdr[1] & 0x80) ? 4 : 0);
                    }
                }
                if (hlen < hneed) return;
                fin = (hdr[0] & 0x80) != 0;
                op = hdr[0] & 0x0F;
                const unsigned len7 = hdr[1] & 0x7F;
                if (hdr[1] & 0x80) {
                    closed("server sent a masked frame");
                    return;
                }
                if (len7 < 126) {
                    left = len7;
                } else if (len7 == 126) {
                    left = (static_cast<uint64_t>(hdr[2]) << 8) | hdr[3];
                } else {
                    left = 0;
                    for (int i = 0; i < 8; ++i) left = (left << 8) | hdr[2 + i];
                }
                in_payload = true;
                if (left == 0) {
                    finish_frame(t);
                    continue;
                }
            }
            const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(left, static_cast<uint64_t>(end - p)));
            if (op >= 0x8) {
                ctl.append(reinterpret_cast<const char*>(p), n);
            } else {
                if (keep_payload) msg.append(reinterpret_cast<const char*>(p), n);
                const std::size_t want = g_prefix_len;
                if (head.size() < want) head.append(reinterpret_cast<const char*>(p), std::min(n, want - head.size()));
            }
            p += n;
            left -= n;
            if (left == 0) finish_frame(t);
        }
    }

    void on_event(uint32_t events) override {
        if (state == Closed) return;
        if (events & EPOLLOUT) {
            if (state == Connecting) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0) {
                    closed(std::string("connect: ") + std::strerror(err));
                    return;
                }
                ep_ctl(EPOLL_CTL_MOD, fd, EPOLLIN, this);
                want_out = false;
                on_handshake_sent();
            } else {
                while (!out.empty()) {
                    ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
                    if (n > 0) {
                        out.erase(0, static_cast<std::size_t>(n));
                        continue;
                    }
                    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
                    closed(std::string("send: ") + std::strerror(errno));
                    return;
                }
                if (out.empty() && want_out) {
                    ep_ctl(EPOLL_CTL_MOD, fd, EPOLLIN, this);
                    want_out = false;
                }
            }
        }
        if (state == Closed || state == Connecting) return;
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            unsigned char buf[65536];
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            const double t = now_s();
            if (n == 0) {
                closed("server closed the connection");
                return;
            }
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;
                closed(std::string("recv: ") + std::strerror(errno));
                return;
            }
            if (state == Handshake) {
                hs.append(reinterpret_cast<char*>(buf), static_cast<std::size_t>(n));
                std::size_t e = hs.find("\r\n\r\n");
                if (e == std::string::npos) {
                    if (hs.size() > 16384) closed("handshake response too large");
                    return;
                }
                if (hs.compare(0, 12, "HTTP/1.1 101") != 0) {
                    closed("handshake refused: " + hs.substr(0, hs.find("\r\n")));
                    return;
                }
                state = Open;
                ++g->open;
                std::string rest = hs.substr(e + 4);
                hs.clear();
                hs.shrink_to_fit();
                if (!g->o.expect_initial) {
                    counted_ready = true;
                    --g->in_flight;
                    ++g->ready;
                    g->maybe_connected();
                }
                if (!rest.empty())
                    feed(reinterpret_cast<const unsigned char*>(rest.data()),
                         reinterpret_cast<const unsigned char*>(rest.data()) + rest.size(), t);
                return;
            }
            feed(buf, buf + n, t);
        }
    }
};

HttpConn* Ctx::idle_http() {
    for (auto& h : http)
        if (!h->busy) return h.get();
    return nullptr;
}

void Ctx::start_more() {
    static const sockaddr_in a = server_addr(o, o.port);
    while (next_to_start < o.conns && in_flight < o.connect_concurrency) {
        auto& c = conns[static_cast<std::size_t>(next_to_start++)];
        ++in_flight;
        c->start(a);
    }
}

void Ctx::maybe_connected() {
    if (phase != Connecting) return;
    start_more();
    if (ready + failed < o.conns) return;
    if (failed > 0) error(std::to_string(failed) + " of " + std::to_string(o.conns) + " connections failed: " + first_error);
    phase = Connected;
    t_connected = now_s();
    print_connected();
    if (!o.control) begin_run();
}

void Ctx::on_conn_closed(WsConn& c, const std::string& why) {
    if (closing) return;
    if (!c.counted_ready) {
        // Failed before it was ready.
        ++failed;
        --in_flight;
        if (first_error.empty()) first_error = why;
        maybe_connected();
        return;
    }
    ++failed;
    error("connection " + std::to_string(c.idx) + " lost: " + why);
}

void Ctx::on_message(WsConn& c, double t) {
    if (!o.match_prefix.empty() && c.head.compare(0, o.match_prefix.size(), o.match_prefix) != 0) {
        ++other_messages;
        return;
    }
    ++c.msgs;
    long seq = -1;
    if (o.mode == "latency") {
        std::size_t p = c.msg.rfind("\"seq\":");
        if (p != std::string::npos) seq = std::strtol(c.msg.c_str() + p + 6, nullptr, 10);
    }
    if (!c.got_initial && o.expect_initial) {
        c.got_initial = true;
        c.counted_ready = true;
        ++ready;
        --in_flight;
        if (o.mode == "latency") {
            if (seq0 >= 0 && seq != seq0) seq0_mixed = true;
            seq0 = std::max(seq0, seq);
            c.covered_seq = seq;
        }
        maybe_connected();
        return;
    }
    if (phase != Running) {
        ++extras;
        return;
    }
    if (o.mode == "fanout") {
        const long expected = (o.expect_initial ? 1 : 0) + round;
        if (c.msgs == expected) {
            deliveries.push_back(t - t_trigger);
            if (++recv_in_round == open) {
                round_complete = true;
                round_last.push_back(t - t_trigger);
                next_trigger_at = t + o.gap_ms / 1000.0;
            }
        } else {
            ++extras;
        }
    } else if (o.mode == "latency") {
        if (seq < 0) {
            ++extras;
            return;
        }
        if (seq > seq0 + calls_sent) ++unexpected_seq;
        for (long s = std::max(c.covered_seq, seq0) + 1; s <= seq && s <= seq0 + calls_sent; ++s) {
            const std::size_t k = static_cast<std::size_t>(s - seq0 - 1);
            const double d = t - call_sent[k];
            lat_samples.push_back(d);
            call_last[k] = std::max(call_last[k], d);
            ++call_receipts[k];
        }
        c.covered_seq = std::max(c.covered_seq, seq);
    } else {
        ++extras;
    }
}

void Ctx::begin_run() {
    phase = Running;
    t_go = now_s();
    cpu_go = cpu_self_s();
    if (o.mode == "fanout") {
        next_trigger_at = t_go;
        round = 0;
    } else if (o.mode == "latency") {
        start_at = t_go;
        call_sent.assign(static_cast<std::size_t>(o.count), 0);
        call_last.assign(static_cast<std::size_t>(o.count), 0);
        call_receipts.assign(static_cast<std::size_t>(o.count), 0);
        if (seq0_mixed) error("subscribers started at different seq values");
    } else if (o.mode == "ingest") {
        ingest_t0 = t_go;
        for (auto& h : http) {
            if (next_body >= static_cast<int>(bodies.size())) break;
            const int b = next_body++;
            h->request("POST", o.ingest_path, bodies[static_cast<std::size_t>(b)], b);
        }
    } else {
        finish_run();
    }
}

void Ctx::finish_run() {
    if (phase == Finished) return;
    phase = Finished;
    t_end = now_s();
    cpu_end = cpu_self_s();
    print_result();
    if (!o.control) closing = true;
}

void Ctx::tick(double t) {
    if (phase == Connecting) {
        if (t - t_connect_start > o.connect_timeout) {
            error("timed out connecting: " + std::to_string(ready) + " of " + std::to_string(o.conns) + " ready");
            phase = Connected;
            print_connected();
            closing = true;
        }
        return;
    }
    if (phase != Running || broken) {
        if (phase == Running && broken) finish_run();
        return;
    }
    if (o.mode == "fanout") {
        if (!round_complete && t > round_deadline) {
            error("round " + std::to_string(round) + ": only " + std::to_string(recv_in_round) + " of " +
                  std::to_string(open) + " subscribers got the message within " + num(o.round_timeout) + " s");
            finish_run();
            return;
        }
        if (round_complete && trigger_answered) {
            if (round >= o.rounds) {
                finish_run();
                return;
            }
            if (t >= next_trigger_at) {
                ++round;
                round_complete = false;
                trigger_answered = false;
                recv_in_round = 0;
                std::string body = body_for(o, round);
                t_trigger = http[0]->request(o.trigger_method, o.trigger_path, body, round);
                round_deadline = t_trigger + o.round_timeout;
            }
        }
    } else if (o.mode == "latency") {
        while (calls_sent < o.count && t >= start_at + calls_sent / o.rate) {
            HttpConn* h = idle_http();
            if (!h) {
                if (http.size() >= 8) break;  // all busy: the call goes out late, and is timed from then
                http.push_back(std::make_unique<HttpConn>(o));
                http.back()->on_done = http[0]->on_done;
                http.back()->on_error = http[0]->on_error;
                h = http.back().get();
            }
            const int k = calls_sent;
            std::string body = body_for(o, k);
            call_sent[static_cast<std::size_t>(k)] = h->request(o.trigger_method, o.trigger_path, body, k);
            ++calls_sent;
            if (calls_sent == o.count) drain_deadline = t + o.drain_timeout;
        }
        if (calls_sent == o.count && calls_answered == o.count) {
            bool all = true;
            for (int k = 0; k < o.count && all; ++k) all = call_receipts[static_cast<std::size_t>(k)] >= open;
            if (all) {
                finish_run();
                return;
            }
        }
        if (calls_sent == o.count && t > drain_deadline) {
            long missing = 0;
            for (int k = 0; k < o.count; ++k) missing += open - call_receipts[static_cast<std::size_t>(k)];
            error(std::to_string(missing) + " (call, subscriber) receipts missing " + num(o.drain_timeout) +
                  " s after the last call");
            finish_run();
        }
    }
}

std::string json_array(const std::vector<double>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) s += ',';
        s += num(v[i]);
    }
    return s + "]";
}

void Ctx::print_connected() {
    std::printf("{\"event\":\"connected\",\"conns\":%d,\"ready\":%d,\"failed\":%d,\"connect_seconds\":%s,\"error\":%s}\n",
                o.conns, ready, failed, num(now_s() - t_connect_start).c_str(),
                first_error.empty() ? "null" : ("\"" + replace_all(first_error, "\"", "'") + "\"").c_str());
    std::fflush(stdout);
}

void Ctx::print_result() {
    std::string r = "{\"event\":\"result\",\"mode\":\"" + o.mode + "\",\"conns\":" + std::to_string(o.conns) +
                    ",\"open\":" + std::to_string(open) + ",\"ok\":" + (broken ? "false" : "true") +
                    ",\"error\":" + (first_error.empty() ? "null" : "\"" + replace_all(first_error, "\"", "'") + "\"") +
                    ",\"wall_seconds\":" + num(t_end - t_go) + ",\"loadgen_cpu_seconds\":" + num(cpu_end - cpu_go) +
                    ",\"extras\":" + std::to_string(extras) + ",\"other_messages\":" + std::to_string(other_messages) + ",\"pings_answered\":" + std::to_string(pings);
    if (o.mode == "fanout") {
        double busy = 0;
        for (double x : round_last) busy += x;
        r += ",\"rounds\":" + std::to_string(round_last.size()) + ",\"deliveries\":" + std::to_string(deliveries.size()) +
             ",\"round_last_seconds\":" + json_array(round_last) +
             ",\"last_p50\":" + num(Stats::pct(round_last, 50)) + ",\"last_p99\":" + num(Stats::pct(round_last, 99)) +
             ",\"delivery_p50\":" + num(Stats::pct(deliveries, 50)) + ",\"delivery_p99\":" + num(Stats::pct(deliveries, 99)) +
             ",\"busy_seconds\":" + num(busy) +
             ",\"deliveries_per_second\":" + num(busy > 0 ? deliveries.size() / busy : NAN);
    } else if (o.mode == "latency") {
        r += ",\"calls\":" + std::to_string(calls_sent) + ",\"samples\":" + std::to_string(lat_samples.size()) +
             ",\"unexpected_seq\":" + std::to_string(unexpected_seq) + ",\"seq0\":" + std::to_string(seq0) +
             ",\"p50\":" + num(Stats::pct(lat_samples, 50)) + ",\"p90\":" + num(Stats::pct(lat_samples, 90)) +
             ",\"p99\":" + num(Stats::pct(lat_samples, 99)) +
             ",\"max\":" + num(lat_samples.empty() ? NAN : *std::max_element(lat_samples.begin(), lat_samples.end())) +
             ",\"last_p50\":" + num(Stats::pct(call_last, 50)) + ",\"last_p99\":" + num(Stats::pct(call_last, 99));
    } else if (o.mode == "ingest") {
        const double wall = ingest_t1 - ingest_t0;
        const long events = static_cast<long>(batches_done) * o.batch;
        r += ",\"batches\":" + std::to_string(batches_done) + ",\"batch\":" + std::to_string(o.batch) +
             ",\"events\":" + std::to_string(events) + ",\"ingest_seconds\":" + num(wall) +
             ",\"events_per_second\":" + num(wall > 0 ? events / wall : NAN) +
             ",\"batch_p50\":" + num(Stats::pct(batch_times, 50)) + ",\"batch_p99\":" + num(Stats::pct(batch_times, 99)) +
             ",\"batch_seconds\":" + json_array(batch_times) + ",\"batch_done_seconds\":" + json_array(batch_done);
    }
    r += "}";
    std::printf("%s\n", r.c_str());
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    Ctx ctx;
    g = &ctx;
    ctx.o = parse_args(argc, argv);
    Opts& o = ctx.o;
    if (o.mode != "fanout" && o.mode != "latency" && o.mode != "idle" && o.mode != "ingest") die_usage("bad --mode");
    g_prefix_len = o.match_prefix.size();
    if ((o.mode == "fanout" || o.mode == "latency") && o.trigger_path.empty()) die_usage("--trigger-path is required");
    if (o.mode == "ingest") {
        if (o.ingest_path.empty()) die_usage("--ingest-path is required");
        o.conns = 0;
    }
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (static_cast<rlim_t>(o.conns) + 64 > rl.rlim_cur) die_usage("RLIMIT_NOFILE too low for --conns");

    epfd = epoll_create1(0);
    auto on_done = [](HttpConn& h, int status, const std::string& body) {
        if (status < 200 || status >= 300) {
            g->error("HTTP " + std::to_string(status) + " from " + g->o.trigger_path + g->o.ingest_path + ": " + body.substr(0, 200));
        }
        if (g->o.mode == "fanout") {
            g->trigger_answered = true;
        } else if (g->o.mode == "latency") {
            ++g->calls_answered;
        } else if (g->o.mode == "ingest") {
            const double t = now_s();
            g->batch_times.push_back(t - h.t_sent);
            g->batch_done.push_back(t - g->ingest_t0);
            ++g->batches_done;
            if (g->next_body < static_cast<int>(g->bodies.size())) {
                const int b = g->next_body++;
                h.request("POST", g->o.ingest_path, g->bodies[static_cast<std::size_t>(b)], b);
            } else if (g->batches_done == static_cast<int>(g->bodies.size())) {
                g->ingest_t1 = t;
                g->finish_run();
            }
        }
    };
    auto on_error = [](HttpConn&, const std::string& err) {
        g->error(err);
        if (g->phase == Ctx::Running) {
            if (g->o.mode == "ingest") g->ingest_t1 = now_s();
            g->finish_run();
        }
    };
    const int nhttp = o.mode == "ingest" ? std::max(1, o.http_conc) : 1;
    for (int i = 0; i < nhttp; ++i) {
        ctx.http.push_back(std::make_unique<HttpConn>(o));
        ctx.http.back()->on_done = on_done;
        ctx.http.back()->on_error = on_error;
    }
    if (o.mode == "ingest" && !o.bodies_file.empty()) {
        // The runner's bodies, read before the clock starts; --batches is how many lines there are.
        std::FILE* f = std::fopen(o.bodies_file.c_str(), "rb");
        if (!f) die_usage("cannot open --bodies " + o.bodies_file);
        std::string line;
        for (int ch; (ch = std::fgetc(f)) != EOF;) {
            if (ch != '\n') {
                line += static_cast<char>(ch);
            } else if (!line.empty()) {
                ctx.bodies.push_back(std::move(line));
                line.clear();
            }
        }
        if (!line.empty()) ctx.bodies.push_back(std::move(line));
        std::fclose(f);
        if (ctx.bodies.empty()) die_usage("--bodies " + o.bodies_file + " has no lines");
        o.batches = static_cast<int>(ctx.bodies.size());
    } else if (o.mode == "ingest") {
        // Bodies are built before the clock starts: conversion events with unique event ids.
        ctx.bodies.reserve(static_cast<std::size_t>(o.batches));
        long n = 0;
        for (int b = 0; b < o.batches; ++b) {
            std::string s = "{\"events\":[";
            s.reserve(static_cast<std::size_t>(o.batch) * 72 + 16);
            for (int j = 0; j < o.batch; ++j, ++n) {
                if (j) s += ',';
                s += "{\"user_id\":\"u" + std::to_string(n % o.users) + "\",\"type\":\"conversion\",\"event_id\":\"" +
                     o.prefix + "-" + std::to_string(n) + "\"}";
            }
            s += "]}";
            ctx.bodies.push_back(std::move(s));
        }
    }

    ctx.conns.reserve(static_cast<std::size_t>(o.conns));
    for (int i = 0; i < o.conns; ++i) {
        ctx.conns.push_back(std::make_unique<WsConn>());
        ctx.conns.back()->idx = i;
        ctx.conns.back()->keep_payload = o.mode == "latency";
    }
    // stdin: control commands
    struct StdinHandler : Handler {
        void on_event(uint32_t) override {
            char buf[256];
            ssize_t n = read(0, buf, sizeof buf);
            if (n <= 0) {
                ep_ctl(EPOLL_CTL_DEL, 0, 0, nullptr);
                g->closing = true;
                return;
            }
            g->stdin_buf.append(buf, static_cast<std::size_t>(n));
            std::size_t nl;
            while ((nl = g->stdin_buf.find('\n')) != std::string::npos) {
                std::string line = g->stdin_buf.substr(0, nl);
                g->stdin_buf.erase(0, nl + 1);
                if (line == "go" && g->phase == Ctx::Connected) g->begin_run();
                else if (line == "close") g->closing = true;
            }
        }
    } stdin_handler;
    if (o.control) ep_ctl(EPOLL_CTL_ADD, 0, EPOLLIN, &stdin_handler);

    ctx.t_connect_start = now_s();
    if (o.conns == 0) {
        ctx.maybe_connected();
    } else {
        ctx.start_more();
    }
    std::vector<epoll_event> events(1024);
    while (!ctx.closing) {
        int timeout_ms = 5;
        if (ctx.phase == Ctx::Connected) timeout_ms = 100;
        int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()), timeout_ms);
        if (n < 0 && errno != EINTR) {
            std::perror("epoll_wait");
            return 2;
        }
        for (int i = 0; i < n; ++i) static_cast<Handler*>(events[static_cast<std::size_t>(i)].data.ptr)->on_event(events[static_cast<std::size_t>(i)].events);
        ctx.tick(now_s());
        if (!o.control && ctx.phase == Ctx::Finished) break;
    }
    ctx.closing = true;
    for (auto& c : ctx.conns)
        if (c->fd >= 0) abortive_close(c->fd);
    std::printf("{\"event\":\"closed\"}\n");
    std::fflush(stdout);
    return ctx.broken ? 2 : 0;
}
