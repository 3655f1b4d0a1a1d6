/**
 * Data behind the lift chart: the history from GET …/results/history merged
 * with the live snapshots, at most MAX_LIFT_POINTS, and turned into per-variant
 * series with gaps where the lift or its interval is unknown. Pure functions.
 */
import type { HistoryPoint, HistoryVariant } from "@/types/history";
import type { ExperimentSnapshot, Interval } from "@/types/snapshot";
import { isNumber, isObject, toInterval } from "./jsonGuards";
import { parseHistoryMetrics } from "./parseMetrics";

/** Points kept in memory (the server's history holds at most as many). */
export const MAX_LIFT_POINTS = 500;

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
export function parseResultsHistory(body: unknown, cap = MAX_LIFT_POINTS): HistoryPoint[] {
  if (!isObject(body) || !Array.isArray(body.points)) return [];
  const points = body.points.map(parseHistoryPoint).filter((p): p is HistoryPoint => p !== null);
  return mergeLiftPoints([], points, cap);
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
export function mergeLiftPoints(existing: HistoryPoint[], incoming: HistoryPoint[], cap = MAX_LIFT_POINTS): HistoryPoint[] {
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
export function appendSnapshotPoint(points: HistoryPoint[], snapshot: ExperimentSnapshot, cap = MAX_LIFT_POINTS): HistoryPoint[] {
  const last = points[points.length - 1];
  if (last && snapshot.seq <= last.seq) return points;
  return capPoints([...points, pointFromSnapshot(snapshot)], cap);
}

// ------------------------------------------------------------ chart series

export interface LiftValue {
  /** Milliseconds since the epoch. */
  time: number;
  lift: number | null;
  ci: Interval | null;
}

export interface LiftSeries {
  key: string;
  name: string;
  values: LiftValue[];
}

/** The lifts a point holds for `metricKey`, or its conversion lifts (`variants`) when `metricKey` is null. */
function pointLifts(point: HistoryPoint, metricKey: string | null): readonly Pick<HistoryVariant, "key" | "relative_lift" | "lift_ci">[] {
  if (metricKey === null) return point.variants;
  return point.metrics?.find((metric) => metric.key === metricKey)?.variants ?? [];
}

/**
 * One series per treatment (in the order given), one value per point; a point
 * without the variant gives nulls (a gap). With `metricKey`, the lifts of that
 * metric (a point from before the server had metrics gives a gap); without, the
 * conversion lifts.
 */
export function buildLiftSeries(
  points: HistoryPoint[],
  treatments: readonly { key: string; name: string }[],
  metricKey: string | null = null,
): LiftSeries[] {
  return treatments.map(({ key, name }) => ({
    key,
    name,
    values: points.map((point) => {
      const variant = pointLifts(point, metricKey).find((v) => v.key === key);
      return { time: Date.parse(point.timestamp), lift: variant?.relative_lift ?? null, ci: variant?.lift_ci ?? null };
    }),
  }));
}

/** Consecutive runs of items for which `present` holds; the others split the runs (gaps). */
export function splitRuns<T>(items: readonly T[], present: (item: T) => boolean): T[][] {
  const runs: T[][] = [];
  let current: T[] = [];
  for (const item of items) {
    if (present(item)) {
      current.push(item);
    } else if (current.length) {
      runs.push(current);
      current = [];
    }
  }
  if (current.length) runs.push(current);
  return runs;
}

/** Number of points at which at least one series has a lift. */
export function countLiftPoints(series: readonly LiftSeries[]): number {
  const times = new Set<number>();
  series.forEach((s) => s.values.forEach((v, index) => v.lift !== null && times.add(index)));
  return times.size;
}

/** A relative lift can never be below −100 %. */
const MIN_LIFT = -1;
/** Intervals may widen the y range by at most this many times the span of the lifts themselves. */
const CI_REACH = 1.5;
const MIN_SPAN = 0.05;

/**
 * y range [low, high] covering zero and every lift, widened for the intervals
 * but not so far that the wide intervals of the first few hours flatten the lines
 * (bands beyond it are clipped). Null when there is no lift at all.
 */
export function liftDomain(series: readonly LiftSeries[]): [number, number] | null {
  const lifts = series.flatMap((s) => s.values.map((v) => v.lift).filter(isNumber));
  if (lifts.length === 0) return null;
  const liftLow = Math.min(0, ...lifts);
  const liftHigh = Math.max(0, ...lifts);
  const reach = Math.max(liftHigh - liftLow, MIN_SPAN) * CI_REACH;
  const intervals = series.flatMap((s) => s.values.map((v) => v.ci).filter((ci): ci is Interval => ci !== null));
  const ciLow = Math.min(liftLow, ...intervals.map((ci) => ci[0]));
  const ciHigh = Math.max(liftHigh, ...intervals.map((ci) => ci[1]));
  let low = Math.max(ciLow, liftLow - reach, MIN_LIFT);
  let high = Math.min(ciHigh, liftHigh + reach);
  if (high - low < MIN_SPAN) {
    const middle = (high + low) / 2;
    low = Math.max(middle - MIN_SPAN / 2, MIN_LIFT);
    high = low + MIN_SPAN;
  }
  return [low, high];
}
