/**
 * Validation of a snapshot's `metrics` and `alerts` and of the history's per-metric lifts.
 * Tolerant: a malformed metric, variant entry or alert is dropped on its own, never the
 * snapshot; a malformed statistic inside a valid entry becomes null. Alerts of types the
 * dashboard does not know are dropped.
 */
import type { HistoryMetric, HistoryMetricVariant } from "../types/history";
import {
  METRIC_DIRECTIONS,
  type CupedInfo,
  METRIC_KINDS,
  METRIC_ROLES,
  type MetricResult,
  type MetricVariantResult,
  type SnapshotAlert,
} from "../types/metrics";
import { isNumber, isNumberOrNull, isObject, isOneOf, isString, toInterval, toNumberOrNull } from "./jsonGuards";

/** Entries of `list` that `parse` accepts, in order. */
function parseEach<T>(list: unknown[], parse: (value: unknown) => T | null): T[] {
  return list.map(parse).filter((item): item is T => item !== null);
}

/** `{theta, variance_reduction}` with a finite theta and a finite or null variance reduction (the server's null: not computable). */
function parseCuped(value: unknown): CupedInfo | null {
  if (!isObject(value) || !isNumber(value.theta) || !isNumberOrNull(value.variance_reduction)) return null;
  return { theta: value.theta, variance_reduction: value.variance_reduction };
}

/** `{ cuped }` when the server sent the field (an invalid value becomes null), else nothing. */
function cupedField(value: Record<string, unknown>): { cuped?: CupedInfo | null } {
  return "cuped" in value ? { cuped: parseCuped(value.cuped) } : {};
}

/** One variant's numbers for a metric: a key and a user count are required, the rest falls back to null. */
export function parseMetricVariant(value: unknown): MetricVariantResult | null {
  if (!isObject(value) || !isString(value.key) || !isNumber(value.users)) return null;
  return {
    key: value.key,
    users: value.users,
    value: toNumberOrNull(value.value),
    relative_lift: toNumberOrNull(value.relative_lift),
    lift_ci: toInterval(value.lift_ci),
    difference_ci: toInterval(value.difference_ci),
    p_value: toNumberOrNull(value.p_value),
    p_value_adjusted: toNumberOrNull(value.p_value_adjusted),
    chance_to_win: toNumberOrNull(value.chance_to_win),
    is_significant: value.is_significant === true,
    ...cupedField(value),
  };
}

/** A metric with a key, a name, a known kind, role and direction, and a variant list; else null. */
export function parseMetric(value: unknown): MetricResult | null {
  if (
    !isObject(value) ||
    !isString(value.key) ||
    !value.key ||
    !isString(value.name) ||
    !isOneOf(METRIC_KINDS, value.kind) ||
    !isOneOf(METRIC_ROLES, value.role) ||
    !isOneOf(METRIC_DIRECTIONS, value.direction) ||
    !Array.isArray(value.variants)
  ) {
    return null;
  }
  return {
    key: value.key,
    name: value.name || value.key,
    kind: value.kind,
    role: value.role,
    direction: value.direction,
    ...cupedField(value),
    variants: parseEach(value.variants, parseMetricVariant),
  };
}

/** The snapshot's `metrics`: the valid entries (first of each key), or undefined when it is not an array. */
export function parseMetrics(value: unknown): MetricResult[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const byKey = new Map<string, MetricResult>();
  for (const metric of parseEach(value, parseMetric)) {
    if (!byKey.has(metric.key)) byKey.set(metric.key, metric);
  }
  return [...byKey.values()];
}

/** One alert of a type the dashboard knows, or null. */
export function parseAlert(value: unknown): SnapshotAlert | null {
  if (!isObject(value)) return null;
  switch (value.type) {
    case "guardrail":
      if (!isString(value.metric) || !isString(value.variant)) return null;
      return {
        type: "guardrail",
        metric: value.metric,
        variant: value.variant,
        relative_lift: toNumberOrNull(value.relative_lift),
        lift_ci: toInterval(value.lift_ci),
      };
    case "multiple_exposures":
      if (!isNumber(value.users)) return null;
      return { type: "multiple_exposures", users: value.users, share: toNumberOrNull(value.share) };
    default:
      return null;
  }
}

/** The snapshot's `alerts`: the known, valid entries, or undefined when it is not an array. */
export function parseAlerts(value: unknown): SnapshotAlert[] | undefined {
  return Array.isArray(value) ? parseEach(value, parseAlert) : undefined;
}

function parseHistoryMetricVariant(value: unknown): HistoryMetricVariant | null {
  if (!isObject(value) || !isString(value.key)) return null;
  return { key: value.key, relative_lift: toNumberOrNull(value.relative_lift), lift_ci: toInterval(value.lift_ci) };
}

function parseHistoryMetric(value: unknown): HistoryMetric | null {
  if (!isObject(value) || !isString(value.key) || !Array.isArray(value.variants)) return null;
  return { key: value.key, variants: parseEach(value.variants, parseHistoryMetricVariant) };
}

/** A history point's `metrics`: the valid entries, or undefined when it is not an array. */
export function parseHistoryMetrics(value: unknown): HistoryMetric[] | undefined {
  return Array.isArray(value) ? parseEach(value, parseHistoryMetric) : undefined;
}
