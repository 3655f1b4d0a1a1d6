// The SQL that keeps the metrics' running sums: one home for "a user's value of a metric" and for
// the recount that verify and metric redefinition share. Internal to the store.
#pragma once

#include <string>

namespace expstream::metric_sql {

// A user's value x of an event-based metric from the raw total of its events: 0/1 for a
// proportion (any event), the total capped at `cap` for a mean; NULL for a NULL total (no events:
// callers coalesce). kind and cap are SQL expressions. Not least(): it skips NULLs, and a user
// without events would count as the cap.
inline std::string value_of(const std::string& total, const std::string& kind, const std::string& cap) {
    return "(CASE WHEN " + kind + " = 'proportion' THEN (CASE WHEN " + total + " > 0 THEN 1 ELSE 0 END)::numeric " +
           "WHEN " + total + " > " + cap + " THEN " + cap + " ELSE " + total + " END)";
}

// What one event adds to its user's raw total of a metric: 1 for a proportion, its value for a mean.
inline std::string event_amount(const std::string& kind, const std::string& value) {
    return "(CASE WHEN " + kind + " = 'proportion' THEN 1 ELSE " + value + " END)";
}

// The event-based metrics of experiment $1, and its ratios with their parts' caps (materialized:
// a few rows, read once, not a metrics lookup per row that joins them).
inline const char* const kEventMetrics =
    "m AS (SELECT key, kind, event_type, cap::numeric AS cap FROM metrics "
    "      WHERE experiment_id = $1::uuid AND kind <> 'ratio'), "
    "r AS MATERIALIZED (SELECT q.key, q.numerator, q.denominator, mn.cap AS num_cap, md.cap AS den_cap "
    "      FROM metrics q JOIN m mn ON mn.key = q.numerator JOIN m md ON md.key = q.denominator "
    "      WHERE q.experiment_id = $1::uuid AND q.kind = 'ratio'), ";

// An assignment whose user counts: not one flagged as exposed to several variants while the
// experiment excludes those. `a` is the assignments row; $1 the experiment.
inline const char* const kCounts =
    "NOT (a.multiple AND EXISTS (SELECT 1 FROM experiments x WHERE x.id = $1::uuid AND x.exposures = 'exclude'))";

// A user's covariate for metric `key` from the assignment's covariates (jsonb); NULL without one.
inline std::string covariate_of(const std::string& covariates, const std::string& key) {
    return "(" + covariates + " ->> " + key + ")::numeric";
}

// A ratio's x*y per (user, ratio) from the CTE `src` (variant_id, user_id, sign, metric, x), one row
// per user and part metric: grouped, not self-joined (a join of two CTEs is a nested loop, quadratic
// in the batch). Yields (variant_id, metric, xy), signed, and `carry` (a column of src constant
// per user, e.g. its attributes) when given.
inline std::string ratio_products(const std::string& carry = "") {
    const std::string extra = carry.empty() ? "" : ", s." + carry;
    return "SELECT s.variant_id, r.key AS metric, s.sign * coalesce(max(s.x) FILTER (WHERE s.metric = r.numerator), 0) "
           "  * coalesce(max(s.x) FILTER (WHERE s.metric = r.denominator), 0) AS xy" + extra + " "
           "FROM src s JOIN r ON s.metric IN (r.numerator, r.denominator) "
           "GROUP BY s.variant_id, s.user_id, s.sign, r.key" + extra + " ";
}

// Adds the per-(variant, metric) deltas of the CTE `deltas` (variant_id, metric, ds, dss, dxy, dc,
// dcc, dxc: of Σx, Σx², Σxy, Σc, Σc², Σxc) to metric_sums; the CTE `upd` has a row for each
// (variant, metric) that moved.
inline const char* const kApplyDeltas =
    "summed AS (SELECT variant_id, metric, sum(ds) AS ds, sum(dss) AS dss, sum(dxy) AS dxy, "
    "             sum(dc) AS dc, sum(dcc) AS dcc, sum(dxc) AS dxc FROM deltas GROUP BY variant_id, metric "
    "           HAVING sum(ds) <> 0 OR sum(dss) <> 0 OR sum(dxy) <> 0 OR sum(dc) <> 0 OR sum(dcc) <> 0 "
    "             OR sum(dxc) <> 0), "
    "upd AS (INSERT INTO metric_sums AS s (variant_id, metric, sum, sum_squares, cross_products, covariate_sum, "
    "          covariate_sum_squares, covariate_products) "
    "        SELECT variant_id, metric, ds, dss, dxy, dc, dcc, dxc FROM summed "
    "        ON CONFLICT (variant_id, metric) DO UPDATE SET sum = s.sum + EXCLUDED.sum, "
    "          sum_squares = s.sum_squares + EXCLUDED.sum_squares, "
    "          cross_products = s.cross_products + EXCLUDED.cross_products, "
    "          covariate_sum = s.covariate_sum + EXCLUDED.covariate_sum, "
    "          covariate_sum_squares = s.covariate_sum_squares + EXCLUDED.covariate_sum_squares, "
    "          covariate_products = s.covariate_products + EXCLUDED.covariate_products "
    "        RETURNING 1) ";

// verify's rows (name, stored, recounted) for the six running sums of a stored row `s` and its
// recount `x` (either may be missing: 0), inside a `CROSS JOIN LATERAL (VALUES …)`.
inline const char* const kSumsStoredAndRecounted =
    "  ('sum', coalesce(s.sum, 0), coalesce(x.sum, 0)), "
    "  ('sum_squares', coalesce(s.sum_squares, 0), coalesce(x.sum_squares, 0)), "
    "  ('cross_products', coalesce(s.cross_products, 0), coalesce(x.cross_products, 0)), "
    "  ('covariate_sum', coalesce(s.covariate_sum, 0), coalesce(x.covariate_sum, 0)), "
    "  ('covariate_sum_squares', coalesce(s.covariate_sum_squares, 0), coalesce(x.covariate_sum_squares, 0)), "
    "  ('covariate_products', coalesce(s.covariate_products, 0), coalesce(x.covariate_products, 0))";

// From the raw tables of experiment $1: every user's raw total per metric (user_totals as they
// should be) and every (variant, metric)'s sums (metric_sums as they should be). Two CTEs,
// `expected_totals` (metric, user_id, total) and `expected_sums` (variant_id, metric, sum,
// sum_squares, cross_products, covariate_sum, covariate_sum_squares, covariate_products), to be
// followed by a query over them. Values and covariates meet by grouping per user, not by joining
// two CTEs.
inline std::string recount_ctes() {
    return std::string("WITH ") + kEventMetrics +
           "expected_totals AS ("
           "  SELECT m.key AS metric, e.user_id, sum(" + event_amount("m.kind", "e.value") + ") AS total "
           "  FROM events e JOIN m ON m.event_type = e.type WHERE e.experiment_id = $1::uuid "
           "  GROUP BY m.key, e.user_id), "
           "users AS (SELECT a.user_id, a.variant_id, a.covariates FROM assignments a "
           "  WHERE a.experiment_id = $1::uuid AND " + kCounts + "), "
           "src AS (SELECT u.variant_id, u.user_id, 1 AS sign, t.metric, " + value_of("t.total", "m.kind", "m.cap") +
           " AS x, NULL::numeric AS c "
           "  FROM expected_totals t JOIN m ON m.key = t.metric JOIN users u ON u.user_id = t.user_id "
           "  UNION ALL SELECT u.variant_id, u.user_id, 1, m.key, NULL, " + covariate_of("u.covariates", "m.key") +
           "  FROM users u CROSS JOIN m WHERE u.covariates ? m.key), "
           "per_user AS (SELECT variant_id, user_id, metric, coalesce(max(x), 0) AS x, max(c) AS c FROM src "
           "  GROUP BY variant_id, user_id, metric), "
           "xy AS (" + ratio_products() + "), "
           "expected_sums AS ("
           "  SELECT variant_id, metric, sum(s) AS sum, sum(ss) AS sum_squares, sum(p) AS cross_products, "
           "    sum(c) AS covariate_sum, sum(cc) AS covariate_sum_squares, sum(xc) AS covariate_products FROM ("
           "    SELECT variant_id, metric, x AS s, x * x AS ss, 0::numeric AS p, coalesce(c, 0) AS c, "
           "      coalesce(c * c, 0) AS cc, coalesce(x * c, 0) AS xc FROM per_user "
           "    UNION ALL SELECT variant_id, metric, 0, 0, xy, 0, 0, 0 FROM xy) z "
           "  GROUP BY variant_id, metric) ";
}

}  // namespace expstream::metric_sql
