import { describe, expect, it } from "vitest";
import {
  BACKOFF_JITTER_RATIO,
  DEFAULT_INITIAL_BACKOFF_MS,
  DEFAULT_MAX_BACKOFF_MS,
  DEFAULT_MAX_RECONNECT_ATTEMPTS,
  computeBackoffDelay,
  planReconnect,
  secondsUntil,
} from "./backoff";

describe("reconnect policy constants", () => {
  it("default to 5 attempts starting at 1 s and capped at 30 s", () => {
    expect(DEFAULT_MAX_RECONNECT_ATTEMPTS).toBe(5);
    expect(DEFAULT_INITIAL_BACKOFF_MS).toBe(1000);
    expect(DEFAULT_MAX_BACKOFF_MS).toBe(30_000);
  });
});

describe("computeBackoffDelay", () => {
  it("doubles from 1 s for each attempt without jitter", () => {
    expect([1, 2, 3, 4, 5].map((n) => computeBackoffDelay(n, { jitter: false }))).toEqual([
      1000, 2000, 4000, 8000, 16000,
    ]);
  });

  it("never exceeds maxBackoffMs", () => {
    expect(computeBackoffDelay(6, { jitter: false })).toBe(30_000);
    expect(computeBackoffDelay(20, { jitter: false })).toBe(30_000);
    expect(computeBackoffDelay(3, { jitter: false, initialBackoffMs: 500, maxBackoffMs: 1500 })).toBe(1500);
  });

  it("adds at most the jitter ratio on top of the delay", () => {
    expect(computeBackoffDelay(2, { random: () => 0 })).toBe(2000);
    expect(computeBackoffDelay(2, { random: () => 0.999999 })).toBe(Math.round(2000 * (1 + BACKOFF_JITTER_RATIO)));
  });

  it("keeps jittered delays within the cap", () => {
    expect(computeBackoffDelay(10, { random: () => 0.99 })).toBe(30_000);
  });

  it("treats attempts below 1 as the first attempt", () => {
    expect(computeBackoffDelay(0, { jitter: false })).toBe(1000);
  });
});

describe("secondsUntil", () => {
  it("rounds the remaining time up to whole seconds and never goes below zero", () => {
    expect(secondsUntil(5000, 0)).toBe(5);
    expect(secondsUntil(5000, 1)).toBe(5);
    expect(secondsUntil(5000, 4001)).toBe(1);
    expect(secondsUntil(5000, 5000)).toBe(0);
    expect(secondsUntil(5000, 9000)).toBe(0);
  });
});

describe("planReconnect", () => {
  it("retries with the next attempt's delay until the attempts are used up, then gives up in words", () => {
    expect(planReconnect(0, { jitter: false })).toEqual({ retry: true, attempt: 1, delayMs: 1000 });
    expect(planReconnect(3, { jitter: false, initialBackoffMs: 200 })).toEqual({ retry: true, attempt: 4, delayMs: 1600 });
    expect(planReconnect(5)).toEqual({ retry: false, message: "Lost connection to the live results. Gave up after 5 reconnect attempts." });
    expect(planReconnect(1, { maxReconnectAttempts: 1 })).toEqual({
      retry: false,
      message: "Lost connection to the live results. Gave up after 1 reconnect attempt.",
    });
    expect(planReconnect(0, { maxReconnectAttempts: 0 })).toEqual({ retry: false, message: "Lost connection to the live results." });
  });
});
