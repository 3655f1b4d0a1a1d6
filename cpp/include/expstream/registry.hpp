// Subscriber registry: experiment id -> connection ids. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace expstream {

using ConnectionId = std::uint64_t;

class Registry {
public:
    // Returns false if the connection was already subscribed to that experiment.
    bool connect(const std::string& experiment_id, ConnectionId connection);
    // Returns false if it was not subscribed. An experiment left empty is removed.
    bool disconnect(const std::string& experiment_id, ConnectionId connection);

    std::vector<ConnectionId> subscribers(const std::string& experiment_id) const;
    std::size_t subscriber_count(const std::string& experiment_id) const;
    std::size_t total() const;
    // Experiments with at least one subscriber, with their counts, sorted by id.
    std::vector<std::pair<std::string, std::size_t>> active_experiments() const;

private:
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::unordered_set<ConnectionId>> by_experiment_;
    std::size_t total_ = 0;
};

}  // namespace expstream
