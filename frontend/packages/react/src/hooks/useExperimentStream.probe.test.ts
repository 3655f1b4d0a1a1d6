import { act } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import {
  FAILED_CONNECTION_MS,
  MOCK_DELAY_MS,
  OPTIONS,
  RESULTS_PATH,
  TOKEN,
  WS_URL,
  advance,
  http,
  onPolling,
  onSse,
  setUpFallbackTests,
  settle,
  wsServer,
} from "@test-support/fallbackHarness";
import { openEventSources } from "@test-support/fakeEventSource";
import { createdSockets, makeSnapshot } from "@test-support/mockWebSocket";

// Back from SSE or polling to the WebSocket (probes), refresh on a fallback, and cleanup.

setUpFallbackTests();

describe("useExperimentStream fallbacks, back to the WebSocket", () => {
  describe("returning to the WebSocket", () => {
    it("probes the WebSocket every 60 s while on SSE, without since_seq, until one gets through", async () => {
      const { result, source } = await onSse(4);
      const sockets = createdSockets.length;
      await advance(59_999);
      expect(createdSockets).toHaveLength(sockets);
      await advance(1);
      expect(createdSockets).toHaveLength(sockets + 1);
      expect(createdSockets.at(-1)?.url).toBe(`${WS_URL}?token=${TOKEN}`);
      await advance(FAILED_CONNECTION_MS);
      expect(result.current.transport).toBe("sse"); // the probe was dropped
      expect(source.closed).toBe(false);
      await advance(60_000);
      expect(createdSockets).toHaveLength(sockets + 2);
    });

    it("switches back to the WebSocket when a probe delivers its first snapshot, closing SSE and keeping the last seq", async () => {
      const { result, source } = await onSse(4);
      wsServer.state.mode = "snapshot";
      wsServer.state.snapshot = makeSnapshot({ seq: 6, total_participants: 66 });
      await advance(60_000 + MOCK_DELAY_MS);

      expect(result.current.transport).toBe("websocket");
      expect(result.current.status).toBe("connected");
      expect(result.current.attempt).toBe(0);
      expect(result.current.snapshot?.total_participants).toBe(66);
      expect(source.closed).toBe(true);
      expect(openEventSources()).toHaveLength(0);

      act(() => wsServer.send(makeSnapshot({ seq: 5 })));
      expect(result.current.snapshot?.seq).toBe(6);

      // The promoted socket is a normal one: a drop reconnects with since_seq.
      wsServer.state.mode = "drop";
      wsServer.server.clients().forEach((client) => client.close({ code: 1001, reason: "", wasClean: true }));
      await advance(MOCK_DELAY_MS);
      expect(result.current.attempt).toBe(1);
      await advance(1000);
      expect(createdSockets.at(-1)?.url).toBe(`${WS_URL}?token=${TOKEN}&since_seq=6`);
    });

    it("stops polling when a probe WebSocket takes over", async () => {
      const { result } = await onPolling(4);
      wsServer.state.mode = "snapshot";
      wsServer.state.snapshot = makeSnapshot({ seq: 4 });
      // Poll 2 starts at 10 s and hangs until the client aborts it at 45 s; poll 3 starts at 55 s.
      await advance(55_000);
      expect(http.requests).toHaveLength(3);
      const inFlight = http.last();
      expect(inFlight.signal?.aborted).toBe(false);
      await advance(5_000 + MOCK_DELAY_MS); // the probe at 60 s delivers
      expect(result.current.transport).toBe("websocket");
      expect(inFlight.signal?.aborted).toBe(true);
      const polls = http.requests.length;
      await advance(60_000);
      expect(http.requests).toHaveLength(polls);
    });

    it("closes a probe that opens but delivers nothing, and probes again a minute later", async () => {
      await onSse(4);
      wsServer.state.mode = "silent";
      const sockets = createdSockets.length;
      await advance(60_000 + MOCK_DELAY_MS);
      const probe = createdSockets.at(-1)!;
      expect(createdSockets).toHaveLength(sockets + 1);
      await advance(15_000);
      expect(probe.readyState).toBeGreaterThanOrEqual(WebSocket.CLOSING);
      await advance(60_000);
      expect(createdSockets).toHaveLength(sockets + 2);
    });

    it("probes at the wsProbeIntervalMs option's interval", async () => {
      await onSse(4, { ...OPTIONS, wsProbeIntervalMs: 5_000 });
      const sockets = createdSockets.length;
      await advance(5_000);
      expect(createdSockets).toHaveLength(sockets + 1);
    });

    it("never probes when wsProbeIntervalMs is 0", async () => {
      await onSse(4, { ...OPTIONS, wsProbeIntervalMs: 0 });
      const sockets = createdSockets.length;
      await advance(600_000);
      expect(createdSockets).toHaveLength(sockets);
    });
  });

  describe("refresh on a fallback", () => {
    it("fetches the current snapshot once over HTTP", async () => {
      const { result, source } = await onSse(4);
      let sent = false;
      act(() => {
        sent = result.current.refresh();
      });
      expect(sent).toBe(true);
      expect(http.last().url).toBe(RESULTS_PATH);
      act(() => http.last().respond(200, makeSnapshot({ seq: 4, timestamp: "2024-05-01T12:09:00+00:00" })));
      await settle();
      expect(result.current.snapshot?.timestamp).toBe("2024-05-01T12:09:00+00:00");
      expect(source.closed).toBe(false);
    });
  });

  describe("cleanup", () => {
    it("closes the EventSource and the probe and clears every timer on unmount while on SSE", async () => {
      const { unmount } = await onSse(4);
      wsServer.state.mode = "silent";
      await advance(60_000 + MOCK_DELAY_MS); // a probe is open, waiting for its first snapshot
      unmount();
      expect(openEventSources()).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(MOCK_DELAY_MS); // let mock-socket deliver its close
      expect(vi.getTimerCount()).toBe(0);
      expect(createdSockets.every((s) => s.readyState === WebSocket.CLOSED)).toBe(true);
    });

    it("aborts the poll in flight and clears every timer on unmount while polling", async () => {
      const { unmount } = await onPolling(4);
      await advance(10_000);
      const inFlight = http.last();
      unmount();
      expect(inFlight.signal?.aborted).toBe(true);
      expect(vi.getTimerCount()).toBe(0);
      expect(openEventSources()).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(120_000);
      expect(http.requests).toHaveLength(2);
    });

    it("stops SSE, polling and probes when the experiment id changes", async () => {
      const { rerender, source } = await onSse(4);
      rerender({ id: "exp-2", options: OPTIONS });
      expect(source.closed).toBe(true);
      expect(createdSockets.at(-1)?.url).toBe(`ws://localhost:3000/api/v1/ws/experiments/exp-2/results?token=${TOKEN}`);
    });

    it("stops everything on disconnect() and reconnects over WebSocket on reconnect()", async () => {
      const { result } = await onPolling(4);
      await advance(10_000);
      act(() => result.current.disconnect());
      expect(result.current.status).toBe("disconnected");
      expect(result.current.transport).toBeNull();
      expect(http.last().signal?.aborted).toBe(true);
      expect(vi.getTimerCount()).toBe(0);

      const sockets = createdSockets.length;
      act(() => result.current.reconnect());
      expect(result.current.transport).toBe("websocket");
      expect(createdSockets).toHaveLength(sockets + 1);
      expect(createdSockets.at(-1)?.url).toBe(`${WS_URL}?token=${TOKEN}&since_seq=4`);
    });
  });
});
