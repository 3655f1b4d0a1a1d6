// What the Store's translation units share: the SQL helpers every write path uses and the
// pooled-connection runner. Internal to the core (not installed, not included by the bindings).
#pragma once

#include <pqxx/pqxx>

#include <cstdio>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "connection_pool.hpp"
#include "expstream/notice.hpp"
#include "expstream/store.hpp"

namespace expstream {
namespace store_sql {

inline const char* const kIsoTime = R"(to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'))";

inline std::string iso(const char* column) {
    char buf[160];
    std::snprintf(buf, sizeof buf, kIsoTime, column);
    return buf;
}

// Locks the experiment row for the rest of the transaction: ingest, status changes and look
// records of one experiment are serialized, so seq, totals and "first assignment wins" stay exact.
// Every writer takes this lock before any variants row (one lock order: no deadlocks). NO KEY
// UPDATE, not UPDATE: foreign-key checks of rows that reference the experiment (history points)
// need not wait for it.
inline std::string lock_experiment(pqxx::transaction_base& tx, const std::string& id) {
    const pqxx::result r =
        tx.exec_params("SELECT status FROM experiments WHERE id = $1::uuid FOR NO KEY UPDATE", id);
    if (r.empty()) throw NotFound("experiment " + id + " not found");
    return r[0][0].as<std::string>();
}

inline void ensure_accepts_data(const std::string& status) {
    if (status == "completed") throw Conflict("experiment is completed and accepts no more data");
}

// A batch travels as one JSON parameter: one round trip, set-based SQL, no per-row statements.
// Each row becomes {<fields>,"o":<index>}, the index keeping the caller's order.
template <class Row, class WriteFields>
std::string batch_json(const std::vector<Row>& batch, std::size_t bytes_per_row, WriteFields write_fields) {
    std::string json = "[";
    json.reserve(batch.size() * bytes_per_row + 2);
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (i) json += ',';
        json += '{';
        write_fields(json, batch[i]);
        json += ",\"o\":" + std::to_string(i) + '}';
    }
    json += ']';
    return json;
}

// One ingest transaction: the experiment row locked (ingest of one experiment is serialized, so
// seq and "first wins" stay exact), completed experiments refused, seq bumped when numbers moved.
// NOTIFY is delivered at commit, and only if the transaction commits: listeners never hear of a
// change that did not happen.
inline void notify_change(pqxx::transaction_base& tx, const ChangeNotice& notice) {
    tx.exec_params("SELECT pg_notify($1, $2)", kChangesChannel, notice_json(notice));
}

// Ingest looks rows up by their whole key, a few thousand probes per batch. For a new experiment
// (or a fresh table) the planner estimates a handful of rows under the experiment and picks a bitmap
// scan on experiment_id alone, which rereads every row of the experiment for each probe: quadratic,
// 22 s for the first batch of 10,000 once the batch's own upserts sit in the index. Index scans
// on the whole key are the right plan at every size.
inline void keyed_lookups_only(pqxx::transaction_base& tx) { tx.exec("SET LOCAL enable_bitmapscan = off"); }

// The end of every ingest transaction, under the experiment lock: seq bumped and the change
// announced when numbers moved, then commit.
inline IngestResult commit_ingest(pqxx::work& tx, const std::string& node_id, const std::string& experiment_id,
                                  std::int64_t total, IngestResult result) {
    result.duplicates = total - result.accepted;
    if (result.changed) {
        tx.exec_params("UPDATE experiments SET seq = seq + 1 WHERE id = $1::uuid", experiment_id);
        result.alerting = tx.exec_params1(
                                "SELECT EXISTS (SELECT 1 FROM webhooks w JOIN experiments e ON e.id = $1::uuid "
                                "WHERE coalesce(w.tenant, '') = coalesce(e.tenant, '') AND w.events <> '{status_changed}' "
                                "AND ('*' = ANY(w.experiments) OR e.id::text = ANY(w.experiments)))",
                                experiment_id)[0]
                              .as<bool>();
        notify_change(tx, ChangeNotice{node_id, experiment_id, std::nullopt});
    }
    tx.commit();
    return result;
}

template <class Insert>
IngestResult ingest_transaction(pqxx::connection& c, const std::string& node_id, const std::string& experiment_id,
                                std::int64_t total, Insert insert) {
    pqxx::work tx(c);
    keyed_lookups_only(tx);
    ensure_accepts_data(lock_experiment(tx, experiment_id));
    return commit_ingest(tx, node_id, experiment_id, total, insert(tx));
}

// Records the transitions (alert rows) and queues one webhook delivery per matching subscription,
// in the caller's transaction; returns the deliveries queued (store_webhooks.cpp).
std::int64_t record_transitions(pqxx::transaction_base& tx, const std::string& experiment_id,
                                const std::vector<Transition>& transitions);

// Metric definitions and sums (store_metrics.cpp).
void insert_metrics(pqxx::transaction_base& tx, const std::string& experiment_id,
                    const std::vector<MetricSpec>& metrics);
void load_metrics(pqxx::transaction_base& tx, std::vector<Experiment>& experiments);
void read_metric_sums(pqxx::transaction_base& tx, SnapshotData& data);
// Recomputes user_totals and metric_sums of one experiment from its raw rows.
void rebuild_metric_totals(pqxx::transaction_base& tx, const std::string& experiment_id);
// The experiment's snapshot data as of the transaction's snapshot; empty when it does not exist.
std::optional<SnapshotData> read_snapshot_in(pqxx::transaction_base& tx, const std::string& experiment_id);

// Dimension breakdowns (store_dimensions.cpp). After an assignment batch: values that overtook a
// slotted one take its slot, and their dimensions are recounted.
void rebalance_dimensions(pqxx::transaction_base& tx, const std::string& experiment_id);
// Recomputes every dimension's totals of one experiment from the users' totals.
void rebuild_dimension_totals(pqxx::transaction_base& tx, const std::string& experiment_id);
// Appends the dimension totals that disagree with a recount (verify).
void dimension_drift(pqxx::transaction_base& tx, const std::string& experiment_id, std::vector<TotalsDrift>& drift);

}  // namespace store_sql

template <class F>
auto Store::with_connection(F&& f) {
    using Result = std::invoke_result_t<F&, pqxx::connection&>;
    if constexpr (std::is_void_v<Result>) {
        pool_->run([&](pqxx::connection& c) { f(c); });
    } else {
        std::optional<Result> result;  // set by the attempt that succeeds
        pool_->run([&](pqxx::connection& c) { result.emplace(f(c)); });
        return std::move(*result);
    }
}

}  // namespace expstream
