// Store::record_look: what a computed snapshot leaves behind, and the transitions it saw.
#include <pqxx/pqxx>

#include "json_write.hpp"
#include "store_sql.hpp"
#include "transitions.hpp"
#include "expstream/store.hpp"

namespace expstream {
using namespace store_sql;
namespace {

std::string minima_json(const Look& look) {
    std::string minima = "[";
    for (std::size_t i = 0; i < look.min_p.size(); ++i) {
        if (i) minima += ',';
        minima += "{\"k\":";
        append_json_string(minima, look.min_p[i].first);
        minima += ",\"p\":";
        append_json_number(minima, look.min_p[i].second);
        minima += '}';
    }
    return minima + ']';
}

std::string metrics_json(const Look& look) {
    return batch_json(look.metrics, 72, [](std::string& out, const Look::MetricLook& m) {
        out += "\"m\":";
        append_json_string(out, m.metric);
        out += ",\"k\":";
        append_json_string(out, m.variant);
        out += ",\"p\":";
        append_optional_number(out, m.min_p);
        out += m.alarm ? ",\"a\":true" : ",\"a\":false";
        out += m.cuped ? ",\"c\":true" : ",\"c\":false";
        out += m.significant ? ",\"s\":true" : ",\"s\":false";
    });
}

}  // namespace

LookOutcome Store::record_look(const std::string& experiment_id, const Look& look) {
    const std::string minima = minima_json(look);
    const std::string metrics = metrics_json(look);
    return with_connection([&](pqxx::connection& c) {
        pqxx::work tx(c);
        lock_experiment(tx, experiment_id);
        // Other analysis options than last time: the old minima belong to another test; start over.
        const pqxx::result changed = tx.exec_params(
            "UPDATE experiments SET analysis_signature = $2 WHERE id = $1::uuid "
            "AND analysis_signature IS DISTINCT FROM $2 RETURNING 1",
            experiment_id, look.analysis_signature);
        if (!changed.empty()) {
            tx.exec_params("UPDATE variants SET min_p = NULL WHERE experiment_id = $1::uuid", experiment_id);
            tx.exec_params("UPDATE metric_sums s SET min_p = NULL FROM variants v "
                           "WHERE s.variant_id = v.id AND v.experiment_id = $1::uuid", experiment_id);
        }
        tx.exec_params(
            "UPDATE variants v SET min_p = least(coalesce(v.min_p, x.p), x.p) "
            "FROM json_to_recordset($2::json) AS x(k text, p double precision) "
            "WHERE v.experiment_id = $1::uuid AND v.key = x.k",
            experiment_id, minima);
        // Only the newest look moves alarm states: one computed on older data, arriving late from
        // another node, would otherwise flip an alarm back and forth.
        const bool fresh = !tx.exec_params("UPDATE experiments SET look_seq = $2 WHERE id = $1::uuid "
                                           "AND look_seq <= $2 RETURNING 1",
                                           experiment_id, look.seq)
                                .empty();
        // Per metric: minima only go down; a state flag flips once per transition, so the look that
        // flips it (one, whatever the number of nodes: the experiment row is locked) announces it.
        const pqxx::result flags = tx.exec_params(
            "WITH x AS (SELECT v.id AS variant_id, x.m, x.k, x.p, x.a, x.c, x.s, x.o "
            "           FROM json_to_recordset($2::json) "
            "             AS x(m text, k text, p double precision, a boolean, c boolean, s boolean, o int) "
            "           JOIN variants v ON v.experiment_id = $1::uuid AND v.key = x.k), "
            "old AS (SELECT s.variant_id, s.metric, s.alerted, s.significant FROM metric_sums s JOIN x "
            "        ON s.variant_id = x.variant_id AND s.metric = x.m), "
            "up AS (INSERT INTO metric_sums AS s (variant_id, metric, min_p, min_p_cuped, alerted, significant) "
            "       SELECT variant_id, m, p, c, a AND $3, s AND $3 FROM x "
            "       ON CONFLICT (variant_id, metric) DO UPDATE SET "
            // A minimum of the other test (CUPED on or off) belongs to another test: start over.
            "         min_p = CASE WHEN s.min_p_cuped = EXCLUDED.min_p_cuped "
            "           THEN least(coalesce(s.min_p, EXCLUDED.min_p), EXCLUDED.min_p) ELSE EXCLUDED.min_p END, "
            "         min_p_cuped = EXCLUDED.min_p_cuped, "
            "         alerted = CASE WHEN $3 THEN EXCLUDED.alerted ELSE s.alerted END, "
            "         significant = CASE WHEN $3 THEN EXCLUDED.significant ELSE s.significant END "
            "       RETURNING variant_id, metric, alerted, significant) "
            "SELECT up.metric, x.k, coalesce(old.alerted, false), up.alerted, "
            "  coalesce(old.significant, false), up.significant "
            "FROM up JOIN x ON x.variant_id = up.variant_id AND x.m = up.metric "
            "LEFT JOIN old ON old.variant_id = up.variant_id AND old.metric = up.metric ORDER BY x.o",
            experiment_id, metrics, fresh);
        tx.exec_params(
            "INSERT INTO results_history (experiment_id, seq, point) VALUES ($1::uuid, $2, $3::jsonb) "
            "ON CONFLICT (experiment_id, seq) DO NOTHING",
            experiment_id, look.seq, look.history_point);
        LookOutcome outcome;
        std::vector<MetricFlags> metric_flags;
        for (const auto& r : flags) {
            MetricFlags f{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<bool>(), r[3].as<bool>(),
                          r[4].as<bool>(),        r[5].as<bool>()};
            if (f.alarm && !f.was_alarm) outcome.guardrails_raised.emplace_back(f.metric, f.variant);
            metric_flags.push_back(std::move(f));
        }
        // The exposure alarm and the SRM alarm flip once per transition, like a guardrail's.
        const bool exposures_flipped =
            fresh && !tx.exec_params("UPDATE experiments SET exposures_alerted = $2 WHERE id = $1::uuid "
                                     "AND exposures_alerted IS DISTINCT FROM $2 RETURNING 1",
                                     experiment_id, look.exposure_alarm)
                          .empty();
        outcome.exposures_raised = exposures_flipped && look.exposure_alarm;
        const bool srm_flipped = fresh && !tx.exec_params("UPDATE experiments SET srm_alarm = $2 WHERE id = $1::uuid "
                                                          "AND srm_alarm IS DISTINCT FROM $2 RETURNING 1",
                                                          experiment_id, look.srm_mismatch)
                                               .empty();
        if (look.srm_mismatch) {
            // The dashboards' anomaly: the first alarm ever, as before transitions existed.
            outcome.first_srm_alarm = !tx.exec_params(
                                           "UPDATE experiments SET srm_alerted_at = now() WHERE id = $1::uuid "
                                           "AND srm_alerted_at IS NULL RETURNING 1",
                                           experiment_id)
                                         .empty();
        }
        outcome.transitions = look_transitions(look, metric_flags, srm_flipped, exposures_flipped);
        outcome.deliveries_queued = record_transitions(tx, experiment_id, outcome.transitions);
        tx.commit();
        return outcome;
    });
}

}  // namespace expstream
