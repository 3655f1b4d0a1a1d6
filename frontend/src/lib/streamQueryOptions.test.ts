import { describe, expect, it } from "vitest";
import { streamOptionsFromSearch } from "./streamQueryOptions";

describe("streamOptionsFromSearch", () => {
  it("turns reconnectAttempts, backoffMs and probeMs into hook options", () => {
    expect(streamOptionsFromSearch("?reconnectAttempts=1&backoffMs=200&probeMs=5000&tab=x")).toEqual({
      maxReconnectAttempts: 1,
      initialBackoffMs: 200,
      wsProbeIntervalMs: 5000,
    });
  });

  it("ignores missing, malformed and out-of-range values", () => {
    expect(streamOptionsFromSearch("")).toEqual({});
    expect(streamOptionsFromSearch("?reconnectAttempts=-1&backoffMs=abc&probeMs=10")).toEqual({});
    expect(streamOptionsFromSearch("?reconnectAttempts=0&backoffMs=1.5")).toEqual({ maxReconnectAttempts: 0 });
  });
});
