// @vitest-environment node
// The framework-free stream as Node runs it: no WebSocket or EventSource of its own.
import { Server, WebSocket as MockWebSocket } from "mock-socket";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { stubDeferredFetch } from "@test-support/deferredFetch";
import { makeSnapshot } from "@test-support/mockWebSocket";
import type { WebSocketConstructor } from "./types";
import { watchExperiment } from "./watch";

const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.clearAllTimers();
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("watchExperiment", () => {
  it("streams by long polling without WebSocket and EventSource (Node 20), with the base URL and token", async () => {
    vi.stubGlobal("WebSocket", undefined);
    vi.stubGlobal("EventSource", undefined);
    const http = stubDeferredFetch();
    const onChange = vi.fn();
    const watch = watchExperiment("exp-1", { baseUrl: "http://expstream.test:8000/", token: () => "t", onChange });
    expect(watch.state).toMatchObject({ status: "connecting", transport: "polling", snapshot: null });
    expect(http.last().url).toBe("http://expstream.test:8000/api/v1/experiments/exp-1/results");
    expect(http.last().headers.authorization).toBe("Bearer t");

    http.last().respond(200, makeSnapshot({ seq: 3 }));
    await settle();
    expect(watch.state).toMatchObject({ status: "connected", transport: "polling", error: null });
    expect(watch.state.snapshot?.seq).toBe(3);
    expect(onChange).toHaveBeenLastCalledWith(watch.state);

    await vi.advanceTimersByTimeAsync(10_000);
    expect(http.last().url).toBe("http://expstream.test:8000/api/v1/experiments/exp-1/results?after_seq=3&wait=25");
    watch.close();
    expect(http.last().signal?.aborted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("uses the WebSocket implementation it is given, at the base URL's host", async () => {
    const server = new Server("ws://expstream.test:8000/api/v1/ws/experiments/exp-1/results", { mock: false });
    server.on("connection", (socket) => socket.send(JSON.stringify(makeSnapshot({ seq: 5 }))));
    const urls: string[] = [];
    class Recording extends MockWebSocket {
      constructor(url: string) {
        super(url);
        urls.push(url);
      }
    }
    try {
      const watch = watchExperiment("exp-1", {
        baseUrl: "http://expstream.test:8000",
        token: "t",
        WebSocket: Recording as unknown as WebSocketConstructor,
      });
      await vi.advanceTimersByTimeAsync(10);
      expect(urls).toEqual(["ws://expstream.test:8000/api/v1/ws/experiments/exp-1/results?token=t"]);
      expect(watch.state).toMatchObject({ status: "connected", transport: "websocket" });
      expect(watch.state.snapshot?.seq).toBe(5);
      watch.close();
      await vi.advanceTimersByTimeAsync(4); // let mock-socket deliver its own close
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      server.stop();
    }
  });
});
