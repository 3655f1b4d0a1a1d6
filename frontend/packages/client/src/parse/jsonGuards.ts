/** Type guards for decoded JSON from the server: every parser validates with these. */
import type { Interval } from "../types/snapshot";

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

export function isNumberOrNull(value: unknown): value is number | null {
  return value === null || isNumber(value);
}

export const isBoolean = (value: unknown): value is boolean => typeof value === "boolean";

export const isString = (value: unknown): value is string => typeof value === "string";

/** [low, high] with finite numbers and low <= high. */
export function isInterval(value: unknown): value is Interval {
  return Array.isArray(value) && value.length === 2 && isNumber(value[0]) && isNumber(value[1]) && value[0] <= value[1];
}

export function isIntervalOrNull(value: unknown): value is Interval | null {
  return value === null || isInterval(value);
}

export function isOneOf<T extends string>(options: readonly T[], value: unknown): value is T {
  return (options as readonly unknown[]).includes(value);
}

/** A copy of `value` when it is an interval, else null. */
export function toInterval(value: unknown): Interval | null {
  return isInterval(value) ? [value[0], value[1]] : null;
}

/** `value` when it is a finite number, else null. */
export function toNumberOrNull(value: unknown): number | null {
  return isNumber(value) ? value : null;
}

/** `{ [key]: value }` when `value` passes `check`, else `{}`: spread it to keep only valid optional fields. */
export function optional<K extends string, T>(key: K, value: unknown, check: (v: unknown) => v is T): { [P in K]?: T } {
  return (check(value) ? { [key]: value } : {}) as { [P in K]?: T };
}
