/**
 * The results history (GET …/results/history) and live snapshots as one list of points for
 * charts: parsed, merged by seq, at most MAX_HISTORY_POINTS. Pure functions.
 */
import type { HistoryPoint, HistoryVariant } from "../types/history";
import type { ExperimentSnapshot } from "../types/snapshot";
import { isNumber, isObject, toInterval } from "./jsonGuards";
import { parseHistoryMetrics } from "./parseMetrics";

/** Points kept in memory (the server's history holds at most as many). */
export const MAX_HISTORY_POINTS = 500;

function parseHistoryVariant(value: unknown): HistoryVariant | null {
  if (!isObject(value) || typeof value.key !== "string") return null;
  return {
    key: value.key,
    ...(isNumber(value.participant_count) ? { participant_count: value.participant_count } : {}),
    ...(isNumber(value.conversion_count) ? { conversion_count: value.conversion_count } : {}),
    relative_lift: isNumber(value.relative_lift) ? value.relative_lift : null,
    lift_ci: toInterval(value.lift_ci),
  };
}

function parseHistoryPoint(value: unknown): HistoryPoint | null {
  if (!isObject(value) || !isNumber(value.seq) || typeof value.timestamp !== "string") return null;
  if (!Number.isFinite(Date.parse(value.timestamp)) || !Array.isArray(value.variants)) return null;
  const variants = value.variants.map(parseHistoryVariant).filter((v): v is HistoryVariant => v !== null);
  const metrics = parseHistoryMetrics(value.metrics);
  return { seq: value.seq, timestamp: value.timestamp, variants, ...(metrics ? { metrics } : {}) };
}

/**
 * The points of a history response, oldest first, one per seq, at most `cap`
 * (the newest). Malformed points are skipped; a body that is not a history gives [].
 */
export function parseResultsHistory(body: unknown, cap = MAX_HISTORY_POINTS): HistoryPoint[] {
  if (!isObject(body) || !Array.isArray(body.points)) return [];
  const points = body.points.map(parseHistoryPoint).filter((p): p is HistoryPoint => p !== null);
  return mergeHistoryPoints([], points, cap);
}

/** A live snapshot as a history point. */
export function pointFromSnapshot(snapshot: ExperimentSnapshot): HistoryPoint {
  return {
    seq: snapshot.seq,
    timestamp: snapshot.timestamp,
    variants: snapshot.variants.map((variant) => ({
      key: variant.key,
      participant_count: variant.participant_count,
      conversion_count: variant.conversion_count,
      relative_lift: variant.relative_lift,
      lift_ci: variant.lift_ci ?? null,
    })),
    ...(snapshot.metrics
      ? {
          metrics: snapshot.metrics.map((metric) => ({
            key: metric.key,
            variants: metric.variants.map((v) => ({ key: v.key, relative_lift: v.relative_lift, lift_ci: v.lift_ci })),
          })),
        }
      : {}),
  };
}

function capPoints(points: HistoryPoint[], cap: number): HistoryPoint[] {
  return points.length > cap ? points.slice(points.length - cap) : points;
}

/**
 * Union of two point lists by seq, oldest first, the newest `cap` kept. For a
 * seq in both, `existing` wins. Returns `existing` itself when nothing changes,
 * so React state stays put.
 */
export function mergeHistoryPoints(existing: HistoryPoint[], incoming: HistoryPoint[], cap = MAX_HISTORY_POINTS): HistoryPoint[] {
  const bySeq = new Map<number, HistoryPoint>();
  for (const point of incoming) bySeq.set(point.seq, point);
  for (const point of existing) bySeq.set(point.seq, point);
  if (bySeq.size === existing.length && existing.length <= cap) return existing;
  const merged = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  return capPoints(merged, cap);
}

/**
 * Appends a live snapshot when its seq is newer than the last point (older or
 * equal seqs — a periodic refresh or a replay — are ignored and `points` is
 * returned as is), dropping the oldest beyond `cap`.
 */
export function appendSnapshotPoint(points: HistoryPoint[], snapshot: ExperimentSnapshot, cap = MAX_HISTORY_POINTS): HistoryPoint[] {
  const last = points[points.length - 1];
  if (last && snapshot.seq <= last.seq) return points;
  return capPoints([...points, pointFromSnapshot(snapshot)], cap);
}
