/**
 * Alert banners beyond the sample-ratio mismatch (srm.ts): guardrail metrics that moved the
 * wrong way, and users exposed to more than one variant.
 */
import type { AnomalyEvent, ExperimentSnapshot, GuardrailAlert, MetricResult, MultipleExposuresAlert, VariantResult } from "@expstream/client";
import { formatInteger, formatLift, formatLiftInterval, formatPercent } from "./format";
import { DIRECTION_NOTES, variantName } from "./metrics";

export const GUARDRAIL_ANOMALY_TYPE = "guardrail";

/**
 * The guardrail alerts to show. A snapshot that carries `alerts` is the current state (a
 * guardrail that recovered is gone from it); only a snapshot without `alerts` falls back to
 * the latest guardrail anomaly event.
 */
export function guardrailAlerts(
  snapshot: Pick<ExperimentSnapshot, "alerts"> | null,
  anomaly: AnomalyEvent | null,
): GuardrailAlert[] {
  if (snapshot?.alerts) return snapshot.alerts.filter((alert): alert is GuardrailAlert => alert.type === "guardrail");
  if (anomaly?.type !== GUARDRAIL_ANOMALY_TYPE || !anomaly.metric || !anomaly.variant) return [];
  return [
    {
      type: "guardrail",
      metric: anomaly.metric,
      variant: anomaly.variant,
      relative_lift: anomaly.relative_lift ?? null,
      lift_ci: anomaly.lift_ci ?? null,
    },
  ];
}

/** The snapshot's multiple-exposures alert, if any. */
export function multipleExposuresAlert(snapshot: Pick<ExperimentSnapshot, "alerts"> | null): MultipleExposuresAlert | null {
  return snapshot?.alerts?.find((alert): alert is MultipleExposuresAlert => alert.type === "multiple_exposures") ?? null;
}

/**
 * 'Guardrail "Refunds per order" (lower is better) got worse for One-click checkout: +12.0% (+2.0% … +22.0%).'
 * Unknown metric or variant keys are shown as they are.
 */
export function guardrailMessage(
  alert: GuardrailAlert,
  metrics: readonly Pick<MetricResult, "key" | "name" | "direction">[],
  variants: readonly Pick<VariantResult, "key" | "name" | "is_control">[],
): string {
  const metric = metrics.find((m) => m.key === alert.metric);
  const direction = metric ? ` (${DIRECTION_NOTES[metric.direction]})` : "";
  const lift = alert.relative_lift === null ? "" : `: ${formatLift(alert.relative_lift)}`;
  const interval = alert.lift_ci ? ` (${formatLiftInterval(alert.lift_ci)})` : "";
  return `Guardrail \u201c${metric?.name ?? alert.metric}\u201d${direction} got worse for ${variantName(variants, alert.variant)}${lift}${interval}.`;
}

/**
 * The snapshot's count of users who saw more than one variant (`multiple_exposures`) when there
 * are any; null when it is 0 or the server does not send it.
 */
export function multipleExposuresCount(snapshot: Pick<ExperimentSnapshot, "multiple_exposures"> | null): number | null {
  const count = snapshot?.multiple_exposures;
  return typeof count === "number" && Number.isFinite(count) && count > 0 ? count : null;
}

/** The quiet count under the participants: "410 users saw more than one variant", "1 user saw more than one variant". */
export function multipleExposuresNote(count: number): string {
  return `${formatInteger(count)} ${count === 1 ? "user" : "users"} saw more than one variant`;
}

/** "120 users (1.30% of participants) saw more than one variant, which blurs the comparison." */
export function multipleExposuresMessage(alert: MultipleExposuresAlert): string {
  const users = `${formatInteger(alert.users)} ${alert.users === 1 ? "user" : "users"}`;
  const share = alert.share === null ? "" : ` (${formatPercent(alert.share)} of participants)`;
  return `${users}${share} saw more than one variant, which blurs the comparison.`;
}
