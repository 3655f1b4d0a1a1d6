import type { MetricDirection, MetricVariantResult, VariantResult } from "@expstream/client";

/** Fallback for servers without per-variant `is_significant`: significant when p is below this. */
export const SIGNIFICANCE_THRESHOLD = 0.05;

export type VariantVerdict = "control" | "significant" | "not_significant";

/**
 * The Status column. Uses the server's per-variant `is_significant` (which
 * accounts for the analysis method and the multiple-comparison correction); only when it is
 * absent, p < 0.05.
 */
export function variantVerdict(variant: Pick<VariantResult, "is_control" | "p_value" | "is_significant">): VariantVerdict {
  if (variant.is_control) return "control";
  if (typeof variant.is_significant === "boolean") {
    return variant.is_significant ? "significant" : "not_significant";
  }
  if (variant.p_value !== null && Number.isFinite(variant.p_value) && variant.p_value < SIGNIFICANCE_THRESHOLD) {
    return "significant";
  }
  return "not_significant";
}

export const VERDICT_LABELS: Record<VariantVerdict, string> = {
  control: "control",
  significant: "significant",
  not_significant: "not significant",
};

/** Whether a change is good or bad news for a metric; null when there is no change to judge. */
export type Effect = "good" | "bad";

/** "good" when `lift` moves the way `direction` wants (up for "increase", down for "decrease"), "bad" the other way. */
export function liftEffect(lift: number | null | undefined, direction: MetricDirection = "increase"): Effect | null {
  if (typeof lift !== "number" || !Number.isFinite(lift) || lift === 0) return null;
  return (lift > 0) === (direction === "increase") ? "good" : "bad";
}

/** The effect of an interval that lies wholly on one side of zero; null when it straddles zero. */
export function intervalEffect(
  interval: readonly [number, number] | null | undefined,
  direction: MetricDirection = "increase",
): Effect | null {
  if (!interval) return null;
  if (interval[0] > 0) return liftEffect(interval[0], direction);
  if (interval[1] < 0) return liftEffect(interval[1], direction);
  return null;
}

export type MetricVerdict = "control" | "better" | "worse" | "not_significant";

/**
 * The Status of a treatment for one metric: significant and in the metric's good direction is
 * "better" (for a "decrease" metric a significant drop), significant the other way is "worse".
 */
export function metricVerdict(
  variant: Pick<MetricVariantResult, "is_significant" | "relative_lift">,
  { isControl, direction }: { isControl: boolean; direction: MetricDirection },
): MetricVerdict {
  if (isControl) return "control";
  if (!variant.is_significant) return "not_significant";
  const effect = liftEffect(variant.relative_lift, direction);
  if (effect === null) return "not_significant";
  return effect === "good" ? "better" : "worse";
}

export const METRIC_VERDICT_LABELS: Record<MetricVerdict, string> = {
  control: "control",
  better: "better",
  worse: "worse",
  not_significant: "not significant",
};
