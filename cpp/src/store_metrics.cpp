// Metric definitions, the per-metric running sums a snapshot reads, and the recount that rebuilds
// (after a draft's metrics change) or verifies (`expstream verify`) every running total.
#include <pqxx/pqxx>

#include <cmath>

#include "expstream/snapshot.hpp"
#include "expstream/store.hpp"
#include "metric_sql.hpp"
#include "store_sql.hpp"

namespace expstream {

MetricSpec default_metric() {
    MetricSpec m;
    m.key = "conversion";
    m.name = "Conversion";
    m.kind = "proportion";
    m.event_type = "conversion";
    return m;
}

namespace {

template <class E>
E parse(const std::string& text, std::initializer_list<std::pair<const char*, E>> spellings) {
    for (const auto& [name, value] : spellings)
        if (text == name) return value;
    return spellings.begin()->second;  // the table's CHECKs allow nothing else
}

}  // namespace

MetricAnalysisInput metric_analysis_input(const SnapshotData& data, bool keep_minima) {
    MetricAnalysisInput in;
    in.legacy = data.legacy_metric;
    const auto index_of = [&data](const std::string& key) -> std::optional<std::size_t> {
        for (std::size_t i = 0; i < data.metrics.size(); ++i)
            if (data.metrics[i].key == key) return i;
        return std::nullopt;
    };
    for (std::size_t m = 0; m < data.metrics.size(); ++m) {
        const MetricSpec& spec = data.metrics[m];
        MetricInput metric;
        metric.key = spec.key;
        metric.kind = parse<MetricKind>(spec.kind, {{"proportion", MetricKind::Proportion}, {"mean", MetricKind::Mean},
                                                    {"ratio", MetricKind::Ratio}});
        metric.role = parse<MetricRole>(spec.role, {{"primary", MetricRole::Primary},
                                                    {"secondary", MetricRole::Secondary},
                                                    {"guardrail", MetricRole::Guardrail}});
        metric.direction = parse<Direction>(spec.direction, {{"increase", Direction::Increase},
                                                             {"decrease", Direction::Decrease}});
        const auto numerator = index_of(spec.numerator);
        const auto denominator = index_of(spec.denominator);
        // CUPED applies where the experiment allows it and some user carries a covariate.
        bool covariates = false;
        for (const auto& arm : data.sums[m]) covariates = covariates || arm.covariate_sum_squares > 0;
        metric.cuped = data.cuped && metric.kind != MetricKind::Ratio && covariates;
        std::vector<std::optional<double>> minima;
        for (std::size_t v = 0; v < data.variants.size(); ++v) {
            MetricSums arm;
            arm.n = data.variants[v].participants;
            const MetricRunningSums& own = data.sums[m][v];
            if (metric.kind == MetricKind::Ratio && numerator && denominator) {
                arm.sum = data.sums[*numerator][v].sum;
                arm.sum_squares = data.sums[*numerator][v].sum_squares;
                arm.denominator_sum = data.sums[*denominator][v].sum;
                arm.denominator_sum_squares = data.sums[*denominator][v].sum_squares;
                arm.sum_of_products = own.cross_products;
            } else {
                arm.sum = own.sum;
                arm.sum_squares = own.sum_squares;
                arm.covariate_sum = own.covariate_sum;
                arm.covariate_sum_squares = own.covariate_sum_squares;
                arm.covariate_products = own.covariate_products;
            }
            metric.arms.push_back(arm);
            minima.push_back(keep_minima && own.min_p_cuped == metric.cuped ? own.min_p : std::nullopt);
        }
        in.metrics.push_back(std::move(metric));
        in.names.push_back(spec.name);
        in.previous_min_p.push_back(std::move(minima));
    }
    return in;
}

namespace store_sql {

void insert_metrics(pqxx::transaction_base& tx, const std::string& experiment_id,
                    const std::vector<MetricSpec>& metrics) {
    const std::vector<MetricSpec> defaults{default_metric()};
    const auto& specs = metrics.empty() ? defaults : metrics;
    const std::string json = batch_json(specs, 160, [](std::string& out, const MetricSpec& m) {
        const auto field = [&out](const char* name, const std::string& value) {
            out += ",\"";
            out += name;
            out += "\":";
            if (value.empty())
                out += "null";
            else
                append_json_string(out, value);
        };
        out += "\"key\":";
        append_json_string(out, m.key);
        field("name", m.name);
        field("kind", m.kind);
        field("event_type", m.event_type);
        field("role", m.role);
        field("direction", m.direction);
        field("numerator", m.numerator);
        field("denominator", m.denominator);
        out += ",\"cap\":";
        if (m.cap)
            append_json_number(out, *m.cap);
        else
            out += "null";
    });
    tx.exec_params(
        "INSERT INTO metrics (experiment_id, position, key, name, kind, event_type, role, direction, cap, "
        "numerator, denominator) "
        "SELECT $1::uuid, x.o, x.key, x.name, x.kind, x.event_type, x.role, x.direction, x.cap, x.numerator, "
        "x.denominator FROM json_to_recordset($2::json) AS x(key text, name text, kind text, event_type text, "
        "role text, direction text, cap double precision, numerator text, denominator text, o integer)",
        experiment_id, json);
}

void load_metrics(pqxx::transaction_base& tx, std::vector<Experiment>& experiments) {
    if (experiments.empty()) return;
    std::string ids = "{";
    for (std::size_t i = 0; i < experiments.size(); ++i) {
        if (i) ids += ',';
        ids += experiments[i].id;
    }
    ids += '}';
    const pqxx::result rows = tx.exec_params(
        "SELECT experiment_id::text, key, name, kind, coalesce(event_type, ''), role, direction, cap, "
        "coalesce(numerator, ''), coalesce(denominator, '') FROM metrics "
        "WHERE experiment_id = ANY($1::uuid[]) ORDER BY experiment_id, position",
        ids);
    for (auto& experiment : experiments) {
        for (const auto& r : rows) {
            if (r[0].as<std::string>() != experiment.id) continue;
            MetricSpec m{r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>(),
                         r[4].as<std::string>(), r[5].as<std::string>(), r[6].as<std::string>(),
                         std::nullopt, r[8].as<std::string>(), r[9].as<std::string>()};
            if (!r[7].is_null()) m.cap = r[7].as<double>();
            experiment.metrics.push_back(std::move(m));
        }
    }
}

void read_metric_sums(pqxx::transaction_base& tx, SnapshotData& data) {
    std::vector<Experiment> one(1);
    one[0].id = data.experiment_id;
    load_metrics(tx, one);
    data.metrics = std::move(one[0].metrics);
    data.sums.assign(data.metrics.size(), std::vector<MetricRunningSums>(data.variants.size()));
    // One row per (metric, variant): constant cost, whatever the size of the raw tables.
    const pqxx::result rows = tx.exec_params(
        "SELECT m.position, v.position, coalesce(s.sum, 0)::float8, coalesce(s.sum_squares, 0)::float8, "
        "coalesce(s.cross_products, 0)::float8, s.min_p, coalesce(s.alerted, false), "
        "coalesce(s.covariate_sum, 0)::float8, coalesce(s.covariate_sum_squares, 0)::float8, "
        "coalesce(s.covariate_products, 0)::float8, coalesce(s.min_p_cuped, false) "
        "FROM metrics m JOIN variants v ON v.experiment_id = m.experiment_id "
        "LEFT JOIN metric_sums s ON s.variant_id = v.id AND s.metric = m.key "
        "WHERE m.experiment_id = $1::uuid ORDER BY m.position, v.position",
        data.experiment_id);
    for (const auto& r : rows) {
        const auto mi = r[0].as<std::size_t>();
        const auto vi = r[1].as<std::size_t>();
        if (mi >= data.sums.size() || vi >= data.variants.size()) continue;
        MetricRunningSums& s = data.sums[mi][vi];
        s.sum = r[2].as<double>();
        s.sum_squares = r[3].as<double>();
        s.cross_products = r[4].as<double>();
        if (!r[5].is_null()) s.min_p = r[5].as<double>();
        s.alerted = r[6].as<bool>();
        s.covariate_sum = r[7].as<double>();
        s.covariate_sum_squares = r[8].as<double>();
        s.covariate_products = r[9].as<double>();
        s.min_p_cuped = r[10].as<bool>();
    }
    // The snapshot's own fields (EP-058) describe the primary metric when it is a proportion, else
    // the first proportion; with none, they show no conversions.
    std::optional<std::size_t> legacy;
    for (std::size_t i = 0; i < data.metrics.size() && !legacy; ++i)
        if (data.metrics[i].kind == "proportion" && data.metrics[i].role == "primary") legacy = i;
    for (std::size_t i = 0; i < data.metrics.size() && !legacy; ++i)
        if (data.metrics[i].kind == "proportion") legacy = i;
    for (std::size_t v = 0; v < data.variants.size(); ++v)
        data.variants[v].conversions = legacy ? std::llround(data.sums[*legacy][v].sum) : 0;
    data.legacy_metric = legacy;
}

void rebuild_metric_totals(pqxx::transaction_base& tx, const std::string& experiment_id) {
    tx.exec_params("DELETE FROM user_totals WHERE experiment_id = $1::uuid", experiment_id);
    tx.exec_params("DELETE FROM metric_sums s USING variants v WHERE s.variant_id = v.id AND v.experiment_id = $1::uuid",
                   experiment_id);
    tx.exec_params(metric_sql::recount_ctes() +
                       ", ins AS (INSERT INTO user_totals (experiment_id, metric, user_id, total) "
                       "  SELECT $1::uuid, metric, user_id, total FROM expected_totals RETURNING 1) "
                       "INSERT INTO metric_sums (variant_id, metric, sum, sum_squares, cross_products, covariate_sum, "
                       "  covariate_sum_squares, covariate_products) "
                       "SELECT variant_id, metric, sum, sum_squares, cross_products, covariate_sum, covariate_sum_squares, "
                       "  covariate_products FROM expected_sums",
                   experiment_id);
    rebuild_dimension_totals(tx, experiment_id);  // built on the users' totals just recounted
}

}  // namespace store_sql

using namespace store_sql;

std::vector<TotalsDrift> Store::verify_totals(const std::optional<std::string>& experiment_id,
                                              std::int64_t* variants_checked) {
    return with_connection([&](pqxx::connection& c) {
        // One snapshot of the database: totals and raw rows are written by the same transactions,
        // so in any snapshot they agree unless something is wrong.
        pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(c);
        const pqxx::result ids = tx.exec_params(
            "SELECT id::text FROM experiments WHERE $1 = '' OR id = nullif($1, '')::uuid ORDER BY id",
            experiment_id.value_or(""));
        if (experiment_id && ids.empty()) throw NotFound("experiment " + *experiment_id + " not found");
        std::vector<TotalsDrift> drift;
        std::int64_t checked = 0;
        for (const auto& row : ids) {
            const std::string id = row[0].as<std::string>();
            const std::string counted = std::string("count(a.user_id) FILTER (WHERE ") + metric_sql::kCounts + ")";
            const pqxx::result participants = tx.exec_params(
                "SELECT v.key, v.participants::text, " + counted + "::text, v.participants = " + counted + " "
                "FROM variants v LEFT JOIN assignments a ON a.experiment_id = v.experiment_id AND a.variant_id = v.id "
                "WHERE v.experiment_id = $1::uuid GROUP BY v.id ORDER BY v.position",
                id);
            checked += static_cast<std::int64_t>(participants.size());
            for (const auto& r : participants)
                if (!r[3].as<bool>())
                    drift.push_back({id, r[0].as<std::string>(), "participants", r[1].as<std::string>(),
                                     r[2].as<std::string>()});
            const pqxx::row exposed = tx.exec_params1(
                "SELECT e.multiple_exposures::text, count(a.user_id) FILTER (WHERE a.multiple)::text, "
                "  e.multiple_exposures = count(a.user_id) FILTER (WHERE a.multiple) "
                "FROM experiments e LEFT JOIN assignments a ON a.experiment_id = e.id WHERE e.id = $1::uuid "
                "GROUP BY e.id",
                id);
            if (!exposed[2].as<bool>())
                drift.push_back({id, "", "multiple_exposures", exposed[0].as<std::string>(), exposed[1].as<std::string>()});
            // Each (variant, metric)'s three sums against the recount; numeric, so equal to the digit.
            const pqxx::result sums = tx.exec_params(
                metric_sql::recount_ctes() +
                    "SELECT v.key, q.key || '.' || t.name, t.stored::text, t.recounted::text "
                    "FROM variants v JOIN metrics q ON q.experiment_id = v.experiment_id "
                    "LEFT JOIN metric_sums s ON s.variant_id = v.id AND s.metric = q.key "
                    "LEFT JOIN expected_sums x ON x.variant_id = v.id AND x.metric = q.key "
                    "CROSS JOIN LATERAL (VALUES " +
                    std::string(metric_sql::kSumsStoredAndRecounted) +
                    ") AS t(name, stored, recounted) "
                    "WHERE v.experiment_id = $1::uuid AND t.stored <> t.recounted ORDER BY v.position, q.position",
                id);
            for (const auto& r : sums)
                drift.push_back({id, r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                                 r[3].as<std::string>()});
            // The users' raw totals, which later ingest builds on: how many users differ, per metric.
            const pqxx::result users = tx.exec_params(
                metric_sql::recount_ctes() +
                    "SELECT coalesce(x.metric, t.metric) || '.user_totals', "
                    "  count(*) FILTER (WHERE t.user_id IS NOT NULL)::text, "
                    "  count(*) FILTER (WHERE x.user_id IS NOT NULL)::text "
                    "FROM expected_totals x "
                    "FULL JOIN (SELECT metric, user_id, total FROM user_totals WHERE experiment_id = $1::uuid) t "
                    "  ON t.metric = x.metric AND t.user_id = x.user_id "
                    "WHERE t.total IS DISTINCT FROM x.total GROUP BY 1 ORDER BY 1",
                id);
            for (const auto& r : users)
                drift.push_back({id, "", r[0].as<std::string>(), r[1].as<std::string>() + " users differ",
                                 r[2].as<std::string>() + " users differ"});
            dimension_drift(tx, id, drift);
        }
        if (variants_checked) *variants_checked = checked;
        return drift;
    });
}

}  // namespace expstream
