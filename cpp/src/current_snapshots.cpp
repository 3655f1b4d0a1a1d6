#include "current_snapshots.hpp"

namespace expstream {

std::uint64_t CurrentSnapshots::generation(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (entries_.size() >= limit_ && !entries_.count(id)) entries_.clear();
    auto& entry = entries_[id];
    if (entry.generation == 0) entry.generation = ++generations_;
    return entry.generation;
}

void CurrentSnapshots::remember(const std::string& id, std::uint64_t generation, std::int64_t seq,
                                const std::string& payload) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(id);
    if (it != entries_.end() && it->second.generation == generation) it->second.snapshot.emplace(seq, payload);
}

std::optional<CurrentSnapshots::Snapshot> CurrentSnapshots::get(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(id);
    return it == entries_.end() ? std::nullopt : it->second.snapshot;
}

void CurrentSnapshots::changed(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    it->second.generation = ++generations_;
    it->second.snapshot.reset();
}

void CurrentSnapshots::forget(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.erase(id);
}

void CurrentSnapshots::clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.clear();
}

}  // namespace expstream
