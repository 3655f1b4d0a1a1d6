/** Number and date formatting for people. Output is locale-fixed (en-US) so it is stable. */

export const EMPTY_VALUE = "—";
/** Typographic minus sign, used for negative lifts. */
export const MINUS_SIGN = "\u2212";
export const P_VALUE_FLOOR = 0.001;

const LOCALE = "en-US";

function isNumber(value: number | null | undefined): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** 1234567 -> "1,234,567". */
export function formatInteger(value: number | null | undefined): string {
  if (!isNumber(value)) return EMPTY_VALUE;
  return new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 }).format(value);
}

/** Fraction to percent: 0.1234 -> "12.34%". */
export function formatPercent(fraction: number | null | undefined, fractionDigits = 2): string {
  if (!isNumber(fraction)) return EMPTY_VALUE;
  return `${formatDecimal(fraction * 100, fractionDigits)}%`;
}

/** Number with fixed decimals and thousands separators: 1234.5 -> "1,234.50", -0.5 -> "−0.50", null -> "—". */
export function formatDecimal(value: number | null | undefined, fractionDigits = 2): string {
  if (!isNumber(value)) return EMPTY_VALUE;
  const text = new Intl.NumberFormat(LOCALE, {
    minimumFractionDigits: fractionDigits,
    maximumFractionDigits: fractionDigits,
  }).format(Math.abs(value));
  const isZero = Number(text.replace(/,/g, "")) === 0;
  return `${value < 0 && !isZero ? MINUS_SIGN : ""}${text}`;
}

/** Relative lift with sign: 0.3 -> "+30.0%", -0.052 -> "−5.2%", null -> "—". */
export function formatLift(fraction: number | null | undefined, fractionDigits = 1): string {
  if (!isNumber(fraction)) return EMPTY_VALUE;
  const magnitude = formatPercent(Math.abs(fraction), fractionDigits);
  if (Number(magnitude.replace(/[,%]/g, "")) === 0) return magnitude;
  return `${fraction > 0 ? "+" : MINUS_SIGN}${magnitude}`;
}

/** 0.0312 -> "0.031", 0.0004 -> "<0.001", null -> "—". */
export function formatPValue(pValue: number | null | undefined): string {
  if (!isNumber(pValue)) return EMPTY_VALUE;
  if (pValue < P_VALUE_FLOOR) return `<${P_VALUE_FLOOR.toFixed(3)}`;
  return Math.min(pValue, 1).toFixed(3);
}

/** p-value as a relation for running text: 0.0213 -> "p = 0.021", 0.00001 -> "p < 0.001", null -> "—". */
export function formatPValueRelation(pValue: number | null | undefined): string {
  if (!isNumber(pValue)) return EMPTY_VALUE;
  const text = formatPValue(pValue);
  return text.startsWith("<") ? `p < ${text.slice(1)}` : `p = ${text}`;
}

/**
 * The bounds of a lift interval as the two halves a line may break between:
 * [-7.018, 7.918] -> ["−701.8% …", "+791.8%"] (joined with a space they read as
 * formatLiftInterval's text), null when there is no interval.
 */
export function formatLiftIntervalLines(
  interval: readonly [number, number] | null | undefined,
  fractionDigits = 1,
): [string, string] | null {
  if (!interval || !isNumber(interval[0]) || !isNumber(interval[1])) return null;
  return [`${formatLift(interval[0], fractionDigits)} \u2026`, formatLift(interval[1], fractionDigits)];
}

/** Interval of relative lift: [-0.021, 0.31] -> "−2.1% … +31.0%", null -> "—". */
export function formatLiftInterval(interval: readonly [number, number] | null | undefined, fractionDigits = 1): string {
  const lines = formatLiftIntervalLines(interval, fractionDigits);
  return lines ? lines.join(" ") : EMPTY_VALUE;
}

/** Lowest/highest chance shown as a number; beyond them "<0.1%" / ">99.9%" (a rounded 0% or 100% would overstate certainty). */
const CHANCE_FLOOR = 0.0005;
const CHANCE_CEILING = 0.9995;

/** Probability as a percentage with one decimal: 0.873 -> "87.3%", 0.99995 -> ">99.9%", null -> "—". */
export function formatChance(probability: number | null | undefined): string {
  if (!isNumber(probability)) return EMPTY_VALUE;
  if (probability >= CHANCE_CEILING) return ">99.9%";
  if (probability < CHANCE_FLOOR) return "<0.1%";
  return formatPercent(probability, 1);
}

/** Confidence level of a significance level: 0.05 -> "95%", 0.025 -> "97.5%", null -> "—". */
export function formatConfidenceLevel(alpha: number | null | undefined): string {
  if (!isNumber(alpha) || alpha <= 0 || alpha >= 1) return EMPTY_VALUE;
  return `${new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 2 }).format((1 - alpha) * 100)}%`;
}

/** 1 -> "1 day", 7 -> "7 days". */
export function formatDays(days: number | null | undefined): string {
  if (!isNumber(days)) return EMPTY_VALUE;
  const whole = Math.floor(days);
  return `${formatInteger(whole)} ${whole === 1 ? "day" : "days"}`;
}

function parseDate(iso: string | null | undefined): Date | null {
  if (!iso) return null;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** ISO timestamp -> "14:03:25" (24 h, viewer's time zone unless given). */
export function formatTime(iso: string | null | undefined, timeZone?: string): string {
  const date = parseDate(iso);
  if (!date) return EMPTY_VALUE;
  return new Intl.DateTimeFormat(LOCALE, {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
    timeZone,
  }).format(date);
}

/** ISO timestamp -> "May 1, 2024". */
export function formatDate(iso: string | null | undefined, timeZone?: string): string {
  const date = parseDate(iso);
  if (!date) return EMPTY_VALUE;
  return new Intl.DateTimeFormat(LOCALE, { year: "numeric", month: "short", day: "numeric", timeZone }).format(date);
}

/** ISO timestamp -> "May 1, 2024, 14:03" for tooltips and details. */
export function formatDateTime(iso: string | null | undefined, timeZone?: string): string {
  const date = parseDate(iso);
  if (!date) return EMPTY_VALUE;
  return new Intl.DateTimeFormat(LOCALE, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZone,
  }).format(date);
}

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/**
 * Time-axis label for an instant (ms since the epoch), as precise as the tick
 * step: "14:03:25" for steps under a minute, "14:05" under a day, "May 1" for
 * day steps; "May 1, 14:00" when hourly ticks span more than a day.
 */
export function formatTimeTick(epochMs: number, stepMs: number, spanMs: number, timeZone?: string): string {
  if (!isNumber(epochMs)) return EMPTY_VALUE;
  const date = new Date(epochMs);
  const dayPart = { month: "short", day: "numeric" } as const;
  const clockPart = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" } as const;
  if (stepMs >= DAY_MS) return new Intl.DateTimeFormat(LOCALE, { ...dayPart, timeZone }).format(date);
  if (stepMs < MINUTE_MS) {
    return new Intl.DateTimeFormat(LOCALE, { ...clockPart, second: "2-digit", timeZone }).format(date);
  }
  if (spanMs > DAY_MS) return new Intl.DateTimeFormat(LOCALE, { ...dayPart, ...clockPart, timeZone }).format(date);
  return new Intl.DateTimeFormat(LOCALE, { ...clockPart, timeZone }).format(date);
}

/** Offset of `timeZone` (default: the viewer's) from UTC at an instant, in ms (e.g. +7,200,000 for CEST). */
export function timeZoneOffsetMs(epochMs: number, timeZone?: string): number {
  if (!isNumber(epochMs)) return 0;
  const parts = new Intl.DateTimeFormat(LOCALE, {
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
    hourCycle: "h23",
    timeZone,
  }).formatToParts(new Date(epochMs));
  const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return asUtc - Math.floor(epochMs / 1000) * 1000;
}
