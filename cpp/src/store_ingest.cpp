// Ingest: assignments and events, each batch one transaction that also moves the running totals
// (participants per variant; per metric the users' raw totals and the variants' sums), so that a
// snapshot reads a few rows however much data there is.
#include <pqxx/pqxx>

#include "expstream/snapshot.hpp"
#include "expstream/store.hpp"
#include "json_write.hpp"
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
                "batch AS (SELECT x.u, v.id AS variant_id, x.o, x.c, "
                "    min(v.id) OVER w <> max(v.id) OVER w AS conflicted "
                "  FROM json_to_recordset($2::json) AS x(u text, k text, c jsonb, o bigint) "
                "  JOIN variants v ON v.experiment_id = $1::uuid AND v.key = x.k WINDOW w AS (PARTITION BY x.u)), "
                "ins AS ("
                "  INSERT INTO assignments (experiment_id, user_id, variant_id, multiple, covariates) "
                "  SELECT DISTINCT ON (b.u) $1::uuid, b.u, b.variant_id, b.conflicted, b.c "
                "  FROM batch b ORDER BY b.u, b.o "
                "  ON CONFLICT (experiment_id, user_id) DO NOTHING "
                "  RETURNING user_id, variant_id, multiple, covariates), "
                "flagged AS ("
                "  UPDATE assignments a SET multiple = true FROM batch b "
                "  WHERE a.experiment_id = $1::uuid AND a.user_id = b.u AND b.variant_id <> a.variant_id "
                "    AND NOT a.multiple "
                "  RETURNING a.user_id, a.variant_id, a.covariates), "
                "counted AS ("
                "  SELECT ins.user_id, ins.variant_id, 1 AS sign, ins.covariates FROM ins, mode "
                "  WHERE NOT (ins.multiple AND mode.exclude) "
                "  UNION ALL SELECT flagged.user_id, flagged.variant_id, -1, flagged.covariates FROM flagged, mode "
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
    kEventMetrics +
    "src AS (SELECT c.variant_id, c.sign, t.user_id, t.metric, " + value_of("t.total", "m.kind", "m.cap") + " AS x "
    "  FROM counted c JOIN user_totals t ON t.experiment_id = $1::uuid AND t.user_id = c.user_id "
    "  JOIN m ON m.key = t.metric), "
    "xy AS (" + metric_sql::kRatioProducts + "), "
    // Covariates enter with the user (with x = 0 when the user did nothing yet) and leave with them.
    "cov AS (SELECT c.variant_id, c.sign, m.key AS metric, " + metric_sql::covariate_of("c.covariates", "m.key") +
    " AS c, coalesce(" + value_of("t.total", "m.kind", "m.cap") + ", 0) AS x "
    "  FROM counted c CROSS JOIN m "
    "  LEFT JOIN user_totals t ON t.experiment_id = $1::uuid AND t.user_id = c.user_id AND t.metric = m.key "
    "  WHERE c.covariates ? m.key), "
    "deltas AS (SELECT variant_id, metric, sign * x AS ds, sign * x * x AS dss, 0::numeric AS dxy, "
    "    0::numeric AS dc, 0::numeric AS dcc, 0::numeric AS dxc FROM src "
    "  UNION ALL SELECT variant_id, metric, 0, 0, xy, 0, 0, 0 FROM xy "
    "  UNION ALL SELECT variant_id, metric, 0, 0, 0, sign * c, sign * c * c, sign * x * c FROM cov), " +
    kApplyDeltas +
    "SELECT (SELECT count(*) FROM ins), "
    "(SELECT count(*) FROM totals) + (SELECT count(*) FROM bump) + (SELECT count(*) FROM upd) > 0";

// Events: stored once per event_id; each adds to its user's raw total of every metric counting its
// type. For an assigned user, the variant's sums move from the user's old value to the new one
// (capping is exact: the old capped value leaves, the new one enters), and so do the cross
// products of the ratios built on that metric (the other part's value read as it stands).
const std::string kEventsSql =
    std::string("WITH ins AS ("
                "  INSERT INTO events (experiment_id, user_id, type, value, event_id) "
                "  SELECT $1::uuid, x.u, x.t, x.v, x.e "
                "  FROM json_to_recordset($2::json) AS x(u text, t text, v numeric, e text, o bigint) ORDER BY x.o "
                "  ON CONFLICT (experiment_id, event_id) WHERE event_id IS NOT NULL DO NOTHING "
                "  RETURNING user_id, type, value), ") +
    kEventMetrics +
    "agg AS (SELECT m.key AS metric, ins.user_id, sum(" + metric_sql::event_amount("m.kind", "ins.value") +
    ") AS delta "
    "  FROM ins JOIN m ON m.event_type = ins.type GROUP BY m.key, ins.user_id), "
    // The users' totals before this batch, looked up by key (a join of two CTEs would be quadratic).
    "old AS (SELECT agg.metric, agg.user_id, agg.delta, coalesce(t.total, 0) AS total FROM agg "
    "  LEFT JOIN user_totals t ON t.experiment_id = $1::uuid AND t.user_id = agg.user_id AND t.metric = agg.metric), "
    "up AS (INSERT INTO user_totals AS t (experiment_id, metric, user_id, total) "
    "  SELECT $1::uuid, metric, user_id, delta FROM agg "
    "  ON CONFLICT (experiment_id, user_id, metric) DO UPDATE SET total = t.total + EXCLUDED.total RETURNING 1), "
    "moved AS (SELECT a.variant_id, o.user_id, o.metric, " + value_of("o.total", "m.kind", "m.cap") + " AS x_old, " +
    value_of("o.total + o.delta", "m.kind", "m.cap") + " AS x_new, " +
    metric_sql::covariate_of("a.covariates", "o.metric") + " AS c "
    "  FROM old o JOIN m ON m.key = o.metric "
    "  JOIN assignments a ON a.experiment_id = $1::uuid AND a.user_id = o.user_id AND " +
    std::string(metric_sql::kCounts) + "), "
    // Per (user, ratio) the parts that moved, grouped; a part that did not move is read as it stands.
    "pm AS (SELECT mv.variant_id, mv.user_id, r.key, r.numerator, r.denominator, r.num_cap, r.den_cap, "
    "    max(mv.x_old) FILTER (WHERE mv.metric = r.numerator) AS n_old, "
    "    max(mv.x_new) FILTER (WHERE mv.metric = r.numerator) AS n_new, "
    "    max(mv.x_old) FILTER (WHERE mv.metric = r.denominator) AS d_old, "
    "    max(mv.x_new) FILTER (WHERE mv.metric = r.denominator) AS d_new "
    "  FROM moved mv JOIN r ON mv.metric IN (r.numerator, r.denominator) "
    "  GROUP BY mv.variant_id, mv.user_id, r.key, r.numerator, r.denominator, r.num_cap, r.den_cap), "
    "parts AS (SELECT p.variant_id, p.key AS metric, "
    "    coalesce(p.n_old, " + value_of("tn.total", "'mean'", "p.num_cap") + ", 0) AS n_old, "
    "    coalesce(p.n_new, " + value_of("tn.total", "'mean'", "p.num_cap") + ", 0) AS n_new, "
    "    coalesce(p.d_old, " + value_of("td.total", "'mean'", "p.den_cap") + ", 0) AS d_old, "
    "    coalesce(p.d_new, " + value_of("td.total", "'mean'", "p.den_cap") + ", 0) AS d_new "
    "  FROM pm p "
    "  LEFT JOIN user_totals tn ON tn.experiment_id = $1::uuid AND tn.user_id = p.user_id AND tn.metric = p.numerator "
    "  LEFT JOIN user_totals td ON td.experiment_id = $1::uuid AND td.user_id = p.user_id "
    "    AND td.metric = p.denominator), "
    "deltas AS (SELECT variant_id, metric, x_new - x_old AS ds, x_new * x_new - x_old * x_old AS dss, "
    "    0::numeric AS dxy, 0::numeric AS dc, 0::numeric AS dcc, coalesce((x_new - x_old) * c, 0) AS dxc FROM moved "
    "  UNION ALL SELECT variant_id, metric, 0, 0, n_new * d_new - n_old * d_old, 0, 0, 0 FROM parts), " +
    kApplyDeltas + "SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM upd) > 0";

}  // namespace

IngestResult Store::add_assignments(const std::string& experiment_id, const std::vector<Assignment>& batch) {
    const std::string json = batch_json(batch, 48, [](std::string& out, const Assignment& a) {
        out += "\"u\":";
        append_json_string(out, a.user_id);
        out += ",\"k\":";
        append_json_string(out, a.variant_key);
        if (a.covariates.empty()) return;
        out += ",\"c\":{";
        for (std::size_t i = 0; i < a.covariates.size(); ++i) {
            if (i) out += ',';
            append_json_string(out, a.covariates[i].first);
            out += ':';
            append_json_number(out, a.covariates[i].second);
        }
        out += '}';
    });
    return with_connection([&](pqxx::connection& c) {
        return ingest_transaction(c, node_id_, experiment_id, static_cast<std::int64_t>(batch.size()), [&](pqxx::work& tx) {
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
            const pqxx::row r = tx.exec_params1(kAssignSql, experiment_id, json);
            IngestResult result;
            result.accepted = r[0].as<std::int64_t>();
            result.changed = r[1].as<bool>();
            return result;
        });
    });
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
    return with_connection([&](pqxx::connection& c) {
        return ingest_transaction(c, node_id_, experiment_id, static_cast<std::int64_t>(batch.size()), [&](pqxx::work& tx) {
            const pqxx::row r = tx.exec_params1(kEventsSql, experiment_id, json);
            IngestResult result;
            result.accepted = r[0].as<std::int64_t>();
            result.changed = r[1].as<bool>();
            return result;
        });
    });
}

IngestResult Store::add_conversions(const std::string& experiment_id, const std::vector<Conversion>& batch) {
    std::vector<Event> events;
    events.reserve(batch.size());
    for (const auto& c : batch) events.push_back(Event{c.user_id, "conversion", 1.0, c.event_id});
    return add_events(experiment_id, events);
}

}  // namespace expstream
