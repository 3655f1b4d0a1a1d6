import type { Breakdown, BreakdownValue } from "../types/breakdown";
import type { VariantResult } from "../types/snapshot";
import { isNumber, isObject } from "./jsonGuards";
import { parseMetrics } from "./parseMetrics";
import { parseVariantResult } from "./parseServerMessage";

function parseValue(value: unknown): BreakdownValue | null {
  if (!isObject(value) || typeof value.value !== "string" || !isNumber(value.users) || !Array.isArray(value.variants)) {
    return null;
  }
  const variants = value.variants.map(parseVariantResult);
  if (variants.some((v) => v === null)) return null;
  return { value: value.value, users: value.users, variants: variants as VariantResult[], metrics: parseMetrics(value.metrics) ?? [] };
}

/** A breakdown from the server, validated; null when it is not one. */
export function parseBreakdown(body: unknown): Breakdown | null {
  if (!isObject(body) || body.event !== "breakdown" || !Array.isArray(body.values)) return null;
  if (typeof body.experiment_id !== "string" || typeof body.dimension !== "string" || !isNumber(body.seq)) return null;
  const values = body.values.map(parseValue);
  if (values.some((v) => v === null)) return null;
  return {
    event: "breakdown",
    experiment_id: body.experiment_id,
    dimension: body.dimension,
    seq: body.seq,
    timestamp: typeof body.timestamp === "string" ? body.timestamp : "",
    note: typeof body.note === "string" ? body.note : "",
    values: values as BreakdownValue[],
  };
}
