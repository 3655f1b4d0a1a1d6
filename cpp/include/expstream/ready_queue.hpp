// Hands results from worker threads to one consumer thread (the Python event loop) through an
// eventfd the consumer polls: workers never need the GIL, the consumer never blocks.
#pragma once

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
    explicit ReadyQueue(Notifier& notifier) : notifier_(notifier) {}

    void push(T item) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            items_.push_back(std::move(item));
        }
        notifier_.signal();
    }

    std::vector<T> take() {
        std::vector<T> out;
        std::lock_guard<std::mutex> lock(mutex_);
        out.swap(items_);
        return out;
    }

private:
    Notifier& notifier_;
    std::mutex mutex_;
    std::vector<T> items_;
};

}  // namespace expstream
