// Webhook subscriptions, the outbox of deliveries and the alert transitions (issue 16).
#include "expstream/webhooks.hpp"

#include <pqxx/pqxx>

#include <algorithm>
#include <optional>
#include <type_traits>

#include "connection_pool.hpp"
#include "json_write.hpp"
#include "store_sql.hpp"
#include "transitions.hpp"

namespace expstream {
using namespace store_sql;
namespace {

const std::string kWebhookColumns = "w.id::text, coalesce(w.tenant, ''), w.url, array_to_string(w.events, ','), "
                                    "array_to_string(w.experiments, ','), w.format, w.secret, " +
                                    iso("w.created_at");

const std::string kDeliveryColumns =
    "d.id::text, d.webhook_id::text, d.event, " + iso("d.created_at") + ", d.attempts, "
    "CASE WHEN d.delivered_at IS NOT NULL THEN 'delivered' WHEN d.failed_at IS NOT NULL THEN 'failed' "
    "ELSE 'pending' END, " + iso("d.last_attempt_at") + ", d.last_status, d.last_latency_ms, d.last_error, " +
    iso("d.next_attempt_at");

// Names and ids never hold commas (the API validates them): a comma list is their transport.
std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size() && !s.empty()) {
        const std::size_t comma = s.find(',', start);
        out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

std::string json_array(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ',';
        append_json_string(out, items[i]);
    }
    return out + ']';
}

Webhook webhook_from(const pqxx::row& r) {
    return Webhook{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(), split(r[3].as<std::string>()),
                   split(r[4].as<std::string>()), r[5].as<std::string>(), r[6].as<std::string>(),
                   r[7].as<std::string>()};
}

WebhookDelivery delivery_from(const pqxx::row& r) {
    WebhookDelivery d;
    d.id = r[0].as<std::string>();
    d.webhook_id = r[1].as<std::string>();
    d.event = r[2].as<std::string>();
    d.created_at = r[3].as<std::string>();
    d.attempts = r[4].as<std::int64_t>();
    d.state = r[5].as<std::string>();
    if (!r[6].is_null()) d.last_attempt_at = r[6].as<std::string>();
    if (!r[7].is_null()) d.last_status = r[7].as<std::int64_t>();
    if (!r[8].is_null()) d.last_latency_ms = r[8].as<double>();
    if (!r[9].is_null()) d.last_error = r[9].as<std::string>();
    d.next_attempt_at = r[10].as<std::string>();
    return d;
}

}  // namespace

namespace store_sql {

std::int64_t record_transitions(pqxx::transaction_base& tx, const std::string& experiment_id,
                                const std::vector<Transition>& transitions) {
    if (transitions.empty()) return 0;
    // The alert rows, then one delivery per matching subscription: same tenant, event listed,
    // experiment listed or "*". Ordered by transition, so each endpoint gets them in order.
    const pqxx::row r = tx.exec_params1(
        "WITH t AS (SELECT * FROM json_to_recordset($2::json) "
        "           AS x(type text, state text, metric text, variant text, detail jsonb, o int)), "
        "a AS (INSERT INTO alert_transitions (experiment_id, type, state, metric, variant, detail) "
        "      SELECT $1::uuid, type, state, nullif(metric, ''), nullif(variant, ''), detail FROM t ORDER BY o "
        "      RETURNING id, type, state, metric, variant, detail, created_at), "
        "d AS (INSERT INTO webhook_deliveries (webhook_id, event, payload) "
        "      SELECT w.id, a.type, jsonb_build_object('event', a.type, 'state', a.state, "
        "        'experiment', jsonb_build_object('id', e.id::text, 'name', e.name, 'status', e.status), "
        "        'metric', a.metric, 'variant', a.variant, 'detail', a.detail, 'alert_id', a.id, "
        "        'occurred_at', " + iso("a.created_at") + ") "
        "      FROM a JOIN experiments e ON e.id = $1::uuid "
        "      JOIN webhooks w ON coalesce(w.tenant, '') = coalesce(e.tenant, '') AND a.type = ANY(w.events) "
        "        AND ('*' = ANY(w.experiments) OR e.id::text = ANY(w.experiments)) "
        "      ORDER BY a.id, w.id RETURNING 1) "
        "SELECT count(*) FROM d",
        experiment_id, transitions_json(transitions));
    return r[0].as<std::int64_t>();
}

}  // namespace store_sql

WebhookStore::WebhookStore(std::string url, std::size_t pool_size, std::shared_ptr<LogSink> log)
    : pool_(std::make_unique<ConnectionPool>(std::move(url), pool_size, std::move(log))) {}

WebhookStore::~WebhookStore() = default;

template <class F>
auto WebhookStore::with_connection(F&& f) {
    using Result = std::invoke_result_t<F&, pqxx::connection&>;
    std::optional<Result> result;  // set by the attempt that succeeds
    pool_->run([&](pqxx::connection& c) { result.emplace(f(c)); });
    return std::move(*result);
}

Webhook WebhookStore::create(const Webhook& spec) {
    return with_connection([&](pqxx::connection& c) {
        pqxx::work tx(c);
        const pqxx::row r = tx.exec_params1(
            "WITH w AS (INSERT INTO webhooks (tenant, url, events, experiments, format, secret) "
            "VALUES (nullif($1, ''), $2, ARRAY(SELECT json_array_elements_text($3::json)), "
            "ARRAY(SELECT json_array_elements_text($4::json)), $5, $6) RETURNING *) "
            "SELECT " + kWebhookColumns + " FROM w",
            spec.tenant, spec.url, json_array(spec.events), json_array(spec.experiments), spec.format, spec.secret);
        tx.commit();
        return webhook_from(r);
    });
}

std::vector<Webhook> WebhookStore::list(const std::string& tenant) {
    return with_connection([&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::vector<Webhook> out;
        for (const auto& r : tx.exec_params("SELECT " + kWebhookColumns + " FROM webhooks w "
                                            "WHERE coalesce(w.tenant, '') = $1 ORDER BY w.created_at, w.id",
                                            tenant))
            out.push_back(webhook_from(r));
        return out;
    });
}

std::optional<Webhook> WebhookStore::get(const std::string& id, const std::string& tenant) {
    return with_connection([&](pqxx::connection& c) -> std::optional<Webhook> {
        pqxx::read_transaction tx(c);
        const pqxx::result r = tx.exec_params(
            "SELECT " + kWebhookColumns + " FROM webhooks w WHERE w.id = $1::uuid AND coalesce(w.tenant, '') = $2",
            id, tenant);
        if (r.empty()) return std::nullopt;
        return webhook_from(r[0]);
    });
}

bool WebhookStore::remove(const std::string& id, const std::string& tenant) {
    return with_connection([&](pqxx::connection& c) {
        pqxx::work tx(c);
        const bool gone = !tx.exec_params("DELETE FROM webhooks WHERE id = $1::uuid AND coalesce(tenant, '') = $2 "
                                          "RETURNING 1",
                                          id, tenant)
                               .empty();
        tx.commit();
        return gone;
    });
}

std::vector<WebhookDelivery> WebhookStore::deliveries(const std::string& webhook_id, std::size_t limit) {
    return with_connection([&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::vector<WebhookDelivery> out;
        for (const auto& r : tx.exec_params("SELECT " + kDeliveryColumns + " FROM webhook_deliveries d "
                                            "WHERE d.webhook_id = $1::uuid ORDER BY d.seq DESC LIMIT $2",
                                            webhook_id, static_cast<long>(limit)))
            out.push_back(delivery_from(r));
        return out;
    });
}

std::optional<WebhookDelivery> WebhookStore::delivery(const std::string& delivery_id) {
    return with_connection([&](pqxx::connection& c) -> std::optional<WebhookDelivery> {
        pqxx::read_transaction tx(c);
        const pqxx::result r =
            tx.exec_params("SELECT " + kDeliveryColumns + " FROM webhook_deliveries d WHERE d.id = $1::uuid", delivery_id);
        if (r.empty()) return std::nullopt;
        return delivery_from(r[0]);
    });
}

std::string WebhookStore::enqueue_test(const std::string& webhook_id) {
    return with_connection([&](pqxx::connection& c) {
        pqxx::work tx(c);
        const pqxx::result r = tx.exec_params(
            "INSERT INTO webhook_deliveries (webhook_id, event, payload) "
            "SELECT id, 'test', jsonb_build_object('event', 'test', 'webhook_id', id::text, "
            "  'message', 'a test delivery from expstream', 'occurred_at', " + iso("now()") + ") "
            "FROM webhooks WHERE id = $1::uuid RETURNING id::text",
            webhook_id);
        if (r.empty()) throw NotFound("webhook " + webhook_id + " not found");
        tx.commit();
        return r[0][0].as<std::string>();
    });
}

std::vector<ClaimedDelivery> WebhookStore::claim(const std::string& lease_token, std::int64_t lease_ms,
                                                 std::size_t limit) {
    return with_connection([&](pqxx::connection& c) {
        pqxx::work tx(c);
        // heads: each webhook's oldest unsettled delivery; a later one waits for it (order, and one
        // request per endpoint at a time). The lease and due conditions sit on d itself, so that a
        // row another sender leased in the meantime is re-checked after its lock, not sent twice.
        const pqxx::result rows = tx.exec_params(
            "WITH heads AS (SELECT DISTINCT ON (webhook_id) seq FROM webhook_deliveries "
            "               WHERE delivered_at IS NULL AND failed_at IS NULL ORDER BY webhook_id, seq), "
            "due AS (SELECT d.seq FROM webhook_deliveries d JOIN heads h ON h.seq = d.seq "
            "        WHERE d.delivered_at IS NULL AND d.failed_at IS NULL AND d.next_attempt_at <= now() "
            "          AND (d.leased_until IS NULL OR d.leased_until < now()) "
            "        ORDER BY d.seq LIMIT $3 FOR UPDATE OF d SKIP LOCKED) "
            "UPDATE webhook_deliveries d SET leased_until = now() + $2 * interval '1 millisecond', "
            "  lease_token = $1, attempts = d.attempts + 1 "
            "FROM due, webhooks w WHERE d.seq = due.seq AND w.id = d.webhook_id "
            "RETURNING d.id::text, d.webhook_id::text, w.url, w.format, w.secret, d.event, d.payload::text, "
            "  d.attempts, extract(epoch FROM now() - d.created_at)::float8, d.seq",
            lease_token, static_cast<long long>(lease_ms), static_cast<long>(limit));
        tx.commit();
        std::vector<std::pair<std::int64_t, ClaimedDelivery>> sorted;
        for (const auto& r : rows)
            sorted.emplace_back(r[9].as<std::int64_t>(),
                                ClaimedDelivery{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                                                r[3].as<std::string>(), r[4].as<std::string>(), r[5].as<std::string>(),
                                                r[6].as<std::string>(), r[7].as<std::int64_t>(), r[8].as<double>()});
        std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        std::vector<ClaimedDelivery> out;
        for (auto& [seq, d] : sorted) out.push_back(std::move(d));
        return out;
    });
}

bool WebhookStore::finish(const std::string& delivery_id, const std::string& lease_token, AttemptResult result,
                          std::int64_t retry_ms, int status, double latency_ms, const std::string& error) {
    const char* outcome = result == AttemptResult::Delivered ? "delivered"
                          : result == AttemptResult::Failed  ? "failed"
                                                             : "retry";
    return with_connection([&](pqxx::connection& c) {
        pqxx::work tx(c);
        const bool ours = !tx.exec_params(
                               "UPDATE webhook_deliveries SET leased_until = NULL, lease_token = NULL, "
                               "  last_attempt_at = now(), last_status = nullif($4, 0), last_latency_ms = $5, "
                               "  last_error = nullif($6, ''), "
                               "  delivered_at = CASE WHEN $3 = 'delivered' THEN now() END, "
                               "  failed_at = CASE WHEN $3 = 'failed' THEN now() END, "
                               "  next_attempt_at = now() + $7 * interval '1 millisecond' "
                               "WHERE id = $1::uuid AND lease_token = $2 AND delivered_at IS NULL "
                               "  AND failed_at IS NULL RETURNING 1",
                               delivery_id, lease_token, std::string(outcome), status, latency_ms, error,
                               static_cast<long long>(retry_ms))
                               .empty();
        tx.commit();
        return ours;
    });
}

std::vector<AlertTransition> WebhookStore::alerts(const std::string& experiment_id, std::size_t limit) {
    return with_connection([&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::vector<AlertTransition> out;
        for (const auto& r : tx.exec_params(
                 "SELECT id, type, state, coalesce(metric, ''), coalesce(variant, ''), detail::text, " +
                     iso("created_at") + " FROM alert_transitions WHERE experiment_id = $1::uuid "
                     "ORDER BY id DESC LIMIT $2",
                 experiment_id, static_cast<long>(limit)))
            out.push_back(AlertTransition{r[0].as<std::int64_t>(), r[1].as<std::string>(), r[2].as<std::string>(),
                                          r[3].as<std::string>(), r[4].as<std::string>(), r[5].as<std::string>(),
                                          r[6].as<std::string>()});
        return out;
    });
}

}  // namespace expstream
