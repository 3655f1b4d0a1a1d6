import { describe, expect, it } from "vitest";
import type { AnalysisInfo } from "@expstream/client";
import {
  adjustedPValueLabel,
  adjustedPValueTitle,
  comparisonFamily,
  countTestedMetrics,
  countTreatments,
  describeAnalysis,
  shownPValue,
  usesAdjustedPValues,
  usesHolmPValues,
} from "./analysis";

const sequential: AnalysisInfo = { method: "sequential", alpha: 0.05, sequential_tuning: 5000, correction: "none" };
const fixed: AnalysisInfo = { method: "fixed", alpha: 0.05, sequential_tuning: null, correction: "none" };

describe("describeAnalysis", () => {
  it("describes sequential analysis with its tuning and says peeking is safe", () => {
    expect(describeAnalysis(sequential, 1)).toBe(
      "Sequential analysis (always-valid confidence sequences, N* = 5,000) at 95% confidence — safe to check as often as you like.",
    );
  });

  it("describes fixed-horizon analysis and warns that peeking inflates false positives", () => {
    expect(describeAnalysis(fixed, 1)).toBe(
      "Fixed-horizon analysis at 95% confidence — valid only when read once at the planned sample size; peeking inflates false positives.",
    );
  });

  it("adds the Holm-Bonferroni correction and the number of treatments when it applies", () => {
    expect(describeAnalysis({ ...sequential, correction: "holm-bonferroni" }, 3)).toBe(
      "Sequential analysis (always-valid confidence sequences, N* = 5,000) at 95% confidence, Holm-Bonferroni corrected across 3 treatments — safe to check as often as you like.",
    );
    expect(describeAnalysis({ ...fixed, alpha: 0.1, correction: "holm-bonferroni" }, 2)).toBe(
      "Fixed-horizon analysis at 90% confidence, Holm-Bonferroni corrected across 2 treatments — valid only when read once at the planned sample size; peeking inflates false positives.",
    );
  });

  it("leaves the correction out with a single treatment, where it changes nothing", () => {
    expect(describeAnalysis({ ...fixed, correction: "holm-bonferroni" }, 1)).not.toContain("Holm");
  });

  it("words Benjamini-Hochberg as an adjustment for multiple comparisons that controls the false discovery rate", () => {
    expect(describeAnalysis({ ...sequential, correction: "benjamini-hochberg" }, 3)).toBe(
      "Sequential analysis (always-valid confidence sequences, N* = 5,000) at 95% confidence, p-values adjusted for multiple comparisons across 3 treatments (Benjamini-Hochberg, false discovery rate) — safe to check as often as you like.",
    );
    expect(describeAnalysis({ ...fixed, correction: "benjamini-hochberg" }, 1)).not.toContain("Benjamini");
  });

  it("describes a correction it does not know without a correction clause, rather than not at all", () => {
    expect(describeAnalysis({ ...sequential, correction: "benjamini-yekutieli" }, 3)).toBe(
      "Sequential analysis (always-valid confidence sequences, N* = 5,000) at 95% confidence — safe to check as often as you like.",
    );
  });

  it("counts the family as tested metrics × treatments when the snapshot has several metrics", () => {
    const metrics = [{ role: "primary" }, { role: "secondary" }, { role: "secondary" }, { role: "guardrail" }] as const;
    expect(describeAnalysis({ ...sequential, correction: "holm-bonferroni" }, comparisonFamily(1, metrics))).toBe(
      "Sequential analysis (always-valid confidence sequences, N* = 5,000) at 95% confidence, Holm-Bonferroni corrected across 3 metrics × 1 treatment — safe to check as often as you like.",
    );
    expect(describeAnalysis({ ...fixed, correction: "benjamini-hochberg" }, comparisonFamily(2, metrics.slice(0, 2)))).toContain(
      ", p-values adjusted for multiple comparisons across 2 metrics × 2 treatments (Benjamini-Hochberg, false discovery rate) —",
    );
    // One tested metric (and guardrails): the family is the treatments, as without metrics.
    expect(describeAnalysis({ ...fixed, correction: "holm-bonferroni" }, comparisonFamily(2, [{ role: "primary" }, { role: "guardrail" }]))).toContain(
      "Holm-Bonferroni corrected across 2 treatments —",
    );
  });

  it("leaves N* out when a sequential analysis has no tuning", () => {
    expect(describeAnalysis({ ...sequential, sequential_tuning: null }, 1)).toBe(
      "Sequential analysis (always-valid confidence sequences) at 95% confidence — safe to check as often as you like.",
    );
  });

  it("returns null without an analysis block", () => {
    expect(describeAnalysis(undefined, 2)).toBeNull();
  });
});

describe("P-value column", () => {
  it("uses Holm-adjusted p-values only under holm-bonferroni with at least two treatments", () => {
    const holm: AnalysisInfo = { ...fixed, correction: "holm-bonferroni" };
    expect(usesHolmPValues(holm, 2)).toBe(true);
    expect(usesHolmPValues(holm, 1)).toBe(false);
    expect(usesHolmPValues(fixed, 3)).toBe(false);
    expect(usesHolmPValues(undefined, 3)).toBe(false);
  });

  it("uses adjusted p-values under any correction but none, across a family of two or more comparisons", () => {
    for (const correction of ["holm-bonferroni", "benjamini-hochberg", "some-future-correction"]) {
      const analysis: AnalysisInfo = { ...fixed, correction };
      expect(usesAdjustedPValues(analysis, 2)).toBe(true);
      expect(usesAdjustedPValues(analysis, 1)).toBe(false);
      expect(usesAdjustedPValues(analysis, comparisonFamily(1, [{ role: "primary" }, { role: "secondary" }]))).toBe(true);
    }
    expect(usesAdjustedPValues(fixed, 3)).toBe(false);
    expect(usesAdjustedPValues(undefined, 3)).toBe(false);
  });

  it("names the correction in the P-value header: Holm, BH, or adj. for one it does not know", () => {
    expect(adjustedPValueLabel({ ...fixed, correction: "holm-bonferroni" }, 2)).toBe("Holm");
    expect(adjustedPValueLabel({ ...fixed, correction: "benjamini-hochberg" }, 2)).toBe("BH");
    expect(adjustedPValueLabel({ ...fixed, correction: "some-future-correction" }, 2)).toBe("adj.");
    expect(adjustedPValueLabel({ ...fixed, correction: "benjamini-hochberg" }, 1)).toBeNull();
    expect(adjustedPValueLabel(fixed, 2)).toBeNull();
    expect(adjustedPValueTitle({ ...fixed, correction: "benjamini-hochberg" }, 2)).toBe(
      "Benjamini-Hochberg adjusted across 2 treatments (false discovery rate)",
    );
    expect(adjustedPValueTitle({ ...fixed, correction: "holm-bonferroni" }, comparisonFamily(1, [{ role: "primary" }, { role: "secondary" }]))).toBe(
      "Holm-Bonferroni adjusted across 2 metrics × 1 treatment (family-wise error rate)",
    );
    expect(adjustedPValueTitle(fixed, 2)).toBeUndefined();
  });

  it("counts the primary and secondary metrics as tested, not the guardrails", () => {
    expect(countTestedMetrics([{ role: "primary" }, { role: "guardrail" }, { role: "secondary" }])).toBe(2);
    expect(countTestedMetrics(undefined)).toBe(0);
    expect(comparisonFamily(3, [])).toEqual({ treatments: 3, metrics: 1, comparisons: 3 });
  });

  it("shows the adjusted p-value under Holm and the raw one otherwise", () => {
    const variant = { p_value: 0.02, p_value_adjusted: 0.04 };
    expect(shownPValue(variant, true)).toBe(0.04);
    expect(shownPValue(variant, false)).toBe(0.02);
    expect(shownPValue({ p_value: 0.02 }, true)).toBeNull();
  });

  it("counts the variants that are not the control", () => {
    expect(countTreatments([{ is_control: true }, { is_control: false }, { is_control: false }])).toBe(2);
  });
});
