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

export interface ReconnectOptions extends Omit<BackoffOptions, "random"> {
  /** Reconnects tried before giving up on the WebSocket. Default DEFAULT_MAX_RECONNECT_ATTEMPTS. */
  maxReconnectAttempts?: number;
}

/** After reconnect `attempt` failed: the next one and its delay, or giving up with the words to show. */
export type ReconnectPlan = { retry: true; attempt: number; delayMs: number } | { retry: false; message: string };

export function planReconnect(attempt: number, options: ReconnectOptions = {}): ReconnectPlan {
  const maxAttempts = options.maxReconnectAttempts ?? DEFAULT_MAX_RECONNECT_ATTEMPTS;
  const next = attempt + 1;
  if (next > maxAttempts) {
    const plural = maxAttempts === 1 ? "attempt" : "attempts";
    return {
      retry: false,
      message:
        maxAttempts > 0
          ? `Lost connection to the live results. Gave up after ${maxAttempts} reconnect ${plural}.`
          : "Lost connection to the live results.",
    };
  }
  return { retry: true, attempt: next, delayMs: computeBackoffDelay(next, options) };
}

const COUNTDOWN_TICK_MS = 1_000;

/**
 * Waits `delayMs`, then calls `onDue`; meanwhile `onTick` gets the whole seconds left, at once
 * and then every second. Returns the cancel function (no call follows it).
 */
export function startCountdown(delayMs: number, onTick: (seconds: number) => void, onDue: () => void): () => void {
  const deadline = Date.now() + delayMs;
  onTick(secondsUntil(deadline));
  const countdown = setInterval(() => onTick(secondsUntil(deadline)), COUNTDOWN_TICK_MS);
  const due = setTimeout(() => {
    clearInterval(countdown);
    onDue();
  }, delayMs);
  return () => {
    clearInterval(countdown);
    clearTimeout(due);
  };
}
