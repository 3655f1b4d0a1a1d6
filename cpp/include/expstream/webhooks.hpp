// Webhook subscriptions, their outbox of deliveries and the alert transitions, in PostgreSQL.
// The transitions and their deliveries are written by the look (or status change) that saw them,
// in its own transaction (Store::record_look, Store::set_status); this class reads them and lets
// a sender claim and settle deliveries. Every method takes a pooled connection; thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace expstream {

class ConnectionPool;
class LogSink;

// Event types a subscription may list.
inline constexpr const char* kWebhookEvents[] = {"significance", "guardrail", "srm", "multiple_exposures",
                                                 "status_changed"};

struct Webhook {
    std::string id;
    std::string tenant;  // empty: the default tenant
    std::string url;
    std::vector<std::string> events;
    std::vector<std::string> experiments;  // ids, or {"*"}
    std::string format;                    // json | slack
    std::string secret;
    std::string created_at;  // ISO 8601, UTC
};

// One delivery and what its latest attempt gave.
struct WebhookDelivery {
    std::string id;
    std::string webhook_id;
    std::string event;
    std::string created_at;
    std::int64_t attempts = 0;
    std::string state;  // pending | delivered | failed
    std::optional<std::string> last_attempt_at;
    std::optional<std::int64_t> last_status;
    std::optional<double> last_latency_ms;
    std::optional<std::string> last_error;
    std::string next_attempt_at;
};

// A delivery a sender holds the lease of, with what it needs to send it.
struct ClaimedDelivery {
    std::string id;
    std::string webhook_id;
    std::string url;
    std::string format;
    std::string secret;
    std::string event;
    std::string payload;  // JSON object
    std::int64_t attempts = 0;      // including this one
    double age_seconds = 0.0;       // since the delivery was queued
};

struct AlertTransition {
    std::int64_t id = 0;
    std::string type;
    std::string state;
    std::string metric;   // empty: none
    std::string variant;  // empty: none
    std::string detail;   // JSON object
    std::string created_at;
};

// How an attempt ended.
enum class AttemptResult { Delivered, Retry, Failed };

class WebhookStore {
public:
    WebhookStore(std::string url, std::size_t pool_size, std::shared_ptr<LogSink> log = nullptr);
    ~WebhookStore();
    WebhookStore(const WebhookStore&) = delete;
    WebhookStore& operator=(const WebhookStore&) = delete;

    Webhook create(const Webhook& spec);  // id and created_at are generated
    std::vector<Webhook> list(const std::string& tenant);
    std::optional<Webhook> get(const std::string& id, const std::string& tenant);
    bool remove(const std::string& id, const std::string& tenant);
    // Newest first.
    std::vector<WebhookDelivery> deliveries(const std::string& webhook_id, std::size_t limit);
    std::optional<WebhookDelivery> delivery(const std::string& delivery_id);
    // Queues a "test" delivery behind the webhook's pending ones; returns its id.
    std::string enqueue_test(const std::string& webhook_id);

    // Leases up to `limit` due deliveries for lease_ms: per webhook only its oldest unsettled one,
    // and only when no other sender holds it (FOR UPDATE SKIP LOCKED; an expired lease is free).
    std::vector<ClaimedDelivery> claim(const std::string& lease_token, std::int64_t lease_ms, std::size_t limit);
    // Settles an attempt if the lease is still ours (false: it expired and someone else has it).
    // Retry: due again in retry_ms. status 0: no HTTP response.
    bool finish(const std::string& delivery_id, const std::string& lease_token, AttemptResult result,
                std::int64_t retry_ms, int status, double latency_ms, const std::string& error);

    // The experiment's transitions, newest first.
    std::vector<AlertTransition> alerts(const std::string& experiment_id, std::size_t limit);

private:
    template <class F>
    auto with_connection(F&& f);

    std::unique_ptr<ConnectionPool> pool_;
};

}  // namespace expstream
