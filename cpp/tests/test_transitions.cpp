// Which transitions a look stands for (pure), and their JSON for the store.
#include <gtest/gtest.h>

#include "../src/transitions.hpp"

using namespace expstream;

namespace {

Look look_with(bool significant, bool alarm) {
    Look look;
    look.metrics = {{"conversion", "b", 0.01, alarm, false, significant, 0.25, 0.004}};
    return look;
}

TEST(LookTransitions, NothingChangedIsNoTransition) {
    const Look look = look_with(true, true);
    EXPECT_TRUE(look_transitions(look, {{"conversion", "b", true, true, true, true}}, false, false).empty());
}

TEST(LookTransitions, SignificanceBothWaysWithTheLiftInTheDetail) {
    const auto up = look_transitions(look_with(true, false), {{"conversion", "b", false, false, false, true}}, false, false);
    ASSERT_EQ(up.size(), 1u);
    EXPECT_EQ(up[0].type, "significance");
    EXPECT_EQ(up[0].state, "significant");
    EXPECT_EQ(up[0].metric, "conversion");
    EXPECT_EQ(up[0].variant, "b");
    EXPECT_EQ(up[0].detail, R"({"relative_lift":0.25,"p_value":0.004})");
    const auto down = look_transitions(look_with(false, false), {{"conversion", "b", false, false, true, false}}, false, false);
    ASSERT_EQ(down.size(), 1u);
    EXPECT_EQ(down[0].state, "not_significant");
}

TEST(LookTransitions, GuardrailRegressedAndRecovered) {
    const auto regressed = look_transitions(look_with(false, true), {{"conversion", "b", false, true, false, false}}, false, false);
    ASSERT_EQ(regressed.size(), 1u);
    EXPECT_EQ(regressed[0].type, "guardrail");
    EXPECT_EQ(regressed[0].state, "regressed");
    const auto recovered = look_transitions(look_with(false, false), {{"conversion", "b", true, false, false, false}}, false, false);
    ASSERT_EQ(recovered.size(), 1u);
    EXPECT_EQ(recovered[0].state, "recovered");
}

TEST(LookTransitions, SrmAndExposuresFollowTheLooksAlarms) {
    Look look;
    look.srm_mismatch = true;
    look.srm_p_value = 0.5;
    look.exposure_alarm = false;
    look.multiple_exposures = 1;
    look.assigned_users = 200;
    const auto t = look_transitions(look, {}, true, true);
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0].type, "srm");
    EXPECT_EQ(t[0].state, "raised");
    EXPECT_EQ(t[0].detail, R"({"p_value":0.5})");
    EXPECT_EQ(t[1].type, "multiple_exposures");
    EXPECT_EQ(t[1].state, "cleared");
    EXPECT_EQ(t[1].detail, R"({"users":1,"share":0.005})");
}

TEST(StatusTransition, NamesTheNewStatusAndBoth) {
    const Transition t = status_transition("draft", "active");
    EXPECT_EQ(t.type, "status_changed");
    EXPECT_EQ(t.state, "active");
    EXPECT_EQ(t.detail, R"({"from":"draft","to":"active"})");
}

TEST(TransitionsJson, OneObjectPerTransitionInOrder) {
    EXPECT_EQ(transitions_json({}), "[]");
    EXPECT_EQ(transitions_json({status_transition("a", "b"), {"srm", "cleared", "", "", ""}}),
              R"([{"type":"status_changed","state":"b","metric":"","variant":"","detail":{"from":"a","to":"b"},"o":0},)"
              R"({"type":"srm","state":"cleared","metric":"","variant":"","detail":{},"o":1}])");
}

}  // namespace
