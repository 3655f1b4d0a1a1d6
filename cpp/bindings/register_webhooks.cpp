// WebhookStore: subscriptions, deliveries and alert transitions. Its own small connection pool, so
// webhook traffic never waits behind (or holds up) the snapshots' connections. Methods block on
// the database with the GIL released; Python calls them from a worker thread.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>

#include "expstream/webhooks.hpp"
#include "register.hpp"
#include "store_values.hpp"

namespace py = pybind11;

namespace expstream::bindings {
namespace {

py::dict webhook_dict(const Webhook& w) {
    py::dict d;
    d["id"] = w.id;
    d["tenant"] = w.tenant.empty() ? py::object(py::none()) : py::object(py::str(w.tenant));
    d["url"] = w.url;
    d["events"] = w.events;
    d["experiments"] = w.experiments;
    d["format"] = w.format;
    d["secret"] = w.secret;
    d["created_at"] = w.created_at;
    return d;
}

py::dict delivery_dict(const WebhookDelivery& x) {
    py::dict d;
    d["id"] = x.id;
    d["webhook_id"] = x.webhook_id;
    d["event"] = x.event;
    d["created_at"] = x.created_at;
    d["attempts"] = x.attempts;
    d["state"] = x.state;
    d["last_attempt_at"] = optional_str(x.last_attempt_at);
    d["status_code"] = x.last_status ? py::object(py::int_(*x.last_status)) : py::object(py::none());
    d["latency_ms"] = x.last_latency_ms ? py::object(py::float_(*x.last_latency_ms)) : py::object(py::none());
    d["error"] = optional_str(x.last_error);
    d["next_attempt_at"] = x.next_attempt_at;
    return d;
}

AttemptResult attempt_result(const std::string& s) {
    if (s == "delivered") return AttemptResult::Delivered;
    if (s == "retry") return AttemptResult::Retry;
    if (s == "failed") return AttemptResult::Failed;
    throw py::value_error("result must be delivered, retry or failed; got " + s);
}

}  // namespace

void register_webhooks(py::module_& m) {
    py::class_<WebhookStore, std::shared_ptr<WebhookStore>>(m, "WebhookStore")
        .def(py::init([](const std::string& url, std::size_t pool_size) {
                 return std::make_shared<WebhookStore>(url, pool_size);
             }),
             py::arg("database_url"), py::arg("pool_size") = 2)
        .def("create",
             [](WebhookStore& s, const std::string& tenant, const std::string& url, const std::vector<std::string>& events,
                const std::vector<std::string>& experiments, const std::string& format, const std::string& secret) {
                 Webhook w;
                 {
                     const py::gil_scoped_release release;  // blocks on the database
                     w = s.create(Webhook{"", tenant, url, events, experiments, format, secret, ""});
                 }
                 return webhook_dict(w);
             },
             py::arg("tenant"), py::arg("url"), py::arg("events"), py::arg("experiments"), py::arg("format"),
             py::arg("secret"))
        .def("list_webhooks",
             [](WebhookStore& s, const std::string& tenant) {
                 std::vector<Webhook> found;
                 {
                     const py::gil_scoped_release release;  // blocks on the database
                     found = s.list(tenant);
                 }
                 py::list out;
                 for (const auto& w : found) out.append(webhook_dict(w));
                 return out;
             },
             py::arg("tenant"))
        .def("get",
             [](WebhookStore& s, const std::string& id, const std::string& tenant) -> py::object {
                 std::optional<Webhook> found;
                 {
                     const py::gil_scoped_release release;  // blocks on the database
                     found = s.get(id, tenant);
                 }
                 return found ? py::object(webhook_dict(*found)) : py::object(py::none());
             },
             py::arg("webhook_id"), py::arg("tenant"))
        .def("remove",
             [](WebhookStore& s, const std::string& id, const std::string& tenant) {
                 const py::gil_scoped_release release;  // blocks on the database
                 return s.remove(id, tenant);
             },
             py::arg("webhook_id"), py::arg("tenant"))
        .def("deliveries",
             [](WebhookStore& s, const std::string& id, std::size_t limit) {
                 std::vector<WebhookDelivery> found;
                 {
                     const py::gil_scoped_release release;  // blocks on the database
                     found = s.deliveries(id, limit);
                 }
                 py::list out;
                 for (const auto& d : found) out.append(delivery_dict(d));
                 return out;
             },
             py::arg("webhook_id"), py::arg("limit"))
        .def("delivery",
             [](WebhookStore& s, const std::string& id) -> py::object {
                 std::optional<WebhookDelivery> found;
                 {
                     const py::gil_scoped_release release;  // blocks on the database
                     found = s.delivery(id);
                 }
                 return found ? py::object(delivery_dict(*found)) : py::object(py::none());
             },
             py::arg("delivery_id"))
        .def("enqueue_test",
             [](WebhookStore& s, const std::string& id) {
                 const py::gil_scoped_release release;  // blocks on the database
                 return s.enqueue_test(id);
             },
             py::arg("webhook_id"))
        .def("claim",
             [](WebhookStore& s, const std::string& lease_token, double lease_seconds, std::size_t limit) {
                 std::vector<ClaimedDelivery> claimed;
                 {
                     const py::gil_scoped_release release;  // blocks on the database
                     claimed = s.claim(lease_token, static_cast<std::int64_t>(lease_seconds * 1000), limit);
                 }
                 py::list out;
                 for (const auto& c : claimed)
                     out.append(py::make_tuple(c.id, c.webhook_id, c.url, c.format, c.secret, c.event, c.payload,
                                               c.attempts, c.age_seconds));
                 return out;
             },
             py::arg("lease_token"), py::arg("lease_seconds"), py::arg("limit"),
             "Leases due deliveries: [(id, webhook_id, url, format, secret, event, payload, attempts, "
             "age_seconds)], oldest first, at most one per webhook.")
        .def("finish",
             [](WebhookStore& s, const std::string& id, const std::string& lease_token, const std::string& result,
                double retry_seconds, int status, double latency_ms, const std::string& error) {
                 const AttemptResult r = attempt_result(result);
                 const py::gil_scoped_release release;  // blocks on the database
                 return s.finish(id, lease_token, r, static_cast<std::int64_t>(retry_seconds * 1000), status,
                                 latency_ms, error);
             },
             py::arg("delivery_id"), py::arg("lease_token"), py::arg("result"), py::arg("retry_seconds"),
             py::arg("status"), py::arg("latency_ms"), py::arg("error"))
        .def("alerts",
             [](WebhookStore& s, const std::string& experiment_id, std::size_t limit) {
                 std::vector<AlertTransition> found;
                 {
                     const py::gil_scoped_release release;  // blocks on the database
                     found = s.alerts(experiment_id, limit);
                 }
                 py::list out;
                 for (const auto& a : found) {
                     py::dict d;
                     d["id"] = a.id;
                     d["type"] = a.type;
                     d["state"] = a.state;
                     d["metric"] = a.metric.empty() ? py::object(py::none()) : py::object(py::str(a.metric));
                     d["variant"] = a.variant.empty() ? py::object(py::none()) : py::object(py::str(a.variant));
                     d["detail"] = a.detail;
                     d["created_at"] = a.created_at;
                     out.append(d);
                 }
                 return out;
             },
             py::arg("experiment_id"), py::arg("limit"));
}

}  // namespace expstream::bindings
