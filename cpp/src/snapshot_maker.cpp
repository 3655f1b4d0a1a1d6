#include "snapshot_maker.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include "look.hpp"
#include "expstream/store.hpp"

namespace expstream {

using Clock = std::chrono::steady_clock;

namespace {
// Identifies the analysis a running minimum p belongs to.
std::string signature_of(const AnalysisOptions& o) {
    return std::string(to_string(o.method)) + "|" + std::to_string(o.alpha) + "|" + std::to_string(o.sequential_tuning) +
           "|" + (o.correction == Correction::HolmBonferroni      ? "holm"
                  : o.correction == Correction::BenjaminiHochberg ? "bh"
                                                                  : "none");
}
}  // namespace

SnapshotMaker::SnapshotMaker(std::shared_ptr<Store> store, const AnalysisOptions& analysis,
                             std::shared_ptr<LogSink> log, Counters counters, std::function<void(Delivery)> announce)
    : store_(std::move(store)),
      analysis_(analysis),
      signature_(signature_of(analysis)),
      log_(std::move(log)),
      counters_(counters),
      announce_(std::move(announce)) {}

Delivery SnapshotMaker::compute(const std::string& id, ConnectionId target) {
    Delivery d;
    d.experiment_id = id;
    d.target = target;
    const auto started = Clock::now();
    struct AddElapsed {  // counts failures' time too: a slow outage is still compute time
        std::atomic<std::uint64_t>& total;
        Clock::time_point started;
        ~AddElapsed() {
            total.fetch_add(static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started).count()));
        }
    } add_elapsed{counters_.compute_ns, started};
    try {
        std::optional<SnapshotData> data = store_->read_snapshot_data(id);
        if (!data) {
            d.kind = Delivery::Kind::NotFound;
            d.payload = error_json("experiment_not_found", id, "experiment not found");
            return d;
        }
        // Running minima only carry over between looks made under the same analysis options.
        const bool same_analysis = data->analysis_signature == signature_;
        const std::vector<std::optional<double>> previous =
            same_analysis ? data->min_p : std::vector<std::optional<double>>{};
        Snapshot snap = make_snapshot(id, data->status, data->variants, data->weights, analysis_,
                                      previous, data->days_running, data->seq);
        const MetricAnalysisInput metrics = metric_analysis_input(*data, same_analysis);
        add_metrics(snap, metrics.metrics, metrics.names, analysis_, metrics.previous_min_p,
                    metrics.legacy);
        snap.multiple_exposures = data->multiple_exposures;
        snap.assigned_users = data->assigned_users;
        d.kind = Delivery::Kind::Snapshot;
        d.seq = snap.seq;
        d.payload = to_json(snap);
        record_look(snap);
        counters_.computed.fetch_add(1);
    } catch (const std::exception& e) {
        // Subscribers hear "unavailable" and the experiment is retried either way; an outage is a
        // warning, anything else (bad data, a bug in building the snapshot) an error.
        const bool outage = dynamic_cast<const DatabaseUnavailable*>(&e) != nullptr;
        log_->emit(outage ? LogLevel::Warning : LogLevel::Error, kLogRuntime,
                         std::string("snapshot failed: ") + e.what(), id);
        d.kind = Delivery::Kind::Unavailable;
        d.payload = error_json("results_unavailable", id, "results are temporarily unavailable; retrying");
    }
    return d;
}

// A seq this process already recorded needs no second write: initial snapshots of new
// subscribers and ticks without changes would otherwise each cost a write transaction.
bool SnapshotMaker::already_recorded(const std::string& id, std::int64_t seq) {
    std::lock_guard<std::mutex> lock(recorded_mutex_);
    return recorded_.count(id) && recorded_[id] >= seq;
}
void SnapshotMaker::remember_recorded(const std::string& id, std::int64_t seq) {
    std::lock_guard<std::mutex> lock(recorded_mutex_);
    auto& last = recorded_[id];
    last = std::max(last, seq);
}

// Persists what this look leaves behind; a failure here never costs the snapshot itself.
void SnapshotMaker::record_look(const Snapshot& snap) {
    if (already_recorded(snap.experiment_id, snap.seq)) return;
    const Look look = look_of(snap, signature_);
    try {
        const LookOutcome outcome = store_->record_look(snap.experiment_id, look);
        remember_recorded(snap.experiment_id, snap.seq);
        counters_.outbox_queued.fetch_add(static_cast<std::uint64_t>(outcome.deliveries_queued));
        for (auto& payload : announcements(snap, outcome)) {
            Delivery anomaly;
            anomaly.kind = Delivery::Kind::Control;
            anomaly.experiment_id = snap.experiment_id;
            anomaly.payload = std::move(payload);
            announce_(std::move(anomaly));
        }
    } catch (const std::exception& e) {
        // The next look records again; minima and history points are idempotent.
        log_->emit(LogLevel::Warning, kLogRuntime,
                         "recording the look at seq " + std::to_string(snap.seq) + " failed: " + e.what(),
                         snap.experiment_id);
    }
}

}  // namespace expstream
