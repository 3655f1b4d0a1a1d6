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
#include "current_snapshots.hpp"
#include "snapshot_maker.hpp"
#include "expstream/notice.hpp"
#include "expstream/stats.hpp"
#include "expstream/store.hpp"
#include "expstream/stream_server.hpp"

namespace expstream {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;


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
          maker(this->store, options.analysis, owner.log_,
                SnapshotMaker::Counters{owner.snapshots_computed_, owner.compute_ns_, owner.outbox_queued_},
                [&owner](Delivery d) { owner.dispatch(std::move(d)); }),
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
    SnapshotMaker maker;  // reads, analyses, serializes; records the look
    net::thread_pool pool;
    net::steady_timer tick_timer;
    net::steady_timer presence_timer;
    std::mutex states_mutex;
    std::unordered_map<std::string, StatePtr> states;
    std::once_flag stopped;
    std::once_flag started;
    std::mutex presence_mutex;
    bool left = false;  // this node withdrew its counts: no more heartbeats
    std::unique_ptr<ChangeListener> listener;  // after the pool: destroyed before it

    CurrentSnapshots current;  // a new subscriber's snapshot, while nothing changed

    std::optional<CurrentSnapshots::Snapshot> current_snapshot(const std::string& id) {
        // With notices possibly missed (listener away), nothing kept can be trusted.
        if (options.listen && !(listener && listener->connected())) return std::nullopt;
        return current.get(id);
    }
    // Computes a snapshot and keeps it as the experiment's current one if nothing changed meanwhile.
    Delivery compute_current(const std::string& id, ConnectionId target) {
        const std::uint64_t generation = current.generation(id);
        Delivery d = compute(id, target);
        if (d.kind == Delivery::Kind::Snapshot) current.remember(id, generation, d.seq, d.payload);
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
        current.forget(id);
    }

    Delivery compute(const std::string& id, ConnectionId target) { return maker.compute(id, target); }

    // On the strand: push now, or as soon as the throttle allows. The periodic tick obeys the
    // throttle too (at most one push per min_push_interval, whatever asks), but is not a change
    // signal, so it does not count as coalesced.
    void schedule(const StatePtr& s, const std::string& id, bool from_tick) {
        if (s->computing || s->scheduled) {
            if (!from_tick) owner.coalesced_.fetch_add(1);
            s->dirty = s->dirty || s->computing;
            return;
        }
        const auto now = Clock::now();
        const auto due = std::max(now, s->last_push + options.min_push_interval);
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
        current.changed(id);
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
        current.clear();  // notices may have been missed: nothing kept can be trusted
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
        bool core = core_served(d.target);
        bool python = !core;
        if (d.target == 0) {  // a broadcast: to whichever side has subscribers of the experiment
            const std::size_t python_served = impl_->registry->python_served_count(d.experiment_id);
            core = impl_->registry->subscriber_count(d.experiment_id) > python_served;
            python = python_served > 0;
        }
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
