// PostgreSQL access through libpqxx: schema, experiments, ingest and the per-variant aggregate read.
// Every public method is safe to call from several threads; each takes a pooled connection.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "expstream/stats.hpp"

namespace expstream {

class ConnectionPool;
class LogSink;

// The database could not be reached or the connection broke: callers retry later.
struct DatabaseUnavailable : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// The experiment does not exist.
struct NotFound : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// The request is well-formed but refers to something that does not exist (e.g. a variant key).
struct InvalidInput : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// The request conflicts with the experiment's state (e.g. changing a completed experiment).
struct Conflict : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct VariantSpec {
    std::string key;
    std::string name;
    bool is_control = false;
    double weight = 1.0;  // share of traffic it should get, relative to the others (for SRM)
};

struct Experiment {
    std::string id;
    std::string name;
    std::string status;
    std::string created_at;                   // ISO 8601, UTC
    std::optional<std::string> activated_at;  // first time it became active
    std::int64_t seq = 0;                     // bumped whenever numbers or status change
    std::optional<std::string> tenant;        // the owner's tenant; empty for the default tenant
    std::vector<VariantSpec> variants;
};

struct StatusChange {
    Experiment experiment;
    std::string previous_status;
    std::string changed_at;  // ISO 8601, UTC; empty when the status did not change
};

struct Assignment {
    std::string user_id;
    std::string variant_key;
};

struct Conversion {
    std::string user_id;
    std::optional<std::string> event_id;
};

struct IngestResult {
    std::int64_t accepted = 0;
    std::int64_t duplicates = 0;
    bool changed = false;  // the experiment's numbers moved (seq was bumped)
};

// Everything a snapshot needs, read in one transaction.
struct SnapshotData {
    std::string experiment_id;
    std::string status;
    std::int64_t seq = 0;
    std::int64_t days_running = 0;
    std::vector<VariantCounts> variants;
    std::vector<double> weights;                 // aligned with variants
    std::vector<std::optional<double>> min_p;    // running minimum p per variant, under analysis_signature
    std::string analysis_signature;              // the analysis options min_p was computed under
};

// A variant whose running totals disagree with a recount of the raw tables.
struct TotalsDrift {
    std::string experiment_id;
    std::string variant_key;
    std::int64_t stored_participants = 0;
    std::int64_t actual_participants = 0;
    std::int64_t stored_converters = 0;
    std::int64_t actual_converters = 0;
};

// Subscribers of one experiment on the other live nodes.
struct NodeCount {
    std::string experiment_id;
    std::optional<std::string> tenant;
    std::int64_t subscribers = 0;
};

// Ingest and status changes NOTIFY this channel (payload: notice.hpp); every server process LISTENs.
inline constexpr const char* kChangesChannel = "expstream_changes";

// What one computed snapshot leaves behind: running minima, a history point, the SRM alarm.
struct Look {
    std::int64_t seq = 0;
    std::string analysis_signature;
    std::vector<std::pair<std::string, double>> min_p;  // variant key -> running minimum p
    std::string history_point;                           // JSON (history_point_json)
    bool srm_mismatch = false;
};

class Store {
public:
    // url: a libpq connection string or URI. At most pool_size connections are open at once.
    // node_id names this server process in change notices and in the subscriber-count table.
    // log: where retries and swallowed failures say why (null: nowhere).
    Store(std::string url, std::size_t pool_size, std::string node_id = {}, std::shared_ptr<LogSink> log = nullptr);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // Creates or migrates the schema; idempotent.
    void migrate();
    bool ping();

    // Validation of names and variants is the caller's job; ids are generated here.
    Experiment create_experiment(const std::string& name, const std::vector<VariantSpec>& variants,
                                 const std::optional<std::string>& tenant = std::nullopt);
    std::vector<Experiment> list_experiments();
    std::optional<Experiment> get_experiment(const std::string& id);
    // Throws NotFound, or Conflict for a transition the lifecycle forbids. A change is announced to
    // every server process (trace_id goes into the STATUS_CHANGED envelope).
    StatusChange set_status(const std::string& id, const std::string& status, const std::string& trace_id = {});

    // One transaction per batch, which also moves the variants' running totals and announces the
    // change to every server process. A user's first assignment wins. Unknown variant key -> InvalidInput,
    // nothing stored. Unknown experiment -> NotFound.
    IngestResult add_assignments(const std::string& experiment_id, const std::vector<Assignment>& batch);
    // The same event_id twice counts once; a user counts as a converter once, from the first conversion.
    IngestResult add_conversions(const std::string& experiment_id, const std::vector<Conversion>& batch);

    // Empty when the experiment does not exist. Reads the running totals: constant cost.
    std::optional<SnapshotData> read_snapshot_data(const std::string& experiment_id);

    // Records a look; returns true when this look is the first to trip the SRM alarm.
    // Safe from several processes at once: minima only go down, a seq is recorded once.
    bool record_look(const std::string& experiment_id, const Look& look);

    // {"experiment_id","points":[...]} with at most max_points points, evenly thinned, newest kept.
    std::string history_json(const std::string& experiment_id, std::size_t max_points);

    // Recounts every variant (or one experiment's) from the raw tables and returns the ones whose
    // running totals disagree. Unknown experiment -> NotFound.
    std::vector<TotalsDrift> verify_totals(const std::optional<std::string>& experiment_id,
                                           std::int64_t* variants_checked = nullptr);

    // Heartbeat of this node with its per-experiment subscriber counts (replacing the last ones).
    void publish_presence(const std::vector<std::pair<std::string, std::size_t>>& counts);
    // This node is going away: its counts stop at once.
    void leave();
    // Subscriber counts of the other nodes whose heartbeat is younger than alive_within.
    std::vector<NodeCount> other_nodes_subscribers(std::chrono::milliseconds alive_within);

    const std::string& node_id() const { return node_id_; }
    const std::string& url() const;

private:
    // Runs f(connection) through the pool's retry policy (connection_pool.hpp) and returns its result.
    template <class F>
    auto with_connection(F&& f);

    const std::string node_id_;
    std::unique_ptr<ConnectionPool> pool_;  // libpqxx stays out of this header
};

}  // namespace expstream
