// The Service: store + registry + runtime behind one object, with an async bridge for Python.
// Store calls run on the runtime's pool; their results come back through the same eventfd as
// snapshots, and are turned into Python objects only on the event-loop thread, under the GIL.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <functional>
#include <memory>
#include <tuple>

#include "expstream/breakdown.hpp"
#include "expstream/log.hpp"
#include "expstream/notice.hpp"
#include "expstream/registry.hpp"
#include "expstream/runtime.hpp"
#include "expstream/store.hpp"
#include "expstream/stream_server.hpp"
#include "expstream/webhooks.hpp"
#include "register.hpp"
#include "store_values.hpp"

namespace py = pybind11;

namespace expstream::bindings {
namespace {

// A finished store call: token, then either a value-maker or an error kind and message.
struct Completion {
    std::uint64_t token = 0;
    std::function<py::object()> make_value;  // captures only C++ values: safe to destroy anywhere
    std::string error_kind;
    std::string message;
};

std::chrono::milliseconds milliseconds(double seconds) {
    return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

class Service {
public:
    Service(const std::string& database_url, std::size_t threads, double tick_seconds, double min_push_seconds,
            const AnalysisOptions& analysis, const std::string& node_id, double presence_seconds, bool listen)
        : log_(std::make_shared<LogSink>()),
          store_(std::make_shared<Store>(database_url, threads, node_id, log_)),
          registry_(std::make_shared<Registry>()),
          runtime_(store_, registry_,
                   options(threads, tick_seconds, min_push_seconds, analysis, presence_seconds, listen), log_) {}

    // Workers may still push completions: stop them before completions_ goes away. The streams
    // first: they ask the runtime for snapshots.
    ~Service() {
        const py::gil_scoped_release release;
        if (streams_) streams_->stop();
        runtime_.stop();
    }

    // From now on this service serves WebSocket streams handed over to it (adopt_stream).
    void serve_streams(const StreamOptions& options) {
        if (streams_) throw std::logic_error("serve_streams: already serving");
        streams_ = std::make_shared<StreamServer>(
            options, registry_, log_,
            [&runtime = runtime_](const std::string& id, ConnectionId c, bool fresh) {
                runtime.request_snapshot(id, c, fresh);
            });
        runtime_.attach_streams(streams_);
    }
    bool serving_streams() const { return streams_ != nullptr; }
    StreamServer& streams() {
        if (!streams_) throw std::logic_error("this service serves no streams (serve_streams)");
        return *streams_;
    }

    // Creates or updates the schema, then starts what writes to it (listener, heartbeat).
    void migrate() {
        const py::gil_scoped_release release;  // blocks on the database
        store_->migrate();
        runtime_.start();
    }
    bool ping() {
        const py::gil_scoped_release release;  // blocks on the database
        return store_->ping();
    }
    void stop() {
        const py::gil_scoped_release release;  // joins worker threads
        if (streams_) streams_->stop();
        runtime_.stop();
    }

    int ready_fd() { return runtime_.notifier().fd(); }

    // Called by the event loop when ready_fd is readable: (deliveries, completions, logs).
    py::tuple drain() {
        runtime_.notifier().clear();
        py::list deliveries;
        for (auto& d : runtime_.take_deliveries()) {
            deliveries.append(py::make_tuple(static_cast<int>(d.kind), d.experiment_id, d.target, d.seq,
                                             py::str(d.payload)));
        }
        py::list completions;
        for (auto& c : completions_.take()) {
            if (c.error_kind.empty())
                completions.append(py::make_tuple(c.token, py::none(), c.make_value()));
            else
                completions.append(py::make_tuple(c.token, c.error_kind, c.message));
        }
        py::list logs;  // (level, logger, message, experiment_id), for Python's logging
        for (auto& r : runtime_.take_logs()) {
            logs.append(py::make_tuple(to_string(r.level), r.logger, lossy_str(r.message), lossy_str(r.experiment_id)));
        }
        // Of the streams the core serves: (kind 0 ended | 1 authenticate, connection id, close code,
        // token, [(reason, ignored)]).
        py::list stream_events;
        if (streams_) {
            for (auto& e : streams_->take_events())
                stream_events.append(py::make_tuple(static_cast<int>(e.kind), e.id, e.close_code, e.token, e.ignored));
        }
        return py::make_tuple(deliveries, completions, logs, stream_events);
    }

    template <class F>
    void submit(std::uint64_t token, F job) {
        runtime_.post([this, token, job = std::move(job)]() mutable {
            Completion c;
            c.token = token;
            try {
                auto value = job();
                c.make_value = [value = std::move(value)]() { return to_python(value); };
            } catch (const DatabaseUnavailable& e) {
                c.error_kind = "unavailable";
                c.message = e.what();
            } catch (const NotFound& e) {
                c.error_kind = "not_found";
                c.message = e.what();
            } catch (const InvalidInput& e) {
                c.error_kind = "invalid";
                c.message = e.what();
            } catch (const Conflict& e) {
                c.error_kind = "conflict";
                c.message = e.what();
            } catch (const std::exception& e) {
                c.error_kind = "internal";
                c.message = e.what();
            }
            completions_.push(std::move(c));
        });
    }

    std::shared_ptr<Store> store() { return store_; }
    const std::shared_ptr<LogSink>& log() const { return log_; }
    Registry& registry() { return *registry_; }
    Runtime& runtime() { return runtime_; }

private:
    static RuntimeOptions options(std::size_t threads, double tick_seconds, double min_push_seconds,
                                  const AnalysisOptions& analysis, double presence_seconds, bool listen) {
        RuntimeOptions o;
        o.listen = listen;
        o.presence_interval = milliseconds(presence_seconds);
        o.threads = threads;
        o.tick_interval = milliseconds(tick_seconds);
        o.min_push_interval = milliseconds(min_push_seconds);
        o.analysis = analysis;
        return o;
    }

    std::shared_ptr<LogSink> log_;  // store and runtime log here; drain() hands the records over
    std::shared_ptr<Store> store_;
    std::shared_ptr<Registry> registry_;
    Runtime runtime_;
    std::shared_ptr<StreamServer> streams_;  // set by serve_streams()
    ReadyQueue<Completion> completions_{runtime_.notifier()};
};

}  // namespace

void register_service(py::module_& m) {
    py::register_exception<DatabaseUnavailable>(m, "DatabaseUnavailable", PyExc_ConnectionError);
    py::register_exception<NotFound>(m, "NotFound", PyExc_LookupError);
    m.def("verify_totals",
          [](const std::string& url, const std::optional<std::string>& experiment_id) {
              std::vector<TotalsDrift> drift;
              std::int64_t checked = 0;
              {
                  const py::gil_scoped_release release;  // a recount can take a while
                  Store store(url, 1);
                  drift = store.verify_totals(experiment_id, &checked);
              }
              py::list rows;
              for (const auto& d : drift)
                  rows.append(py::make_tuple(d.experiment_id, d.variant_key, d.total, d.stored, d.recounted));
              return py::make_tuple(checked, rows);
          },
          py::arg("database_url"), py::arg("experiment_id") = py::none(),
          "Recounts the running totals from the raw tables: (variants checked, [(experiment, variant, "
          "total, stored, recounted)] for each that differs).");
    py::class_<Service>(m, "Service")
        .def(py::init([](const std::string& url, std::size_t threads, double tick_seconds, double min_push_seconds,
                         double alpha, const std::string& method, double sequential_tuning,
                         const std::string& correction, const std::string& node_id, double presence_seconds,
                         bool listen) {
                 return std::make_unique<Service>(url, threads, tick_seconds, min_push_seconds,
                                                  analysis_options(method, alpha, sequential_tuning, correction),
                                                  node_id, presence_seconds, listen);
             }),
             py::arg("database_url"), py::arg("threads") = 4, py::arg("tick_seconds") = 30.0,
             py::arg("min_push_seconds") = 0.2, py::arg("alpha") = 0.05, py::arg("method") = "sequential",
             py::arg("sequential_tuning") = 5000.0, py::arg("correction") = "holm", py::arg("node_id") = "",
             py::arg("presence_seconds") = 0.0, py::arg("listen") = false)
        .def("migrate", &Service::migrate)
        .def("ping", &Service::ping)
        .def("stop", &Service::stop)
        .def_property_readonly("ready_fd", &Service::ready_fd)
        .def("drain", &Service::drain,
             "Everything ready since the last call: (deliveries, completions, logs); logs are "
             "(level, logger, message, experiment_id) tuples of the core's records, oldest first.")
        .def_property_readonly("snapshots_computed", [](Service& s) { return s.runtime().snapshots_computed(); })
        .def_property_readonly("snapshot_compute_seconds",
                               [](Service& s) { return s.runtime().snapshot_compute_nanoseconds() / 1e9; })
        .def("webhook_store",
             [](Service& s, std::size_t pool_size) {
                 return std::make_shared<WebhookStore>(s.store()->url(), pool_size, s.log());
             },
             py::arg("pool_size") = 2,
             "A WebhookStore on this service's database whose retries log where the core's records go.")
        .def_property_readonly("outbox_queued", [](Service& s) { return s.runtime().outbox_queued(); })
        .def_property_readonly("changes_coalesced", [](Service& s) { return s.runtime().changes_coalesced(); })
        .def_property_readonly("notices_received", [](Service& s) { return s.runtime().notices_received(); })
        .def_property_readonly("listener_connected", [](Service& s) { return s.runtime().listener_connected(); })
        .def_property_readonly("listener_reconnects", [](Service& s) { return s.runtime().listener_reconnects(); })
        .def_property_readonly("node_id", [](Service& s) { return s.store()->node_id(); })
        // Streaming
        .def("serve_streams",
             [](Service& s, std::size_t max_message_bytes, std::size_t rate_limit_messages,
                double rate_limit_window_seconds, double send_timeout_seconds, int send_buffer_bytes,
                double idle_timeout_seconds, double handshake_timeout_seconds, double auth_timeout_seconds) {
                 StreamOptions o;
                 o.max_message_bytes = max_message_bytes;
                 o.rate_limit_messages = rate_limit_messages;
                 o.rate_limit_window = milliseconds(rate_limit_window_seconds);
                 o.send_timeout = milliseconds(send_timeout_seconds);
                 o.send_buffer_bytes = send_buffer_bytes;
                 o.idle_timeout = milliseconds(idle_timeout_seconds);
                 o.handshake_timeout = milliseconds(handshake_timeout_seconds);
                 o.auth_timeout = milliseconds(auth_timeout_seconds);
                 s.serve_streams(o);
             },
             py::arg("max_message_bytes"), py::arg("rate_limit_messages"), py::arg("rate_limit_window_seconds"),
             py::arg("send_timeout_seconds"), py::arg("send_buffer_bytes"), py::arg("idle_timeout_seconds"),
             py::arg("handshake_timeout_seconds"), py::arg("auth_timeout_seconds"))
        .def("adopt_stream",
             [](Service& s, int fd, ConnectionId id, const std::string& experiment_id, const std::string& target,
                std::vector<std::pair<std::string, std::string>> headers, std::int64_t after_seq,
                bool authenticated) {
                 s.streams().adopt(
                     Handover{fd, id, experiment_id, target, std::move(headers), after_seq, authenticated});
             },
             py::arg("fd"), py::arg("connection"), py::arg("experiment_id"), py::arg("target"), py::arg("headers"),
             py::arg("after_seq"), py::arg("authenticated") = true)
        .def("admit_stream", [](Service& s, ConnectionId id) { s.streams().admit(id); })
        .def("close_stream",
             [](Service& s, ConnectionId id, int code, const std::string& reason, const std::string& message) {
                 s.streams().close(id, code, reason, message);
             },
             py::arg("connection"), py::arg("code"), py::arg("reason"), py::arg("message") = "")
        .def("close_all_streams",
             [](Service& s, int code, const std::string& reason) { s.streams().close_all(code, reason); })
        .def_property_readonly("stream_messages_sent",
                               [](Service& s) -> std::uint64_t {
                                   return s.serving_streams() ? s.streams().messages_sent() : 0;
                               })
        .def("request_snapshot",
             [](Service& s, const std::string& id, ConnectionId target, bool fresh) {
                 s.runtime().request_snapshot(id, target, fresh);
             },
             py::arg("experiment_id"), py::arg("target"), py::arg("fresh") = false)
        .def_property_readonly("snapshots_reused", [](Service& s) { return s.runtime().snapshots_reused(); })
        .def("subscribe", [](Service& s, const std::string& id, ConnectionId c) { return s.registry().connect(id, c); })
        .def("unsubscribe",
             [](Service& s, const std::string& id, ConnectionId c) { return s.registry().disconnect(id, c); })
        .def("subscribers", [](Service& s, const std::string& id) { return s.registry().subscribers(id); })
        .def("subscriber_count", [](Service& s, const std::string& id) { return s.registry().subscriber_count(id); })
        .def("total_subscribers", [](Service& s) { return s.registry().total(); })
        .def("active_experiments", [](Service& s) { return s.registry().active_experiments(); })
        // Store calls, resolved through drain()
        .def("submit_ping", [](Service& s, std::uint64_t token) {
            s.submit(token, [store = s.store()] { return store->ping(); });
        })
        .def("submit_snapshot", [](Service& s, std::uint64_t token, const std::string& id) {
            s.submit(token, [&runtime = s.runtime(), id] {
                Delivery d = runtime.compute_snapshot(id);
                if (d.kind == Delivery::Kind::NotFound) throw NotFound("experiment " + id + " not found");
                if (d.kind == Delivery::Kind::Unavailable) throw DatabaseUnavailable("results are temporarily unavailable");
                return d.payload;
            });
        })
        .def("submit_breakdown",
             [](Service& s, std::uint64_t token, const std::string& id, const std::string& dimension) {
                 s.submit(token, [store = s.store(), options = s.runtime().analysis_options(), id, dimension] {
                     std::optional<std::string> json = compute_breakdown(*store, id, dimension, options);
                     if (!json) throw NotFound("experiment " + id + " not found");
                     return *json;
                 });
             })
        .def("submit_history",
             [](Service& s, std::uint64_t token, const std::string& id, std::size_t max_points) {
                 s.submit(token, [store = s.store(), id, max_points] { return store->history_json(id, max_points); });
             })
        .def("submit_create_experiment",
             [](Service& s, std::uint64_t token, const std::string& name,
                const std::vector<std::tuple<std::string, std::string, bool, double>>& variants,
                const std::optional<std::string>& tenant, const std::vector<MetricRow>& metric_rows,
                const std::string& exposures, bool cuped, const std::vector<std::string>& dimensions) {
                 std::vector<VariantSpec> specs;
                 for (const auto& [key, vname, control, weight] : variants)
                     specs.push_back(VariantSpec{key, vname, control, weight});
                 s.submit(token, [store = s.store(), name, specs = std::move(specs), tenant,
                                  metrics = to_metrics(metric_rows), exposures, cuped, dimensions] {
                     return store->create_experiment(name, specs, tenant, metrics, exposures, cuped, dimensions);
                 });
             })
        .def("submit_set_metrics",
             [](Service& s, std::uint64_t token, const std::string& id, const std::vector<MetricRow>& metric_rows) {
                 s.submit(token, [store = s.store(), id, metrics = to_metrics(metric_rows)] {
                     return store->set_metrics(id, metrics);
                 });
             })
        .def("submit_list_experiments", [](Service& s, std::uint64_t token) {
            s.submit(token, [store = s.store()] { return store->list_experiments(); });
        })
        .def("submit_get_experiment", [](Service& s, std::uint64_t token, const std::string& id) {
            s.submit(token, [store = s.store(), id] { return store->get_experiment(id); });
        })
        .def("submit_set_status",
             [](Service& s, std::uint64_t token, const std::string& id, const std::string& status,
                const std::string& trace_id) {
                 s.submit(token, [store = s.store(), id, status, trace_id] {
                     return store->set_status(id, status, trace_id);
                 });
             })
        .def("submit_other_nodes_subscribers",
             [](Service& s, std::uint64_t token, double alive_within_seconds) {
                 const auto within = milliseconds(alive_within_seconds);
                 s.submit(token, [store = s.store(), within] { return store->other_nodes_subscribers(within); });
             })
        .def("submit_add_assignments",
             [](Service& s, std::uint64_t token, const std::string& id,
                const std::vector<std::tuple<std::string, std::string, std::vector<std::pair<std::string, double>>,
                                             std::vector<std::pair<std::string, std::string>>>>& rows) {
                 std::vector<Assignment> batch;
                 batch.reserve(rows.size());
                 for (const auto& [user, key, covariates, attributes] : rows)
                     batch.push_back(Assignment{user, key, covariates, attributes});
                 s.submit(token, [store = s.store(), id, batch = std::move(batch)] {
                     return store->add_assignments(id, batch);
                 });
             })
        .def("submit_add_events",
             [](Service& s, std::uint64_t token, const std::string& id,
                const std::vector<std::tuple<std::string, std::string, double, std::optional<std::string>>>& rows) {
                 std::vector<Event> batch;
                 batch.reserve(rows.size());
                 for (const auto& [user, type, value, event_id] : rows) batch.push_back(Event{user, type, value, event_id});
                 s.submit(token, [store = s.store(), id, batch = std::move(batch)] {
                     return store->add_events(id, batch);
                 });
             });
}

}  // namespace expstream::bindings
