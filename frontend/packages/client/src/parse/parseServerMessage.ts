import type { AnomalyEvent, ServerErrorMessage, ServerMessage, StatusChangedMessage } from "../types/messages";
import {
  ANALYSIS_METHODS,
  EXPERIMENT_STATUSES,
  type AnalysisInfo,
  type ExperimentSnapshot,
  type ExperimentStatus,
  type SrmInfo,
  type VariantResult,
} from "../types/snapshot";
import {
  isBoolean,
  isIntervalOrNull,
  isNumber,
  isNumberOrNull,
  isObject,
  isOneOf,
  isString,
  optional,
  type Json,
} from "./jsonGuards";
import { parseAlerts, parseMetrics } from "./parseMetrics";

/**
 * A valid analysis block. `correction` may be any non-empty string: one this client does not know
 * (a newer server's) keeps the block, so the method and confidence are still shown.
 */
function isAnalysis(value: unknown): value is AnalysisInfo {
  return (
    isObject(value) &&
    isOneOf(ANALYSIS_METHODS, value.method) &&
    isNumber(value.alpha) &&
    value.alpha > 0 &&
    value.alpha < 1 &&
    isNumberOrNull(value.sequential_tuning) &&
    isString(value.correction) &&
    value.correction !== ""
  );
}

function isSrm(value: unknown): value is SrmInfo {
  return isObject(value) && isNumberOrNull(value.p_value) && typeof value.mismatch === "boolean";
}

/**
 * A variant with its required fields valid, or null. The statistics fields
 * (weight … is_significant) are kept when valid and dropped otherwise, so one
 * malformed statistic does not hide the whole snapshot.
 */
export function parseVariantResult(value: unknown): VariantResult | null {
  if (
    !isObject(value) ||
    typeof value.key !== "string" ||
    typeof value.name !== "string" ||
    !isNumber(value.participant_count) ||
    !isNumber(value.conversion_count) ||
    !isNumber(value.conversion_rate) ||
    !isNumberOrNull(value.relative_lift) ||
    !isNumberOrNull(value.p_value) ||
    typeof value.is_control !== "boolean"
  ) {
    return null;
  }
  return {
    key: value.key,
    name: value.name,
    participant_count: value.participant_count,
    conversion_count: value.conversion_count,
    conversion_rate: value.conversion_rate,
    relative_lift: value.relative_lift,
    p_value: value.p_value,
    is_control: value.is_control,
    ...optional("weight", value.weight, isNumber),
    ...optional("lift_ci", value.lift_ci, isIntervalOrNull),
    ...optional("difference_ci", value.difference_ci, isIntervalOrNull),
    ...optional("p_value_adjusted", value.p_value_adjusted, isNumberOrNull),
    ...optional("chance_to_win", value.chance_to_win, isNumberOrNull),
    ...optional("is_significant", value.is_significant, isBoolean),
  };
}

export function isVariantResult(value: unknown): value is VariantResult {
  return parseVariantResult(value) !== null;
}

/**
 * A snapshot with its required fields valid (as a new object, keys in wire
 * order), or null. `analysis` and `srm` and the variants' statistics fields are
 * kept when valid and dropped otherwise; the UI treats them as absent. `metrics` and
 * `alerts` keep their valid entries (parseMetrics.ts).
 */
export function parseExperimentSnapshot(value: unknown): ExperimentSnapshot | null {
  if (
    !isObject(value) ||
    value.event !== "results_update" ||
    typeof value.experiment_id !== "string" ||
    typeof value.timestamp !== "string" ||
    !isOneOf(EXPERIMENT_STATUSES, value.status) ||
    !Array.isArray(value.variants) ||
    !isNumber(value.total_participants) ||
    !isNumber(value.days_running) ||
    typeof value.is_significant !== "boolean" ||
    !isNumber(value.seq)
  ) {
    return null;
  }
  const variants: VariantResult[] = [];
  for (const raw of value.variants) {
    const variant = parseVariantResult(raw);
    if (!variant) return null;
    variants.push(variant);
  }
  return {
    event: "results_update",
    experiment_id: value.experiment_id,
    timestamp: value.timestamp,
    status: value.status,
    variants,
    total_participants: value.total_participants,
    days_running: value.days_running,
    is_significant: value.is_significant,
    seq: value.seq,
    ...optional("analysis", value.analysis, isAnalysis),
    ...optional("srm", value.srm, isSrm),
    ...present("metrics", parseMetrics(value.metrics)),
    ...present("alerts", parseAlerts(value.alerts)),
    ...optional("multiple_exposures", value.multiple_exposures, isNumber),
  };
}

/** `{ [key]: value }` unless `value` is undefined. */
function present<K extends string, T>(key: K, value: T | undefined): { [P in K]?: T } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: T };
}

/** True when the required fields of a snapshot are valid (see parseExperimentSnapshot). */
export function isExperimentSnapshot(value: unknown): value is ExperimentSnapshot {
  return parseExperimentSnapshot(value) !== null;
}

function parseAnomaly(value: Json): AnomalyEvent | null {
  if (typeof value.type !== "string" || !value.type) return null;
  return {
    event: "anomaly",
    type: value.type,
    experiment_id: typeof value.experiment_id === "string" ? value.experiment_id : "",
    p_value: isNumber(value.p_value) ? value.p_value : null,
    message: typeof value.message === "string" ? value.message : "",
    timestamp: typeof value.timestamp === "string" ? value.timestamp : null,
    ...optional("metric", value.metric, isString),
    ...optional("variant", value.variant, isString),
    ...optional("relative_lift", value.relative_lift, isNumberOrNull),
    ...optional("lift_ci", value.lift_ci, isIntervalOrNull),
  };
}

function isServerError(value: Json): value is Json & ServerErrorMessage {
  return value.event === "error" && typeof value.code === "string";
}

function isStatus(value: unknown): value is ExperimentStatus {
  return isOneOf(EXPERIMENT_STATUSES, value);
}

const TOPIC_PREFIX = "experiment:";

function parseStatusChanged(value: Json): StatusChangedMessage | null {
  const data = value.data;
  if (!isObject(data) || !isObject(data.payload) || !isStatus(data.payload.status)) return null;
  const fromTopic =
    typeof value.topic === "string" && value.topic.startsWith(TOPIC_PREFIX) ? value.topic.slice(TOPIC_PREFIX.length) : "";
  return {
    event: "STATUS_CHANGED",
    experiment_id: typeof data.entity_id === "string" && data.entity_id ? data.entity_id : fromTopic,
    status: data.payload.status,
    previous_status: isStatus(data.payload.previous_status) ? data.payload.previous_status : null,
    timestamp: typeof data.timestamp === "string" ? data.timestamp : null,
  };
}

/**
 * Validates one already-decoded server message (a WebSocket frame, an SSE data
 * field or a polled HTTP body). Returns null for anything the client does not
 * understand (non-object, unknown event such as "connected" or
 * "subscription_confirmed", malformed payload), so the caller can ignore it.
 * Snapshots come back as validated copies (see parseExperimentSnapshot).
 */
export function parseServerPayload(value: unknown): ServerMessage | null {
  if (!isObject(value)) return null;
  switch (value.event) {
    case "results_update":
      return parseExperimentSnapshot(value);
    case "error":
      if (!isServerError(value)) return null;
      return {
        event: "error",
        code: value.code,
        experiment_id: typeof value.experiment_id === "string" ? value.experiment_id : "",
        message: typeof value.message === "string" && value.message ? value.message : value.code,
      };
    case "pong":
      return { event: "pong" };
    case "STATUS_CHANGED":
      return parseStatusChanged(value);
    case "anomaly":
      return parseAnomaly(value);
    default:
      return null;
  }
}

/** Parses one text frame (JSON); null for non-strings, non-JSON and whatever parseServerPayload rejects. */
export function parseServerMessage(data: unknown): ServerMessage | null {
  if (typeof data !== "string") return null;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  return parseServerPayload(value);
}

/** A polled or fetched results body is a snapshot even when it lacks "event" (plain REST JSON). */
export function withSnapshotEvent(body: unknown): unknown {
  if (typeof body === "object" && body !== null && !Array.isArray(body) && !("event" in body)) {
    return { event: "results_update", ...body };
  }
  return body;
}
