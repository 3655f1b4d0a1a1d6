// The SQL of dimension breakdowns (issue 15): which bucket a user's value falls in, the running
// totals per (variant, dimension, bucket, metric) that ingest moves, and their recount from the
// users' totals. Internal to the store.
#pragma once

#include <string>

#include "metric_sql.hpp"

namespace expstream::dimension_sql {

// At most this many values of a dimension have buckets of their own; the rest share '(other)'.
inline constexpr int kSlots = 20;
// A contender takes a slot once it has this many times the users of the smallest slotted value
// (and at least one more user): values at the boundary do not swap on every assignment.
inline constexpr double kOvertakeFactor = 1.1;

// The experiment's dimensions (`dims.list`, text[]) and its slotted values as one jsonb set keyed
// "<dimension>\x1f<value>" (`slots.set`): a few dozen entries, read once per statement.
inline const char* const kDimensionCtes =
    "dims AS (SELECT dimensions AS list FROM experiments WHERE id = $1::uuid), "
    "slots AS (SELECT coalesce(jsonb_object_agg(dimension || chr(31) || value, true), '{}'::jsonb) AS set "
    "  FROM dimension_values WHERE experiment_id = $1::uuid AND slotted), ";

// The bucket of a user whose attributes (jsonb) are `attrs`, in dimension `dim` (SQL expressions).
inline std::string bucket_of(const std::string& attrs, const std::string& dim) {
    const std::string value = "(" + attrs + " ->> " + dim + ")";
    return "(CASE WHEN " + value + " IS NULL THEN '(none)' WHEN (SELECT set FROM slots) ? (" + dim +
           " || chr(31) || " + value + ") THEN " + value + " ELSE '(other)' END)";
}

// Adds the CTE `dim_src` (variant_id, metric, attrs, users, ds, dss, dxy, dc, dcc, dxc: a change
// of a user in a variant; metric '' moves participants) to every dimension's buckets. Needs
// kDimensionCtes. Rows are written in key order.
inline std::string apply_dimension_deltas() {
    return "dim_summed AS (SELECT s.variant_id, k.dim, " + bucket_of("s.attrs", "k.dim") +
           " AS bucket, s.metric, "
           "    sum(s.users) AS du, sum(s.ds) AS ds, sum(s.dss) AS dss, sum(s.dxy) AS dxy, sum(s.dc) AS dc, "
           "    sum(s.dcc) AS dcc, sum(s.dxc) AS dxc "
           "  FROM dim_src s CROSS JOIN dims CROSS JOIN unnest(dims.list) AS k(dim) GROUP BY 1, 2, 3, 4 "
           "  HAVING sum(s.users) <> 0 OR sum(s.ds) <> 0 OR sum(s.dss) <> 0 OR sum(s.dxy) <> 0 OR sum(s.dc) <> 0 "
           "    OR sum(s.dcc) <> 0 OR sum(s.dxc) <> 0), "
           "dim_upd AS (INSERT INTO dimension_sums AS s (variant_id, dimension, bucket, metric, users, sum, "
           "    sum_squares, cross_products, covariate_sum, covariate_sum_squares, covariate_products) "
           "  SELECT variant_id, dim, bucket, metric, du, ds, dss, dxy, dc, dcc, dxc FROM dim_summed "
           "  ORDER BY variant_id, dim, bucket, metric "
           "  ON CONFLICT (variant_id, dimension, bucket, metric) DO UPDATE SET users = s.users + EXCLUDED.users, "
           "    sum = s.sum + EXCLUDED.sum, sum_squares = s.sum_squares + EXCLUDED.sum_squares, "
           "    cross_products = s.cross_products + EXCLUDED.cross_products, "
           "    covariate_sum = s.covariate_sum + EXCLUDED.covariate_sum, "
           "    covariate_sum_squares = s.covariate_sum_squares + EXCLUDED.covariate_sum_squares, "
           "    covariate_products = s.covariate_products + EXCLUDED.covariate_products RETURNING 1) ";
}

// Before an assignment batch ($2: its rows, attributes `a`): values of a dimension not seen before
// are registered; while the dimension has free slots, the batch's most frequent new values take them.
inline const char* const kRegisterValuesSql =
    "WITH dims AS (SELECT unnest(dimensions) AS dim FROM experiments WHERE id = $1::uuid), "
    "vals AS (SELECT k.dim, x.a ->> k.dim AS value, count(*) AS n "
    "  FROM json_to_recordset($2::json) AS x(a jsonb) CROSS JOIN dims k WHERE x.a ? k.dim GROUP BY 1, 2), "
    "fresh AS (SELECT v.dim, v.value, v.n, row_number() OVER (PARTITION BY v.dim ORDER BY v.n DESC, v.value) AS rk "
    "  FROM vals v WHERE NOT EXISTS (SELECT 1 FROM dimension_values d "
    "    WHERE d.experiment_id = $1::uuid AND d.dimension = v.dim AND d.value = v.value)), "
    "room AS (SELECT k.dim, $3::int - (SELECT count(*) FROM dimension_values d "
    "    WHERE d.experiment_id = $1::uuid AND d.dimension = k.dim AND d.slotted) AS free FROM dims k) "
    "INSERT INTO dimension_values (experiment_id, dimension, value, slotted) "
    "SELECT $1::uuid, f.dim, f.value, f.rk <= room.free FROM fresh f JOIN room ON room.dim = f.dim "
    "ON CONFLICT DO NOTHING";

// The dimensions ($2: text[], or all when NULL) where a value not slotted has overtaken the
// smallest slotted one, or where a slot is free and a value waits.
inline const char* const kOvertakenSql =
    "SELECT k.dim FROM experiments e CROSS JOIN unnest(e.dimensions) AS k(dim) "
    "CROSS JOIN LATERAL (SELECT max(users) AS users FROM (SELECT users FROM dimension_values d "
    "  WHERE d.experiment_id = e.id AND d.dimension = k.dim AND NOT d.slotted ORDER BY users DESC LIMIT 1) z) c "
    "CROSS JOIN LATERAL (SELECT min(users) AS users, count(*) AS n FROM dimension_values d "
    "  WHERE d.experiment_id = e.id AND d.dimension = k.dim AND d.slotted) s "
    "WHERE e.id = $1::uuid AND c.users IS NOT NULL "
    "  AND (s.n < $2::int OR c.users > s.users * $3::float8 AND c.users > s.users)";

// One swap in dimension $2: the strongest contender takes the slot of the weakest slotted value
// (or a free slot). Run by kOvertakenSql's answer; the dimension is then recounted.
inline const char* const kSwapSql =
    "WITH c AS (SELECT value FROM dimension_values WHERE experiment_id = $1::uuid AND dimension = $2 "
    "  AND NOT slotted ORDER BY users DESC, value LIMIT 1), "
    "w AS (SELECT value FROM dimension_values WHERE experiment_id = $1::uuid AND dimension = $2 AND slotted "
    "  AND (SELECT count(*) FROM dimension_values WHERE experiment_id = $1::uuid AND dimension = $2 AND slotted) "
    "    >= $3::int ORDER BY users, value DESC LIMIT 1) "
    "UPDATE dimension_values d SET slotted = NOT d.slotted "
    "WHERE d.experiment_id = $1::uuid AND d.dimension = $2 AND d.value IN (SELECT value FROM c UNION ALL SELECT value FROM w)";

// From the users' totals (user_totals, themselves recounted by verify from the raw events): per
// (variant, bucket of dimension $2, metric) what dimension_sums should hold. CTE `expected_dim`
// (variant_id, bucket, metric, users, sum, sum_squares, cross_products, covariate_sum,
// covariate_sum_squares, covariate_products); metric '' carries the bucket's participants.
inline std::string recount_dimension_ctes() {
    using metric_sql::covariate_of;
    using metric_sql::value_of;
    return std::string("WITH ") + kDimensionCtes + metric_sql::kEventMetrics +
           "users AS (SELECT a.user_id, a.variant_id, a.covariates, " + bucket_of("a.attributes", "$2::text") +
           " AS bucket FROM assignments a WHERE a.experiment_id = $1::uuid AND " + metric_sql::kCounts + "), "
           "src AS (SELECT u.variant_id, u.bucket, u.user_id, t.metric, " + value_of("t.total", "m.kind", "m.cap") +
           " AS x, NULL::numeric AS c "
           "  FROM users u JOIN user_totals t ON t.experiment_id = $1::uuid AND t.user_id = u.user_id "
           "  JOIN m ON m.key = t.metric "
           "  UNION ALL SELECT u.variant_id, u.bucket, u.user_id, m.key, NULL, " + covariate_of("u.covariates", "m.key") +
           "  FROM users u CROSS JOIN m WHERE u.covariates ? m.key), "
           "per_user AS (SELECT variant_id, bucket, user_id, metric, coalesce(max(x), 0) AS x, max(c) AS c FROM src "
           "  GROUP BY variant_id, bucket, user_id, metric), "
           "xy AS (SELECT s.variant_id, s.bucket, r.key AS metric, "
           "    coalesce(max(s.x) FILTER (WHERE s.metric = r.numerator), 0) "
           "    * coalesce(max(s.x) FILTER (WHERE s.metric = r.denominator), 0) AS xy "
           "  FROM per_user s JOIN r ON s.metric IN (r.numerator, r.denominator) "
           "  GROUP BY s.variant_id, s.bucket, s.user_id, r.key), "
           "expected_dim AS ("
           "  SELECT variant_id, bucket, metric, sum(n) AS users, sum(s) AS sum, sum(ss) AS sum_squares, "
           "    sum(p) AS cross_products, sum(c) AS covariate_sum, sum(cc) AS covariate_sum_squares, "
           "    sum(xc) AS covariate_products FROM ("
           "    SELECT variant_id, bucket, '' AS metric, 1 AS n, 0::numeric AS s, 0::numeric AS ss, 0::numeric AS p, "
           "      0::numeric AS c, 0::numeric AS cc, 0::numeric AS xc FROM users "
           "    UNION ALL SELECT variant_id, bucket, metric, 0, x, x * x, 0, coalesce(c, 0), coalesce(c * c, 0), "
           "      coalesce(x * c, 0) FROM per_user "
           "    UNION ALL SELECT variant_id, bucket, metric, 0, 0, 0, xy, 0, 0, 0 FROM xy) z "
           "  GROUP BY variant_id, bucket, metric) ";
}

}  // namespace expstream::dimension_sql
