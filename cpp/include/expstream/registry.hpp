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

// A connection whose socket the core itself serves (stream_server.hpp) carries this bit in its id;
// the others (Server-Sent Events, long-poll, TLS, first-message auth, the multiplexed socket) are
// served by the Python layer, which hears of their deliveries through the ready queue.
inline constexpr ConnectionId kCoreServed = ConnectionId{1} << 62;
inline constexpr bool core_served(ConnectionId c) { return (c & kCoreServed) != 0; }

class Registry {
public:
    // Returns false if the connection was already subscribed to that experiment.
    bool connect(const std::string& experiment_id, ConnectionId connection);
    // Returns false if it was not subscribed. An experiment left empty is removed.
    bool disconnect(const std::string& experiment_id, ConnectionId connection);

    std::vector<ConnectionId> subscribers(const std::string& experiment_id) const;
    std::size_t subscriber_count(const std::string& experiment_id) const;
    // Subscribers of the experiment the Python layer serves: deliveries go there only if any.
    std::size_t python_served_count(const std::string& experiment_id) const;
    std::size_t total() const;
    // Experiments with at least one subscriber, with their counts, sorted by id.
    std::vector<std::pair<std::string, std::size_t>> active_experiments() const;

private:
    mutable std::mutex mutex_;
    struct Subscribers {
        std::unordered_set<ConnectionId> all;
        std::size_t python_served = 0;
    };
    std::unordered_map<std::string, Subscribers> by_experiment_;
    std::size_t total_ = 0;
};

}  // namespace expstream
