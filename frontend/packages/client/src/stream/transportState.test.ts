import { describe, expect, it } from "vitest";
import {
  DEFAULT_WS_PROBE_INTERVAL_MS,
  POLL_INTERVAL_MS,
  POLL_WAIT_SECONDS,
  SSE_MAX_CONSECUTIVE_ERRORS,
  describeTransport,
  isFallback,
  nextFallback,
} from "./transportState";

describe("transport state", () => {
  it("falls back from WebSocket to SSE to polling, and straight to polling without EventSource", () => {
    expect(nextFallback("websocket", true)).toBe("sse");
    expect(nextFallback("websocket", false)).toBe("polling");
    expect(nextFallback("sse", true)).toBe("polling");
    expect(nextFallback("polling", true)).toBeNull();
  });

  it("probes the WebSocket every minute and long-polls 25 s with 10 s between polls", () => {
    expect(DEFAULT_WS_PROBE_INTERVAL_MS).toBe(60_000);
    expect(POLL_INTERVAL_MS).toBe(10_000);
    expect(POLL_WAIT_SECONDS).toBe(25);
    expect(SSE_MAX_CONSECUTIVE_ERRORS).toBeGreaterThan(1);
  });

  it("describes each transport in words and knows which are fallbacks", () => {
    expect(describeTransport("websocket")).toBe("via WebSocket");
    expect(describeTransport("sse")).toBe("via Server-Sent Events (fallback)");
    expect(describeTransport("polling")).toBe("via polling every 10 s (fallback)");
    expect([isFallback("websocket"), isFallback("sse"), isFallback("polling"), isFallback(null)]).toEqual([
      false,
      true,
      true,
      false,
    ]);
  });
});
