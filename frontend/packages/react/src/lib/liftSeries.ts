/**
 * Data behind the lift chart: history points (@expstream/client's parseResultsHistory and
 * appendSnapshotPoint) turned into per-variant series with gaps where the lift or its interval is
 * unknown, and the y range to draw. Pure functions.
 */
import type { HistoryPoint, HistoryVariant, Interval } from "@expstream/client";

const isNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

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
