#include "expstream/store.hpp"

#include <pqxx/pqxx>

#include <cstdio>
#include <optional>
#include <type_traits>
#include <utility>

#include "migrations.hpp"
#include "json_write.hpp"
#include "store_sql.hpp"
#include "transitions.hpp"
#include "expstream/log.hpp"
#include "expstream/notice.hpp"
#include "expstream/snapshot.hpp"

namespace expstream {
using namespace store_sql;
namespace {

const std::string kExperimentColumns = "e.id::text, e.name, e.status, " + iso("e.created_at") + ", " +
                                       iso("e.activated_at") + ", e.seq, e.tenant, e.exposures, e.cuped, "
                                       "array_to_string(e.dimensions, ',')";

bool status_change_allowed(const std::string& from, const std::string& to) {
    if (from == to) return true;
    if (from == "completed") return false;  // final
    if (to == "draft") return false;        // data may exist; going back would mislabel it
    return true;
}

std::string join_names(const std::vector<std::string>& names) {
    std::string joined;
    for (const auto& n : names) joined += (joined.empty() ? "" : ",") + n;
    return joined;
}

// "a,b" -> {"a", "b"}: dimension names are [a-z0-9_], so a comma never occurs inside one.
std::vector<std::string> split_names(const std::string& joined) {
    std::vector<std::string> names;
    std::size_t start = 0;
    while (start < joined.size()) {
        const std::size_t end = std::min(joined.find(',', start), joined.size());
        names.push_back(joined.substr(start, end - start));
        start = end + 1;
    }
    return names;
}

Experiment experiment_from(const pqxx::row& r) {
    Experiment e;
    e.id = r[0].as<std::string>();
    e.name = r[1].as<std::string>();
    e.status = r[2].as<std::string>();
    e.created_at = r[3].as<std::string>();
    if (!r[4].is_null()) e.activated_at = r[4].as<std::string>();
    e.seq = r[5].as<std::int64_t>();
    if (!r[6].is_null()) e.tenant = r[6].as<std::string>();
    e.exposures = r[7].as<std::string>();
    e.cuped = r[8].as<bool>();
    e.dimensions = split_names(r[9].as<std::string>());
    return e;
}

void load_variants(pqxx::transaction_base& tx, std::vector<Experiment>& experiments) {
    if (experiments.empty()) return;
    std::string ids = "{";
    for (std::size_t i = 0; i < experiments.size(); ++i) {
        if (i) ids += ',';
        ids += experiments[i].id;  // uuids: no quoting needed inside an array literal
    }
    ids += '}';
    const pqxx::result rows = tx.exec_params(
        "SELECT experiment_id::text, key, name, is_control, weight FROM variants "
        "WHERE experiment_id = ANY($1::uuid[]) ORDER BY experiment_id, position",
        ids);
    load_metrics(tx, experiments);
    for (auto& experiment : experiments) {
        for (const auto& r : rows) {
            if (r[0].as<std::string>() != experiment.id) continue;
            experiment.variants.push_back(
                VariantSpec{r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<bool>(), r[4].as<double>()});
        }
    }
}

}  // namespace

Store::Store(std::string url, std::size_t pool_size, std::string node_id, std::shared_ptr<LogSink> log)
    : node_id_(std::move(node_id)),
      pool_(std::make_unique<ConnectionPool>(std::move(url), pool_size, std::move(log))) {}

Store::~Store() = default;

const std::string& Store::url() const { return pool_->url(); }

void Store::migrate() {
    with_connection([](pqxx::connection& c) {
        pqxx::work tx(c);
        tx.exec("SELECT pg_advisory_xact_lock(7265730001)");
        tx.exec("CREATE TABLE IF NOT EXISTS expstream_migrations (version integer PRIMARY KEY)");
        const int applied = tx.exec1("SELECT coalesce(max(version), 0) FROM expstream_migrations")[0].as<int>();
        const int total = static_cast<int>(kMigrationCount);
        for (int v = applied; v < total; ++v) {
            tx.exec(kMigrations[v]);
            tx.exec_params("INSERT INTO expstream_migrations (version) VALUES ($1)", v + 1);
        }
        tx.commit();
    });
}

bool Store::ping() {
    try {
        with_connection([](pqxx::connection& c) {
            pqxx::nontransaction tx(c);
            tx.exec("SELECT 1");
        });
        return true;
    } catch (const std::exception& e) {
        emit(pool_->log(), LogLevel::Warning, kLogStore, std::string("ping failed: ") + e.what());
        return false;
    }
}

Experiment Store::create_experiment(const std::string& name, const std::vector<VariantSpec>& variants,
                                    const std::optional<std::string>& tenant, const std::vector<MetricSpec>& metrics,
                                    const std::string& exposures, bool cuped,
                                    const std::vector<std::string>& dimensions) {
    return with_connection([&](pqxx::connection& c) {
        pqxx::work tx(c);
        // libpqxx 6 has no optional parameters: an empty string stands for NULL here.
        Experiment e = experiment_from(tx.exec_params1(
            "WITH e AS (INSERT INTO experiments (name, tenant, exposures, cuped, dimensions) "
            "VALUES ($1, nullif($2, ''), $3, $4, string_to_array($5, ',')) "
            "RETURNING *) SELECT " + kExperimentColumns + " FROM e",
            name, tenant.value_or(""), exposures, cuped, join_names(dimensions)));
        int position = 0;
        for (const auto& v : variants) {
            tx.exec_params(
                "INSERT INTO variants (experiment_id, position, key, name, is_control, weight) "
                "VALUES ($1::uuid, $2, $3, $4, $5, $6)",
                e.id, position++, v.key, v.name, v.is_control, v.weight);
        }
        insert_metrics(tx, e.id, metrics);
        tx.commit();
        e.variants = variants;
        e.metrics = metrics.empty() ? std::vector<MetricSpec>{default_metric()} : metrics;
        return e;
    });
}

Experiment Store::set_metrics(const std::string& id, const std::vector<MetricSpec>& metrics) {
    Experiment e = with_connection([&](pqxx::connection& c) {
        pqxx::work tx(c);
        if (lock_experiment(tx, id) != "draft")
            throw Conflict("metrics can only be changed while the experiment is a draft");
        tx.exec_params("DELETE FROM metrics WHERE experiment_id = $1::uuid", id);
        insert_metrics(tx, id, metrics);
        rebuild_metric_totals(tx, id);  // a draft may hold data already: count it the new way
        tx.exec_params("UPDATE experiments SET seq = seq + 1 WHERE id = $1::uuid", id);
        notify_change(tx, ChangeNotice{node_id_, id, std::nullopt});
        std::vector<Experiment> one{
            experiment_from(tx.exec_params1("SELECT " + kExperimentColumns + " FROM experiments e WHERE e.id = $1::uuid", id))};
        load_variants(tx, one);
        tx.commit();
        return std::move(one[0]);
    });
    announce(ChangeNotice{node_id_, id, std::nullopt}, false);
    return e;
}

std::vector<Experiment> Store::list_experiments() {
    return with_connection([&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::vector<Experiment> out;
        for (const auto& r : tx.exec("SELECT " + kExperimentColumns + " FROM experiments e ORDER BY e.created_at DESC, e.id"))
            out.push_back(experiment_from(r));
        load_variants(tx, out);
        return out;
    });
}

std::optional<Experiment> Store::get_experiment(const std::string& id) {
    return with_connection([&](pqxx::connection& c) -> std::optional<Experiment> {
        pqxx::read_transaction tx(c);
        const pqxx::result r = tx.exec_params("SELECT " + kExperimentColumns + " FROM experiments e WHERE e.id = $1::uuid", id);
        if (r.empty()) return std::nullopt;
        std::vector<Experiment> one{experiment_from(r[0])};
        load_variants(tx, one);
        return std::move(one[0]);
    });
}

StatusChange Store::set_status(const std::string& id, const std::string& status, const std::string& trace_id) {
    StatusChange change = with_connection([&](pqxx::connection& c) {
        pqxx::work tx(c);
        const std::string current = lock_experiment(tx, id);
        if (!status_change_allowed(current, status))
            throw Conflict("cannot change status from " + current + " to " + status);
        std::string changed_at;
        if (current != status) {
            changed_at = tx.exec_params1(
                               "UPDATE experiments SET status = $2, seq = seq + 1, "
                               "activated_at = CASE WHEN $2 = 'active' THEN coalesce(activated_at, now()) "
                               "ELSE activated_at END "
                               "WHERE id = $1::uuid RETURNING " + iso("now()"),
                               id, status)[0]
                             .as<std::string>();
            notify_change(tx, ChangeNotice{node_id_, id, StatusNotice{status, current, changed_at, trace_id}});
            record_transitions(tx, id, {status_transition(current, status)});
        }
        std::vector<Experiment> one{
            experiment_from(tx.exec_params1("SELECT " + kExperimentColumns + " FROM experiments e WHERE e.id = $1::uuid", id))};
        load_variants(tx, one);
        tx.commit();
        return StatusChange{std::move(one[0]), current, std::move(changed_at)};
    });
    if (!change.changed_at.empty())
        announce(ChangeNotice{node_id_, id, StatusNotice{status, change.previous_status, change.changed_at, trace_id}},
                 false);
    return change;
}

std::string Store::history_json(const std::string& experiment_id, std::size_t max_points) {
    return with_connection([&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        // Keep every k-th point (k chosen so at most max_points remain), and always the newest.
        const pqxx::row r = tx.exec_params1(
            "WITH h AS (SELECT seq, point, row_number() OVER (ORDER BY seq) AS rn, count(*) OVER () AS n "
            "           FROM results_history WHERE experiment_id = $1::uuid), "
            "k AS (SELECT greatest(1, ceil(max(n)::numeric / $2))::bigint AS step FROM h) "
            "SELECT json_build_object('experiment_id', $1::text, 'points', "
            "  coalesce(json_agg(h.point ORDER BY h.seq), '[]'::json))::text "
            "FROM h, k WHERE (h.n - h.rn) % k.step = 0",
            experiment_id, static_cast<long>(max_points));
        if (r[0].is_null()) return std::string("{\"experiment_id\":\"") + experiment_id + "\",\"points\":[]}";
        return r[0].as<std::string>();
    });
}

void Store::publish_presence(const std::vector<std::pair<std::string, std::size_t>>& counts) {
    std::string json = "[";
    for (std::size_t i = 0; i < counts.size(); ++i) {
        if (i) json += ',';
        json += "{\"e\":";
        append_json_string(json, counts[i].first);
        json += ",\"n\":" + std::to_string(counts[i].second) + '}';
    }
    json += ']';
    with_connection([&](pqxx::connection& c) {
        pqxx::work tx(c);
        tx.exec_params(
            "INSERT INTO nodes (node_id) VALUES ($1) ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = now()",
            node_id_);
        tx.exec_params("DELETE FROM node_subscribers WHERE node_id = $1", node_id_);
        tx.exec_params(
            "INSERT INTO node_subscribers (node_id, experiment_id, subscribers) "
            "SELECT $1, x.e, x.n FROM json_to_recordset($2::json) AS x(e text, n integer) WHERE x.n > 0",
            node_id_, json);
        // Nodes silent for a day are gone for good: keep the table small.
        tx.exec("DELETE FROM nodes WHERE heartbeat_at < now() - interval '1 day'");
        tx.commit();
    });
}

void Store::leave() {
    with_connection([&](pqxx::connection& c) {
        pqxx::work tx(c);
        tx.exec_params("DELETE FROM nodes WHERE node_id = $1", node_id_);
        tx.commit();
    });
}

std::vector<NodeCount> Store::other_nodes_subscribers(std::chrono::milliseconds alive_within) {
    return with_connection([&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        const pqxx::result rows = tx.exec_params(
            "SELECT s.experiment_id, coalesce(e.tenant, ''), sum(s.subscribers)::bigint "
            "FROM node_subscribers s JOIN nodes n ON n.node_id = s.node_id "
            "JOIN experiments e ON e.id::text = s.experiment_id "
            "WHERE s.node_id <> $1 AND n.heartbeat_at > now() - $2 * interval '1 millisecond' "
            "GROUP BY s.experiment_id, e.tenant ORDER BY s.experiment_id",
            node_id_, static_cast<long long>(alive_within.count()));
        std::vector<NodeCount> out;
        for (const auto& r : rows) {
            NodeCount n;
            n.experiment_id = r[0].as<std::string>();
            if (!r[1].as<std::string>().empty()) n.tenant = r[1].as<std::string>();
            n.subscribers = r[2].as<std::int64_t>();
            out.push_back(std::move(n));
        }
        return out;
    });
}

}  // namespace expstream
