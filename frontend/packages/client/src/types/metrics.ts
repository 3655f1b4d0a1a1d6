/**
 * Per-metric results of a snapshot (`metrics`) and its alerts (`alerts`).
 *
 * A snapshot may carry several metrics, in definition order:
 * {"key": "revenue", "name": "Revenue per user", "kind": "mean", "role": "secondary",
 *  "direction": "increase", "variants": [{"key": "control", "users": 1234, "value": 12.5,
 *  "relative_lift": null, "lift_ci": null, "difference_ci": null, "p_value": null,
 *  "p_value_adjusted": null, "chance_to_win": null, "is_significant": false}, …]}
 * and alerts such as a guardrail that moved the wrong way. Both are optional: a server
 * without them gets the dashboard as before (src/lib/parseMetrics.ts drops what it cannot
 * validate, one metric or alert at a time).
 */
import type { Interval } from "./snapshot";

/** What `value` is: a conversion rate (fraction), a mean per user, or a ratio of two sums. */
export type MetricKind = "proportion" | "mean" | "ratio";
export const METRIC_KINDS = ["proportion", "mean", "ratio"] as const satisfies readonly MetricKind[];

export type MetricRole = "primary" | "secondary" | "guardrail";
export const METRIC_ROLES = ["primary", "secondary", "guardrail"] as const satisfies readonly MetricRole[];

/** Which way is good news: "decrease" for e.g. refunds or latency, where lower is better. */
export type MetricDirection = "increase" | "decrease";
export const METRIC_DIRECTIONS = ["increase", "decrease"] as const satisfies readonly MetricDirection[];

/** One variant's numbers for one metric. The control's lift, intervals and p-values are null. */
export interface MetricVariantResult {
  key: string;
  users: number;
  /** Conversion rate (proportion, as a fraction), mean per user (mean) or the ratio (ratio); null without data. */
  value: number | null;
  /** Fraction relative to the control, e.g. 0.031 = +3.1 %. */
  relative_lift: number | null;
  lift_ci: Interval | null;
  /** Interval of value − control value, in the metric's own unit. */
  difference_ci: Interval | null;
  p_value: number | null;
  /** Corrected for multiple comparisons, when the server corrects. */
  p_value_adjusted: number | null;
  /** Probability (0..1) that the variant beats the control. */
  chance_to_win: number | null;
  is_significant: boolean;
  /** CUPED's adjustment of this treatment, when the server applied one (null: none, e.g. the control). */
  cuped?: CupedInfo | null;
}

/** CUPED (regression adjustment on pre-exposure covariates): the coefficient and the share of variance removed. */
export interface CupedInfo {
  /** The regression coefficient on the users' pre-experiment values (0: the comparison is the unadjusted one). */
  theta: number;
  /**
   * Share of the lift estimate's variance the adjustment removed, as a fraction: 0.31 = 31 % less.
   * May be 0 or slightly negative (no reduction); null when it cannot be computed yet.
   */
  variance_reduction: number | null;
}

export interface MetricResult {
  key: string;
  name: string;
  kind: MetricKind;
  role: MetricRole;
  direction: MetricDirection;
  /** CUPED's adjustment of the metric, when the server applied one (null: none). */
  cuped?: CupedInfo | null;
  variants: MetricVariantResult[];
}

/** A guardrail metric moved the wrong way, significantly, for one treatment. */
export interface GuardrailAlert {
  type: "guardrail";
  /** Key of the metric in `metrics`. */
  metric: string;
  /** Key of the treatment. */
  variant: string;
  relative_lift: number | null;
  lift_ci: Interval | null;
}

/** Users who were assigned to more than one variant. */
export interface MultipleExposuresAlert {
  type: "multiple_exposures";
  users: number;
  /** Fraction of all participants, e.g. 0.013 = 1.3 %; null when unknown. */
  share: number | null;
}

/** Alerts the dashboard knows; entries of other types are dropped when parsing. */
export type SnapshotAlert = GuardrailAlert | MultipleExposuresAlert;

/** Keys of MetricResult in wire order. */
export const METRIC_FIELDS = ["key", "name", "kind", "role", "direction", "cuped", "variants"] as const satisfies readonly (keyof MetricResult)[];

/** Keys of MetricVariantResult in wire order. */
export const METRIC_VARIANT_FIELDS = [
  "key",
  "users",
  "value",
  "relative_lift",
  "lift_ci",
  "difference_ci",
  "p_value",
  "p_value_adjusted",
  "chance_to_win",
  "is_significant",
  "cuped",
] as const satisfies readonly (keyof MetricVariantResult)[];

// Completeness: `satisfies` rejects unknown keys, these reject missing ones (see snapshot.ts).
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const metricFieldsComplete: SameKeys<(typeof METRIC_FIELDS)[number], keyof MetricResult> = true;
const metricVariantFieldsComplete: SameKeys<(typeof METRIC_VARIANT_FIELDS)[number], keyof MetricVariantResult> = true;
void metricFieldsComplete;
void metricVariantFieldsComplete;
