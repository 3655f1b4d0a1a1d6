// Transitions recorded once by looks and status changes, the outbox they fill, and how senders
// claim and settle deliveries: against a real PostgreSQL.
#include <gtest/gtest.h>

#include "expstream/store.hpp"
#include "expstream/webhooks.hpp"
#include "pg_fixture.hpp"

using namespace expstream;

namespace {

class WebhookStoreTest : public expstream::testing::PostgresTest {
protected:
    void SetUp() override {
        store = std::make_unique<Store>(url(), 2, "node-a");
        other = std::make_unique<Store>(url(), 2, "node-b");
        store->migrate();
        // Each test sees only its own subscriptions and deliveries (the suite shares a database).
        pqxx::connection c(url());
        pqxx::work tx(c);
        tx.exec("DELETE FROM webhooks");
        tx.commit();
        webhooks = std::make_unique<WebhookStore>(url(), 2);
    }
    std::string new_experiment(const std::optional<std::string>& tenant = std::nullopt) {
        return store->create_experiment("t", {{"control", "C", true, 1.0}, {"b", "B", false, 1.0}}, tenant).id;
    }
    Webhook subscribe(const std::vector<std::string>& events, const std::vector<std::string>& experiments = {"*"},
                      const std::string& tenant = "") {
        return webhooks->create(Webhook{"", tenant, "http://example.test/hook", events, experiments, "json", "s3cret", ""});
    }
    static Look significant_look(std::int64_t seq, bool significant) {
        Look look;
        look.seq = seq;
        look.analysis_signature = "sig";
        look.history_point = "{}";
        look.metrics = {{"conversion", "b", 0.01, false, false, significant, 0.2, 0.01}};
        return look;
    }
    std::unique_ptr<Store> store, other;
    std::unique_ptr<WebhookStore> webhooks;
};

TEST_F(WebhookStoreTest, AWebhookRoundTripsAndIsTenantScoped) {
    const Webhook w = subscribe({"significance", "srm"}, {"*"}, "acme");
    EXPECT_EQ(w.events, (std::vector<std::string>{"significance", "srm"}));
    EXPECT_EQ(webhooks->get(w.id, "acme")->url, "http://example.test/hook");
    EXPECT_FALSE(webhooks->get(w.id, ""));
    EXPECT_FALSE(webhooks->remove(w.id, "other"));
    EXPECT_TRUE(webhooks->remove(w.id, "acme"));
    EXPECT_FALSE(webhooks->get(w.id, "acme"));
}

TEST_F(WebhookStoreTest, EachTransitionIsRecordedOnceWhateverTheNumberOfNodes) {
    const std::string id = new_experiment();
    const Webhook w = subscribe({"significance"}, {id});
    const Webhook unrelated = subscribe({"srm"});
    EXPECT_EQ(store->record_look(id, significant_look(1, true)).deliveries_queued, 1);
    // Another node's look of the same seq, and a later one still significant: nothing new.
    EXPECT_TRUE(other->record_look(id, significant_look(1, true)).transitions.empty());
    EXPECT_TRUE(other->record_look(id, significant_look(2, true)).transitions.empty());
    // A late look of older data changes no state.
    EXPECT_TRUE(store->record_look(id, significant_look(1, false)).transitions.empty());
    const LookOutcome gone = other->record_look(id, significant_look(3, false));
    ASSERT_EQ(gone.transitions.size(), 1u);
    EXPECT_EQ(gone.transitions[0].state, "not_significant");
    EXPECT_EQ(webhooks->deliveries(w.id, 10).size(), 2u);
    EXPECT_TRUE(webhooks->deliveries(unrelated.id, 10).empty());
    const auto alerts = webhooks->alerts(id, 10);
    ASSERT_EQ(alerts.size(), 2u);
    EXPECT_EQ(alerts[0].state, "not_significant");  // newest first
    EXPECT_EQ(alerts[1].metric, "conversion");
    EXPECT_EQ(alerts[1].variant, "b");
}

TEST_F(WebhookStoreTest, AStatusChangeQueuesADeliveryForItsTenantOnly) {
    const std::string id = new_experiment("acme");
    const Webhook mine = subscribe({"status_changed"}, {"*"}, "acme");
    const Webhook theirs = subscribe({"status_changed"});
    store->set_status(id, "active");
    store->set_status(id, "active");  // no change, no transition
    EXPECT_EQ(webhooks->deliveries(mine.id, 10).size(), 1u);
    EXPECT_TRUE(webhooks->deliveries(theirs.id, 10).empty());
    EXPECT_EQ(webhooks->alerts(id, 10).at(0).detail, R"({"to": "active", "from": "draft"})");
}

TEST_F(WebhookStoreTest, OneSenderAtATimePerEndpointInOrderUntilSettled) {
    const std::string id = new_experiment();
    const Webhook w = subscribe({"status_changed"}, {id});
    store->set_status(id, "active");
    store->set_status(id, "paused");
    auto first = webhooks->claim("sender-1", 60'000, 10);
    ASSERT_EQ(first.size(), 1u);  // the endpoint's oldest; the second waits behind it
    EXPECT_EQ(first[0].attempts, 1);
    EXPECT_NE(first[0].payload.find("\"active\""), std::string::npos);
    EXPECT_TRUE(webhooks->claim("sender-2", 60'000, 10).empty());  // leased to sender-1
    EXPECT_FALSE(webhooks->finish(first[0].id, "sender-2", AttemptResult::Delivered, 0, 200, 1.0, ""));
    // A retry due now is claimable again, by anyone, before the later delivery.
    EXPECT_TRUE(webhooks->finish(first[0].id, "sender-1", AttemptResult::Retry, 0, 503, 2.0, "HTTP 503"));
    auto again = webhooks->claim("sender-2", 60'000, 10);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].id, first[0].id);
    EXPECT_EQ(again[0].attempts, 2);
    EXPECT_TRUE(webhooks->finish(again[0].id, "sender-2", AttemptResult::Delivered, 0, 200, 3.0, ""));
    auto second = webhooks->claim("sender-1", 60'000, 10);
    ASSERT_EQ(second.size(), 1u);
    EXPECT_NE(second[0].id, first[0].id);
    // An expired lease frees the delivery for another sender.
    auto expired = webhooks->claim("sender-1", 0, 10);
    EXPECT_TRUE(expired.empty());  // still leased (60 s) by the claim above
    EXPECT_TRUE(webhooks->finish(second[0].id, "sender-1", AttemptResult::Failed, 0, 410, 1.0, "HTTP 410"));
    const auto log = webhooks->deliveries(w.id, 10);
    ASSERT_EQ(log.size(), 2u);
    EXPECT_EQ(log[0].state, "failed");
    EXPECT_EQ(*log[0].last_status, 410);
    EXPECT_EQ(log[1].state, "delivered");
    EXPECT_EQ(log[1].attempts, 2);
}

TEST_F(WebhookStoreTest, AnExpiredLeaseIsClaimedAgain) {
    const std::string id = new_experiment();
    subscribe({"status_changed"}, {id});
    store->set_status(id, "active");
    const auto lost = webhooks->claim("crashed", 1, 10);  // the sender died holding a 1 ms lease
    ASSERT_EQ(lost.size(), 1u);
    std::vector<ClaimedDelivery> retaken;
    for (int i = 0; i < 200 && retaken.empty(); ++i) retaken = webhooks->claim("survivor", 60'000, 10);
    ASSERT_EQ(retaken.size(), 1u);
    EXPECT_EQ(retaken[0].id, lost[0].id);
    EXPECT_FALSE(webhooks->finish(lost[0].id, "crashed", AttemptResult::Delivered, 0, 200, 1.0, ""));
}

TEST_F(WebhookStoreTest, ATestDeliveryQueuesBehindTheOthers) {
    const Webhook w = subscribe({"srm"});
    const std::string delivery = webhooks->enqueue_test(w.id);
    EXPECT_EQ(webhooks->delivery(delivery)->event, "test");
    EXPECT_EQ(webhooks->delivery(delivery)->state, "pending");
    EXPECT_THROW(webhooks->enqueue_test("00000000-0000-0000-0000-000000000000"), NotFound);
}

}  // namespace
