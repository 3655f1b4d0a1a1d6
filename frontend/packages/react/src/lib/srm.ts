/** The sample-ratio-mismatch warning: from the snapshot's srm block or an "anomaly" event. */
import type { AnomalyEvent, ExperimentSnapshot } from "@expstream/client";
import { formatPValueRelation } from "./format";

export const SRM_ANOMALY_TYPE = "sample_ratio_mismatch";

export interface SrmAlert {
  /** p-value of the chi-square test, when known. */
  pValue: number | null;
}

/**
 * A mismatch when the snapshot says srm.mismatch or an SRM anomaly event arrived;
 * the snapshot's p-value is preferred (it is the newer computation), else the event's.
 */
export function srmAlert(
  snapshot: Pick<ExperimentSnapshot, "srm"> | null,
  anomaly: AnomalyEvent | null,
): SrmAlert | null {
  const fromEvent = anomaly?.type === SRM_ANOMALY_TYPE ? anomaly : null;
  if (snapshot?.srm?.mismatch) return { pValue: snapshot.srm.p_value ?? fromEvent?.p_value ?? null };
  if (fromEvent) return { pValue: fromEvent.p_value };
  return null;
}

/** "Sample ratio mismatch (p < 0.001): traffic is not split as configured, so these results cannot be trusted." */
export function srmMessage(alert: SrmAlert): string {
  const p = alert.pValue === null ? "" : ` (${formatPValueRelation(alert.pValue)})`;
  return `Sample ratio mismatch${p}: traffic is not split as configured, so these results cannot be trusted.`;
}
