/**
 * Wire format of a live results snapshot (WebSocket event "results_update").
 *
 * Keep in sync with the backend: src/types/snapshot.test.ts compares the field
 * lists below against ../tests/fixtures/snapshot_schema.json, which the backend's
 * tests generate/verify, so a renamed or reordered field fails CI on both sides.
 */

export type ExperimentStatus = "draft" | "active" | "paused" | "completed";

export const EXPERIMENT_STATUSES = ["draft", "active", "paused", "completed"] as const satisfies readonly ExperimentStatus[];

export interface VariantResult {
  key: string;
  name: string;
  participant_count: number;
  conversion_count: number;
  /** Fraction in [0, 1], e.g. 0.1234 = 12.34 %. */
  conversion_rate: number;
  /** Fraction relative to control, e.g. 0.3 = +30 %; null for the control. */
  relative_lift: number | null;
  p_value: number | null;
  is_control: boolean;
}

export interface ExperimentSnapshot {
  event: "results_update";
  experiment_id: string;
  /** ISO 8601 with offset. */
  timestamp: string;
  status: ExperimentStatus;
  variants: VariantResult[];
  total_participants: number;
  days_running: number;
  is_significant: boolean;
  seq: number;
}

/** Keys of ExperimentSnapshot in wire order. */
export const SNAPSHOT_FIELDS = [
  "event",
  "experiment_id",
  "timestamp",
  "status",
  "variants",
  "total_participants",
  "days_running",
  "is_significant",
  "seq",
] as const satisfies readonly (keyof ExperimentSnapshot)[];

/** Keys of VariantResult in wire order. */
export const VARIANT_FIELDS = [
  "key",
  "name",
  "participant_count",
  "conversion_count",
  "conversion_rate",
  "relative_lift",
  "p_value",
  "is_control",
] as const satisfies readonly (keyof VariantResult)[];

// Type-level completeness check: `satisfies` above rejects unknown keys; these
// reject missing ones. If a field is added to an interface but not to its list
// (or vice versa), `tsc --noEmit` fails here.
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const snapshotFieldsComplete: SameKeys<(typeof SNAPSHOT_FIELDS)[number], keyof ExperimentSnapshot> = true;
const variantFieldsComplete: SameKeys<(typeof VARIANT_FIELDS)[number], keyof VariantResult> = true;
void snapshotFieldsComplete;
void variantFieldsComplete;
