// The Boost.Asio runtime: a thread pool for database work, a strand and throttle per experiment that
// coalesces "numbers changed" signals into few snapshots, the LISTEN connection that brings other
// processes' changes, this node's heartbeat, the periodic tick (a safety net), and outage retries.
// Each snapshot is computed and serialized once; its bytes go to every subscriber.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "expstream/log.hpp"
#include "expstream/ready_queue.hpp"
#include "expstream/registry.hpp"
#include "expstream/stats.hpp"

namespace expstream {

class Store;
class StreamServer;

struct Delivery {
    // Control: a message for every subscriber that is not a snapshot (e.g. an SRM anomaly).
    enum class Kind { Snapshot, NotFound, Unavailable, Control };
    Kind kind = Kind::Snapshot;
    std::string experiment_id;
    ConnectionId target = 0;  // 0: every subscriber of the experiment
    std::int64_t seq = 0;
    std::string payload;  // the JSON text to send
};

struct RuntimeOptions {
    std::size_t threads = 4;
    // LISTEN for other processes' changes (needs a database that notifies: PostgreSQL).
    bool listen = true;
    // How often this node publishes its subscriber counts (its heartbeat); 0: never.
    std::chrono::milliseconds presence_interval{2000};
    std::chrono::milliseconds tick_interval{30000};
    // Pushes for one experiment are at least this far apart; a burst of changes becomes one push.
    std::chrono::milliseconds min_push_interval{200};
    std::chrono::milliseconds retry_initial{250};
    std::chrono::milliseconds retry_max{5000};
    AnalysisOptions analysis;
};

class Runtime {
public:
    // Takes the store's commit notices (Store::on_committed) for as long as it lives.
    // log: where the runtime and its listener say why something failed; its notifier is also the
    // one deliveries wake, so one eventfd brings both (give the Store the same sink). Null: a sink
    // of its own.
    Runtime(std::shared_ptr<Store> store, std::shared_ptr<Registry> registry, RuntimeOptions options,
            std::shared_ptr<LogSink> log = nullptr);
    ~Runtime();
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    // Deliveries for core-served connections (kCoreServed) go to these streams from now on; the
    // others still come out of take_deliveries(). Set once, before start().
    void attach_streams(std::shared_ptr<StreamServer> streams);
    // Starts what needs the schema: the LISTEN connection and this node's heartbeat. Idempotent.
    void start();
    // The experiment's numbers or status changed: push a new snapshot to its subscribers soon. The
    // runtime calls this itself for every change its store commits and every other node's notice.
    void mark_changed(const std::string& experiment_id);
    // Nobody here watches the experiment but webhooks want its transitions: look at it soon (as
    // throttled as a push) and record the look, delivering nothing. Watched: mark_changed does it.
    void request_look(const std::string& experiment_id);
    // Deliver a snapshot to one connection: the experiment's current one when nothing changed
    // since it was computed (a new subscriber), else (or fresh: a refresh) one computed now.
    void request_snapshot(const std::string& experiment_id, ConnectionId target, bool fresh = false);
    // Reads, analyses and serializes one snapshot on the calling thread; never throws.
    Delivery compute_snapshot(const std::string& experiment_id, ConnectionId target = 0);
    // The analysis options every snapshot (and breakdown) of this runtime is computed under.
    const AnalysisOptions& analysis_options() const;
    // Run any job on the pool (the binding's async store calls).
    void post(std::function<void()> job);

    Notifier& notifier() { return log_->notifier(); }
    std::vector<Delivery> take_deliveries() { return deliveries_.take(); }
    std::vector<LogRecord> take_logs() { return log_->take(); }
    std::uint64_t snapshots_computed() const { return snapshots_computed_.load(); }
    // Snapshots a new subscriber got without a database read (nothing had changed since).
    std::uint64_t snapshots_reused() const { return snapshots_reused_.load(); }
    // Webhook deliveries this process's looks queued (a sender in this process wakes when it moves).
    std::uint64_t outbox_queued() const { return outbox_queued_.load(); }
    // Total time spent reading + computing + serializing snapshots, for /metrics.
    std::uint64_t snapshot_compute_nanoseconds() const { return compute_ns_.load(); }
    // Change signals absorbed into a push already scheduled or running.
    std::uint64_t changes_coalesced() const { return coalesced_.load(); }
    // Changes announced by other server processes that reached this one.
    std::uint64_t notices_received() const { return notices_.load(); }
    bool listener_connected() const;
    std::uint64_t listener_reconnects() const;
    int listener_backend_pid() const;  // 0 while disconnected

    // Withdraws this node's subscriber counts, stops timers and joins the pool; idempotent.
    void stop();

private:
    struct Impl;
    // Every delivery leaves through here: to the core's streams, the Python layer's queue, or both.
    void dispatch(Delivery d);
    std::shared_ptr<LogSink> log_;  // before deliveries_: owns the notifier they signal
    ReadyQueue<Delivery> deliveries_;
    std::atomic<std::uint64_t> snapshots_computed_{0};
    std::atomic<std::uint64_t> snapshots_reused_{0};
    std::atomic<std::uint64_t> outbox_queued_{0};
    std::atomic<std::uint64_t> compute_ns_{0};
    std::atomic<std::uint64_t> coalesced_{0};
    std::atomic<std::uint64_t> notices_{0};
    std::shared_ptr<StreamServer> streams_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace expstream
