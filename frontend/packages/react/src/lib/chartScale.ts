/** Small helpers for hand-drawn SVG charts: linear scales and axis ticks. Pure functions. */

/** Maps [d0, d1] onto [r0, r1]; a zero-width domain maps to the middle of the range. */
export function linearScale(domain: readonly [number, number], range: readonly [number, number]): (value: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  if (d1 === d0) return () => (r0 + r1) / 2;
  const k = (r1 - r0) / (d1 - d0);
  return (value) => r0 + (value - d0) * k;
}

/** 1, 2 or 5 times a power of ten, the one nearest to `rough` (on a log scale, as d3 does). */
export function niceStep(rough: number): number {
  if (!(rough > 0) || !Number.isFinite(rough)) return 1;
  const power = 10 ** Math.floor(Math.log10(rough));
  const fraction = rough / power;
  const nice = fraction >= Math.sqrt(50) ? 10 : fraction >= Math.sqrt(10) ? 5 : fraction >= Math.sqrt(2) ? 2 : 1;
  return nice * power;
}

/**
 * Round tick values covering [low, high] with about `count` intervals; the first
 * and last tick are the domain to draw (it always contains low and high).
 */
export function niceTicks(low: number, high: number, count = 5): number[] {
  if (!Number.isFinite(low) || !Number.isFinite(high)) return [];
  if (high < low) [low, high] = [high, low];
  if (high === low) return [low];
  const step = niceStep((high - low) / Math.max(1, count));
  const first = Math.floor(low / step + 1e-9) * step;
  const last = Math.ceil(high / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let i = 0; first + i * step <= last + step * 1e-9; i++) {
    // Round away binary noise (0.1 + 0.2) so labels and equality checks stay clean.
    ticks.push(Number((first + i * step).toPrecision(12)));
  }
  return ticks;
}

/** Decimal places that tell ticks `step` apart when shown as percentages (0.05 -> 0, 0.025 -> 1). */
export function percentDigits(step: number): number {
  if (!(step > 0)) return 0;
  const percentStep = step * 100;
  let digits = 0;
  while (digits < 4 && Math.abs(Math.round(percentStep * 10 ** digits) - percentStep * 10 ** digits) > 1e-6) digits++;
  return digits;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Steps a time axis may use, shortest first. */
export const TIME_STEPS_MS = [
  SECOND, 2 * SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND,
  MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
  DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 365 * DAY,
];

export interface TimeTicks {
  ticks: number[];
  stepMs: number;
}

/**
 * Round instants within [start, end] (ms since the epoch) for a time axis: the
 * shortest step from TIME_STEPS_MS giving at most `maxCount` ticks, aligned to
 * whole steps in local time (`offsetMs`: the time zone's offset from UTC, so
 * hourly ticks fall on the hour and daily ones on midnight).
 */
export function niceTimeTicks(start: number, end: number, maxCount = 5, offsetMs = 0): TimeTicks {
  if (!Number.isFinite(start) || !Number.isFinite(end) || end < start) return { ticks: [], stepMs: 0 };
  const span = end - start;
  const stepMs = TIME_STEPS_MS.find((step) => span / step <= Math.max(1, maxCount - 1)) ?? TIME_STEPS_MS[TIME_STEPS_MS.length - 1];
  const ticks: number[] = [];
  const first = Math.ceil((start + offsetMs) / stepMs) * stepMs - offsetMs;
  for (let tick = first; tick <= end; tick += stepMs) ticks.push(tick);
  return { ticks, stepMs };
}
