// floor: the practical limit of a WebSocket fan-out on this machine.
//
// One thread, epoll. It does the RFC 6455 handshake, then sends each subscriber the snapshot bytes
// framed once in advance (one text frame, built at start): a broadcast is one write() per socket
// and nothing else. Any HTTP request that is not an upgrade (e.g. GET /trigger) broadcasts and is
// answered "200 ok" on a keep-alive connection. What clients send (pongs, closes) is read and
// dropped; the server never pings.
//
// usage: floor_server --port P --payload FILE [--host 127.0.0.1]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

// --- SHA-1 (FIPS 180-1), only for Sec-WebSocket-Accept --------------------------------------------
std::string sha1(const std::string& msg) {
    uint32_t h0 = 0x67452301, h1 = 0xEFCDAB89, h2 = 0x98BADCFE, h3 = 0x10325476, h4 = 0xC3D2E1F0;
    std::string m = msg;
    const uint64_t bits = static_cast<uint64_t>(msg.size()) * 8;
    m += static_cast<char>(0x80);
    while (m.size() % 64 != 56) m += '\0';
    for (int i = 7; i >= 0; --i) m += static_cast<char>((bits >> (i * 8)) & 0xFF);
    auto rol = [](uint32_t x, int n) { return (x << n) | (x >> (32 - n)); };
    for (std::size_t off = 0; off < m.size(); off += 64) {
        uint32_t w[80];
        for (int i = 0; i < 16; ++i) {
            const auto* p = reinterpret_cast<const unsigned char*>(m.data() + off + i * 4);
            w[i] = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
        }
        for (int i = 16; i < 80; ++i) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h0, b = h1, c = h2, d = h3, e = h4;
        for (int i = 0; i < 80; ++i) {
            uint32_t f, k;
            if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
            else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
            else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
            else f = b ^ c ^ d, k = 0xCA62C1D6;
            const uint32_t t = rol(a, 5) + f + e + k + w[i];
            e = d, d = c, c = rol(b, 30), b = a, a = t;
        }
        h0 += a, h1 += b, h2 += c, h3 += d, h4 += e;
    }
    std::string out;
    for (uint32_t h : {h0, h1, h2, h3, h4})
        for (int i = 3; i >= 0; --i) out += static_cast<char>((h >> (i * 8)) & 0xFF);
    return out;
}

std::string base64(const std::string& in) {
    static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
        out += tbl[v >> 18], out += tbl[(v >> 12) & 63], out += tbl[(v >> 6) & 63], out += tbl[v & 63];
    }
    if (i + 1 == in.size()) {
        const uint32_t v = uint8_t(in[i]) << 16;
        out += tbl[v >> 18], out += tbl[(v >> 12) & 63], out += "==";
    } else if (i + 2 == in.size()) {
        const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
        out += tbl[v >> 18], out += tbl[(v >> 12) & 63], out += tbl[(v >> 6) & 63], out += '=';
    }
    return out;
}

std::string text_frame(const std::string& payload) {
    std::string f;
    f += static_cast<char>(0x81);
    const std::size_t n = payload.size();
    if (n < 126) {
        f += static_cast<char>(n);
    } else if (n < 65536) {
        f += static_cast<char>(126);
        f += static_cast<char>(n >> 8), f += static_cast<char>(n & 0xFF);
    } else {
        f += static_cast<char>(127);
        for (int i = 7; i >= 0; --i) f += static_cast<char>((static_cast<uint64_t>(n) >> (i * 8)) & 0xFF);
    }
    return f + payload;
}

struct Conn {
    int fd = -1;
    bool ws = false;
    std::string in;   // request bytes (before upgrade)
    std::string out;  // unsent bytes
    bool want_out = false;
};

int epfd = -1;
std::unordered_map<int, Conn> conns;
std::vector<int> subscribers;  // fds of upgraded connections (unordered; removal swaps)
std::unordered_map<int, std::size_t> sub_index;
std::string frame;

void set_events(Conn& c, bool out) {
    if (c.want_out == out) return;
    epoll_event ev{};
    ev.events = out ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    ev.data.fd = c.fd;
    epoll_ctl(epfd, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_out = out;
}

void drop(int fd) {
    auto it = conns.find(fd);
    if (it == conns.end()) return;
    if (it->second.ws) {
        const std::size_t i = sub_index[fd];
        const int last = subscribers.back();
        subscribers[i] = last;
        sub_index[last] = i;
        subscribers.pop_back();
        sub_index.erase(fd);
    }
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns.erase(it);
}

bool write_to(Conn& c, const char* data, std::size_t len) {
    if (!c.out.empty()) {
        c.out.append(data, len);
        return true;
    }
    const ssize_t n = ::send(c.fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
    const std::size_t sent = n < 0 ? 0 : static_cast<std::size_t>(n);
    if (sent < len) {
        c.out.append(data + sent, len - sent);
        set_events(c, true);
    }
    return true;
}

void broadcast() {
    std::vector<int> dead;
    for (int fd : subscribers)
        if (!write_to(conns[fd], frame.data(), frame.size())) dead.push_back(fd);
    for (int fd : dead) drop(fd);
}

std::string header_value(const std::string& req, const char* name) {
    std::string lower = req;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    const std::string key = std::string("\r\n") + name + ":";
    const std::size_t p = lower.find(key);
    if (p == std::string::npos) return "";
    std::size_t b = p + key.size();
    const std::size_t e = req.find("\r\n", b);
    while (b < e && req[b] == ' ') ++b;
    return req.substr(b, e - b);
}

// Returns false when the connection must be dropped.
bool on_request_bytes(Conn& c) {
    for (;;) {
        const std::size_t end = c.in.find("\r\n\r\n");
        if (end == std::string::npos) return c.in.size() < 65536;
        const std::string req = c.in.substr(0, end + 2);
        const std::string key = header_value(req, "sec-websocket-key");
        if (!key.empty()) {
            const std::string accept = base64(sha1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"));
            std::string resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: " + accept + "\r\n\r\n" + frame;
            c.in.clear();
            c.in.shrink_to_fit();
            c.ws = true;
            sub_index[c.fd] = subscribers.size();
            subscribers.push_back(c.fd);
            return write_to(c, resp.data(), resp.size());
        }
        const std::string cl = header_value(req, "content-length");
        const std::size_t body = cl.empty() ? 0 : std::strtoul(cl.c_str(), nullptr, 10);
        if (c.in.size() < end + 4 + body) return true;
        c.in.erase(0, end + 4 + body);
        broadcast();
        static const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n";
        if (!write_to(c, ok.data(), ok.size())) return false;
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1", payload_file;
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        if (k == "--port") port = std::atoi(argv[i + 1]);
        else if (k == "--payload") payload_file = argv[i + 1];
        else if (k == "--host") host = argv[i + 1];
    }
    if (port <= 0 || payload_file.empty()) {
        std::fprintf(stderr, "usage: floor_server --port P --payload FILE [--host H]\n");
        return 1;
    }
    std::ifstream f(payload_file, std::ios::binary);
    const std::string payload((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    frame = text_frame(payload);
    signal(SIGPIPE, SIG_IGN);
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    if (bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(lfd, 4096) != 0) {
        std::perror("floor_server: bind/listen");
        return 1;
    }
    epfd = epoll_create1(0);
    epoll_event lev{};
    lev.events = EPOLLIN;
    lev.data.fd = lfd;
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);
    std::fprintf(stderr, "floor_server ready on %s:%d (%zu-byte frame)\n", host.c_str(), port, frame.size());

    std::vector<epoll_event> events(1024);
    char buf[65536];
    for (;;) {
        const int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()), -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        for (int i = 0; i < n; ++i) {
            const int fd = events[static_cast<std::size_t>(i)].data.fd;
            const uint32_t ev = events[static_cast<std::size_t>(i)].events;
            if (fd == lfd) {
                for (;;) {
                    const int cfd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK);
                    if (cfd < 0) break;
                    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    Conn& c = conns[cfd];
                    c.fd = cfd;
                    epoll_event cev{};
                    cev.events = EPOLLIN;
                    cev.data.fd = cfd;
                    epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &cev);
                }
                continue;
            }
            auto it = conns.find(fd);
            if (it == conns.end()) continue;
            Conn& c = it->second;
            if (ev & EPOLLOUT) {
                while (!c.out.empty()) {
                    const ssize_t w = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
                    if (w > 0) {
                        c.out.erase(0, static_cast<std::size_t>(w));
                        continue;
                    }
                    break;
                }
                if (c.out.empty()) set_events(c, false);
            }
            if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                    drop(fd);
                    continue;
                }
                if (r > 0 && !c.ws) {
                    c.in.append(buf, static_cast<std::size_t>(r));
                    if (!on_request_bytes(c)) drop(fd);
                }
                // Upgraded: client frames (pongs, close) are dropped unread.
            }
        }
    }
}
