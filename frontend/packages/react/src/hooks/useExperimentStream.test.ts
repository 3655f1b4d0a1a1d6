import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FORBIDDEN_MESSAGE, UNAUTHORIZED_MESSAGE } from "@/lib/authMessages";
import { clearToken, storeToken } from "@/lib/token";
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
  clearToken();
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
      const onMessage = vi.fn<NonNullable<UseExperimentStreamOptions["onMessage"]>>();
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

    it("does not send refresh while not connected", () => {
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

    it("gives up with status error after maxReconnectAttempts failed reconnects when fallbacks are off", async () => {
      const server = serve(URL_1);
      server.dropEveryConnection(1006);
      const { result } = renderStream("exp-1", { ...TEST_OPTIONS, maxReconnectAttempts: 3, fallback: false });

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
      const { result } = renderStream("exp-1", { ...TEST_OPTIONS, maxReconnectAttempts: 1, fallback: false });
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

  describe("authentication", () => {
    it("passes the page's token to the WebSocket as a URL-encoded token query parameter", async () => {
      serve(URL_1);
      storeToken("a.b+c/d");
      renderStream();
      await flush();
      expect(createdSockets.map((s) => s.url)).toEqual([`${URL_1}?token=a.b%2Bc%2Fd`]);
    });

    it("prefers the token option and sends none when it is null", async () => {
      serve(URL_1);
      storeToken("from-cookie");
      const { rerender } = renderStream("exp-1", { ...TEST_OPTIONS, token: "explicit" });
      await flush();
      rerender({ id: "exp-2", options: { ...TEST_OPTIONS, token: null } });
      await flush();
      expect(createdSockets.map((s) => s.url)).toEqual([`${URL_1}?token=explicit`, URL_2]);
    });
  });

  describe("close codes", () => {
    it.each([
      [4401, UNAUTHORIZED_MESSAGE],
      [4403, FORBIDDEN_MESSAGE],
      [1008, "The server refused the live results connection."],
      [1009, "The live results connection was closed: a message was too big."],
    ])("turns close %i into status error with its message and never reconnects", async (code, message) => {
      const server = serve(URL_1);
      const { result } = renderStream();
      await flush();
      server.closeClients(code);
      await flush();
      expect(result.current.status).toBe("error");
      expect(result.current.error).toBe(message);
      expect(result.current.transport).toBeNull();
      await advance(120_000);
      expect(createdSockets).toHaveLength(1);
      expect(vi.getTimerCount()).toBe(0);
    });

    it("shows the sign-in message after close 4401 even when the server sent its own error text first", async () => {
      const server = serve(URL_1);
      const { result } = renderStream();
      await flush();
      act(() => server.send({ event: "error", code: "unauthorized", experiment_id: "exp-1", message: "jwt expired" }));
      expect(result.current.error).toBe(UNAUTHORIZED_MESSAGE);
      server.closeClients(4401);
      await flush();
      expect(result.current.error).toBe(UNAUTHORIZED_MESSAGE);
    });

    it("keeps the server's rate-limit text after close 1008", async () => {
      const server = serve(URL_1);
      const { result } = renderStream();
      await flush();
      act(() => server.send({ event: "error", code: "rate_limited", experiment_id: "exp-1", message: "Rate limit exceeded" }));
      server.closeClients(1008);
      await flush();
      expect(result.current.status).toBe("error");
      expect(result.current.error).toBe("Rate limit exceeded");
    });

    it.each([1001, 1006, 1011, 1013])(
      "reconnects with backoff after close %i",
      async (code) => {
        const server = serve(URL_1);
        const { result } = renderStream();
        await flush();
        server.closeClients(code);
        await flush();
        expect(result.current.status).toBe("disconnected");
        expect(result.current.attempt).toBe(1);
        expect(result.current.reconnectIn).toBe(1);
        expect(result.current.transport).toBe("websocket");
        await advance(1000 + MOCK_DELAY_MS);
        expect(createdSockets).toHaveLength(2);
        expect(result.current.status).toBe("connected");
      },
    );
  });

  describe("resuming without gaps or repeats", () => {
    it("reconnects with since_seq of the last applied snapshot and the token", async () => {
      const server = serve(URL_1);
      storeToken("tok");
      renderStream();
      await flush();
      act(() => server.send(makeSnapshot({ seq: 41 })));
      act(() => server.send(makeSnapshot({ seq: 42 })));
      server.closeClients(1001);
      await flush();
      await advance(1000 + MOCK_DELAY_MS);
      expect(createdSockets.map((s) => s.url)).toEqual([`${URL_1}?token=tok`, `${URL_1}?token=tok&since_seq=42`]);
    });

    it("opens the first connection without since_seq", async () => {
      serve(URL_1);
      renderStream();
      await flush();
      expect(createdSockets[0].url).toBe(URL_1);
    });

    it("ignores a snapshot whose seq is lower than the last applied one", async () => {
      const server = serve(URL_1);
      const onMessage = vi.fn();
      const { result } = renderStream("exp-1", { ...TEST_OPTIONS, onMessage });
      await flush();
      act(() => server.send(makeSnapshot({ seq: 9, total_participants: 900 })));
      const shown = result.current.snapshot;
      act(() => server.send(makeSnapshot({ seq: 8, total_participants: 800 })));
      expect(result.current.snapshot).toBe(shown);
      expect(result.current.snapshot?.total_participants).toBe(900);
      expect(onMessage).toHaveBeenCalledTimes(1);
    });

    it("applies a snapshot with an equal seq, as periodic refreshes repeat the seq with a newer timestamp", async () => {
      const server = serve(URL_1);
      const { result } = renderStream();
      await flush();
      act(() => server.send(makeSnapshot({ seq: 9, timestamp: "2024-05-01T12:00:00+00:00" })));
      act(() => server.send(makeSnapshot({ seq: 9, timestamp: "2024-05-01T12:00:30+00:00" })));
      expect(result.current.snapshot?.timestamp).toBe("2024-05-01T12:00:30+00:00");
    });

    it("forgets the last seq when the experiment changes", async () => {
      const first = serve(URL_1);
      const second = serve(URL_2);
      const { result, rerender } = renderStream("exp-1");
      await flush();
      act(() => first.send(makeSnapshot({ seq: 50 })));
      rerender({ id: "exp-2", options: TEST_OPTIONS });
      await flush();
      expect(createdSockets[1].url).toBe(URL_2);
      act(() => second.send(makeSnapshot({ experiment_id: "exp-2", seq: 2 })));
      expect(result.current.snapshot?.seq).toBe(2);
    });
  });

  describe("lifecycle events", () => {
    const envelope = (id: string, status: string) => ({
      topic: `experiment:${id}`,
      event: "STATUS_CHANGED",
      data: { entity_id: id, payload: { status, previous_status: "active" }, timestamp: "2024-05-01T12:00:05+00:00" },
      trace_id: "trace-1",
    });

    it("updates the shown experiment status at once when a STATUS_CHANGED envelope arrives", async () => {
      const server = serve(URL_1);
      const { result } = renderStream();
      await flush();
      act(() => server.send(makeSnapshot({ status: "active", seq: 3 })));
      act(() => server.send(envelope("exp-1", "paused")));
      expect(result.current.snapshot?.status).toBe("paused");
      expect(result.current.snapshot?.seq).toBe(3);
      act(() => server.send(makeSnapshot({ status: "paused", seq: 4 })));
      expect(result.current.snapshot?.status).toBe("paused");
    });

    it("ignores a STATUS_CHANGED envelope for another experiment, and connected/subscription_confirmed notices", async () => {
      const server = serve(URL_1);
      const { result } = renderStream();
      await flush();
      act(() => server.send(makeSnapshot({ status: "active" })));
      const shown = result.current.snapshot;
      act(() => {
        server.send(envelope("exp-2", "completed"));
        server.send({ event: "connected", connection_id: "c-1" });
        server.send({ event: "subscription_confirmed", experiment_id: "exp-1" });
      });
      expect(result.current.snapshot).toBe(shown);
      expect(result.current.status).toBe("connected");
    });
  });
  describe("anomalies", () => {
    const srm = (id: string, pValue = 0.00001) => ({
      event: "anomaly",
      type: "sample_ratio_mismatch",
      experiment_id: id,
      p_value: pValue,
      message: "Traffic is not split as configured",
      timestamp: "2024-05-01T12:00:05+00:00",
    });

    it("exposes the latest anomaly event and keeps the snapshot", async () => {
      const server = serve(URL_1);
      const { result } = renderStream();
      await flush();
      expect(result.current.anomaly).toBeNull();
      act(() => server.send(makeSnapshot({ seq: 3 })));
      act(() => server.send(srm("exp-1", 0.0004)));
      expect(result.current.anomaly).toEqual(srm("exp-1", 0.0004));
      expect(result.current.snapshot?.seq).toBe(3);
      act(() => server.send(srm("exp-1", 0.00001)));
      expect(result.current.anomaly?.p_value).toBe(0.00001);
    });

    it("ignores an anomaly for another experiment", async () => {
      const server = serve(URL_1);
      const { result } = renderStream();
      await flush();
      act(() => server.send(srm("exp-2")));
      expect(result.current.anomaly).toBeNull();
    });

    it("forgets the anomaly when the experiment id changes", async () => {
      const first = serve(URL_1);
      serve(URL_2);
      const { result, rerender } = renderStream("exp-1");
      await flush();
      act(() => first.send(srm("exp-1")));
      expect(result.current.anomaly).not.toBeNull();
      rerender({ id: "exp-2", options: TEST_OPTIONS });
      expect(result.current.anomaly).toBeNull();
    });
  });
});
