#include "expstream/registry.hpp"

#include <algorithm>

namespace expstream {

bool Registry::connect(const std::string& experiment_id, ConnectionId connection) {
    std::lock_guard<std::mutex> lock(mutex_);
    Subscribers& subs = by_experiment_[experiment_id];
    const bool inserted = subs.all.insert(connection).second;
    if (inserted) {
        ++total_;
        if (!core_served(connection)) ++subs.python_served;
    }
    return inserted;
}

bool Registry::disconnect(const std::string& experiment_id, ConnectionId connection) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = by_experiment_.find(experiment_id);
    if (it == by_experiment_.end() || it->second.all.erase(connection) == 0) {
        return false;
    }
    --total_;
    if (!core_served(connection)) --it->second.python_served;
    if (it->second.all.empty()) {
        // Long-running servers see many experiments come and go; do not keep empty sets around.
        by_experiment_.erase(it);
    }
    return true;
}

std::vector<ConnectionId> Registry::subscribers(const std::string& experiment_id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = by_experiment_.find(experiment_id);
    if (it == by_experiment_.end()) {
        return {};
    }
    return std::vector<ConnectionId>(it->second.all.begin(), it->second.all.end());
}

std::size_t Registry::subscriber_count(const std::string& experiment_id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = by_experiment_.find(experiment_id);
    return it == by_experiment_.end() ? 0 : it->second.all.size();
}

std::size_t Registry::python_served_count(const std::string& experiment_id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = by_experiment_.find(experiment_id);
    return it == by_experiment_.end() ? 0 : it->second.python_served;
}

std::size_t Registry::total() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return total_;
}

std::vector<std::pair<std::string, std::size_t>> Registry::active_experiments() const {
    std::vector<std::pair<std::string, std::size_t>> out;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        out.reserve(by_experiment_.size());
        for (const auto& [id, conns] : by_experiment_) {
            out.emplace_back(id, conns.all.size());
        }
    }
    std::sort(out.begin(), out.end());  // outside the lock: ids are unique, so this orders by id
    return out;
}

}  // namespace expstream
