import type { ExperimentSnapshot, ExperimentStatus, Interval } from "./snapshot";

export type ServerErrorCode = "experiment_not_found" | "results_unavailable" | "forbidden" | "unauthorized";

/** {"event":"error",...} sent by the server over the results WebSocket (or as SSE data). */
export interface ServerErrorMessage {
  event: "error";
  /** Known codes are listed in ServerErrorCode; others are passed through. */
  code: ServerErrorCode | (string & {});
  experiment_id: string;
  message: string;
}

export interface PongMessage {
  event: "pong";
}

/**
 * The lifecycle envelope, flattened:
 * {"topic":"experiment:<id>","event":"STATUS_CHANGED",
 *  "data":{"entity_id":"<id>","payload":{"status":"paused","previous_status":"active"},"timestamp":"…"},
 *  "trace_id":"…"}
 */
export interface StatusChangedMessage {
  event: "STATUS_CHANGED";
  experiment_id: string;
  status: ExperimentStatus;
  previous_status: ExperimentStatus | null;
  timestamp: string | null;
}

/** Known anomaly types; others are passed through. */
export type AnomalyType = "sample_ratio_mismatch" | "guardrail";

/**
 * {"event":"anomaly","type":"sample_ratio_mismatch","experiment_id":"…","p_value":0.00001,
 *  "message":"…","timestamp":"…"}: the server noticed something that makes the results untrustworthy;
 * {"event":"anomaly","type":"guardrail","experiment_id":"…","metric":"refunds","variant":"one_click",
 *  "relative_lift":0.12,"lift_ci":[0.02,0.22]}: a guardrail metric moved the wrong way. Each is sent
 * once per transition.
 */
export interface AnomalyEvent {
  event: "anomaly";
  type: AnomalyType | (string & {});
  experiment_id: string;
  /** p-value of the check that fired (for SRM: the chi-square test), or null. */
  p_value: number | null;
  message: string;
  timestamp: string | null;
  /** Guardrail anomalies: the metric's key, the treatment's key, and its lift with the interval. */
  metric?: string;
  variant?: string;
  relative_lift?: number | null;
  lift_ci?: Interval | null;
}

/** Every server message the client understands. */
export type ServerMessage =
  | ExperimentSnapshot
  | ServerErrorMessage
  | PongMessage
  | StatusChangedMessage
  | AnomalyEvent;

/** Messages the client sends. */
export type ClientMessage = { action: "ping" } | { action: "refresh" };
