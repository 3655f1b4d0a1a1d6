/** Words, numbers and choices for the snapshot's `metrics` (@expstream/client's MetricResult). */
import type { MetricDirection, MetricKind, MetricResult, MetricRole, MetricVariantResult, VariantResult } from "@expstream/client";
import { formatDecimal, formatPercent } from "./format";

export const ROLE_LABELS: Record<MetricRole, string> = {
  primary: "Primary",
  secondary: "Secondary",
  guardrail: "Guardrail",
};

/** Header of the value column. */
export const VALUE_LABELS: Record<MetricKind, string> = {
  proportion: "Rate",
  mean: "Mean",
  ratio: "Ratio",
};

export const DIRECTION_NOTES: Record<MetricDirection, string> = {
  increase: "higher is better",
  decrease: "lower is better",
};

/** A metric's value as its kind reads: a rate in percent (0.1234 -> "12.34%"), a mean or ratio with two decimals ("12.50"). */
export function formatMetricValue(value: number | null | undefined, kind: MetricKind): string {
  return kind === "proportion" ? formatPercent(value) : formatDecimal(value, 2);
}

/** The metrics to show: null without any (a server without metrics, or none valid), so the panel stays as it was. */
export function shownMetrics(metrics: readonly MetricResult[] | null | undefined): readonly MetricResult[] | null {
  return metrics && metrics.length > 0 ? metrics : null;
}

/** The metric the lift chart starts with: the first primary one, else the first; null without metrics. */
export function defaultMetricKey(metrics: readonly Pick<MetricResult, "key" | "role">[] | null | undefined): string | null {
  if (!metrics || metrics.length === 0) return null;
  return (metrics.find((metric) => metric.role === "primary") ?? metrics[0]).key;
}

/** The metric with `chosenKey` while `metrics` has it, else the default one (defaultMetricKey); null without metrics. */
export function selectedMetric<T extends Pick<MetricResult, "key" | "role">>(
  metrics: readonly T[] | null | undefined,
  chosenKey: string | null,
): T | null {
  if (!metrics) return null;
  const key = metrics.some((metric) => metric.key === chosenKey) ? chosenKey : defaultMetricKey(metrics);
  return metrics.find((metric) => metric.key === key) ?? null;
}

/** The p-value to show: the adjusted one when the server sends it, else the raw one. */
export function shownMetricPValue(variant: Pick<MetricVariantResult, "p_value" | "p_value_adjusted">): number | null {
  return variant.p_value_adjusted ?? variant.p_value;
}

/** True when any treatment's shown p-value is an adjusted one (the column header says so). */
export function showsAdjustedPValues(metric: Pick<MetricResult, "variants">): boolean {
  return metric.variants.some((variant) => variant.p_value_adjusted !== null);
}

type VariantInfo = Pick<VariantResult, "key" | "name" | "is_control">;

/** The display name of a variant key (from the snapshot's variants), or the key itself when unknown. */
export function variantName(variants: readonly VariantInfo[], key: string): string {
  return variants.find((variant) => variant.key === key)?.name ?? key;
}

/** True when `key` is the control according to the snapshot's variants. */
export function isControlKey(variants: readonly VariantInfo[], key: string): boolean {
  return variants.some((variant) => variant.key === key && variant.is_control);
}
