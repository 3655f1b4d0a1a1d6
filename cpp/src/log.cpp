#include "expstream/log.hpp"

#include <utility>

namespace expstream {

const char* to_string(LogLevel level) {
    switch (level) {
        case LogLevel::Debug: return "debug";
        case LogLevel::Info: return "info";
        case LogLevel::Warning: return "warning";
        case LogLevel::Error: return "error";
    }
    return "error";
}

LogSink::LogSink(std::shared_ptr<Notifier> notifier, std::size_t capacity)
    : notifier_(std::move(notifier)), capacity_(capacity), queue_(*notifier_, capacity) {}

void LogSink::emit(LogLevel level, const char* logger, std::string message, std::string experiment_id) {
    // libpq's messages end in a newline; a log line should not.
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r' || message.back() == ' '))
        message.pop_back();
    if (!queue_.push(LogRecord{level, logger, std::move(message), std::move(experiment_id)})) {
        dropped_.fetch_add(1);
        dropped_total_.fetch_add(1);
    }
}

std::vector<LogRecord> LogSink::take() {
    std::vector<LogRecord> out = queue_.take();
    // A drop only happens while capacity records wait, and those have signalled: a later take()
    // reports drops that land after this exchange.
    if (const std::uint64_t dropped = dropped_.exchange(0)) {
        out.push_back(LogRecord{LogLevel::Warning, kLogCore,
                                std::to_string(dropped) + " log records dropped: more than " +
                                    std::to_string(capacity_) + " were waiting to be logged",
                                {}});
    }
    return out;
}

}  // namespace expstream
