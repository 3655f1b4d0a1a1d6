import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createdSockets, installMockWebSocket, makeSnapshot, startMockServer } from "@/test/mockWebSocket";
import { useExperimentStream, type UseExperimentStreamOptions } from "./useExperimentStream";

// jsdom's page is http://localhost:3000/, so the default URL uses ws://localhost:3000.
const urlFor = (id: string) => `ws://localhost:3000/api/v1/ws/experiments/${id}/results`;
const URL_1 = urlFor("exp-1");
const URL_2 = urlFor("exp-2");

/** mock-socket delivers open/close/client→server frames after a 4 ms timer. */
const MOCK_DELAY_MS = 4;

async function advance(ms: number): Promise<void> {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
  });
}

const flush = () => advance(MOCK_DELAY_MS);

const TEST_OPTIONS: UseExperimentStreamOptions = { jitter: false };

function renderStream(id: string | null = "exp-1", options: UseExperimentStreamOptions = TEST_OPTIONS) {
  return renderHook(({ id, options }) => useExperimentStream(id, options), {
    initialProps: { id, options },
  });
}

let servers: ReturnType<typeof startMockServer>[] = [];
function serve(url: string) {
  const server = startMockServer(url);
  servers.push(server);
  return server;
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.stubEnv("NEXT_PUBLIC_WS_URL", "");
  installMockWebSocket();
});

afterEach(() => {
  for (const server of servers) server.stop();
  servers = [];
  vi.clearAllTimers();
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.unstubAllEnvs();
});

describe("useExperimentStream", () => {
  describe("connecting and receiving snapshots", () => {
    it("connects to the experiment's results URL and exposes the parsed snapshot", async () => {
      const server = serve(URL_1);
      const { result } = renderStream();
      expect(result.current.status).toBe("connecting");
      expect(result.current.snapshot).toBeNull();

      await flush();
      expect(createdSockets.map((s) => s.url)).toEqual([URL_1]);
      expect(result.current.status).toBe("connected");

      const snapshot = makeSnapshot();
      act(() => server.send(snapshot));
      expect(result.current.snapshot).toEqual(snapshot);
      expect(result.current.error).toBeNull();
    });

    it("replaces the snapshot with each newer results_update", async () => {
      const server = serve(URL_1);
      const { result } = renderStream();
      await flush();
      act(() => server.send(makeSnapshot({ seq: 1, total_participants: 10 })));
      act(() => server.send(makeSnapshot({ seq: 2, total_participants: 20 })));
      expect(result.current.snapshot?.seq).toBe(2);
      expect(result.current.snapshot?.total_participants).toBe(20);
    });

    it("stays disconnected and opens no socket when the experiment id is null or empty", async () => {
      const { result, rerender } = renderStream(null);
      await flush();
      expect(result.current.status).toBe("disconnected");
      rerender({ id: "", options: TEST_OPTIONS });
      await flush();
      expect(result.current.status).toBe("disconnected");
      expect(createdSockets).toHaveLength(0);
    });

    it("uses the url option instead of the built URL when given", async () => {
      const custom = "ws://example.test:9000/custom";
      serve(custom);
      const { result } = renderStream("exp-1", { ...TEST_OPTIONS, url: custom });
      await flush();
      expect(createdSockets.map((s) => s.url)).toEqual([custom]);
      expect(result.current.status).toBe("connected");
    });

    it("passes every understood message to onMessage, including pong", async () => {
      const server = serve(URL_1);
      const onMessage = vi.fn();
      renderStream("exp-1", { ...TEST_OPTIONS, onMessage });
      await flush();
      act(() => server.send({ event: "pong" }));
      act(() => server.send(makeSnapshot()));
      act(() => server.send("not json"));
      expect(onMessage.mock.calls.map(([message]) => message.event)).toEqual(["pong", "results_update"]);
    });

    it("calls the latest onMessage without reconnecting when the callback identity changes", async () => {
      const server = serve(URL_1);
      const first = vi.fn();
      const second = vi.fn();
      const { rerender } = renderStream("exp-1", { ...TEST_OPTIONS, onMessage: first });
      await flush();
      rerender({ id: "exp-1", options: { ...TEST_OPTIONS, onMessage: second } });
      await flush();
      act(() => server.send(makeSnapshot()));
      expect(createdSockets).toHaveLength(1);
      expect(first).not.toHaveBeenCalled();
      expect(second).toHaveBeenCalledTimes(1);
    });
  });

  describe("ignoring what it does not understand", () => {
    it("ignores garbage, unknown events, pong and malformed snapshots without changing state", async () => {
      const server = serve(URL_1);
      const { result } = renderStream();
      await flush();
      const snapshot = makeSnapshot();
      act(() => server.send(snapshot));
      const before = result.current;

      act(() => {
        server.send("{not json");
        server.send("42");
        server.send("null");
        server.send("[]");
        server.send({ event: "pong" });
        server.send({ event: "something_new", foo: 1 });
        server.send({ event: "results_update", experiment_id: "exp-1" });
        server.send({ no_event: true });
      });

      expect(result.current.snapshot).toBe(before.snapshot);
      expect(result.current.snapshot).toEqual(snapshot);
      expect(result.current.status).toBe("connected");
      expect(result.current.error).toBeNull();
    });
  });

  describe("sending messages", () => {
    it("sends a refresh action when refresh is called", async () => {
      const server = serve(URL_1);
      const { result } = renderStream();
      await flush();
      let sent = false;
      act(() => {
        sent = result.current.refresh();
      });
      await flush();
      expect(sent).toBe(true);
      expect(server.received).toEqual([{ action: "refresh" }]);
    });

    it("does not send refresh while not connected", async () => {
      serve(URL_1);
      const { result } = renderStream();
      expect(result.current.refresh()).toBe(false);
    });

    it("sends a ping every pingIntervalMs while the socket is open", async () => {
      const server = serve(URL_1);
      renderStream("exp-1", { ...TEST_OPTIONS, pingIntervalMs: 1000 });
      await flush();
      await advance(999);
      expect(server.received).toEqual([]);
      await advance(1 + MOCK_DELAY_MS);
      expect(server.received).toEqual([{ action: "ping" }]);
      await advance(2000);
      expect(server.received).toEqual([{ action: "ping" }, { action: "ping" }, { action: "ping" }]);
    });

    it("sends the first ping after the default 30 seconds", async () => {
      const server = serve(URL_1);
      renderStream();
      await flush();
      await advance(29_999);
      expect(server.received).toEqual([]);
      await advance(1 + MOCK_DELAY_MS);
      expect(server.received).toEqual([{ action: "ping" }]);
    });
  });

  describe("server errors", () => {
    it("shows results_unavailable as an error but stays connected, and clears it on the next results_update", async () => {
      const server = serve(URL_1);
      const { result } = renderStream();
      await flush();
      act(() =>
        server.send({
          event: "error",
          code: "results_unavailable",
          experiment_id: "exp-1",
          message: "Results are being recomputed",
        }),
      );
      expect(result.current.status).toBe("connected");
      expect(result.current.error).toBe("Results are being recomputed");

      act(() => server.send(makeSnapshot()));
      expect(result.current.error).toBeNull();
      expect(result.current.snapshot).not.toBeNull();
    });

    it("turns experiment_not_found followed by close 4404 into status error without reconnecting", async () => {
      const server = serve(URL_1);
      const { result } = renderStream();
      await flush();
      act(() =>
        server.send({
          event: "error",
          code: "experiment_not_found",
          experiment_id: "exp-1",
          message: "Experiment exp-1 not found",
        }),
      );
      server.closeClients(4404, "experiment_not_found");
      await flush();
      expect(result.current.status).toBe("error");
      expect(result.current.error).toBe("Experiment exp-1 not found");

      await advance(60_000);
      expect(createdSockets).toHaveLength(1);
      expect(result.current.reconnectIn).toBeNull();
      expect(vi.getTimerCount()).toBe(0);
    });

    it("treats close 1008 as an error and does not reconnect", async () => {
      const server = serve(URL_1);
      const { result } = renderStream();
      await flush();
      server.closeClients(1008);
      await flush();
      expect(result.current.status).toBe("error");
      expect(result.current.error).toMatch(/refused/);
      await advance(60_000);
      expect(createdSockets).toHaveLength(1);
    });
  });

  describe("reconnecting", () => {
    it("reconnects after 1 s, 2 s and 4 s when connections keep dropping", async () => {
      const server = serve(URL_1);
      server.dropEveryConnection(1011);
      const { result } = renderStream();

      for (const [index, delay] of [1000, 2000, 4000].entries()) {
        await flush(); // open
        await flush(); // server-side close arrives
        expect(result.current.status).toBe("disconnected");
        expect(result.current.attempt).toBe(index + 1);
        await advance(delay - 1);
        expect(createdSockets).toHaveLength(index + 1);
        await advance(1);
        expect(createdSockets).toHaveLength(index + 2);
        expect(result.current.status).toBe("connecting");
      }
    });

    it("caps the reconnect delay at maxBackoffMs", async () => {
      const server = serve(URL_1);
      server.dropEveryConnection(1011);
      renderStream("exp-1", { ...TEST_OPTIONS, initialBackoffMs: 1000, maxBackoffMs: 1500, maxReconnectAttempts: 10 });
      await advance(2 * MOCK_DELAY_MS + 1000); // attempt 1 after 1000 ms
      expect(createdSockets).toHaveLength(2);
      await advance(2 * MOCK_DELAY_MS + 1499); // attempt 2 would be 2000 ms, capped to 1500
      expect(createdSockets).toHaveLength(2);
      await advance(1);
      expect(createdSockets).toHaveLength(3);
    });

    it("gives up with status error after maxReconnectAttempts failed reconnects", async () => {
      const server = serve(URL_1);
      server.dropEveryConnection(1006);
      const { result } = renderStream("exp-1", { ...TEST_OPTIONS, maxReconnectAttempts: 3 });

      await advance(1000 + 2000 + 4000 + 10 * MOCK_DELAY_MS);
      expect(createdSockets).toHaveLength(4); // first connection + 3 reconnects
      expect(result.current.status).toBe("error");
      expect(result.current.error).toMatch(/Gave up after 3 reconnect attempts/);
      expect(result.current.reconnectIn).toBeNull();

      await advance(60_000);
      expect(createdSockets).toHaveLength(4);
      expect(vi.getTimerCount()).toBe(0);
    });

    it("counts the seconds until the next reconnect down once per second", async () => {
      const server = serve(URL_1);
      const { result } = renderStream("exp-1", { ...TEST_OPTIONS, initialBackoffMs: 4000 });
      await flush();
      server.closeClients(1006);
      await flush();
      expect(result.current.status).toBe("disconnected");
      expect(result.current.attempt).toBe(1);

      const seen = [result.current.reconnectIn];
      for (let i = 0; i < 3; i++) {
        await advance(1000);
        seen.push(result.current.reconnectIn);
      }
      expect(seen).toEqual([4, 3, 2, 1]);

      await advance(1000);
      expect(result.current.reconnectIn).toBeNull();
      expect(result.current.status).toBe("connecting");
    });

    it("starts the reconnect budget over once a reconnected socket delivers a snapshot", async () => {
      const server = serve(URL_1);
      const { result } = renderStream();
      await flush();
      server.closeClients(1006);
      await flush();
      expect(result.current.attempt).toBe(1);
      await advance(1000 + MOCK_DELAY_MS);
      expect(result.current.status).toBe("connected");
      act(() => server.send(makeSnapshot()));
      expect(result.current.attempt).toBe(0);

      server.closeClients(1006);
      await flush();
      expect(result.current.attempt).toBe(1);
      expect(result.current.reconnectIn).toBe(1);
    });

    it("does not reconnect after disconnect()", async () => {
      serve(URL_1);
      const { result } = renderStream();
      await flush();
      act(() => result.current.disconnect());
      await flush();
      expect(result.current.status).toBe("disconnected");
      await advance(60_000);
      expect(createdSockets).toHaveLength(1);
      expect(result.current.status).toBe("disconnected");
      expect(vi.getTimerCount()).toBe(0);
    });

    it("does not reconnect after the server closes normally with 1000", async () => {
      const server = serve(URL_1);
      const { result } = renderStream();
      await flush();
      server.closeClients(1000);
      await flush();
      expect(result.current.status).toBe("disconnected");
      expect(result.current.reconnectIn).toBeNull();
      await advance(60_000);
      expect(createdSockets).toHaveLength(1);
    });

    it("reconnects immediately with a fresh attempt count when reconnect() is called", async () => {
      const server = serve(URL_1);
      server.dropEveryConnection(1006);
      const { result } = renderStream("exp-1", { ...TEST_OPTIONS, maxReconnectAttempts: 1 });
      await advance(1000 + 4 * MOCK_DELAY_MS);
      expect(result.current.status).toBe("error");
      expect(createdSockets).toHaveLength(2);

      act(() => result.current.reconnect());
      expect(createdSockets).toHaveLength(3);
      expect(result.current.status).toBe("connecting");
      expect(result.current.error).toBeNull();
      expect(result.current.attempt).toBe(0);

      await advance(2 * MOCK_DELAY_MS);
      expect(result.current.attempt).toBe(1);
      expect(result.current.reconnectIn).toBe(1);
    });

    it("reconnects after disconnect() when reconnect() is called", async () => {
      const server = serve(URL_1);
      const { result } = renderStream();
      await flush();
      act(() => result.current.disconnect());
      await flush();
      act(() => result.current.reconnect());
      await flush();
      expect(result.current.status).toBe("connected");
      expect(createdSockets).toHaveLength(2);
      expect(server.server.clients()).toHaveLength(1);
    });
  });

  describe("lifecycle", () => {
    it("closes the old socket and opens the new URL when the experiment id changes", async () => {
      const first = serve(URL_1);
      const second = serve(URL_2);
      const { result, rerender } = renderStream("exp-1");
      await flush();
      act(() => first.send(makeSnapshot({ experiment_id: "exp-1" })));
      expect(createdSockets[0].readyState).toBe(WebSocket.OPEN);

      rerender({ id: "exp-2", options: TEST_OPTIONS });
      expect(createdSockets[0].readyState).toBeGreaterThanOrEqual(WebSocket.CLOSING);
      expect(result.current.snapshot).toBeNull();
      await flush();

      expect(createdSockets.map((s) => s.url)).toEqual([URL_1, URL_2]);
      expect(createdSockets[0].readyState).toBe(WebSocket.CLOSED);
      expect(first.server.clients()).toHaveLength(0);
      expect(second.server.clients()).toHaveLength(1);
      expect(result.current.status).toBe("connected");

      // The old socket's expected close must not trigger a reconnect.
      await advance(60_000);
      expect(createdSockets).toHaveLength(2);
    });

    it("leaves no pending timers after unmounting while connected", async () => {
      serve(URL_1);
      const { unmount } = renderStream("exp-1", { ...TEST_OPTIONS, pingIntervalMs: 1000 });
      await flush();
      unmount();
      await vi.advanceTimersByTimeAsync(MOCK_DELAY_MS); // let mock-socket deliver its own close
      expect(vi.getTimerCount()).toBe(0);
      expect(createdSockets[0].readyState).toBe(WebSocket.CLOSED);
    });

    it("leaves no pending timers after unmounting while waiting to reconnect", async () => {
      const server = serve(URL_1);
      const { result, unmount } = renderStream();
      await flush();
      server.closeClients(1006);
      await flush();
      expect(result.current.reconnectIn).toBe(1);
      unmount();
      expect(vi.getTimerCount()).toBe(0);
      await advance(60_000);
      expect(createdSockets).toHaveLength(1);
    });

    it("does not reconnect after unmounting while connecting", async () => {
      serve(URL_1);
      const { unmount } = renderStream();
      unmount();
      await vi.advanceTimersByTimeAsync(60_000);
      expect(createdSockets).toHaveLength(1);
      expect(vi.getTimerCount()).toBe(0);
    });
  });
});
