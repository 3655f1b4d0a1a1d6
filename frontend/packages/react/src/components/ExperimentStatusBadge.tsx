import type { ExperimentStatus } from "@expstream/client";
import { classNames as styles } from "../classNames";

/** Pill showing an experiment's lifecycle status (draft / active / paused / completed). */
export function ExperimentStatusBadge({ status, testId }: { status: ExperimentStatus; testId?: string }) {
  return (
    <span className={styles.statusPill} data-value={status} data-testid={testId}>
      {status}
    </span>
  );
}
