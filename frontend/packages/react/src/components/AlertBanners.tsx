import type { AnomalyEvent, ExperimentSnapshot } from "@expstream/client";
import { guardrailAlerts, guardrailMessage, multipleExposuresAlert, multipleExposuresMessage } from "../lib/alerts";
import { classNames as styles } from "../classNames";

export interface AlertBannersProps {
  snapshot: Pick<ExperimentSnapshot, "alerts" | "metrics" | "variants"> | null;
  /** The latest anomaly event (the guardrail one counts when the snapshot has no `alerts`). */
  anomaly: AnomalyEvent | null;
}

/**
 * Banners for the snapshot's alerts, beside the sample-ratio one: red for guardrail metrics that
 * got worse (one line each), yellow for users who saw more than one variant. Unknown alert
 * types were dropped when parsing; without alerts nothing renders.
 */
export function AlertBanners({ snapshot, anomaly }: AlertBannersProps) {
  const guardrails = guardrailAlerts(snapshot, anomaly);
  const exposures = multipleExposuresAlert(snapshot);
  const metrics = snapshot?.metrics ?? [];
  const variants = snapshot?.variants ?? [];
  return (
    <>
      {guardrails.length > 0 && (
        <div className={`${styles.banner} ${styles.errorBanner} ${styles.srmBanner}`} data-testid="guardrail-banner" role="alert">
          <span className={styles.bannerLines}>
            {guardrails.map((alert, index) => (
              <span key={`${alert.metric}/${alert.variant}/${index}`} data-testid="guardrail-alert" data-metric-key={alert.metric}>
                {guardrailMessage(alert, metrics, variants)}
              </span>
            ))}
          </span>
        </div>
      )}
      {exposures && (
        <div className={`${styles.banner} ${styles.infoBanner}`} data-testid="multiple-exposures-banner" role="status">
          <span>{multipleExposuresMessage(exposures)}</span>
        </div>
      )}
    </>
  );
}
