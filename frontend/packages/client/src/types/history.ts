import type { Interval } from "./snapshot";

/**
 * GET /api/v1/experiments/{id}/results/history:
 * {"experiment_id": "…", "points": [{"seq": 12, "timestamp": "…", "variants": [
 *   {"key": "control", "participant_count": 500, "conversion_count": 50, "relative_lift": 0.0, "lift_ci": null}, …]}]}
 * At most 500 points, oldest first.
 */
export interface ResultsHistory {
  experiment_id: string;
  points: HistoryPoint[];
}

/** One earlier snapshot, reduced to what the lift chart needs. */
export interface HistoryPoint {
  seq: number;
  /** ISO 8601 with offset. */
  timestamp: string;
  variants: HistoryVariant[];
  /** Per-metric lifts (absent from servers without metrics): `{"key": "revenue", "variants": [{"key", "relative_lift", "lift_ci"}]}`. */
  metrics?: HistoryMetric[];
}

export interface HistoryMetric {
  key: string;
  variants: HistoryMetricVariant[];
}

export interface HistoryMetricVariant {
  key: string;
  relative_lift: number | null;
  lift_ci: Interval | null;
}

export interface HistoryVariant {
  key: string;
  /** Not drawn; absent when the server leaves them out. */
  participant_count?: number;
  conversion_count?: number;
  /** Fraction relative to the control (0.3 = +30 %); null when unknown. */
  relative_lift: number | null;
  lift_ci: Interval | null;
}
