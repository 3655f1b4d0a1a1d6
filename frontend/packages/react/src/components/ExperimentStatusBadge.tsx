import type { ExperimentStatus } from "@/types/snapshot";

/** Pill showing an experiment's lifecycle status (draft / active / paused / completed). */
export function ExperimentStatusBadge({ status, testId }: { status: ExperimentStatus; testId?: string }) {
  return (
    <span className="status-pill" data-value={status} data-testid={testId}>
      {status}
    </span>
  );
}
