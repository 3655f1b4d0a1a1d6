/** Reconnect policy for the live results WebSocket. */

export const DEFAULT_MAX_RECONNECT_ATTEMPTS = 5;
export const DEFAULT_INITIAL_BACKOFF_MS = 1_000;
export const DEFAULT_MAX_BACKOFF_MS = 30_000;
export const BACKOFF_MULTIPLIER = 2;
/** Up to this fraction of the delay is added at random, so clients do not reconnect in lockstep. */
export const BACKOFF_JITTER_RATIO = 0.2;

export interface BackoffOptions {
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  jitter?: boolean;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

/**
 * Delay before reconnect attempt `attempt` (1-based): initial * 2^(attempt-1),
 * capped at maxBackoffMs, plus optional jitter (the result never exceeds the cap).
 */
export function computeBackoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const {
    initialBackoffMs = DEFAULT_INITIAL_BACKOFF_MS,
    maxBackoffMs = DEFAULT_MAX_BACKOFF_MS,
    jitter = true,
    random = Math.random,
  } = options;
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  const base = Math.min(initialBackoffMs * BACKOFF_MULTIPLIER ** exponent, maxBackoffMs);
  const withJitter = jitter ? base + base * BACKOFF_JITTER_RATIO * random() : base;
  return Math.round(Math.min(withJitter, maxBackoffMs));
}

/** Whole seconds left until `deadlineMs` (rounded up, never negative). */
export function secondsUntil(deadlineMs: number, nowMs: number = Date.now()): number {
  return Math.max(0, Math.ceil((deadlineMs - nowMs) / 1000));
}
