// One experiment's snapshot, as every subscriber receives it: read (running totals: constant
// cost), analysed and serialized once; and the look it makes recorded (running minima, history
// point, alarm transitions and their webhook deliveries), once per seq per process.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "expstream/log.hpp"
#include "expstream/runtime.hpp"
#include "expstream/snapshot.hpp"
#include "expstream/stats.hpp"

namespace expstream {

class Store;

class SnapshotMaker {
public:
    struct Counters {
        std::atomic<std::uint64_t>& computed;
        std::atomic<std::uint64_t>& compute_ns;     // failures' time included
        std::atomic<std::uint64_t>& outbox_queued;  // webhook deliveries the looks queued
    };
    // announce: where the alarms a look raised first go (SRM, guardrail, multiple exposures).
    SnapshotMaker(std::shared_ptr<Store> store, const AnalysisOptions& analysis, std::shared_ptr<LogSink> log,
                  Counters counters, std::function<void(Delivery)> announce);

    // Never throws: an unknown experiment is NotFound, a failure Unavailable (and logged).
    Delivery compute(const std::string& id, ConnectionId target);

private:
    bool already_recorded(const std::string& id, std::int64_t seq);
    void remember_recorded(const std::string& id, std::int64_t seq);
    void record_look(const Snapshot& snap);

    std::shared_ptr<Store> store_;
    const AnalysisOptions analysis_;
    const std::string signature_;  // the analysis options, as stored with the running minima
    std::shared_ptr<LogSink> log_;
    Counters counters_;
    std::function<void(Delivery)> announce_;
    std::mutex recorded_mutex_;
    std::unordered_map<std::string, std::int64_t> recorded_;  // experiment -> newest seq recorded here
};

}  // namespace expstream
