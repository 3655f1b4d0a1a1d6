/** Words and column choices for the snapshot's `analysis` block. */
import type { AnalysisInfo, MetricResult, VariantResult } from "@expstream/client";
import { formatConfidenceLevel, formatInteger } from "./format";

export function countTreatments(variants: readonly Pick<VariantResult, "is_control">[]): number {
  return variants.filter((variant) => !variant.is_control).length;
}

/** The metrics the server tests for a win, and so corrects for: the primary and secondary ones (guardrails are only watched). */
export function countTestedMetrics(metrics: readonly Pick<MetricResult, "role">[] | null | undefined): number {
  return (metrics ?? []).filter((metric) => metric.role === "primary" || metric.role === "secondary").length;
}

/**
 * The family the server corrects across: its treatments, or with several tested metrics every
 * (tested metric, treatment) pair. `comparisons` is its size.
 */
export interface ComparisonFamily {
  treatments: number;
  /** Tested metrics, at least 1 (a snapshot without `metrics` tests its one conversion metric). */
  metrics: number;
  comparisons: number;
}

export function comparisonFamily(
  treatments: number,
  metrics?: readonly Pick<MetricResult, "role">[] | null,
): ComparisonFamily {
  const tested = Math.max(1, countTestedMetrics(metrics));
  return { treatments, metrics: tested, comparisons: treatments * tested };
}

function plural(count: number, noun: string): string {
  return `${formatInteger(count)} ${noun}${count === 1 ? "" : "s"}`;
}

/** "3 treatments", or with several tested metrics "2 metrics × 2 treatments". */
export function describeFamily(family: ComparisonFamily): string {
  const treatments = plural(family.treatments, "treatment");
  return family.metrics <= 1 ? treatments : `${plural(family.metrics, "metric")} \u00d7 ${treatments}`;
}

/** A family of one, or a bare treatment count (older callers): treatments alone. */
function toFamily(family: ComparisonFamily | number): ComparisonFamily {
  return typeof family === "number" ? comparisonFamily(family) : family;
}

/**
 * True when the P-value column should show adjusted p-values: the server applied a correction
 * (any but "none", also one this client does not know) across two or more comparisons (with one,
 * the adjusted p-value equals the raw one, so there is nothing to say). `family` is a
 * comparisonFamily or the number of treatments.
 */
export function usesAdjustedPValues(analysis: AnalysisInfo | null | undefined, family: ComparisonFamily | number): boolean {
  return !!analysis && analysis.correction !== "none" && toFamily(family).comparisons >= 2;
}

/** True under Holm-Bonferroni with at least two treatments (see usesAdjustedPValues for any correction and a metric family). */
export function usesHolmPValues(analysis: AnalysisInfo | null | undefined, treatments: number): boolean {
  return analysis?.correction === "holm-bonferroni" && treatments >= 2;
}

/** Short names for the P-value column header, by correction; other corrections read "adj.". */
export const CORRECTION_SHORT_LABELS: Readonly<Partial<Record<string, string>>> = {
  "holm-bonferroni": "Holm",
  "benjamini-hochberg": "BH",
};

/** What the P-value header adds in parentheses ("Holm", "BH", "adj."), or null when the p-values are raw. */
export function adjustedPValueLabel(analysis: AnalysisInfo | null | undefined, family: ComparisonFamily | number): string | null {
  if (!analysis || !usesAdjustedPValues(analysis, family)) return null;
  return CORRECTION_SHORT_LABELS[analysis.correction] ?? "adj.";
}

/** The P-value header's tooltip when the p-values are adjusted, e.g. "Holm-Bonferroni adjusted across 3 treatments (family-wise error rate)". */
export function adjustedPValueTitle(analysis: AnalysisInfo | null | undefined, family: ComparisonFamily | number): string | undefined {
  if (!analysis || !usesAdjustedPValues(analysis, family)) return undefined;
  const across = `across ${describeFamily(toFamily(family))}`;
  switch (analysis.correction) {
    case "holm-bonferroni":
      return `Holm-Bonferroni adjusted ${across} (family-wise error rate)`;
    case "benjamini-hochberg":
      return `Benjamini-Hochberg adjusted ${across} (false discovery rate)`;
    default:
      return `Adjusted for multiple comparisons ${across}`;
  }
}

/** The p-value to show for a variant: the adjusted one when the p-values are adjusted, else the raw one. */
export function shownPValue(
  variant: Pick<VariantResult, "p_value" | "p_value_adjusted">,
  adjusted: boolean,
): number | null {
  return adjusted ? (variant.p_value_adjusted ?? null) : variant.p_value;
}

/**
 * The correction as a clause of describeAnalysis: ", Holm-Bonferroni corrected across 3 treatments",
 * ", p-values adjusted for multiple comparisons across 3 treatments (Benjamini-Hochberg, false
 * discovery rate)"; empty without a correction, with a family of one, and for a correction this
 * client does not know (the analysis is described all the same).
 */
function correctionClause(analysis: AnalysisInfo, family: ComparisonFamily): string {
  if (!usesAdjustedPValues(analysis, family)) return "";
  const across = `across ${describeFamily(family)}`;
  switch (analysis.correction) {
    case "holm-bonferroni":
      return `, Holm-Bonferroni corrected ${across}`;
    case "benjamini-hochberg":
      return `, p-values adjusted for multiple comparisons ${across} (Benjamini-Hochberg, false discovery rate)`;
    default:
      return "";
  }
}

/**
 * The analysis in one sentence, e.g.
 * "Sequential analysis (always-valid confidence sequences, N* = 5,000) at 95% confidence,
 *  Holm-Bonferroni corrected across 3 treatments — safe to check as often as you like."
 * `family` is the comparison family (comparisonFamily: treatments × the snapshot's tested metrics)
 * or the number of treatments. Null without an analysis block (older servers).
 */
export function describeAnalysis(analysis: AnalysisInfo | null | undefined, family: ComparisonFamily | number): string | null {
  if (!analysis) return null;
  const confidence = `at ${formatConfidenceLevel(analysis.alpha)} confidence`;
  const correction = correctionClause(analysis, toFamily(family));
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
