// Log records of the core, for Python's logging module. A catch site that handles an exception
// (retry, "unavailable" to subscribers) still says why, here. C++ threads never take the GIL: records
// wait in a bounded queue that wakes the same eventfd as deliveries, and Service.drain() hands them
// to the event loop, which logs them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "expstream/ready_queue.hpp"

namespace expstream {

enum class LogLevel { Debug, Info, Warning, Error };
// "debug", "info", "warning", "error": Python's level names, lower case.
const char* to_string(LogLevel level);

// Logger names (children of "expstream.core" in Python's logger hierarchy).
inline constexpr const char* kLogCore = "expstream.core";  // the sink itself: dropped records
inline constexpr const char* kLogRuntime = "expstream.core.runtime";
inline constexpr const char* kLogListener = "expstream.core.listener";
inline constexpr const char* kLogStore = "expstream.core.store";
inline constexpr const char* kLogStreams = "expstream.core.streams";

struct LogRecord {
    LogLevel level = LogLevel::Info;
    std::string logger;
    std::string message;
    std::string experiment_id;  // empty when the record is not about one experiment
};

// Thread-safe. At most `capacity` records wait; past that they are counted and dropped, and the
// next take() ends with one warning saying how many, so a flood cannot eat memory.
class LogSink {
public:
    static constexpr std::size_t kDefaultCapacity = 1000;

    // notifier: signalled for every record kept (shared: the runtime's deliveries use it too).
    explicit LogSink(std::shared_ptr<Notifier> notifier = std::make_shared<Notifier>(),
                     std::size_t capacity = kDefaultCapacity);
    LogSink(const LogSink&) = delete;
    LogSink& operator=(const LogSink&) = delete;

    void emit(LogLevel level, const char* logger, std::string message, std::string experiment_id = {});
    std::vector<LogRecord> take();

    Notifier& notifier() { return *notifier_; }
    std::uint64_t dropped_total() const { return dropped_total_.load(); }

private:
    std::shared_ptr<Notifier> notifier_;
    const std::size_t capacity_;
    ReadyQueue<LogRecord> queue_;
    std::atomic<std::uint64_t> dropped_{0};  // since the last take()
    std::atomic<std::uint64_t> dropped_total_{0};
};

// For parts that may run without a sink (a Store built without one logs nowhere).
inline void emit(const std::shared_ptr<LogSink>& sink, LogLevel level, const char* logger, std::string message,
                 std::string experiment_id = {}) {
    if (sink) sink->emit(level, logger, std::move(message), std::move(experiment_id));
}

}  // namespace expstream
