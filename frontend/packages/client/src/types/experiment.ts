import type { ExperimentStatus } from "./snapshot";

/** Variant as listed by GET /api/v1/experiments[/{id}]. */
export interface ExperimentVariant {
  key: string;
  name: string;
  is_control: boolean;
}

/** Item of GET /api/v1/experiments, and body of GET /api/v1/experiments/{id}. */
export interface Experiment {
  id: string;
  name: string;
  status: ExperimentStatus;
  /** ISO 8601. */
  created_at: string;
  /** ISO 8601, null until the experiment is first activated. */
  activated_at: string | null;
  seq: number;
  variants: ExperimentVariant[];
  /** Attributes results can be broken down by (GET …/results?dimension=…); absent on older servers. */
  dimensions?: string[];
}
