// Hands results from worker threads to one consumer thread (the Python event loop) through an
// eventfd the consumer polls: workers never need the GIL, the consumer never blocks.
#pragma once

#include <cstddef>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

namespace expstream {

// An eventfd: signal() from any thread makes fd() readable until clear().
class Notifier {
public:
    Notifier();
    ~Notifier();
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;
    int fd() const { return fd_; }
    void signal();
    void clear();

private:
    int fd_;
};

template <class T>
class ReadyQueue {
public:
    // capacity: most items waiting at once (a consumer that falls behind cannot make it grow
    // without bound); the default is unbounded.
    explicit ReadyQueue(Notifier& notifier, std::size_t capacity = std::numeric_limits<std::size_t>::max())
        : notifier_(notifier), capacity_(capacity) {}

    // False, and the item is dropped, when capacity items are already waiting. No signal then:
    // the waiting items have signalled already.
    bool push(T item) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (items_.size() >= capacity_) return false;
            items_.push_back(std::move(item));
        }
        notifier_.signal();
        return true;
    }

    std::vector<T> take() {
        std::vector<T> out;
        std::lock_guard<std::mutex> lock(mutex_);
        out.swap(items_);
        return out;
    }

private:
    Notifier& notifier_;
    const std::size_t capacity_;
    std::mutex mutex_;
    std::vector<T> items_;
};

}  // namespace expstream
