#include "expstream/ready_queue.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace expstream {

Notifier::Notifier() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (fd_ < 0) {
        throw std::system_error(errno, std::generic_category(), "eventfd");
    }
}

Notifier::~Notifier() {
    ::close(fd_);
}

void Notifier::signal() {
    const std::uint64_t one = 1;
    // EAGAIN means the counter is saturated, so the fd is already readable: nothing is lost.
    while (::write(fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

void Notifier::clear() {
    std::uint64_t value;
    // One read resets the counter; keep reading in case a signal() lands in between.
    for (;;) {
        const ssize_t n = ::read(fd_, &value, sizeof value);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;  // EAGAIN: counter is zero, fd no longer readable
    }
}

}  // namespace expstream
