// Reading an experiment's snapshot data: its running totals, in one snapshot of the database.
#include <pqxx/pqxx>

#include "expstream/store.hpp"
#include "store_sql.hpp"

namespace expstream {
using namespace store_sql;

std::optional<SnapshotData> Store::read_snapshot_data(const std::string& experiment_id) {
    return with_connection([&](pqxx::connection& c) -> std::optional<SnapshotData> {
        // One snapshot of the database: seq, status and counts agree with each other.
        pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(c);
        return read_snapshot_in(tx, experiment_id);
    });
}

namespace store_sql {

std::optional<SnapshotData> read_snapshot_in(pqxx::transaction_base& tx, const std::string& experiment_id) {
    const pqxx::result head = tx.exec_params(
        "SELECT status, seq, "
        "coalesce(floor(extract(epoch FROM now() - activated_at) / 86400), 0)::bigint, "
        "coalesce(analysis_signature, ''), multiple_exposures, exposures = 'exclude', cuped "
        "FROM experiments WHERE id = $1::uuid",
        experiment_id);
    if (head.empty()) return std::nullopt;
    SnapshotData data;
    data.experiment_id = experiment_id;
    data.status = head[0][0].as<std::string>();
    data.seq = head[0][1].as<std::int64_t>();
    data.days_running = head[0][2].as<std::int64_t>();
    data.analysis_signature = head[0][3].as<std::string>();
    data.multiple_exposures = head[0][4].as<std::int64_t>();
    // Excluded users count among those assigned, not among any variant's participants.
    data.assigned_users = head[0][5].as<bool>() ? data.multiple_exposures : 0;
    data.cuped = head[0][6].as<bool>();
    // The running totals: one row per variant, whatever the size of the raw tables.
    const pqxx::result rows = tx.exec_params(
        "SELECT key, name, is_control, participants, weight, min_p "
        "FROM variants WHERE experiment_id = $1::uuid ORDER BY position",
        experiment_id);
    for (const auto& r : rows) {
        VariantCounts v;
        v.key = r[0].as<std::string>();
        v.name = r[1].as<std::string>();
        v.is_control = r[2].as<bool>();
        v.participants = r[3].as<std::int64_t>();
        data.assigned_users += v.participants;
        data.variants.push_back(std::move(v));
        data.weights.push_back(r[4].as<double>());
        data.min_p.push_back(r[5].is_null() ? std::nullopt : std::optional<double>(r[5].as<double>()));
    }
    read_metric_sums(tx, data);  // and the conversions shown in the variants' own fields
    return data;
}

}  // namespace store_sql

}  // namespace expstream
