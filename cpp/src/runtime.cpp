#include "expstream/runtime.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "change_listener.hpp"
#include "look.hpp"
#include "expstream/notice.hpp"
#include "expstream/snapshot.hpp"
#include "expstream/stats.hpp"
#include "expstream/store.hpp"
#include "expstream/stream_server.hpp"

namespace expstream {

namespace net = boost::asio;
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

struct Runtime::Impl {
    using Strand = net::strand<net::thread_pool::executor_type>;

    // Everything here is touched only on the experiment's strand.
    struct ExperimentState {
        explicit ExperimentState(const net::thread_pool::executor_type& ex) : strand(net::make_strand(ex)), timer(strand) {}
        Strand strand;
        net::steady_timer timer;
        bool scheduled = false;    // timer armed for a push or a retry
        bool computing = false;
        bool dirty = false;        // changed again while computing
        bool unavailable = false;  // subscribers were told the database is down
        bool look_wanted = false;  // unwatched, but a look is due for webhooks (request_look)
        Clock::time_point last_push{};
        std::chrono::milliseconds retry_delay{0};
    };
    using StatePtr = std::shared_ptr<ExperimentState>;

    Impl(Runtime& owner, std::shared_ptr<Store> store, std::shared_ptr<Registry> registry, RuntimeOptions options)
        : owner(owner),
          store(std::move(store)),
          registry(std::move(registry)),
          options(options),
          signature(signature_of(options.analysis)),
          pool(std::max<std::size_t>(1, options.threads)),
          tick_timer(pool.get_executor()),
          presence_timer(pool.get_executor()) {
        if (options.tick_interval.count() > 0) {
            tick_timer.expires_after(options.tick_interval);
            tick_timer.async_wait([this](const boost::system::error_code& ec) { on_tick(ec); });
        }
    }

    // After the schema exists: the heartbeat writes to it.
    void start_cluster() {
        if (options.presence_interval.count() > 0) net::post(presence_timer.get_executor(), [this] { on_presence({}); });
        if (options.listen) {
            listener = std::make_unique<ChangeListener>(
                pool,
                ChangeListener::Options{store->url(), kChangesChannel, "expstream-listener " + store->node_id(),
                                        options.retry_initial, options.retry_max, owner.log_},
                [this](const std::string& payload) { on_notice(payload); }, [this] { refresh_watched(); },
                [this] { refresh_watched(); });
            listener->start();
        }
    }

    Runtime& owner;
    std::shared_ptr<Store> store;
    std::shared_ptr<Registry> registry;
    RuntimeOptions options;
    const std::string signature;
    net::thread_pool pool;
    net::steady_timer tick_timer;
    net::steady_timer presence_timer;
    std::mutex states_mutex;
    std::unordered_map<std::string, StatePtr> states;
    std::once_flag stopped;
    std::once_flag started;
    std::mutex presence_mutex;
    bool left = false;  // this node withdrew its counts: no more heartbeats
    std::mutex recorded_mutex;
    std::unordered_map<std::string, std::int64_t> recorded;  // experiment -> newest seq recorded here
    std::unique_ptr<ChangeListener> listener;  // after the pool: destroyed before it

    // The newest snapshot of each watched experiment while nothing has changed since it was read:
    // a new subscriber gets it without a database read. Every change (ours or a notice) bumps the
    // entry's generation and drops the value; a computation that began under an older generation
    // does not store its result. Bounded: past kCurrentLimit entries, all go.
    static constexpr std::size_t kCurrentLimit = 10000;
    struct Current {
        std::uint64_t generation = 0;
        std::optional<std::pair<std::int64_t, std::string>> snapshot;  // (seq, payload)
    };
    std::mutex current_mutex;
    std::unordered_map<std::string, Current> current;
    std::uint64_t generations = 0;  // under current_mutex: every generation is new, even after a clear

    std::uint64_t current_generation(const std::string& id) {
        std::lock_guard<std::mutex> lock(current_mutex);
        if (current.size() >= kCurrentLimit && !current.count(id)) current.clear();
        auto& entry = current[id];
        if (entry.generation == 0) entry.generation = ++generations;
        return entry.generation;
    }
    void remember_current(const Delivery& d, std::uint64_t generation) {
        if (d.kind != Delivery::Kind::Snapshot) return;
        std::lock_guard<std::mutex> lock(current_mutex);
        auto it = current.find(d.experiment_id);
        if (it != current.end() && it->second.generation == generation) it->second.snapshot.emplace(d.seq, d.payload);
    }
    std::optional<std::pair<std::int64_t, std::string>> current_snapshot(const std::string& id) {
        // With notices possibly missed (listener away), nothing here can be trusted.
        if (options.listen && !(listener && listener->connected())) return std::nullopt;
        std::lock_guard<std::mutex> lock(current_mutex);
        auto it = current.find(id);
        return it == current.end() ? std::nullopt : it->second.snapshot;
    }
    void changed(const std::string& id) {
        std::lock_guard<std::mutex> lock(current_mutex);
        auto it = current.find(id);
        if (it == current.end()) return;
        it->second.generation = ++generations;
        it->second.snapshot.reset();
    }
    void forget_current(const std::string& id) {
        std::lock_guard<std::mutex> lock(current_mutex);
        current.erase(id);
    }
    // Computes a snapshot and keeps it as the experiment's current one if nothing changed meanwhile.
    Delivery compute_current(const std::string& id, ConnectionId target) {
        const std::uint64_t generation = current_generation(id);
        Delivery d = compute(id, target);
        remember_current(d, generation);
        return d;
    }

    StatePtr state_for(const std::string& id) {
        std::lock_guard<std::mutex> lock(states_mutex);
        auto& slot = states[id];
        if (!slot) slot = std::make_shared<ExperimentState>(pool.get_executor());
        return slot;
    }

    void forget_if_idle(const std::string& id, const StatePtr& s) {
        if (s->scheduled || s->computing || s->dirty || registry->subscriber_count(id) > 0) return;
        {
            std::lock_guard<std::mutex> lock(states_mutex);
            auto it = states.find(id);
            if (it != states.end() && it->second == s) states.erase(it);
        }
        forget_current(id);
    }

    Delivery compute(const std::string& id, ConnectionId target) {
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
        } add_elapsed{owner.compute_ns_, started};
        try {
            std::optional<SnapshotData> data = store->read_snapshot_data(id);
            if (!data) {
                d.kind = Delivery::Kind::NotFound;
                d.payload = error_json("experiment_not_found", id, "experiment not found");
                return d;
            }
            // Running minima only carry over between looks made under the same analysis options.
            const bool same_analysis = data->analysis_signature == signature;
            const std::vector<std::optional<double>> previous =
                same_analysis ? data->min_p : std::vector<std::optional<double>>{};
            Snapshot snap = make_snapshot(id, data->status, data->variants, data->weights, options.analysis,
                                          previous, data->days_running, data->seq);
            const MetricAnalysisInput metrics = metric_analysis_input(*data, same_analysis);
            add_metrics(snap, metrics.metrics, metrics.names, options.analysis, metrics.previous_min_p,
                        metrics.legacy);
            snap.multiple_exposures = data->multiple_exposures;
            snap.assigned_users = data->assigned_users;
            d.kind = Delivery::Kind::Snapshot;
            d.seq = snap.seq;
            d.payload = to_json(snap);
            record_look(snap);
            owner.snapshots_computed_.fetch_add(1);
        } catch (const std::exception& e) {
            // Subscribers hear "unavailable" and the experiment is retried either way; an outage is a
            // warning, anything else (bad data, a bug in building the snapshot) an error.
            const bool outage = dynamic_cast<const DatabaseUnavailable*>(&e) != nullptr;
            owner.log_->emit(outage ? LogLevel::Warning : LogLevel::Error, kLogRuntime,
                             std::string("snapshot failed: ") + e.what(), id);
            d.kind = Delivery::Kind::Unavailable;
            d.payload = error_json("results_unavailable", id, "results are temporarily unavailable; retrying");
        }
        return d;
    }

    // A seq this process already recorded needs no second write: initial snapshots of new
    // subscribers and ticks without changes would otherwise each cost a write transaction.
    bool already_recorded(const std::string& id, std::int64_t seq) {
        std::lock_guard<std::mutex> lock(recorded_mutex);
        return recorded.count(id) && recorded[id] >= seq;
    }
    void remember_recorded(const std::string& id, std::int64_t seq) {
        std::lock_guard<std::mutex> lock(recorded_mutex);
        auto& last = recorded[id];
        last = std::max(last, seq);
    }

    // Persists what this look leaves behind; a failure here never costs the snapshot itself.
    void record_look(const Snapshot& snap) {
        if (already_recorded(snap.experiment_id, snap.seq)) return;
        const Look look = look_of(snap, signature);
        try {
            const LookOutcome outcome = store->record_look(snap.experiment_id, look);
            remember_recorded(snap.experiment_id, snap.seq);
            owner.outbox_queued_.fetch_add(static_cast<std::uint64_t>(outcome.deliveries_queued));
            for (auto& payload : announcements(snap, outcome)) {
                Delivery anomaly;
                anomaly.kind = Delivery::Kind::Control;
                anomaly.experiment_id = snap.experiment_id;
                anomaly.payload = std::move(payload);
                owner.dispatch(std::move(anomaly));
            }
        } catch (const std::exception& e) {
            // The next look records again; minima and history points are idempotent.
            owner.log_->emit(LogLevel::Warning, kLogRuntime,
                             "recording the look at seq " + std::to_string(snap.seq) + " failed: " + e.what(),
                             snap.experiment_id);
        }
    }

    // On the strand: push now, or as soon as the throttle allows.
    void schedule(const StatePtr& s, const std::string& id, bool immediate) {
        if (s->computing || s->scheduled) {
            if (!immediate) owner.coalesced_.fetch_add(1);
            s->dirty = s->dirty || s->computing;
            return;
        }
        const auto now = Clock::now();
        const auto due = immediate ? now : std::max(now, s->last_push + options.min_push_interval);
        if (due <= now) {
            compute_broadcast(s, id);
            return;
        }
        arm(s, id, due);
    }

    void arm(const StatePtr& s, const std::string& id, Clock::time_point due) {
        s->scheduled = true;
        s->timer.expires_at(due);
        s->timer.async_wait(net::bind_executor(s->strand, [this, s, id](const boost::system::error_code& ec) {
            s->scheduled = false;
            if (ec) return;
            compute_broadcast(s, id);
        }));
    }

    // On the strand. The database call blocks one pool thread, which is what the pool is for.
    void compute_broadcast(const StatePtr& s, const std::string& id) {
        if (registry->subscriber_count(id) == 0) {
            if (s->look_wanted) {
                // compute() records the look (its transitions, their deliveries); nobody to push to.
                s->look_wanted = false;
                s->computing = true;
                compute(id, 0);
                s->computing = false;
                s->last_push = Clock::now();
            }
            s->dirty = false;
            forget_if_idle(id, s);
            return;
        }
        s->computing = true;
        s->look_wanted = false;  // this snapshot is the look
        Delivery d = compute_current(id, 0);
        s->computing = false;
        s->last_push = Clock::now();
        if (d.kind == Delivery::Kind::Unavailable) {
            if (!s->unavailable) owner.dispatch(std::move(d));
            s->unavailable = true;
            s->dirty = false;
            s->retry_delay = s->retry_delay.count() == 0 ? options.retry_initial
                                                         : std::min(s->retry_delay * 2, options.retry_max);
            arm(s, id, Clock::now() + s->retry_delay);
            return;
        }
        s->unavailable = false;
        s->retry_delay = std::chrono::milliseconds{0};
        owner.dispatch(std::move(d));
        if (s->dirty) {
            s->dirty = false;
            schedule(s, id, false);
        }
    }

    // Another process changed an experiment: push to our subscribers (it pushed to its own).
    void on_notice(const std::string& payload) {
        std::string why;
        const std::optional<ChangeNotice> notice = parse_notice(payload, &why);
        if (!notice) {
            // Another version's notice, or garbage on our channel: only the periodic tick covers it.
            owner.log_->emit(LogLevel::Warning, kLogListener,
                             "ignored a change notice of " + std::to_string(payload.size()) + " bytes: " + why);
            return;
        }
        if (notice->node_id == store->node_id()) return;  // the store told us at commit
        owner.notices_.fetch_add(1);
        on_change(*notice, false);
    }

    // The one entry of every change: committed by this node's store (alerting: webhooks want its
    // transitions) or announced by another node. The status envelope is built here, once.
    void on_change(const ChangeNotice& notice, bool alerting) {
        const std::string& id = notice.experiment_id;
        changed(id);
        if (registry->subscriber_count(id) == 0) {
            if (alerting) owner.request_look(id);  // nobody watching, but webhooks hear of transitions
            return;
        }
        if (notice.status) {
            Delivery d;
            d.kind = Delivery::Kind::Control;
            d.experiment_id = id;
            d.payload = status_changed_json(id, *notice.status);
            owner.dispatch(std::move(d));
        }
        owner.mark_changed(id);
    }

    // The listener connected (notices sent while it was away are lost) or lost its connection (the
    // database may be down: subscribers should hear "unavailable" now, not at the next tick). Either
    // way a fresh snapshot for everything watched tells them where things stand.
    void refresh_watched() {
        {
            std::lock_guard<std::mutex> lock(current_mutex);
            current.clear();  // notices may have been missed: nothing current can be trusted
        }
        for (const auto& [id, count] : registry->active_experiments()) {
            (void)count;
            owner.mark_changed(id);
        }
    }

    // The heartbeat: a node whose counts stop arriving stops being counted.
    void on_presence(const boost::system::error_code& ec) {
        if (ec) return;
        {
            // Held while publishing, so that leave() cannot be overtaken by a beat in flight.
            std::lock_guard<std::mutex> lock(presence_mutex);
            if (left) return;
            try {
                store->publish_presence(registry->active_experiments());
            } catch (const std::exception& e) {
                // The database is away: the next beat tries again.
                owner.log_->emit(LogLevel::Warning, kLogRuntime, std::string("heartbeat failed: ") + e.what());
            }
        }
        presence_timer.expires_after(options.presence_interval);
        presence_timer.async_wait([this](const boost::system::error_code& e) { on_presence(e); });
    }

    void on_tick(const boost::system::error_code& ec) {
        if (ec) return;
        for (const auto& [id, count] : registry->active_experiments()) {
            (void)count;
            StatePtr s = state_for(id);
            net::post(s->strand, [this, s, id = id] { schedule(s, id, true); });
        }
        tick_timer.expires_at(tick_timer.expiry() + options.tick_interval);  // drift-free
        tick_timer.async_wait([this](const boost::system::error_code& e) { on_tick(e); });
    }
};

Runtime::Runtime(std::shared_ptr<Store> store, std::shared_ptr<Registry> registry, RuntimeOptions options,
                 std::shared_ptr<LogSink> log)
    : log_(log ? std::move(log) : std::make_shared<LogSink>()),
      deliveries_(log_->notifier()),
      impl_(std::make_unique<Impl>(*this, std::move(store), std::move(registry), options)) {
    impl_->store->on_committed(
        [impl = impl_.get()](const ChangeNotice& notice, bool alerting) { impl->on_change(notice, alerting); });
}

void Runtime::attach_streams(std::shared_ptr<StreamServer> streams) { streams_ = std::move(streams); }

void Runtime::dispatch(Delivery d) {
    if (streams_) {
        const bool core = d.target != 0 ? core_served(d.target)
                                        : impl_->registry->subscriber_count(d.experiment_id) >
                                              impl_->registry->python_served_count(d.experiment_id);
        const bool python = d.target != 0 ? !core_served(d.target)
                                          : impl_->registry->python_served_count(d.experiment_id) > 0;
        if (core) streams_->deliver(d);
        if (!python) return;
    }
    deliveries_.push(std::move(d));
}

Runtime::~Runtime() {
    stop();
    impl_->store->on_committed({});  // the store may outlive us
}

void Runtime::mark_changed(const std::string& experiment_id) {
    if (impl_->registry->subscriber_count(experiment_id) == 0) return;  // nobody watching: no work
    auto s = impl_->state_for(experiment_id);
    net::post(s->strand, [impl = impl_.get(), s, experiment_id] { impl->schedule(s, experiment_id, false); });
}

void Runtime::request_look(const std::string& experiment_id) {
    if (impl_->registry->subscriber_count(experiment_id) > 0) return;  // mark_changed's pushes look
    auto s = impl_->state_for(experiment_id);
    net::post(s->strand, [impl = impl_.get(), s, experiment_id] {
        s->look_wanted = true;
        impl->schedule(s, experiment_id, false);
    });
}

void Runtime::request_snapshot(const std::string& experiment_id, ConnectionId target, bool fresh) {
    if (!fresh) {
        if (auto snapshot = impl_->current_snapshot(experiment_id)) {
            Delivery d;
            d.experiment_id = experiment_id;
            d.target = target;
            d.seq = snapshot->first;
            d.payload = std::move(snapshot->second);
            impl_->owner.snapshots_reused_.fetch_add(1);
            dispatch(std::move(d));
            return;
        }
    }
    net::post(impl_->pool, [impl = impl_.get(), experiment_id, target] {
        Delivery d = impl->compute_current(experiment_id, target);
        const bool unavailable = d.kind == Delivery::Kind::Unavailable;
        impl->owner.dispatch(std::move(d));
        if (unavailable) {
            // Let the experiment's retry loop bring everyone a snapshot once the database is back.
            auto s = impl->state_for(experiment_id);
            net::post(s->strand, [impl, s, experiment_id] {
                if (!s->scheduled && !s->computing) {
                    s->retry_delay = impl->options.retry_initial;
                    impl->arm(s, experiment_id, Clock::now() + s->retry_delay);
                }
            });
        }
    });
}

Delivery Runtime::compute_snapshot(const std::string& experiment_id, ConnectionId target) {
    return impl_->compute(experiment_id, target);
}

const AnalysisOptions& Runtime::analysis_options() const { return impl_->options.analysis; }

void Runtime::post(std::function<void()> job) { net::post(impl_->pool, std::move(job)); }

void Runtime::start() {
    std::call_once(impl_->started, [this] { impl_->start_cluster(); });
}

bool Runtime::listener_connected() const { return impl_->listener && impl_->listener->connected(); }

std::uint64_t Runtime::listener_reconnects() const { return impl_->listener ? impl_->listener->reconnects() : 0; }

int Runtime::listener_backend_pid() const { return impl_->listener ? impl_->listener->backend_pid() : 0; }

void Runtime::stop() {
    std::call_once(impl_->stopped, [this] {
        if (impl_->options.presence_interval.count() > 0) {
            std::lock_guard<std::mutex> lock(impl_->presence_mutex);
            impl_->left = true;
            try {
                impl_->store->leave();
            } catch (const std::exception& e) {
                // Unreachable database: the heartbeat simply stops, and the others time us out.
                log_->emit(LogLevel::Warning, kLogRuntime,
                           std::string("withdrawing this node's subscriber counts failed: ") + e.what());
            }
        }
        impl_->pool.stop();  // abandons queued handlers and pending timers
        impl_->pool.join();
    });
}

}  // namespace expstream
