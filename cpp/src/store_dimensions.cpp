// Dimension breakdowns in the store: slots moving to the values with the most users, the recount
// of a dimension's totals, verify's check of them, and the read of one breakdown.
#include <pqxx/pqxx>

#include <map>

#include "dimension_sql.hpp"
#include "expstream/store.hpp"
#include "store_sql.hpp"

namespace expstream {
namespace store_sql {
namespace {

void rebuild_dimension(pqxx::transaction_base& tx, const std::string& experiment_id, const std::string& dimension) {
    tx.exec_params("DELETE FROM dimension_sums s USING variants v "
                   "WHERE s.variant_id = v.id AND v.experiment_id = $1::uuid AND s.dimension = $2",
                   experiment_id, dimension);
    tx.exec_params(dimension_sql::recount_dimension_ctes() +
                       "INSERT INTO dimension_sums (variant_id, dimension, bucket, metric, users, sum, sum_squares, "
                       "  cross_products, covariate_sum, covariate_sum_squares, covariate_products) "
                       "SELECT variant_id, $2, bucket, metric, users, sum, sum_squares, cross_products, covariate_sum, "
                       "  covariate_sum_squares, covariate_products FROM expected_dim",
                   experiment_id, dimension);
}

}  // namespace

void rebalance_dimensions(pqxx::transaction_base& tx, const std::string& experiment_id) {
    for (const auto& row : tx.exec_params(dimension_sql::kOvertakenSql, experiment_id, dimension_sql::kSlots,
                                          dimension_sql::kOvertakeFactor)) {
        const std::string dimension = row[0].as<std::string>();
        // Swap until no contender overtakes the weakest slotted value: each swap moves one value
        // in and one out, so at most every value once.
        for (int swaps = 0; swaps < 2 * dimension_sql::kSlots; ++swaps) {
            tx.exec_params(dimension_sql::kSwapSql, experiment_id, dimension, dimension_sql::kSlots);
            const pqxx::result still = tx.exec_params(
                std::string(dimension_sql::kOvertakenSql) + " AND k.dim = $4", experiment_id, dimension_sql::kSlots,
                dimension_sql::kOvertakeFactor, dimension);
            if (still.empty()) break;
        }
        rebuild_dimension(tx, experiment_id, dimension);
    }
}

void rebuild_dimension_totals(pqxx::transaction_base& tx, const std::string& experiment_id) {
    for (const auto& row : tx.exec_params("SELECT unnest(dimensions) FROM experiments WHERE id = $1::uuid", experiment_id))
        rebuild_dimension(tx, experiment_id, row[0].as<std::string>());
}

void dimension_drift(pqxx::transaction_base& tx, const std::string& experiment_id, std::vector<TotalsDrift>& drift) {
    for (const auto& d : tx.exec_params("SELECT unnest(dimensions) FROM experiments WHERE id = $1::uuid", experiment_id)) {
        const std::string dimension = d[0].as<std::string>();
        // Every bucket's totals against a recount from the users' totals (verify checks those
        // against the raw events separately).
        const pqxx::result sums = tx.exec_params(
            dimension_sql::recount_dimension_ctes() +
                "SELECT v.key, $2 || '=' || coalesce(s.bucket, x.bucket) || '.' || "
                "  coalesce(nullif(coalesce(s.metric, x.metric), ''), 'participants') || '.' || t.name, "
                "  t.stored::text, t.recounted::text "
                "FROM (SELECT s.* FROM dimension_sums s JOIN variants v ON v.id = s.variant_id "
                "      WHERE v.experiment_id = $1::uuid AND s.dimension = $2) s "
                "FULL JOIN expected_dim x ON x.variant_id = s.variant_id AND x.bucket = s.bucket AND x.metric = s.metric "
                "JOIN variants v ON v.id = coalesce(s.variant_id, x.variant_id) "
                "CROSS JOIN LATERAL (VALUES "
                "  ('users', coalesce(s.users, 0)::numeric, coalesce(x.users, 0)::numeric), " +
                std::string(metric_sql::kSumsStoredAndRecounted) +
                ") AS t(name, stored, recounted) WHERE t.stored <> t.recounted ORDER BY 1, 2",
            experiment_id, dimension);
        for (const auto& r : sums)
            drift.push_back({experiment_id, r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                             r[3].as<std::string>()});
        // Each value's user count, which decides the slots.
        const pqxx::result users = tx.exec_params(
            std::string("WITH counted AS (SELECT a.attributes ->> $2 AS value, count(*) AS n FROM assignments a "
                        "  WHERE a.experiment_id = $1::uuid AND a.attributes ? $2 AND ") +
                metric_sql::kCounts +
                " GROUP BY 1) "
                "SELECT coalesce(d.value, c.value), coalesce(d.users, 0)::text, coalesce(c.n, 0)::text "
                "FROM (SELECT value, users FROM dimension_values WHERE experiment_id = $1::uuid AND dimension = $2) d "
                "FULL JOIN counted c ON c.value = d.value WHERE coalesce(d.users, 0) <> coalesce(c.n, 0) ORDER BY 1",
            experiment_id, dimension);
        for (const auto& r : users)
            drift.push_back({experiment_id, "", dimension + "=" + r[0].as<std::string>() + ".users",
                             r[1].as<std::string>(), r[2].as<std::string>()});
    }
}

}  // namespace store_sql

using namespace store_sql;

std::optional<BreakdownData> Store::read_breakdown_data(const std::string& experiment_id, const std::string& dimension) {
    return with_connection([&](pqxx::connection& c) -> std::optional<BreakdownData> {
        pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(c);
        std::optional<SnapshotData> whole = read_snapshot_in(tx, experiment_id);
        if (!whole) return std::nullopt;
        const pqxx::row declared = tx.exec_params1(
            "SELECT $2 = ANY(dimensions) FROM experiments WHERE id = $1::uuid", experiment_id, dimension);
        if (!declared[0].as<bool>())
            throw InvalidInput("dimension '" + dimension + "' is not one of this experiment's dimensions");
        BreakdownData data;
        data.dimension = dimension;
        std::map<std::string, std::size_t> metric_index;
        for (std::size_t i = 0; i < whole->metrics.size(); ++i) metric_index[whole->metrics[i].key] = i;
        const std::size_t variants = whole->variants.size();
        // Buckets in display order: slotted values by users, then (other), then (none).
        const pqxx::result rows = tx.exec_params(
            "SELECT s.bucket, v.position, s.metric, s.users, s.sum::float8, s.sum_squares::float8, "
            "  s.cross_products::float8, s.covariate_sum::float8, s.covariate_sum_squares::float8, "
            "  s.covariate_products::float8 "
            "FROM dimension_sums s JOIN variants v ON v.id = s.variant_id "
            "LEFT JOIN dimension_values d ON d.experiment_id = v.experiment_id AND d.dimension = s.dimension "
            "  AND d.value = s.bucket AND d.slotted "
            "WHERE v.experiment_id = $1::uuid AND s.dimension = $2 "
            "ORDER BY CASE s.bucket WHEN '(other)' THEN 1 WHEN '(none)' THEN 2 ELSE 0 END, d.users DESC NULLS LAST, "
            "  s.bucket, v.position",
            experiment_id, dimension);
        std::map<std::string, std::size_t> bucket_index;
        for (const auto& r : rows) {
            const std::string bucket = r[0].as<std::string>();
            auto [it, fresh] = bucket_index.emplace(bucket, data.buckets.size());
            if (fresh) {
                BucketData b;
                b.value = bucket;
                b.participants.assign(variants, 0);
                b.sums.assign(whole->metrics.size(), std::vector<MetricRunningSums>(variants));
                data.buckets.push_back(std::move(b));
            }
            BucketData& b = data.buckets[it->second];
            const auto v = r[1].as<std::size_t>();
            if (v >= variants) continue;
            const std::string metric = r[2].as<std::string>();
            if (metric.empty()) {
                b.participants[v] = r[3].as<std::int64_t>();
                b.users += b.participants[v];
                continue;
            }
            const auto m = metric_index.find(metric);
            if (m == metric_index.end()) continue;  // a metric since removed (drafts recount anyway)
            MetricRunningSums& s = b.sums[m->second][v];
            s.sum = r[4].as<double>();
            s.sum_squares = r[5].as<double>();
            s.cross_products = r[6].as<double>();
            s.covariate_sum = r[7].as<double>();
            s.covariate_sum_squares = r[8].as<double>();
            s.covariate_products = r[9].as<double>();
        }
        data.whole = std::move(*whole);
        return data;
    });
}

}  // namespace expstream
