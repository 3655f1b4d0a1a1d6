// Ingest: assignments and events, each batch one transaction that also moves the running totals
// (participants per variant; per metric the users' raw totals and the variants' sums), so that a
// snapshot reads a few rows however much data there is.
#include <pqxx/pqxx>

#include <unordered_set>

#include "expstream/snapshot.hpp"
#include "expstream/store.hpp"
#include "json_write.hpp"
#include "dimension_sql.hpp"
#include "metric_sql.hpp"
#include "store_sql.hpp"

namespace expstream {
using namespace store_sql;
using metric_sql::kApplyDeltas;
using metric_sql::kEventMetrics;
using metric_sql::value_of;

namespace {

// Assignments: new participants, and what they already did (events before their assignment) now
// counts in their variant's sums. A user named with another variant than their first is flagged
// (multiple exposures; the first assignment still wins); when the experiment excludes such users,
// a flagged user leaves every total (sign -1) or never enters it. Every part of one statement sees
// the tables as they were before it, so `vals` reads the users' totals as they stand.
const std::string kAssignSql =
    std::string("WITH mode AS (SELECT exposures = 'exclude' AS exclude FROM experiments WHERE id = $1::uuid), "
                // A user named with two variants in one batch: a window, not a self-join (quadratic).
                "batch AS (SELECT x.u, v.id AS variant_id, x.o, x.c, x.a, "
                "    min(v.id) OVER w <> max(v.id) OVER w AS conflicted "
                "  FROM json_to_recordset($2::json) AS x(u text, k text, c jsonb, a jsonb, o bigint) "
                "  JOIN variants v ON v.experiment_id = $1::uuid AND v.key = x.k WINDOW w AS (PARTITION BY x.u)), "
                "ins AS ("
                "  INSERT INTO assignments (experiment_id, user_id, variant_id, multiple, covariates, attributes) "
                "  SELECT DISTINCT ON (b.u) $1::uuid, b.u, b.variant_id, b.conflicted, b.c, b.a "
                "  FROM batch b ORDER BY b.u, b.o "
                "  ON CONFLICT (experiment_id, user_id) DO NOTHING "
                "  RETURNING user_id, variant_id, multiple, covariates, attributes), "
                "flagged AS ("
                "  UPDATE assignments a SET multiple = true FROM batch b "
                "  WHERE a.experiment_id = $1::uuid AND a.user_id = b.u AND b.variant_id <> a.variant_id "
                "    AND NOT a.multiple "
                "  RETURNING a.user_id, a.variant_id, a.covariates, a.attributes), "
                "counted AS ("
                "  SELECT ins.user_id, ins.variant_id, 1 AS sign, ins.covariates, ins.attributes AS attrs FROM ins, mode "
                "  WHERE NOT (ins.multiple AND mode.exclude) "
                "  UNION ALL SELECT flagged.user_id, flagged.variant_id, -1, flagged.covariates, flagged.attributes "
                "  FROM flagged, mode "
                "  WHERE mode.exclude), "
                "per_variant AS (SELECT variant_id, sum(sign) AS participants FROM counted GROUP BY variant_id), "
                "totals AS ("
                "  UPDATE variants v SET participants = v.participants + p.participants "
                "  FROM per_variant p WHERE v.id = p.variant_id AND p.participants <> 0 RETURNING 1), "
                "exposed AS (SELECT count(*) AS n FROM (SELECT user_id FROM ins WHERE multiple "
                "  UNION ALL SELECT user_id FROM flagged) z), "
                "bump AS ("
                "  UPDATE experiments e SET multiple_exposures = e.multiple_exposures + exposed.n FROM exposed "
                "  WHERE e.id = $1::uuid AND exposed.n > 0 RETURNING 1), ") +
    dimension_sql::kDimensionCtes +
    // Each counted user's value of each dimension gains (or loses) a user.
    "dim_users AS (UPDATE dimension_values d SET users = d.users + c.n FROM ("
    "  SELECT k.dim, c.attrs ->> k.dim AS value, sum(c.sign) AS n FROM counted c CROSS JOIN dims "
    "  CROSS JOIN unnest(dims.list) AS k(dim) WHERE c.attrs ? k.dim GROUP BY 1, 2) c "
    "  WHERE d.experiment_id = $1::uuid AND d.dimension = c.dim AND d.value = c.value AND c.n <> 0 RETURNING 1), " +
    kEventMetrics +
    "src AS (SELECT c.variant_id, c.sign, t.user_id, t.metric, " + value_of("t.total", "m.kind", "m.cap") +
    " AS x, c.attrs FROM counted c JOIN user_totals t ON t.experiment_id = $1::uuid AND t.user_id = c.user_id "
    "  JOIN m ON m.key = t.metric), "
    "xy AS (" + metric_sql::ratio_products("attrs") + "), "
    // Covariates enter with the user (with x = 0 when the user did nothing yet) and leave with them.
    "cov AS (SELECT c.variant_id, c.sign, m.key AS metric, " + metric_sql::covariate_of("c.covariates", "m.key") +
    " AS c, coalesce(" + value_of("t.total", "m.kind", "m.cap") + ", 0) AS x, c.attrs "
    "  FROM counted c CROSS JOIN m "
    "  LEFT JOIN user_totals t ON t.experiment_id = $1::uuid AND t.user_id = c.user_id AND t.metric = m.key "
    "  WHERE c.covariates ? m.key), "
    "deltas AS (SELECT variant_id, metric, sign * x AS ds, sign * x * x AS dss, 0::numeric AS dxy, "
    "    0::numeric AS dc, 0::numeric AS dcc, 0::numeric AS dxc, attrs FROM src "
    "  UNION ALL SELECT variant_id, metric, 0, 0, xy, 0, 0, 0, attrs FROM xy "
    "  UNION ALL SELECT variant_id, metric, 0, 0, 0, sign * c, sign * c * c, sign * x * c, attrs FROM cov), " +
    kApplyDeltas + ", "
    "dim_src AS (SELECT variant_id, metric, attrs, 0 AS users, ds, dss, dxy, dc, dcc, dxc FROM deltas "
    "  UNION ALL SELECT variant_id, '', attrs, sign, 0, 0, 0, 0, 0, 0 FROM counted), " +
    dimension_sql::apply_dimension_deltas() +
    "SELECT (SELECT count(*) FROM ins), "
    "(SELECT count(*) FROM totals) + (SELECT count(*) FROM bump) + (SELECT count(*) FROM upd) > 0";

// Events, in two steps. First, before the experiment lock, the events themselves, stored once per
// event_id: the larger part of a batch's work (parsing, the rows, their index), which another
// batch's second step may overlap. Ids are written in sorted order (the first of a batch's
// repeats still wins), so two batches that share ids never wait for each other in a cycle.
// Returns the stored events' ids.
const char* const kStoreEventsSql =
    "INSERT INTO events (experiment_id, user_id, type, value, event_id) "
    "SELECT $1::uuid, x.u, x.t, x.v, x.e "
    "FROM json_to_recordset($2::json) AS x(u text, t text, v numeric, e text, o bigint) ORDER BY x.e, x.o "
    "ON CONFLICT (experiment_id, event_id) WHERE event_id IS NOT NULL DO NOTHING RETURNING event_id";

// Then, under the lock, the stored events ($2: user, type, value) move the totals: each adds to
// its user's raw total of every metric counting its type. For an assigned user, the variant's sums
// move from the user's old value to the new one (capping is exact: the old capped value leaves, the
// new one enters), and so do the cross products of the ratios built on that metric (the other
// part's value read as it stands).
const std::string kEventsSql =
    std::string("WITH ins AS (SELECT x.u AS user_id, x.t AS type, x.v AS value "
                "  FROM json_to_recordset($2::json) AS x(u text, t text, v numeric)), ") +
    kEventMetrics +
    "agg AS (SELECT m.key AS metric, ins.user_id, sum(" + metric_sql::event_amount("m.kind", "ins.value") +
    ") AS delta "
    "  FROM ins JOIN m ON m.event_type = ins.type GROUP BY m.key, ins.user_id), "
    "up AS (INSERT INTO user_totals AS t (experiment_id, metric, user_id, total) "
    "  SELECT $1::uuid, metric, user_id, delta FROM agg "
    "  ON CONFLICT (experiment_id, user_id, metric) DO UPDATE SET total = t.total + EXCLUDED.total "
    "  RETURNING t.metric, t.user_id, t.total), "
    // The users' totals before this batch: the upsert's new total less the delta, the two met by
    // grouping (a join of two CTEs would be quadratic; a second lookup of each key costs as much).
    "old AS (SELECT metric, user_id, max(delta) AS delta, max(total) - max(delta) AS total FROM ("
    "  SELECT metric, user_id, delta, NULL::numeric AS total FROM agg "
    "  UNION ALL SELECT metric, user_id, NULL, total FROM up) z GROUP BY metric, user_id), "
    "moved AS (SELECT a.variant_id, o.user_id, o.metric, " + value_of("o.total", "m.kind", "m.cap") + " AS x_old, " +
    value_of("o.total + o.delta", "m.kind", "m.cap") + " AS x_new, " +
    metric_sql::covariate_of("a.covariates", "o.metric") + " AS c, a.attributes AS attrs "
    "  FROM old o JOIN m ON m.key = o.metric "
    "  JOIN assignments a ON a.experiment_id = $1::uuid AND a.user_id = o.user_id AND " +
    std::string(metric_sql::kCounts) + "), "
    // Per (user, ratio) the parts that moved, grouped; a part that did not move is read as it stands.
    "pm AS (SELECT mv.variant_id, mv.user_id, mv.attrs, r.key, r.numerator, r.denominator, r.num_cap, r.den_cap, "
    "    max(mv.x_old) FILTER (WHERE mv.metric = r.numerator) AS n_old, "
    "    max(mv.x_new) FILTER (WHERE mv.metric = r.numerator) AS n_new, "
    "    max(mv.x_old) FILTER (WHERE mv.metric = r.denominator) AS d_old, "
    "    max(mv.x_new) FILTER (WHERE mv.metric = r.denominator) AS d_new "
    "  FROM moved mv JOIN r ON mv.metric IN (r.numerator, r.denominator) "
    "  GROUP BY mv.variant_id, mv.user_id, mv.attrs, r.key, r.numerator, r.denominator, r.num_cap, r.den_cap), "
    "parts AS (SELECT p.variant_id, p.key AS metric, p.attrs, "
    "    coalesce(p.n_old, " + value_of("tn.total", "'mean'", "p.num_cap") + ", 0) AS n_old, "
    "    coalesce(p.n_new, " + value_of("tn.total", "'mean'", "p.num_cap") + ", 0) AS n_new, "
    "    coalesce(p.d_old, " + value_of("td.total", "'mean'", "p.den_cap") + ", 0) AS d_old, "
    "    coalesce(p.d_new, " + value_of("td.total", "'mean'", "p.den_cap") + ", 0) AS d_new "
    "  FROM pm p "
    "  LEFT JOIN user_totals tn ON tn.experiment_id = $1::uuid AND tn.user_id = p.user_id AND tn.metric = p.numerator "
    "  LEFT JOIN user_totals td ON td.experiment_id = $1::uuid AND td.user_id = p.user_id "
    "    AND td.metric = p.denominator), "
    "deltas AS (SELECT variant_id, metric, x_new - x_old AS ds, x_new * x_new - x_old * x_old AS dss, "
    "    0::numeric AS dxy, 0::numeric AS dc, 0::numeric AS dcc, coalesce((x_new - x_old) * c, 0) AS dxc, attrs "
    "  FROM moved UNION ALL SELECT variant_id, metric, 0, 0, n_new * d_new - n_old * d_old, 0, 0, 0, attrs FROM parts), " +
    kApplyDeltas + ", " + dimension_sql::kDimensionCtes +
    "dim_src AS (SELECT variant_id, metric, attrs, 0 AS users, ds, dss, dxy, dc, dcc, dxc FROM deltas), " +
    dimension_sql::apply_dimension_deltas() + "SELECT (SELECT count(*) FROM upd) > 0";

// The events of the batch that the first step stored (stored_ids: the ids it returned), in the
// second step's shape: those without an id, and the first of each stored id.
std::string stored_events_json(const std::vector<Event>& batch, const pqxx::result& stored_ids) {
    std::unordered_set<std::string> ids;
    ids.reserve(stored_ids.size());
    for (const auto& row : stored_ids)
        if (!row[0].is_null()) ids.insert(row[0].as<std::string>());
    std::string json = "[";
    json.reserve(stored_ids.size() * 48 + 2);
    for (const auto& e : batch) {
        if (e.event_id && ids.erase(*e.event_id) == 0) continue;  // a repeat, or stored before
        if (json.size() > 1) json += ',';
        json += "{\"u\":";
        append_json_string(json, e.user_id);
        json += ",\"t\":";
        append_json_string(json, e.type);
        json += ",\"v\":";
        append_json_number(json, e.value);
        json += '}';
    }
    json += ']';
    return json;
}

// The batch in kAssignSql's shape; attributes only of the experiment's dimensions.
std::string assignments_json(const std::vector<Assignment>& batch, const std::unordered_set<std::string>& dimensions) {
    return batch_json(batch, 48, [&](std::string& out, const Assignment& a) {
        out += "\"u\":";
        append_json_string(out, a.user_id);
        out += ",\"k\":";
        append_json_string(out, a.variant_key);
        if (!a.covariates.empty()) {
            out += ",\"c\":{";
            for (std::size_t i = 0; i < a.covariates.size(); ++i) {
                if (i) out += ',';
                append_json_string(out, a.covariates[i].first);
                out += ':';
                append_json_number(out, a.covariates[i].second);
            }
            out += '}';
        }
        bool any = false;
        for (const auto& [dimension, value] : a.attributes) {
            if (!dimensions.count(dimension)) continue;
            out += any ? "," : ",\"a\":{";
            any = true;
            append_json_string(out, dimension);
            out += ':';
            append_json_string(out, value);
        }
        if (any) out += '}';
    });
}

}  // namespace

IngestResult Store::add_assignments(const std::string& experiment_id, const std::vector<Assignment>& batch) {
    return announced(experiment_id, with_connection([&](pqxx::connection& c) {
        return ingest_transaction(c, node_id_, experiment_id, static_cast<std::int64_t>(batch.size()), [&](pqxx::work& tx) {
            std::unordered_set<std::string> dimensions;
            for (const auto& row : tx.exec_params("SELECT unnest(dimensions) FROM experiments WHERE id = $1::uuid",
                                                  experiment_id))
                dimensions.insert(row[0].as<std::string>());
            const std::string json = assignments_json(batch, dimensions);
            const pqxx::result unknown = tx.exec_params(
                "SELECT x.k FROM json_to_recordset($2::json) AS x(u text, k text, o bigint) "
                "LEFT JOIN variants v ON v.experiment_id = $1::uuid AND v.key = x.k "
                "WHERE v.id IS NULL ORDER BY x.o LIMIT 1",
                experiment_id, json);
            if (!unknown.empty())
                throw InvalidInput("unknown variant key '" + unknown[0][0].as<std::string>("") + "'");
            const pqxx::result stray = tx.exec_params(
                "SELECT k FROM json_to_recordset($2::json) AS x(c jsonb), jsonb_object_keys(x.c) AS k "
                "WHERE x.c IS NOT NULL AND k NOT IN (SELECT key FROM metrics WHERE experiment_id = $1::uuid "
                "AND kind <> 'ratio') LIMIT 1",
                experiment_id, json);
            if (!stray.empty())
                throw InvalidInput("covariates: '" + stray[0][0].as<std::string>("") +
                                   "' is not a proportion or mean metric of this experiment");
            if (!dimensions.empty())
                tx.exec_params(dimension_sql::kRegisterValuesSql, experiment_id, json, dimension_sql::kSlots);
            const pqxx::row r = tx.exec_params1(kAssignSql, experiment_id, json);
            if (!dimensions.empty()) rebalance_dimensions(tx, experiment_id);
            IngestResult result;
            result.accepted = r[0].as<std::int64_t>();
            result.changed = r[1].as<bool>();
            return result;
        });
    }));
}

IngestResult Store::add_events(const std::string& experiment_id, const std::vector<Event>& batch) {
    const std::string json = batch_json(batch, 80, [](std::string& out, const Event& e) {
        out += "\"u\":";
        append_json_string(out, e.user_id);
        out += ",\"t\":";
        append_json_string(out, e.type);
        out += ",\"v\":";
        append_json_number(out, e.value);
        out += ",\"e\":";
        append_optional_string(out, e.event_id);
    });
    return announced(experiment_id, with_connection([&](pqxx::connection& c) {
        pqxx::work tx(c);
        keyed_lookups_only(tx);
        const pqxx::result stored = tx.exec_params(kStoreEventsSql, experiment_id, json);
        const std::string moving = stored_events_json(batch, stored);
        ensure_accepts_data(lock_experiment(tx, experiment_id));
        IngestResult result;
        result.accepted = static_cast<std::int64_t>(stored.size());
        result.changed = !stored.empty() && tx.exec_params1(kEventsSql, experiment_id, moving)[0].as<bool>();
        return commit_ingest(tx, node_id_, experiment_id, static_cast<std::int64_t>(batch.size()), result);
    }));
}

IngestResult Store::add_conversions(const std::string& experiment_id, const std::vector<Conversion>& batch) {
    std::vector<Event> events;
    events.reserve(batch.size());
    for (const auto& c : batch) events.push_back(Event{c.user_id, "conversion", 1.0, c.event_id});
    return add_events(experiment_id, events);
}

}  // namespace expstream
