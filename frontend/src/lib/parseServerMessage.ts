import type { ServerErrorMessage, ServerMessage } from "@/types/messages";
import { EXPERIMENT_STATUSES, type ExperimentSnapshot, type VariantResult } from "@/types/snapshot";

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function isNumberOrNull(value: unknown): value is number | null {
  return value === null || isNumber(value);
}

export function isVariantResult(value: unknown): value is VariantResult {
  return (
    isObject(value) &&
    typeof value.key === "string" &&
    typeof value.name === "string" &&
    isNumber(value.participant_count) &&
    isNumber(value.conversion_count) &&
    isNumber(value.conversion_rate) &&
    isNumberOrNull(value.relative_lift) &&
    isNumberOrNull(value.p_value) &&
    typeof value.is_control === "boolean"
  );
}

export function isExperimentSnapshot(value: unknown): value is ExperimentSnapshot {
  return (
    isObject(value) &&
    value.event === "results_update" &&
    typeof value.experiment_id === "string" &&
    typeof value.timestamp === "string" &&
    (EXPERIMENT_STATUSES as readonly unknown[]).includes(value.status) &&
    Array.isArray(value.variants) &&
    value.variants.every(isVariantResult) &&
    isNumber(value.total_participants) &&
    isNumber(value.days_running) &&
    typeof value.is_significant === "boolean" &&
    isNumber(value.seq)
  );
}

function isServerError(value: Json): value is Json & ServerErrorMessage {
  return value.event === "error" && typeof value.code === "string";
}

/**
 * Parses one WebSocket frame. Returns null for anything the client does not
 * understand (non-JSON, non-object, unknown event, malformed payload), so the
 * caller can ignore it without touching its state.
 */
export function parseServerMessage(data: unknown): ServerMessage | null {
  if (typeof data !== "string") return null;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isObject(value)) return null;
  switch (value.event) {
    case "results_update":
      return isExperimentSnapshot(value) ? value : null;
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
    default:
      return null;
  }
}
