// The newest snapshot of each watched experiment while nothing has changed since it was read: a new
// subscriber gets it without a database read. Every change (ours or a notice) bumps the entry's
// generation and drops the value; a computation that began under an older generation does not
// store its result. Thread-safe. Bounded: past `limit` entries, all go.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace expstream {

class CurrentSnapshots {
public:
    using Snapshot = std::pair<std::int64_t, std::string>;  // (seq, payload)

    explicit CurrentSnapshots(std::size_t limit = 10000) : limit_(limit) {}

    // Before computing: the generation to hand back to remember().
    std::uint64_t generation(const std::string& id);
    // After computing: kept only if nothing changed since generation(id) was taken.
    void remember(const std::string& id, std::uint64_t generation, std::int64_t seq, const std::string& payload);
    std::optional<Snapshot> get(const std::string& id);
    // The experiment changed: what is kept of it is stale, and so is anything being computed.
    void changed(const std::string& id);
    void forget(const std::string& id);
    // Notices may have been missed: nothing kept can be trusted.
    void clear();

private:
    struct Entry {
        std::uint64_t generation = 0;
        std::optional<Snapshot> snapshot;
    };
    const std::size_t limit_;
    std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
    std::uint64_t generations_ = 0;  // every generation is new, even after a clear
};

}  // namespace expstream
