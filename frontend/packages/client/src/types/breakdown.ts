import type { MetricResult } from "./metrics";
import type { VariantResult } from "./snapshot";

/** One value of a breakdown (or "(other)": the values without a slot, "(none)": users without one). */
export interface BreakdownValue {
  value: string;
  /** Participants with this value, across variants. */
  users: number;
  /** Exactly the snapshot's variants, for these users only. */
  variants: VariantResult[];
  /** Exactly the snapshot's metrics, for these users only. */
  metrics: MetricResult[];
}

/** GET /api/v1/experiments/{id}/results?dimension=…, and the stream's "breakdown" event. */
export interface Breakdown {
  event: "breakdown";
  experiment_id: string;
  dimension: string;
  seq: number;
  timestamp: string;
  /** How to read many values at once (no correction is made across them). */
  note: string;
  /** The values with the most users first, then "(other)" and "(none)". */
  values: BreakdownValue[];
}
