// PostgreSQL access through libpqxx: schema, experiments, ingest and the per-variant aggregate read.
// Every public method is safe to call from several threads; each takes a pooled connection.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "expstream/metric_stats.hpp"
#include "expstream/notice.hpp"
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

// One metric of an experiment (README, "Metrics"). Validation is the caller's; the table's CHECKs
// are the last line. kind: proportion | mean | ratio; role: primary | secondary | guardrail;
// direction: increase | decrease.
struct MetricSpec {
    std::string key;
    std::string name;
    std::string kind;
    std::string event_type;          // proportion, mean: the events it counts
    std::string role = "primary";
    std::string direction = "increase";
    std::optional<double> cap;       // mean: a user's total counts at most this much
    std::string numerator;           // ratio: keys of two mean metrics
    std::string denominator;
};

// Today's metric, the one an experiment created without metrics gets.
MetricSpec default_metric();

struct Experiment {
    std::string id;
    std::string name;
    std::string status;
    std::string created_at;                   // ISO 8601, UTC
    std::optional<std::string> activated_at;  // first time it became active
    std::int64_t seq = 0;                     // bumped whenever numbers or status change
    std::optional<std::string> tenant;        // the owner's tenant; empty for the default tenant
    std::vector<VariantSpec> variants;
    std::vector<MetricSpec> metrics;  // definition order
    // A user assigned to a second variant: "first" (the first assignment counts) or "exclude" (the
    // user leaves every total).
    std::string exposures = "first";
    bool cuped = true;  // analysis.cuped: regression-adjust metrics whose users carry covariates
    std::vector<std::string> dimensions;  // declared at creation: breakdowns by these attributes
};

struct StatusChange {
    Experiment experiment;
    std::string previous_status;
    std::string changed_at;  // ISO 8601, UTC; empty when the status did not change
};

struct Assignment {
    std::string user_id;
    std::string variant_key;
    // Pre-exposure values per metric key (CUPED), finite; the user's first assignment fixes them.
    std::vector<std::pair<std::string, double>> covariates{};
    // The user's value per dimension (the first assignment fixes them); those of dimensions the
    // experiment did not declare are dropped.
    std::vector<std::pair<std::string, std::string>> attributes{};
};

// Today's event: a conversion (an Event of type "conversion" with value 1).
struct Conversion {
    std::string user_id;
    std::optional<std::string> event_id;
};

struct Event {
    std::string user_id;
    std::string type = "conversion";
    double value = 1.0;  // finite; the caller bounds it
    std::optional<std::string> event_id;
};

struct IngestResult {
    std::int64_t accepted = 0;
    std::int64_t duplicates = 0;
    bool changed = false;  // the experiment's numbers moved (seq was bumped)
    bool alerting = false;  // changed, and a webhook subscribes to the experiment's transitions
};

// Running sums of one metric in one variant over its assigned users: x is each user's value
// (capped; 0/1 for a proportion), y the ratio denominator's. A ratio's own row holds only
// cross_products (its numerator's and denominator's sums are in their own rows).
struct MetricRunningSums {
    double sum = 0.0;
    double sum_squares = 0.0;
    double cross_products = 0.0;
    double covariate_sum = 0.0;          // CUPED: Σc, Σc², Σxc over users with a covariate
    double covariate_sum_squares = 0.0;
    double covariate_products = 0.0;
    std::optional<double> min_p;  // running minimum p (sequential), under analysis_signature
    bool min_p_cuped = false;     // ... of the CUPED-adjusted test (else of the plain one)
    bool alerted = false;         // a guardrail alarm stands
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
    std::vector<MetricSpec> metrics;             // definition order
    std::vector<std::vector<MetricRunningSums>> sums;   // [metric][variant], aligned with metrics and variants
    std::optional<std::size_t> legacy_metric;    // the proportion the variants' conversions come from
    std::int64_t multiple_exposures = 0;         // users assigned to more than one variant
    std::int64_t assigned_users = 0;             // every assigned user, excluded ones included
    bool cuped = true;                           // the experiment allows CUPED (it applies where covariates are)
};

// One bucket of a dimension breakdown: a value with a slot of its own, "(other)" or "(none)".
struct BucketData {
    std::string value;
    std::int64_t users = 0;                             // participants across variants
    std::vector<std::int64_t> participants;             // per variant, aligned with the snapshot's
    std::vector<std::vector<MetricRunningSums>> sums;   // [metric][variant], aligned likewise
};

// An experiment broken down by one of its dimensions, read in one snapshot of the database.
struct BreakdownData {
    SnapshotData whole;
    std::string dimension;
    std::vector<BucketData> buckets;  // the slotted values by users (most first), then (other), (none)
};

// A variant whose running totals disagree with a recount of the raw tables.
// The statistics' view of a snapshot's metrics (metric_stats.hpp). keep_minima: the running minima
// were computed under today's analysis options (else they are dropped). legacy: the proportion the
// variants' own fields describe (read_snapshot_data chose it).
struct MetricAnalysisInput {
    std::vector<MetricInput> metrics;
    std::vector<std::string> names;
    std::vector<std::vector<std::optional<double>>> previous_min_p;
    std::optional<std::size_t> legacy;
};
MetricAnalysisInput metric_analysis_input(const SnapshotData& data, bool keep_minima);

// A running total (participants, or a metric's sum, sum_squares or cross_products in a variant)
// that disagrees with a recount of the raw tables. Numbers as PostgreSQL prints them.
struct TotalsDrift {
    std::string experiment_id;
    std::string variant_key;
    std::string total;  // "participants" or "<metric>.<sum|sum_squares|cross_products>"
    std::string stored;
    std::string recounted;
};

// Subscribers of one experiment on the other live nodes.
struct NodeCount {
    std::string experiment_id;
    std::optional<std::string> tenant;
    std::int64_t subscribers = 0;
};

// Ingest and status changes NOTIFY this channel (payload: notice.hpp); every server process LISTENs.
inline constexpr const char* kChangesChannel = "expstream_changes";

// What one computed snapshot leaves behind: running minima, a history point, the alarm states.
struct Look {
    std::int64_t seq = 0;
    std::string analysis_signature;
    std::vector<std::pair<std::string, double>> min_p;  // variant key -> running minimum p
    std::string history_point;                           // JSON (history_point_json)
    bool srm_mismatch = false;
    std::optional<double> srm_p_value;
    struct MetricLook {
        std::string metric;
        std::string variant;
        std::optional<double> min_p;
        bool alarm = false;  // a guardrail regressed (interval excludes 0 on the bad side)
        bool cuped = false;  // min_p is of the CUPED-adjusted test
        bool significant = false;  // is_significant as the snapshot reports it (primary/secondary only)
        std::optional<double> relative_lift{};
        std::optional<double> p_value{};  // adjusted across the family
    };
    std::vector<MetricLook> metrics;
    bool exposure_alarm = false;  // multiple exposures above the threshold
    std::int64_t multiple_exposures = 0;
    std::int64_t assigned_users = 0;
};

// A state change one look (or status change) recorded, once whatever the number of nodes.
// type: significance | guardrail | srm | multiple_exposures | status_changed (| test, never recorded).
// state: significant / not_significant, regressed / recovered, raised / cleared, or the new status.
struct Transition {
    std::string type;
    std::string state;
    std::string metric;   // empty: none
    std::string variant;  // empty: none
    std::string detail;   // a JSON object: relative_lift, p_value, users, share, from, ...
};

// What record_look found new: the first SRM alarm, guardrail alarms raised since the last look,
// and every transition recorded (with the webhook deliveries it queued, in the same transaction).
struct LookOutcome {
    bool first_srm_alarm = false;
    std::vector<std::pair<std::string, std::string>> guardrails_raised;  // (metric, variant)
    bool exposures_raised = false;
    std::vector<Transition> transitions;
    std::int64_t deliveries_queued = 0;
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
    // metrics empty: today's single metric (default_metric()).
    Experiment create_experiment(const std::string& name, const std::vector<VariantSpec>& variants,
                                 const std::optional<std::string>& tenant = std::nullopt,
                                 const std::vector<MetricSpec>& metrics = {}, const std::string& exposures = "first",
                                 bool cuped = true, const std::vector<std::string>& dimensions = {});
    // Replaces the metric definitions of a draft (Conflict otherwise); returns the experiment.
    Experiment set_metrics(const std::string& id, const std::vector<MetricSpec>& metrics);
    std::vector<Experiment> list_experiments();
    std::optional<Experiment> get_experiment(const std::string& id);
    // Throws NotFound, or Conflict for a transition the lifecycle forbids. A change is announced to
    // every server process (trace_id goes into the STATUS_CHANGED envelope).
    StatusChange set_status(const std::string& id, const std::string& status, const std::string& trace_id = {});

    // One transaction per batch, which also moves the variants' running totals and announces the
    // change to every server process. A user's first assignment wins. Unknown variant key -> InvalidInput,
    // nothing stored. Unknown experiment -> NotFound.
    IngestResult add_assignments(const std::string& experiment_id, const std::vector<Assignment>& batch);
    // The same event_id twice counts once. Each event moves its user's total of every metric that
    // counts its type, and the variant's running sums when the user is assigned (an event before the
    // assignment counts from the assignment on).
    IngestResult add_events(const std::string& experiment_id, const std::vector<Event>& batch);
    IngestResult add_conversions(const std::string& experiment_id, const std::vector<Conversion>& batch);

    // Empty when the experiment does not exist. Reads the running totals: constant cost.
    std::optional<SnapshotData> read_snapshot_data(const std::string& experiment_id);

    // Records a look; says which alarms it raised first. Safe from several processes at once:
    // minima only go down, a seq is recorded once, an alarm is raised by one look only.
    LookOutcome record_look(const std::string& experiment_id, const Look& look);

    // The experiment broken down by `dimension`: empty when the experiment does not exist,
    // InvalidInput when it declared no such dimension. Reads at most 22 rows per (variant, metric).
    std::optional<BreakdownData> read_breakdown_data(const std::string& experiment_id, const std::string& dimension);

    // {"experiment_id","points":[...]} with at most max_points points, evenly thinned, newest kept.
    std::string history_json(const std::string& experiment_id, std::size_t max_points);

    // Recounts every running total of every experiment (or of one) from the raw tables: variants'
    // participants, metrics' sums, users' raw totals; returns those that disagree. Unknown
    // experiment -> NotFound. variants_checked counts the variants looked at.
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

    // Told of every change this store committed, right after the commit: the runtime schedules the
    // push from here, so no caller has to remember to. Set once, before the store is used.
    using CommitObserver = std::function<void(const ChangeNotice& notice, bool alerting)>;
    void on_committed(CommitObserver observer) { committed_ = std::move(observer); }

private:
    void announce(const ChangeNotice& notice, bool alerting) const {
        if (committed_) committed_(notice, alerting);
    }
    IngestResult announced(const std::string& experiment_id, IngestResult result) const {
        if (result.changed) announce(ChangeNotice{node_id_, experiment_id, std::nullopt}, result.alerting);
        return result;
    }

    // Runs f(connection) through the pool's retry policy (connection_pool.hpp) and returns its result.
    template <class F>
    auto with_connection(F&& f);

    const std::string node_id_;
    CommitObserver committed_;
    std::unique_ptr<ConnectionPool> pool_;  // libpqxx stays out of this header
};

}  // namespace expstream
