#include "expstream/store.hpp"

#include <pqxx/pqxx>

#include <cstdio>
#include <optional>
#include <type_traits>
#include <utility>

#include "connection_pool.hpp"
#include "expstream/log.hpp"
#include "expstream/notice.hpp"
#include "expstream/snapshot.hpp"

namespace expstream {
namespace {

// Migrations run in order, once each, under an advisory lock so that several processes starting
// together do not race. Append new steps; never edit a released one.
const char* const kMigrations[] = {
    R"SQL(
    CREATE TABLE experiments (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name         text NOT NULL,
        status       text NOT NULL DEFAULT 'draft'
                     CHECK (status IN ('draft', 'active', 'paused', 'completed')),
        created_at   timestamptz NOT NULL DEFAULT now(),
        activated_at timestamptz,
        seq          bigint NOT NULL DEFAULT 1
    );
    CREATE TABLE variants (
        id            bigserial PRIMARY KEY,
        experiment_id uuid NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
        position      integer NOT NULL,
        key           text NOT NULL,
        name          text NOT NULL,
        is_control    boolean NOT NULL,
        UNIQUE (experiment_id, key)
    );
    CREATE TABLE assignments (
        experiment_id uuid NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
        user_id       text NOT NULL,
        variant_id    bigint NOT NULL REFERENCES variants (id),
        assigned_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (experiment_id, user_id)
    );
    CREATE TABLE events (
        id            bigserial PRIMARY KEY,
        experiment_id uuid NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
        user_id       text NOT NULL,
        type          text NOT NULL,
        event_id      text,
        created_at    timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX events_event_id ON events (experiment_id, event_id) WHERE event_id IS NOT NULL;
    CREATE INDEX events_conversions ON events (experiment_id, user_id) WHERE type = 'conversion';
    )SQL",
    // 2: experiments belong to a tenant (NULL: the default tenant).
    R"SQL(
    ALTER TABLE experiments ADD COLUMN tenant text;
    CREATE INDEX experiments_tenant ON experiments (tenant);
    )SQL",
    // 3: traffic weights (SRM), running-minimum p-values, the SRM alarm, results history.
    R"SQL(
    ALTER TABLE variants ADD COLUMN weight double precision NOT NULL DEFAULT 1 CHECK (weight > 0);
    ALTER TABLE variants ADD COLUMN min_p double precision;
    ALTER TABLE experiments ADD COLUMN analysis_signature text;
    ALTER TABLE experiments ADD COLUMN srm_alerted_at timestamptz;
    CREATE TABLE results_history (
        experiment_id uuid NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
        seq           bigint NOT NULL,
        recorded_at   timestamptz NOT NULL DEFAULT now(),
        point         jsonb NOT NULL,
        PRIMARY KEY (experiment_id, seq)
    );
    )SQL",
    // 4: running totals per variant, kept by ingest in its own transaction, so a snapshot reads one
    // small row per variant however long the experiment ran. The per-row foreign-key checks on the
    // raw tables go (ingest locks the experiment row and joins the variants, which is the same
    // guarantee once per batch); a trigger keeps deleting an experiment's rows with it. Nodes
    // publish their subscriber counts with a heartbeat.
    R"SQL(
    ALTER TABLE variants ADD COLUMN participants bigint NOT NULL DEFAULT 0,
                         ADD COLUMN converters bigint NOT NULL DEFAULT 0;
    UPDATE variants v SET participants = t.participants, converters = t.converters
    FROM (SELECT a.variant_id, count(*) AS participants, count(c.user_id) AS converters
          FROM assignments a
          LEFT JOIN (SELECT DISTINCT experiment_id, user_id FROM events WHERE type = 'conversion') c
            ON c.experiment_id = a.experiment_id AND c.user_id = a.user_id
          GROUP BY a.variant_id) t
    WHERE v.id = t.variant_id;
    ALTER TABLE events DROP CONSTRAINT events_experiment_id_fkey;
    ALTER TABLE assignments DROP CONSTRAINT assignments_experiment_id_fkey;
    ALTER TABLE assignments DROP CONSTRAINT assignments_variant_id_fkey;
    CREATE FUNCTION expstream_delete_experiment_rows() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM events WHERE experiment_id = OLD.id;
        DELETE FROM assignments WHERE experiment_id = OLD.id;
        RETURN OLD;
    END $$;
    CREATE TRIGGER experiments_delete_rows BEFORE DELETE ON experiments
        FOR EACH ROW EXECUTE FUNCTION expstream_delete_experiment_rows();
    CREATE TABLE nodes (
        node_id      text PRIMARY KEY,
        started_at   timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE node_subscribers (
        node_id       text NOT NULL REFERENCES nodes (node_id) ON DELETE CASCADE,
        experiment_id text NOT NULL,
        subscribers   integer NOT NULL CHECK (subscribers > 0),
        PRIMARY KEY (node_id, experiment_id)
    );
    )SQL",
};


const char* const kIsoTime = R"(to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'))";

std::string iso(const char* column) {
    char buf[160];
    std::snprintf(buf, sizeof buf, kIsoTime, column);
    return buf;
}

const std::string kExperimentColumns = "e.id::text, e.name, e.status, " + iso("e.created_at") + ", " +
                                       iso("e.activated_at") + ", e.seq, e.tenant";

bool status_change_allowed(const std::string& from, const std::string& to) {
    if (from == to) return true;
    if (from == "completed") return false;  // final
    if (to == "draft") return false;        // data may exist; going back would mislabel it
    return true;
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
    for (auto& experiment : experiments) {
        for (const auto& r : rows) {
            if (r[0].as<std::string>() != experiment.id) continue;
            experiment.variants.push_back(
                VariantSpec{r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<bool>(), r[4].as<double>()});
        }
    }
}

// Locks the experiment row for the rest of the transaction: ingest, status changes and look
// records of one experiment are serialized, so seq, totals and "first assignment wins" stay exact.
// Every writer takes this lock before any variants row (one lock order: no deadlocks). NO KEY
// UPDATE, not UPDATE: foreign-key checks of rows that reference the experiment (history points)
// need not wait for it.
std::string lock_experiment(pqxx::transaction_base& tx, const std::string& id) {
    const pqxx::result r =
        tx.exec_params("SELECT status FROM experiments WHERE id = $1::uuid FOR NO KEY UPDATE", id);
    if (r.empty()) throw NotFound("experiment " + id + " not found");
    return r[0][0].as<std::string>();
}

void ensure_accepts_data(const std::string& status) {
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
void notify_change(pqxx::transaction_base& tx, const ChangeNotice& notice) {
    tx.exec_params("SELECT pg_notify($1, $2)", kChangesChannel, notice_json(notice));
}

template <class Insert>
IngestResult ingest_transaction(pqxx::connection& c, const std::string& node_id, const std::string& experiment_id,
                                std::int64_t total, Insert insert) {
    pqxx::work tx(c);
    ensure_accepts_data(lock_experiment(tx, experiment_id));
    IngestResult result = insert(tx);
    result.duplicates = total - result.accepted;
    if (result.changed) {
        tx.exec_params("UPDATE experiments SET seq = seq + 1 WHERE id = $1::uuid", experiment_id);
        notify_change(tx, ChangeNotice{node_id, experiment_id, std::nullopt});
    }
    tx.commit();
    return result;
}

}  // namespace

Store::Store(std::string url, std::size_t pool_size, std::string node_id, std::shared_ptr<LogSink> log)
    : node_id_(std::move(node_id)),
      pool_(std::make_unique<ConnectionPool>(std::move(url), pool_size, std::move(log))) {}

Store::~Store() = default;

const std::string& Store::url() const { return pool_->url(); }

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

void Store::migrate() {
    with_connection([](pqxx::connection& c) {
        pqxx::work tx(c);
        tx.exec("SELECT pg_advisory_xact_lock(7265730001)");
        tx.exec("CREATE TABLE IF NOT EXISTS expstream_migrations (version integer PRIMARY KEY)");
        const int applied = tx.exec1("SELECT coalesce(max(version), 0) FROM expstream_migrations")[0].as<int>();
        const int total = static_cast<int>(sizeof kMigrations / sizeof kMigrations[0]);
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
                                    const std::optional<std::string>& tenant) {
    return with_connection([&](pqxx::connection& c) {
        pqxx::work tx(c);
        // libpqxx 6 has no optional parameters: an empty string stands for NULL here.
        Experiment e = experiment_from(tx.exec_params1(
            "WITH e AS (INSERT INTO experiments (name, tenant) VALUES ($1, nullif($2, '')) RETURNING *) SELECT " +
                kExperimentColumns + " FROM e",
            name, tenant.value_or("")));
        int position = 0;
        for (const auto& v : variants) {
            tx.exec_params(
                "INSERT INTO variants (experiment_id, position, key, name, is_control, weight) "
                "VALUES ($1::uuid, $2, $3, $4, $5, $6)",
                e.id, position++, v.key, v.name, v.is_control, v.weight);
        }
        tx.commit();
        e.variants = variants;
        return e;
    });
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
    return with_connection([&](pqxx::connection& c) {
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
        }
        std::vector<Experiment> one{
            experiment_from(tx.exec_params1("SELECT " + kExperimentColumns + " FROM experiments e WHERE e.id = $1::uuid", id))};
        load_variants(tx, one);
        tx.commit();
        return StatusChange{std::move(one[0]), current, std::move(changed_at)};
    });
}

IngestResult Store::add_assignments(const std::string& experiment_id, const std::vector<Assignment>& batch) {
    const std::string json = batch_json(batch, 48, [](std::string& out, const Assignment& a) {
        out += "\"u\":";
        append_json_string(out, a.user_id);
        out += ",\"k\":";
        append_json_string(out, a.variant_key);
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
            // Every part of one statement sees the tables as they were before it: a new participant
            // who converted earlier (conversion before assignment) also counts as a converter now.
            const pqxx::row r = tx.exec_params1(
                "WITH ins AS ("
                "  INSERT INTO assignments (experiment_id, user_id, variant_id) "
                "  SELECT DISTINCT ON (x.u) $1::uuid, x.u, v.id "
                "  FROM json_to_recordset($2::json) AS x(u text, k text, o bigint) "
                "  JOIN variants v ON v.experiment_id = $1::uuid AND v.key = x.k "
                "  ORDER BY x.u, x.o "
                "  ON CONFLICT (experiment_id, user_id) DO NOTHING "
                "  RETURNING user_id, variant_id), "
                "per_variant AS ("
                "  SELECT ins.variant_id, count(*) AS participants, "
                "    count(*) FILTER (WHERE EXISTS (SELECT 1 FROM events e WHERE e.experiment_id = $1::uuid "
                "                                   AND e.user_id = ins.user_id AND e.type = 'conversion')) AS converters "
                "  FROM ins GROUP BY ins.variant_id), "
                "totals AS ("
                "  UPDATE variants v SET participants = v.participants + p.participants, "
                "    converters = v.converters + p.converters "
                "  FROM per_variant p WHERE v.id = p.variant_id RETURNING 1) "
                "SELECT coalesce((SELECT sum(participants) FROM per_variant), 0)::bigint, (SELECT count(*) FROM totals)",
                experiment_id, json);
            IngestResult result;
            result.accepted = r[0].as<std::int64_t>();
            result.changed = result.accepted > 0;
            return result;
        });
    });
}

IngestResult Store::add_conversions(const std::string& experiment_id, const std::vector<Conversion>& batch) {
    const std::string json = batch_json(batch, 64, [](std::string& out, const Conversion& e) {
        out += "\"u\":";
        append_json_string(out, e.user_id);
        out += ",\"e\":";
        if (e.event_id)
            append_json_string(out, *e.event_id);
        else
            out += "null";
    });
    return with_connection([&](pqxx::connection& c) {
        return ingest_transaction(c, node_id_, experiment_id, static_cast<std::int64_t>(batch.size()), [&](pqxx::work& tx) {
            // The outer query sees the table as it was before this INSERT, so "no earlier conversion"
            // means this batch brings the user's first one: only then do the numbers move.
            const pqxx::row r = tx.exec_params1(
                "WITH ins AS ("
                "  INSERT INTO events (experiment_id, user_id, type, event_id) "
                "  SELECT $1::uuid, x.u, 'conversion', x.e "
                "  FROM json_to_recordset($2::json) AS x(u text, e text, o bigint) ORDER BY x.o "
                "  ON CONFLICT (experiment_id, event_id) WHERE event_id IS NOT NULL DO NOTHING "
                "  RETURNING user_id), "
                "firsts AS ("
                "  SELECT DISTINCT ins.user_id FROM ins "
                "  WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.experiment_id = $1::uuid "
                "                    AND e.user_id = ins.user_id AND e.type = 'conversion')), "
                "per_variant AS ("
                "  SELECT a.variant_id, count(*) AS converters FROM firsts "
                "  JOIN assignments a ON a.experiment_id = $1::uuid AND a.user_id = firsts.user_id "
                "  GROUP BY a.variant_id), "
                "totals AS ("
                "  UPDATE variants v SET converters = v.converters + p.converters "
                "  FROM per_variant p WHERE v.id = p.variant_id RETURNING 1) "
                "SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM totals) > 0",
                experiment_id, json);
            IngestResult result;
            result.accepted = r[0].as<std::int64_t>();
            result.changed = r[1].as<bool>();
            return result;
        });
    });
}

std::optional<SnapshotData> Store::read_snapshot_data(const std::string& experiment_id) {
    return with_connection([&](pqxx::connection& c) -> std::optional<SnapshotData> {
        // One snapshot of the database: seq, status and counts agree with each other.
        pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(c);
        const pqxx::result head = tx.exec_params(
            "SELECT status, seq, "
            "coalesce(floor(extract(epoch FROM now() - activated_at) / 86400), 0)::bigint, "
            "coalesce(analysis_signature, '') "
            "FROM experiments WHERE id = $1::uuid",
            experiment_id);
        if (head.empty()) return std::nullopt;
        SnapshotData data;
        data.experiment_id = experiment_id;
        data.status = head[0][0].as<std::string>();
        data.seq = head[0][1].as<std::int64_t>();
        data.days_running = head[0][2].as<std::int64_t>();
        data.analysis_signature = head[0][3].as<std::string>();
        // The running totals: one row per variant, whatever the size of the raw tables.
        const pqxx::result rows = tx.exec_params(
            "SELECT key, name, is_control, participants, converters, weight, min_p "
            "FROM variants WHERE experiment_id = $1::uuid ORDER BY position",
            experiment_id);
        for (const auto& r : rows) {
            VariantCounts v;
            v.key = r[0].as<std::string>();
            v.name = r[1].as<std::string>();
            v.is_control = r[2].as<bool>();
            v.participants = r[3].as<std::int64_t>();
            v.conversions = r[4].as<std::int64_t>();
            data.variants.push_back(std::move(v));
            data.weights.push_back(r[5].as<double>());
            data.min_p.push_back(r[6].is_null() ? std::nullopt : std::optional<double>(r[6].as<double>()));
        }
        return data;
    });
}

bool Store::record_look(const std::string& experiment_id, const Look& look) {
    std::string minima = "[";
    for (std::size_t i = 0; i < look.min_p.size(); ++i) {
        if (i) minima += ',';
        minima += "{\"k\":";
        append_json_string(minima, look.min_p[i].first);
        minima += ",\"p\":";
        append_json_number(minima, look.min_p[i].second);
        minima += '}';
    }
    minima += ']';
    return with_connection([&](pqxx::connection& c) {
        pqxx::work tx(c);
        lock_experiment(tx, experiment_id);
        // Other analysis options than last time: the old minima belong to another test; start over.
        const pqxx::result changed = tx.exec_params(
            "UPDATE experiments SET analysis_signature = $2 WHERE id = $1::uuid "
            "AND analysis_signature IS DISTINCT FROM $2 RETURNING 1",
            experiment_id, look.analysis_signature);
        if (!changed.empty()) tx.exec_params("UPDATE variants SET min_p = NULL WHERE experiment_id = $1::uuid", experiment_id);
        tx.exec_params(
            "UPDATE variants v SET min_p = least(coalesce(v.min_p, x.p), x.p) "
            "FROM json_to_recordset($2::json) AS x(k text, p double precision) "
            "WHERE v.experiment_id = $1::uuid AND v.key = x.k",
            experiment_id, minima);
        tx.exec_params(
            "INSERT INTO results_history (experiment_id, seq, point) VALUES ($1::uuid, $2, $3::jsonb) "
            "ON CONFLICT (experiment_id, seq) DO NOTHING",
            experiment_id, look.seq, look.history_point);
        bool first_alarm = false;
        if (look.srm_mismatch) {
            first_alarm = !tx.exec_params(
                                 "UPDATE experiments SET srm_alerted_at = now() WHERE id = $1::uuid "
                                 "AND srm_alerted_at IS NULL RETURNING 1",
                                 experiment_id)
                               .empty();
        }
        tx.commit();
        return first_alarm;
    });
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

std::vector<TotalsDrift> Store::verify_totals(const std::optional<std::string>& experiment_id, std::int64_t* variants_checked) {
    return with_connection([&](pqxx::connection& c) {
        // One snapshot of the database: totals and raw rows are written by the same transactions,
        // so in any snapshot they agree unless something is wrong.
        pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(c);
        const std::string id = experiment_id.value_or("");
        if (!id.empty() && tx.exec_params("SELECT 1 FROM experiments WHERE id = $1::uuid", id).empty())
            throw NotFound("experiment " + id + " not found");
        // The same recount the snapshots used before running totals existed.
        const pqxx::result rows = tx.exec_params(
            "SELECT v.experiment_id::text, v.key, v.participants, coalesce(t.participants, 0), "
            "  v.converters, coalesce(t.converters, 0), "
            "  count(*) OVER () "
            "FROM variants v "
            "LEFT JOIN (SELECT a.variant_id, count(*) AS participants, count(c.user_id) AS converters "
            "           FROM assignments a "
            "           LEFT JOIN (SELECT DISTINCT experiment_id, user_id FROM events "
            "                      WHERE type = 'conversion' AND ($1 = '' OR experiment_id = nullif($1, '')::uuid)) c "
            "             ON c.experiment_id = a.experiment_id AND c.user_id = a.user_id "
            "           WHERE $1 = '' OR a.experiment_id = nullif($1, '')::uuid "
            "           GROUP BY a.variant_id) t ON t.variant_id = v.id "
            "WHERE $1 = '' OR v.experiment_id = nullif($1, '')::uuid "
            "ORDER BY v.experiment_id, v.position",
            id);
        if (variants_checked) *variants_checked = rows.empty() ? 0 : rows[0][6].as<std::int64_t>();
        std::vector<TotalsDrift> drift;
        for (const auto& r : rows) {
            TotalsDrift d{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::int64_t>(),
                          r[3].as<std::int64_t>(),  r[4].as<std::int64_t>(),  r[5].as<std::int64_t>()};
            if (d.stored_participants != d.actual_participants || d.stored_converters != d.actual_converters)
                drift.push_back(std::move(d));
        }
        return drift;
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
