/** Event types of GET /api/v1/experiments/{id}/alerts (and of webhook deliveries). */
export type AlertTransitionType = "significance" | "guardrail" | "srm" | "multiple_exposures" | "status_changed";

/**
 * One transition the server recorded for an experiment, once however many nodes saw it: a metric/variant
 * becoming significant or ceasing to be, a guardrail regressed or recovered, the SRM or multiple-exposures
 * alarm raised or cleared, a status change. Item of GET /api/v1/experiments/{id}/alerts, newest first.
 */
export interface AlertTransition {
  id: number;
  /** ISO 8601. */
  created_at: string;
  type: AlertTransitionType;
  /** significant | not_significant, regressed | recovered, raised | cleared, or the new status. */
  state: string;
  metric: string | null;
  variant: string | null;
  /** relative_lift, p_value, users, share, from, to… depending on the type. */
  detail: Record<string, unknown>;
}
