import { act, renderHook } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { FORBIDDEN_MESSAGE, UNAUTHORIZED_MESSAGE } from "@expstream/client";
import { createdSockets, makeSnapshot } from "@test-support/mockWebSocket";
import { MOCK_DELAY_MS, URL_1, URL_2, advance, flush, serve, setUpStreamTests } from "@test-support/streamHarness";
import { useExperimentStream, type UseExperimentStreamOptions } from "./useExperimentStream";

// Reconnects with backoff, the lifecycle of the socket, close codes and resuming by seq.

const TEST_OPTIONS: UseExperimentStreamOptions = { jitter: false };

function renderStream(id: string | null = "exp-1", options: UseExperimentStreamOptions = TEST_OPTIONS) {
  return renderHook(({ id, options }) => useExperimentStream(id, options), {
    initialProps: { id, options },
  });
}

setUpStreamTests();

describe("useExperimentStream reconnects", () => {
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
      renderStream("exp-1", { ...TEST_OPTIONS, token: "tok" });
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
});
