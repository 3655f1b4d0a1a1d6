// PostgreSQL access through libpqxx: schema, experiments, ingest and the per-variant aggregate read.
// Every public method is safe to call from several threads; each takes a pooled connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "expstream/stats.hpp"

namespace expstream {

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
    Store(std::string url, std::size_t pool_size);
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
    // Throws NotFound, or Conflict for a transition the lifecycle forbids.
    StatusChange set_status(const std::string& id, const std::string& status);

    // One transaction per batch; a user's first assignment wins. Unknown variant key -> InvalidInput,
    // nothing stored. Unknown experiment -> NotFound.
    IngestResult add_assignments(const std::string& experiment_id, const std::vector<Assignment>& batch);
    // The same event_id twice counts once.
    IngestResult add_conversions(const std::string& experiment_id, const std::vector<Conversion>& batch);

    // Empty when the experiment does not exist.
    std::optional<SnapshotData> read_snapshot_data(const std::string& experiment_id);

    // Records a look; returns true when this look is the first to trip the SRM alarm.
    // Safe from several processes at once: minima only go down, a seq is recorded once.
    bool record_look(const std::string& experiment_id, const Look& look);

    // {"experiment_id","points":[...]} with at most max_points points, evenly thinned, newest kept.
    std::string history_json(const std::string& experiment_id, std::size_t max_points);

private:
    struct Pool;  // libpqxx stays out of this header
    // Runs f(connection), retrying once on a fresh connection when a pooled one turns out broken.
    template <class F>
    auto with_connection(F&& f);

    std::unique_ptr<Pool> pool_;
};

}  // namespace expstream
