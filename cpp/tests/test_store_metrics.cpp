// Several metrics per experiment in the store: per-user totals, exact capping, ratios' cross
// products, events before assignment, redefinition of a draft's metrics, and the recount.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "expstream/store.hpp"
#include "pg_fixture.hpp"

using namespace expstream;

namespace {

MetricSpec metric(const std::string& key, const std::string& kind, const std::string& event_type,
                  const std::string& role = "secondary", std::optional<double> cap = std::nullopt) {
    MetricSpec m;
    m.key = key;
    m.name = key;
    m.kind = kind;
    m.event_type = event_type;
    m.role = role;
    m.cap = cap;
    return m;
}

MetricSpec ratio(const std::string& key, const std::string& numerator, const std::string& denominator) {
    MetricSpec m = metric(key, "ratio", "");
    m.numerator = numerator;
    m.denominator = denominator;
    return m;
}

const std::vector<MetricSpec> kShop{
    metric("revenue", "mean", "purchase", "secondary", 100.0), metric("orders", "mean", "order"),
    ratio("aov", "revenue", "orders"), metric("buyers", "proportion", "purchase", "primary")};

class StoreMetricsTest : public expstream::testing::PostgresTest {
protected:
    void SetUp() override {
        store = std::make_unique<Store>(url(), 2);
        store->migrate();
    }
    std::string new_experiment(const std::vector<MetricSpec>& metrics = kShop) {
        return store->create_experiment("shop", {{"control", "C", true, 1.0}, {"b", "B", false, 1.0}}, std::nullopt,
                                         metrics)
            .id;
    }
    // [metric][variant] sums as read for a snapshot.
    std::vector<std::vector<MetricRunningSums>> sums(const std::string& id) { return store->read_snapshot_data(id)->sums; }
    std::unique_ptr<Store> store;
};

TEST_F(StoreMetricsTest, ExperimentsKeepTheirMetricsAndGetTodaysByDefault) {
    const std::string id = new_experiment();
    const auto e = store->get_experiment(id);
    ASSERT_EQ(e->metrics.size(), 4u);
    EXPECT_EQ(e->metrics[0].key, "revenue");
    EXPECT_EQ(*e->metrics[0].cap, 100.0);
    EXPECT_EQ(e->metrics[2].numerator, "revenue");
    EXPECT_EQ(e->metrics[3].role, "primary");
    const auto plain = store->get_experiment(new_experiment({}));
    ASSERT_EQ(plain->metrics.size(), 1u);
    EXPECT_EQ(plain->metrics[0].key, "conversion");
    EXPECT_EQ(plain->metrics[0].kind, "proportion");
}

TEST_F(StoreMetricsTest, SumsMoveExactlyWithCapsRatiosAndEventsBeforeAssignment) {
    const std::string id = new_experiment();
    // Before u1 is assigned: stored and totalled, but no variant's numbers move.
    EXPECT_FALSE(store->add_events(id, {{"u1", "purchase", 30, std::string("p1")}, {"u1", "order", 1, std::nullopt}}).changed);
    EXPECT_TRUE(store->add_assignments(id, {{"u1", "b"}, {"u2", "control"}, {"u3", "b"}}).changed);
    auto s = sums(id);
    EXPECT_DOUBLE_EQ(s[0][1].sum, 30);          // revenue in b: u1's 30 counts from the assignment on
    EXPECT_DOUBLE_EQ(s[2][1].cross_products, 30);  // aov: 30 x 1
    const IngestResult r = store->add_events(id, {{"u1", "purchase", 90, std::string("p2")},  // 120, capped at 100
                                                  {"u1", "purchase", 30, std::string("p1")},  // a duplicate
                                                  {"u3", "purchase", 20, std::nullopt},
                                                  {"u3", "order", 1, std::nullopt},
                                                  {"u3", "order", 1, std::nullopt},
                                                  {"u2", "refund", 5, std::nullopt}});  // no metric counts it
    EXPECT_EQ(r.accepted, 5);
    EXPECT_EQ(r.duplicates, 1);
    EXPECT_TRUE(r.changed);
    s = sums(id);
    EXPECT_DOUBLE_EQ(s[0][1].sum, 120);                 // revenue: 100 + 20
    EXPECT_DOUBLE_EQ(s[0][1].sum_squares, 10400);       // 100^2 + 20^2
    EXPECT_DOUBLE_EQ(s[1][1].sum, 3);                   // orders: 1 + 2
    EXPECT_DOUBLE_EQ(s[1][1].sum_squares, 5);
    EXPECT_DOUBLE_EQ(s[2][1].cross_products, 140);      // 100 x 1 + 20 x 2
    EXPECT_DOUBLE_EQ(s[3][1].sum, 2);                   // buyers: u1, u3
    EXPECT_DOUBLE_EQ(s[0][0].sum, 0);                   // control: u2 bought nothing
    // Past the cap, more revenue changes nothing: no new snapshot is due.
    EXPECT_FALSE(store->add_events(id, {{"u1", "purchase", 10, std::nullopt}}).changed);
    // A refund-like negative value brings u1 back under the cap: 130 - 50 = 80.
    EXPECT_TRUE(store->add_events(id, {{"u1", "purchase", -50, std::nullopt}}).changed);
    s = sums(id);
    EXPECT_DOUBLE_EQ(s[0][1].sum, 100);
    EXPECT_DOUBLE_EQ(s[2][1].cross_products, 120);  // 80 x 1 + 20 x 2
    const auto data = store->read_snapshot_data(id);
    EXPECT_EQ(data->variants[1].conversions, 2);  // the variants' own fields: the primary proportion
    EXPECT_TRUE(store->verify_totals(id).empty());
}

TEST_F(StoreMetricsTest, ADraftsMetricsCanChangeAndItsDataIsCountedAnew) {
    const std::string id = new_experiment({});
    store->add_assignments(id, {{"u1", "b"}});
    store->add_events(id, {{"u1", "purchase", 250, std::nullopt}, {"u1", "conversion", 1, std::nullopt}});
    const Experiment e = store->set_metrics(id, kShop);
    EXPECT_EQ(e.metrics.size(), 4u);
    const auto s = sums(id);
    EXPECT_DOUBLE_EQ(s[0][1].sum, 100);  // capped
    EXPECT_DOUBLE_EQ(s[3][1].sum, 1);
    EXPECT_TRUE(store->verify_totals(id).empty());
    store->set_status(id, "active");
    EXPECT_THROW(store->set_metrics(id, {}), Conflict);
}

TEST_F(StoreMetricsTest, MultipleExposuresAreCountedAndFirstAssignmentsWin) {
    const std::string id = new_experiment();
    store->add_events(id, {{"u1", "purchase", 50, std::nullopt}});
    store->add_assignments(id, {{"u1", "b"}, {"u2", "b"}});
    EXPECT_TRUE(store->add_assignments(id, {{"u1", "control"}}).changed);  // another variant: counted
    EXPECT_FALSE(store->add_assignments(id, {{"u1", "control"}}).changed);  // already counted
    EXPECT_TRUE(store->add_assignments(id, {{"u3", "control"}, {"u3", "b"}}).changed);  // both in one batch
    const auto data = store->read_snapshot_data(id);
    EXPECT_EQ(data->multiple_exposures, 2);
    EXPECT_EQ(data->assigned_users, 3);
    EXPECT_EQ(data->variants[1].participants, 2);  // u1 stays in b
    EXPECT_DOUBLE_EQ(data->sums[0][1].sum, 50);
    EXPECT_TRUE(store->verify_totals(id).empty());
}

TEST_F(StoreMetricsTest, ExcludedExposuresLeaveEveryTotal) {
    const std::string id = store->create_experiment("x", {{"control", "C", true, 1.0}, {"b", "B", false, 1.0}},
                                                    std::nullopt, kShop, "exclude").id;
    EXPECT_EQ(store->get_experiment(id)->exposures, "exclude");
    store->add_assignments(id, {{"u1", "b"}, {"u2", "b"}});
    store->add_events(id, {{"u1", "purchase", 50, std::nullopt}, {"u1", "order", 1, std::nullopt},
                           {"u2", "purchase", 10, std::nullopt}});
    store->add_assignments(id, {{"u1", "control"}, {"u3", "control"}, {"u3", "b"}});  // u1 and u3 leave
    store->add_events(id, {{"u1", "purchase", 5, std::nullopt}, {"u3", "purchase", 7, std::nullopt}});
    const auto data = store->read_snapshot_data(id);
    EXPECT_EQ(data->multiple_exposures, 2);
    EXPECT_EQ(data->assigned_users, 3);
    EXPECT_EQ(data->variants[0].participants, 0);
    EXPECT_EQ(data->variants[1].participants, 1);  // u2 only
    EXPECT_DOUBLE_EQ(data->sums[0][1].sum, 10);
    EXPECT_DOUBLE_EQ(data->sums[0][1].sum_squares, 100);
    EXPECT_DOUBLE_EQ(data->sums[2][1].cross_products, 0);  // u1's 50 x 1 left with u1
    EXPECT_DOUBLE_EQ(data->sums[0][0].sum, 0);
    EXPECT_TRUE(store->verify_totals(id).empty());
}

TEST_F(StoreMetricsTest, CovariatesEnterWithTheUserAndMoveWithTheirValues) {
    const std::string id = new_experiment();
    store->add_events(id, {{"u1", "purchase", 30, std::nullopt}});  // before the assignment
    Assignment u1{"u1", "b", {{"revenue", 10.0}, {"buyers", 1.0}}};
    Assignment u2{"u2", "b", {{"revenue", -4.0}}};
    store->add_assignments(id, {u1, u2});
    store->add_assignments(id, {{"u1", "b", {{"revenue", 99.0}}}});  // the first assignment fixed it
    store->add_events(id, {{"u1", "purchase", 20, std::nullopt}, {"u2", "purchase", 5, std::nullopt}});
    const auto s = sums(id);
    EXPECT_DOUBLE_EQ(s[0][1].covariate_sum, 6);             // 10 - 4
    EXPECT_DOUBLE_EQ(s[0][1].covariate_sum_squares, 116);   // 100 + 16
    EXPECT_DOUBLE_EQ(s[0][1].covariate_products, 480);      // 50 x 10 + 5 x -4
    EXPECT_DOUBLE_EQ(s[3][1].covariate_products, 1);        // buyers: u1 bought (1) x 1
    EXPECT_TRUE(store->verify_totals(id).empty());
    EXPECT_THROW(store->add_assignments(id, {{"u9", "b", {{"aov", 1.0}}}}), InvalidInput);  // a ratio: no
}

TEST_F(StoreMetricsTest, VerifyFindsADamagedUserTotal) {
    const std::string id = new_experiment();
    store->add_events(id, {{"u1", "purchase", 10, std::nullopt}});
    {
        pqxx::connection c(url());
        pqxx::work tx(c);
        tx.exec_params("UPDATE user_totals SET total = 11 WHERE experiment_id = $1::uuid AND metric = 'revenue'", id);
        tx.commit();
    }
    const auto drift = store->verify_totals(id);
    ASSERT_EQ(drift.size(), 1u);
    EXPECT_EQ(drift[0].total, "revenue.user_totals");
}

}  // namespace
