// Reference values: scipy.stats.norm.sf for normal_sf, and the pooled two-proportion z-test evaluated
// with mpmath at 50 digits (erfc(|z|/sqrt 2)) for p-values.
#include "expstream/stats.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

using namespace expstream;

namespace {

void expect_rel(double actual, double expected, double tol = 1e-9) {
    EXPECT_NEAR(actual, expected, std::fabs(expected) * tol) << "expected " << expected;
}

void expect_p(const std::optional<double>& p, double expected, double tol = 1e-9) {
    ASSERT_TRUE(p.has_value());
    expect_rel(*p, expected, tol);
}

VariantCounts vc(const char* key, bool control, std::int64_t n, std::int64_t c) {
    VariantCounts v;
    v.key = key;
    v.name = std::string("Variant ") + key;
    v.is_control = control;
    v.participants = n;
    v.conversions = c;
    return v;
}

}  // namespace

TEST(NormalSf, MatchesScipyAcrossTheRange) {
    expect_rel(normal_sf(0.0), 0.5);
    expect_rel(normal_sf(1.0), 0.15865525393145707);
    expect_rel(normal_sf(1.96), 0.024997895148220435);
    expect_rel(normal_sf(3.0), 0.0013498980316300933);
    expect_rel(normal_sf(-2.0), 0.9772498680518208);
}

TEST(NormalSf, KeepsRelativePrecisionInTheFarTail) {
    // 1 - cdf would give exactly 0 here.
    expect_rel(normal_sf(10.0), 7.61985302416047e-24);
    expect_rel(normal_sf(30.0), 4.906713927147908e-198);
}

TEST(ConversionRate, DividesConversionsByParticipants) {
    EXPECT_DOUBLE_EQ(conversion_rate(500, 50), 0.1);
    EXPECT_DOUBLE_EQ(conversion_rate(3, 3), 1.0);
}

TEST(ConversionRate, IsZeroWithoutParticipants) {
    EXPECT_EQ(conversion_rate(0, 0), 0.0);
    EXPECT_EQ(conversion_rate(0, 5), 0.0);
}

TEST(TwoProportionPValue, MatchesReferenceForSmallExperiment) {
    expect_p(two_proportion_p_value(500, 50, 500, 65), 0.13705122503762361);
}

TEST(TwoProportionPValue, IsSymmetricInTheArms) {
    auto a = two_proportion_p_value(500, 50, 500, 65);
    auto b = two_proportion_p_value(500, 65, 500, 50);
    ASSERT_TRUE(a && b);
    EXPECT_DOUBLE_EQ(*a, *b);
}

TEST(TwoProportionPValue, HandlesUnequalArms) {
    expect_p(two_proportion_p_value(1000, 100, 250, 40), 0.0071321515191544500);
    expect_p(two_proportion_p_value(200, 30, 1000, 100), 0.037812346479575037);
    expect_p(two_proportion_p_value(100, 1, 100000, 2000), 0.47516313855509013);
}

TEST(TwoProportionPValue, IsOneForIdenticalRates) {
    expect_p(two_proportion_p_value(1000, 100, 1000, 100), 1.0);
}

TEST(TwoProportionPValue, IsUndefinedWhenAnArmIsEmpty) {
    EXPECT_FALSE(two_proportion_p_value(0, 0, 500, 50).has_value());
    EXPECT_FALSE(two_proportion_p_value(500, 50, 0, 0).has_value());
    EXPECT_FALSE(two_proportion_p_value(0, 0, 0, 0).has_value());
}

TEST(TwoProportionPValue, IsUndefinedWhenPooledRateIsZeroOrOne) {
    EXPECT_FALSE(two_proportion_p_value(100, 0, 200, 0).has_value());
    EXPECT_FALSE(two_proportion_p_value(100, 100, 50, 50).has_value());
}

TEST(TwoProportionPValue, IsDefinedWhenOnlyOneArmHasNoConversions) {
    expect_p(two_proportion_p_value(100, 0, 100, 5), 0.023540058261177951);
}

TEST(TwoProportionPValue, IsAccurateForABillionParticipantsPerArm) {
    expect_p(two_proportion_p_value(1000000000, 100000000, 1000000000, 100010000), 0.45606655037361102);
    expect_p(two_proportion_p_value(1000000000, 100000000, 1000000000, 100100000), 9.2002502033984307e-14);
}

TEST(TwoProportionPValue, DoesNotOverflowNearInt64Limits) {
    // n1 + n2 overflows int64; the arithmetic must happen in double.
    const std::int64_t n = 4000000000000000000;
    expect_p(two_proportion_p_value(n, 1000000000000000000, n, 1000000001000000000), 0.41421617832032489, 1e-6);
}

TEST(TwoProportionPValue, StaysInUnitIntervalForEnormousEffects) {
    auto p = two_proportion_p_value(1000000000, 100000000, 1000000000, 200000000);
    ASSERT_TRUE(p.has_value());
    EXPECT_GE(*p, 0.0);
    EXPECT_LT(*p, 1e-300);
}

TEST(Analyze, ComputesRateLiftAndPValueAgainstControl) {
    Analysis a = analyze({vc("control", true, 500, 50), vc("b", false, 500, 65)}, 0.05);
    ASSERT_EQ(a.variants.size(), 2u);
    const auto& c = a.variants[0];
    const auto& b = a.variants[1];
    EXPECT_EQ(c.key, "control");
    EXPECT_EQ(c.name, "Variant control");
    EXPECT_TRUE(c.is_control);
    EXPECT_EQ(c.participants, 500);
    EXPECT_EQ(c.conversions, 50);
    EXPECT_DOUBLE_EQ(c.conversion_rate, 0.1);
    ASSERT_TRUE(c.relative_lift.has_value());
    EXPECT_EQ(*c.relative_lift, 0.0);
    EXPECT_FALSE(c.p_value.has_value());

    EXPECT_FALSE(b.is_control);
    EXPECT_DOUBLE_EQ(b.conversion_rate, 0.13);
    ASSERT_TRUE(b.relative_lift.has_value());
    expect_rel(*b.relative_lift, 0.3);
    expect_p(b.p_value, 0.13705122503762361);

    EXPECT_EQ(a.total_participants, 1000);
    EXPECT_FALSE(a.is_significant);
}

TEST(Analyze, SignificanceComparesPValueWithAlpha) {
    std::vector<VariantCounts> v{vc("control", true, 500, 50), vc("b", false, 500, 65)};
    EXPECT_FALSE(analyze(v, 0.05).is_significant);
    EXPECT_TRUE(analyze(v, 0.2).is_significant);
    EXPECT_TRUE(analyze({vc("control", true, 500, 50), vc("b", false, 500, 80)}, 0.05).is_significant);
}

TEST(Analyze, LiftIsNullWhenControlRateIsZero) {
    Analysis a = analyze({vc("control", true, 100, 0), vc("b", false, 100, 5)}, 0.05);
    ASSERT_EQ(a.variants.size(), 2u);
    EXPECT_FALSE(a.variants[1].relative_lift.has_value());
    expect_p(a.variants[1].p_value, 0.023540058261177951);
    EXPECT_TRUE(a.is_significant);
}

TEST(Analyze, ZeroParticipantsGiveZeroRatesAndNoPValues) {
    Analysis a = analyze({vc("control", true, 0, 0), vc("b", false, 0, 0)}, 0.05);
    ASSERT_EQ(a.variants.size(), 2u);
    EXPECT_EQ(a.variants[0].conversion_rate, 0.0);
    EXPECT_EQ(a.variants[1].conversion_rate, 0.0);
    EXPECT_FALSE(a.variants[1].relative_lift.has_value());
    EXPECT_FALSE(a.variants[1].p_value.has_value());
    EXPECT_EQ(a.total_participants, 0);
    EXPECT_FALSE(a.is_significant);
}

TEST(Analyze, PooledRateOfOneGivesNoPValue) {
    Analysis a = analyze({vc("control", true, 10, 10), vc("b", false, 20, 20)}, 0.05);
    ASSERT_EQ(a.variants.size(), 2u);
    ASSERT_TRUE(a.variants[1].relative_lift.has_value());
    EXPECT_EQ(*a.variants[1].relative_lift, 0.0);
    EXPECT_FALSE(a.variants[1].p_value.has_value());
    EXPECT_FALSE(a.is_significant);
}

TEST(Analyze, ComparesEveryVariantWithTheSameControl) {
    Analysis a = analyze(
        {vc("control", true, 1000, 100), vc("b", false, 1000, 140), vc("c", false, 500, 60), vc("d", false, 1000, 70)},
        0.01);
    ASSERT_EQ(a.variants.size(), 4u);
    expect_rel(*a.variants[1].relative_lift, 0.4);
    expect_p(a.variants[1].p_value, 0.0059158510742380166);
    expect_rel(*a.variants[2].relative_lift, 0.2);
    expect_p(a.variants[2].p_value, 0.23684856028158178);
    expect_rel(*a.variants[3].relative_lift, -0.3);
    expect_p(a.variants[3].p_value, 0.016155032073740407);
    EXPECT_EQ(a.total_participants, 3500);
    EXPECT_TRUE(a.is_significant);  // only b is below 0.01
    EXPECT_FALSE(analyze({vc("control", true, 1000, 100), vc("d", false, 1000, 70)}, 0.01).is_significant);
}

TEST(Analyze, WithoutControlThereAreNoLiftsOrPValues) {
    Analysis a = analyze({vc("a", false, 500, 50), vc("b", false, 500, 80)}, 0.05);
    ASSERT_EQ(a.variants.size(), 2u);
    for (const auto& v : a.variants) {
        EXPECT_FALSE(v.relative_lift.has_value());
        EXPECT_FALSE(v.p_value.has_value());
    }
    EXPECT_DOUBLE_EQ(a.variants[1].conversion_rate, 0.16);
    EXPECT_EQ(a.total_participants, 1000);
    EXPECT_FALSE(a.is_significant);
}

TEST(Analyze, KeepsInputOrderWhenControlIsNotFirst) {
    Analysis a = analyze({vc("b", false, 500, 65), vc("control", true, 500, 50)}, 0.05);
    ASSERT_EQ(a.variants.size(), 2u);
    EXPECT_EQ(a.variants[0].key, "b");
    EXPECT_EQ(a.variants[1].key, "control");
    expect_rel(*a.variants[0].relative_lift, 0.3);
    expect_p(a.variants[0].p_value, 0.13705122503762361);
    EXPECT_FALSE(a.variants[1].p_value.has_value());
}

TEST(Analyze, UsesTheFirstControlWhenSeveralAreMarked) {
    Analysis a = analyze({vc("c1", true, 500, 50), vc("c2", true, 500, 65)}, 0.05);
    ASSERT_EQ(a.variants.size(), 2u);
    EXPECT_FALSE(a.variants[0].p_value.has_value());
    expect_rel(*a.variants[1].relative_lift, 0.3);
    expect_p(a.variants[1].p_value, 0.13705122503762361);
}

TEST(Analyze, EmptyInputGivesEmptyAnalysis) {
    Analysis a = analyze({}, 0.05);
    EXPECT_TRUE(a.variants.empty());
    EXPECT_EQ(a.total_participants, 0);
    EXPECT_FALSE(a.is_significant);
}
