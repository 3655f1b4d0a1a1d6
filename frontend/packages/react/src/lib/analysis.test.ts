import { describe, expect, it } from "vitest";
import type { AnalysisInfo } from "@expstream/client";
import { countTreatments, describeAnalysis, shownPValue, usesHolmPValues } from "./analysis";

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
