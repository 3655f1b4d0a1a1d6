/**
 * Wire format of a live results snapshot (WebSocket event "results_update").
 *
 * Keep in sync with the backend: src/types/snapshot.test.ts compares the field
 * lists below against ../tests/fixtures/snapshot_schema.json, which the backend's
 * tests generate/verify, so a renamed or reordered field fails CI on both sides.
 *
 * The statistics fields (`analysis`, `srm`; per variant `weight` … `is_significant`)
 * are optional here although the server always sends them: a server from before
 * they existed, or one that sends a malformed value, still gets its counts shown
 * (parseServerMessage drops what it cannot validate and the UI falls back).
 * `metrics` and `alerts` (types/metrics.ts) are optional the same way: without them the
 * panel shows the conversion results alone, as before there were several metrics.
 */
import type { MetricResult, SnapshotAlert } from "./metrics";

export type ExperimentStatus = "draft" | "active" | "paused" | "completed";

export const EXPERIMENT_STATUSES = ["draft", "active", "paused", "completed"] as const satisfies readonly ExperimentStatus[];

/** [low, high] of a confidence interval, as fractions. */
export type Interval = [number, number];

export type AnalysisMethod = "sequential" | "fixed";
export const ANALYSIS_METHODS = ["sequential", "fixed"] as const satisfies readonly AnalysisMethod[];

/**
 * The corrections this client knows: "holm-bonferroni" (family-wise error rate),
 * "benjamini-hochberg" (false discovery rate) or "none".
 */
export type MultipleTestingCorrection = "holm-bonferroni" | "benjamini-hochberg" | "none";
export const CORRECTIONS = ["holm-bonferroni", "benjamini-hochberg", "none"] as const satisfies readonly MultipleTestingCorrection[];

/** How the p-values and intervals of a snapshot were computed. */
export interface AnalysisInfo {
  /** "sequential": always-valid confidence sequences; "fixed": classic fixed-horizon tests. */
  method: AnalysisMethod;
  /** Significance level, e.g. 0.05 for 95 % confidence. */
  alpha: number;
  /** N*, the sample size the confidence sequence is tuned for; null under "fixed". */
  sequential_tuning: number | null;
  /**
   * The correction the server applied to p_value_adjusted across the family of comparisons (the
   * treatments, or with `metrics` the primary and secondary metrics × treatments); "none" when it
   * applied none (e.g. a family of one). Any other string is a correction newer than this client:
   * the analysis is kept, and it is a correction all the same (see CORRECTIONS for the known ones).
   */
  correction: MultipleTestingCorrection | (string & {});
}

/** Sample-ratio-mismatch check of the traffic split. */
export interface SrmInfo {
  /** Chi-square test of the observed split against the configured weights; null before there is data. */
  p_value: number | null;
  /** True when the split is off: the results cannot be trusted. */
  mismatch: boolean;
}

export interface VariantResult {
  key: string;
  name: string;
  participant_count: number;
  conversion_count: number;
  /** Fraction in [0, 1], e.g. 0.1234 = 12.34 %. */
  conversion_rate: number;
  /** Fraction relative to control, e.g. 0.3 = +30 %; null for the control. */
  relative_lift: number | null;
  p_value: number | null;
  is_control: boolean;
  /** Configured traffic weight (equal by default). */
  weight?: number;
  /** Interval of relative_lift as fractions, e.g. [-0.02, 0.31] = −2 % … +31 %; null for the control or too little data. */
  lift_ci?: Interval | null;
  /** Interval of the rate difference (treatment − control) as fractions, e.g. [0.001, 0.02]. */
  difference_ci?: Interval | null;
  /** Adjusted by the analysis' `correction` when it is not "none"; equals p_value otherwise. */
  p_value_adjusted?: number | null;
  /** Probability (0..1) that this variant beats the control; null for the control. */
  chance_to_win?: number | null;
  /** The server's verdict for this variant under the snapshot's analysis. */
  is_significant?: boolean;
}

export interface ExperimentSnapshot {
  event: "results_update";
  experiment_id: string;
  /** ISO 8601 with offset. */
  timestamp: string;
  status: ExperimentStatus;
  variants: VariantResult[];
  total_participants: number;
  days_running: number;
  is_significant: boolean;
  seq: number;
  analysis?: AnalysisInfo;
  srm?: SrmInfo;
  /** One entry per metric, in definition order. */
  metrics?: MetricResult[];
  /** Alerts the dashboard knows (guardrail, multiple exposures); possibly empty. */
  alerts?: SnapshotAlert[];
  /** Users assigned to more than one variant. */
  multiple_exposures?: number;
}

/** Keys of ExperimentSnapshot in wire order. */
export const SNAPSHOT_FIELDS = [
  "event",
  "experiment_id",
  "timestamp",
  "status",
  "variants",
  "total_participants",
  "days_running",
  "is_significant",
  "seq",
  "analysis",
  "srm",
  "metrics",
  "alerts",
  "multiple_exposures",
] as const satisfies readonly (keyof ExperimentSnapshot)[];

/** Keys of VariantResult in wire order. */
export const VARIANT_FIELDS = [
  "key",
  "name",
  "participant_count",
  "conversion_count",
  "conversion_rate",
  "relative_lift",
  "p_value",
  "is_control",
  "weight",
  "lift_ci",
  "difference_ci",
  "p_value_adjusted",
  "chance_to_win",
  "is_significant",
] as const satisfies readonly (keyof VariantResult)[];

/** Keys of AnalysisInfo in wire order. */
export const ANALYSIS_FIELDS = [
  "method",
  "alpha",
  "sequential_tuning",
  "correction",
] as const satisfies readonly (keyof AnalysisInfo)[];

/** Keys of SrmInfo in wire order. */
export const SRM_FIELDS = ["p_value", "mismatch"] as const satisfies readonly (keyof SrmInfo)[];

// Type-level completeness check: `satisfies` above rejects unknown keys; these
// reject missing ones. If a field is added to an interface but not to its list
// (or vice versa), `tsc --noEmit` fails here.
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const snapshotFieldsComplete: SameKeys<(typeof SNAPSHOT_FIELDS)[number], keyof ExperimentSnapshot> = true;
const variantFieldsComplete: SameKeys<(typeof VARIANT_FIELDS)[number], keyof VariantResult> = true;
const analysisFieldsComplete: SameKeys<(typeof ANALYSIS_FIELDS)[number], keyof AnalysisInfo> = true;
const srmFieldsComplete: SameKeys<(typeof SRM_FIELDS)[number], keyof SrmInfo> = true;
void snapshotFieldsComplete;
void variantFieldsComplete;
void analysisFieldsComplete;
void srmFieldsComplete;
