/** Words and column choices for the snapshot's `analysis` block. */
import type { AnalysisInfo, VariantResult } from "@expstream/client";
import { formatConfidenceLevel, formatInteger } from "./format";

export function countTreatments(variants: readonly Pick<VariantResult, "is_control">[]): number {
  return variants.filter((variant) => !variant.is_control).length;
}

/**
 * True when the P-value column should show Holm-adjusted p-values: the server
 * corrects with Holm-Bonferroni and there are at least two treatments (with one
 * the adjusted p-value equals the raw one, so there is nothing to say).
 */
export function usesHolmPValues(analysis: AnalysisInfo | null | undefined, treatments: number): boolean {
  return analysis?.correction === "holm-bonferroni" && treatments >= 2;
}

/** The p-value to show for a variant: the adjusted one under Holm, else the raw one. */
export function shownPValue(
  variant: Pick<VariantResult, "p_value" | "p_value_adjusted">,
  holm: boolean,
): number | null {
  return holm ? (variant.p_value_adjusted ?? null) : variant.p_value;
}

/**
 * The analysis in one sentence, e.g.
 * "Sequential analysis (always-valid confidence sequences, N* = 5,000) at 95% confidence,
 *  Holm-Bonferroni corrected across 3 treatments — safe to check as often as you like."
 * Null without an analysis block (older servers).
 */
export function describeAnalysis(analysis: AnalysisInfo | null | undefined, treatments: number): string | null {
  if (!analysis) return null;
  const confidence = `at ${formatConfidenceLevel(analysis.alpha)} confidence`;
  const correction = usesHolmPValues(analysis, treatments)
    ? `, Holm-Bonferroni corrected across ${formatInteger(treatments)} treatments`
    : "";
  if (analysis.method === "sequential") {
    const tuning =
      analysis.sequential_tuning !== null ? `, N* = ${formatInteger(analysis.sequential_tuning)}` : "";
    return (
      `Sequential analysis (always-valid confidence sequences${tuning}) ${confidence}${correction}` +
      " \u2014 safe to check as often as you like."
    );
  }
  return (
    `Fixed-horizon analysis ${confidence}${correction}` +
    " \u2014 valid only when read once at the planned sample size; peeking inflates false positives."
  );
}
