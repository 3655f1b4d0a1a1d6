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
  const text = new Intl.NumberFormat(LOCALE, {
    minimumFractionDigits: fractionDigits,
    maximumFractionDigits: fractionDigits,
  }).format(Math.abs(fraction) * 100);
  const isZero = Number(text.replace(/,/g, "")) === 0;
  return `${fraction < 0 && !isZero ? MINUS_SIGN : ""}${text}%`;
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
