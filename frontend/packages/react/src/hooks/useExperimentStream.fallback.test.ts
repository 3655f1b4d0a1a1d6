import { act, renderHook } from "@testing-library/react";
import { Server } from "mock-socket";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FORBIDDEN_MESSAGE, NOT_FOUND_MESSAGE, UNAUTHORIZED_MESSAGE } from "@/lib/authMessages";
import { SSE_MAX_CONSECUTIVE_ERRORS } from "@/lib/transportState";
import { clearToken } from "@/lib/token";
import { stubDeferredFetch } from "@/test/deferredFetch";
import { FakeEventSource, installFakeEventSource, openEventSources } from "@/test/fakeEventSource";
import { createdSockets, installMockWebSocket, makeSnapshot } from "@/test/mockWebSocket";
import { useExperimentStream, type UseExperimentStreamOptions } from "./useExperimentStream";

// WebSocket → Server-Sent Events → long polling, and back to the WebSocket via probes.
// jsdom's page is http://localhost:3000/; the HTTP API is relative to it.

const WS_URL = "ws://localhost:3000/api/v1/ws/experiments/exp-1/results";
const SSE_PATH = "/api/v1/experiments/exp-1/results/stream";
const RESULTS_PATH = "/api/v1/experiments/exp-1/results";
const TOKEN = "tok";

/** mock-socket delivers open/close after a 4 ms timer. */
const MOCK_DELAY_MS = 4;
/** One failing connection: open, then the server's close. */
const FAILED_CONNECTION_MS = 2 * MOCK_DELAY_MS;

/**
 * One reconnect (1 s) before the fallback keeps the tests short; the token is
 * passed explicitly so no cookie is involved.
 */
const OPTIONS: UseExperimentStreamOptions = { jitter: false, maxReconnectAttempts: 1, token: TOKEN };

type ServerMode = "drop" | "snapshot" | "silent";

/**
 * Mock WebSocket server that drops every connection (like a proxy refusing
 * upgrades), serves a snapshot on connect, or accepts and stays silent.
 */
function startServer() {
  const server = new Server(WS_URL, { mock: false });
  const state = { mode: "drop" as ServerMode, snapshot: makeSnapshot({ seq: 10 }) };
  server.on("connection", (socket) => {
    if (state.mode === "drop") socket.close({ code: 1006, reason: "", wasClean: false });
    else if (state.mode === "snapshot") socket.send(JSON.stringify(state.snapshot));
  });
  return {
    server,
    state,
    send(value: unknown) {
      for (const client of server.clients()) client.send(JSON.stringify(value));
    },
  };
}

let wsServer: ReturnType<typeof startServer>;
let http: ReturnType<typeof stubDeferredFetch>;

async function advance(ms: number): Promise<void> {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
  });
}

/** Settles promise callbacks (fetch answers) without moving the clock. */
const settle = () => advance(0);

function renderStream(options: UseExperimentStreamOptions = OPTIONS, id: string | null = "exp-1") {
  return renderHook(({ id, options }) => useExperimentStream(id, options), { initialProps: { id, options } });
}

/** Lets the first connection and the single reconnect (after 1 s) fail. */
async function exhaustWebSocket(): Promise<void> {
  await advance(FAILED_CONNECTION_MS + 1000 + FAILED_CONNECTION_MS);
}

function lastEventSource(): FakeEventSource {
  const source = FakeEventSource.instances.at(-1);
  if (!source) throw new Error("no EventSource yet");
  return source;
}

/** Renders, reaches SSE, opens it and delivers a snapshot with `seq`. */
async function onSse(seq = 4, options: UseExperimentStreamOptions = OPTIONS) {
  const hook = renderStream(options);
  await exhaustWebSocket();
  const source = lastEventSource();
  act(() => {
    source.open();
    source.emit(makeSnapshot({ seq }));
  });
  return { ...hook, source };
}

/** Renders, reaches polling (SSE refused) and answers the first poll with a snapshot with `seq`. */
async function onPolling(seq = 4, options: UseExperimentStreamOptions = OPTIONS) {
  const hook = renderStream(options);
  await exhaustWebSocket();
  act(() => lastEventSource().refuse());
  await settle();
  act(() => http.last().respond(200, makeSnapshot({ seq })));
  await settle();
  return hook;
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.stubEnv("NEXT_PUBLIC_WS_URL", "");
  vi.stubEnv("NEXT_PUBLIC_API_URL", "");
  installMockWebSocket();
  installFakeEventSource();
  http = stubDeferredFetch();
  wsServer = startServer();
});

afterEach(() => {
  wsServer.server.stop();
  clearToken();
  vi.clearAllTimers();
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.unstubAllEnvs();
});

describe("useExperimentStream fallbacks", () => {
  describe("Server-Sent Events", () => {
    it("falls back to Server-Sent Events with the token once the WebSocket reconnect attempts are used up", async () => {
      const { result } = renderStream();
      await advance(FAILED_CONNECTION_MS);
      expect(result.current.transport).toBe("websocket");
      expect(result.current.attempt).toBe(1);
      expect(FakeEventSource.instances).toHaveLength(0);

      await advance(1000 + FAILED_CONNECTION_MS);
      expect(createdSockets).toHaveLength(2);
      expect(FakeEventSource.instances.map((s) => s.url)).toEqual([`${SSE_PATH}?token=${TOKEN}`]);
      expect(result.current.transport).toBe("sse");
      expect(result.current.status).toBe("connecting");
      expect(result.current.attempt).toBe(0);
      expect(result.current.reconnectIn).toBeNull();
      expect(result.current.error).toBeNull();

      act(() => lastEventSource().open());
      expect(result.current.status).toBe("connected");
      act(() => lastEventSource().emit(makeSnapshot({ seq: 5, total_participants: 55 }), "5"));
      expect(result.current.snapshot?.total_participants).toBe(55);
      expect(result.current.status).toBe("connected");
    });

    it("falls back to Server-Sent Events at once when the browser has no WebSocket", async () => {
      vi.stubGlobal("WebSocket", undefined);
      const { result } = renderStream();
      expect(result.current.transport).toBe("sse");
      expect(FakeEventSource.instances).toHaveLength(1);
      await advance(120_000);
      expect(FakeEventSource.instances).toHaveLength(1); // no WebSocket probes without WebSocket
      expect(vi.getTimerCount()).toBe(0);
    });

    it("opens the event stream with since_seq of the snapshot the WebSocket delivered last", async () => {
      wsServer.state.mode = "snapshot";
      wsServer.state.snapshot = makeSnapshot({ seq: 17 });
      const { result } = renderStream();
      await advance(MOCK_DELAY_MS);
      expect(result.current.snapshot?.seq).toBe(17);
      wsServer.state.mode = "drop";
      wsServer.server.clients().forEach((client) => client.close({ code: 1006, reason: "", wasClean: false }));
      await advance(MOCK_DELAY_MS + 1000 + FAILED_CONNECTION_MS);
      expect(createdSockets[1].url).toBe(`${WS_URL}?token=${TOKEN}&since_seq=17`);
      expect(lastEventSource().url).toBe(`${SSE_PATH}?token=${TOKEN}&since_seq=17`);
    });

    it("ignores a lower-seq snapshot over SSE and applies an equal one", async () => {
      const { result, source } = await onSse(8);
      act(() => source.emit(makeSnapshot({ seq: 7, total_participants: 1 })));
      expect(result.current.snapshot?.seq).toBe(8);
      act(() => source.emit(makeSnapshot({ seq: 8, timestamp: "2024-05-01T12:01:00+00:00" })));
      expect(result.current.snapshot?.timestamp).toBe("2024-05-01T12:01:00+00:00");
    });

    it("shows results_unavailable over SSE but keeps streaming", async () => {
      const { result, source } = await onSse();
      act(() => source.emit({ event: "error", code: "results_unavailable", experiment_id: "exp-1", message: "Recomputing" }));
      expect(result.current.error).toBe("Recomputing");
      expect(result.current.status).toBe("connected");
      expect(source.closed).toBe(false);
    });

    it.each([
      ["experiment_not_found", "Experiment exp-1 not found"],
      ["unauthorized", UNAUTHORIZED_MESSAGE],
      ["forbidden", FORBIDDEN_MESSAGE],
    ])("stops with status error when an SSE error payload says %s", async (code, message) => {
      const { result, source } = await onSse();
      act(() => source.emit({ event: "error", code, experiment_id: "exp-1", message: "Experiment exp-1 not found" }));
      expect(result.current.status).toBe("error");
      expect(result.current.error).toBe(message);
      expect(result.current.transport).toBeNull();
      expect(source.closed).toBe(true);
      expect(vi.getTimerCount()).toBe(0);
      await advance(120_000);
      expect(http.requests).toHaveLength(0);
    });

    it("shows status connecting while the EventSource reconnects by itself, and connected again on its next message", async () => {
      const { result, source } = await onSse();
      act(() => source.drop());
      expect(result.current.status).toBe("connecting");
      expect(result.current.transport).toBe("sse");
      act(() => source.open());
      act(() => source.emit(makeSnapshot({ seq: 5 })));
      expect(result.current.status).toBe("connected");
    });

    it("handles a server-sent `event: error` that reaches onerror with data like a message", async () => {
      const { result, source } = await onSse();
      act(() =>
        source.onerror?.(
          new MessageEvent("error", {
            data: JSON.stringify({ event: "error", code: "results_unavailable", experiment_id: "exp-1", message: "Busy" }),
          }),
        ),
      );
      expect(result.current.error).toBe("Busy");
      expect(result.current.transport).toBe("sse");
    });
  });

  describe("polling", () => {
    it("falls back to polling with the Authorization header when the EventSource is refused and stays closed", async () => {
      const { result } = renderStream();
      await exhaustWebSocket();
      act(() => lastEventSource().refuse());
      await settle();
      expect(result.current.transport).toBe("polling");
      expect(result.current.status).toBe("connecting");
      expect(openEventSources()).toHaveLength(0);
      expect(http.requests).toHaveLength(1);
      expect(http.last().url).toBe(RESULTS_PATH); // nothing applied yet: no after_seq, answers at once
      expect(http.last().headers.authorization).toBe(`Bearer ${TOKEN}`);

      act(() => http.last().respond(200, makeSnapshot({ seq: 3 })));
      await settle();
      expect(result.current.status).toBe("connected");
      expect(result.current.snapshot?.seq).toBe(3);
    });

    it(`falls back to polling after ${SSE_MAX_CONSECUTIVE_ERRORS} EventSource errors in a row, counting afresh after each message`, async () => {
      const { result, source } = await onSse();
      for (let i = 1; i < SSE_MAX_CONSECUTIVE_ERRORS; i++) act(() => source.drop());
      act(() => source.emit(makeSnapshot({ seq: 5 })));
      for (let i = 1; i < SSE_MAX_CONSECUTIVE_ERRORS; i++) act(() => source.drop());
      expect(result.current.transport).toBe("sse");
      expect(http.requests).toHaveLength(0);

      act(() => source.drop());
      await settle();
      expect(source.closed).toBe(true);
      expect(result.current.transport).toBe("polling");
      expect(http.last().url).toBe(`${RESULTS_PATH}?after_seq=5&wait=25`);
    });

    it("polls again 10 s after each poll returned, with after_seq of the last applied snapshot", async () => {
      const { result } = await onPolling(4);
      expect(http.requests).toHaveLength(1);

      await advance(9_999);
      expect(http.requests).toHaveLength(1);
      await advance(1);
      expect(http.requests).toHaveLength(2);
      expect(http.last().url).toBe(`${RESULTS_PATH}?after_seq=4&wait=25`);

      // A long poll: the server holds it until something newer exists.
      await advance(20_000);
      expect(http.requests).toHaveLength(2);
      act(() => http.last().respond(200, makeSnapshot({ seq: 6, total_participants: 66 })));
      await settle();
      expect(result.current.snapshot?.total_participants).toBe(66);
      await advance(9_999);
      expect(http.requests).toHaveLength(2);
      await advance(1);
      expect(http.requests).toHaveLength(3);
      expect(http.last().url).toBe(`${RESULTS_PATH}?after_seq=6&wait=25`);
    });

    it("applies a polled snapshot with an equal seq and ignores a lower one", async () => {
      const { result } = await onPolling(4);
      await advance(10_000);
      act(() => http.last().respond(200, makeSnapshot({ seq: 4, timestamp: "2024-05-01T12:05:00+00:00" })));
      await settle();
      expect(result.current.snapshot?.timestamp).toBe("2024-05-01T12:05:00+00:00");
      await advance(10_000);
      act(() => http.last().respond(200, makeSnapshot({ seq: 2, total_participants: 2 })));
      await settle();
      expect(result.current.snapshot?.seq).toBe(4);
    });

    it("accepts a polled snapshot without the event field", async () => {
      const { result } = await onPolling(4);
      await advance(10_000);
      const { event: _event, ...plain } = makeSnapshot({ seq: 5 });
      act(() => http.last().respond(200, plain));
      await settle();
      expect(result.current.snapshot?.seq).toBe(5);
    });

    it.each([
      [401, UNAUTHORIZED_MESSAGE],
      [403, FORBIDDEN_MESSAGE],
      [404, NOT_FOUND_MESSAGE],
    ])("stops polling with status error on HTTP %i", async (status, message) => {
      const { result } = await onPolling(4);
      await advance(10_000);
      act(() => http.last().respond(status, { detail: "no" }));
      await settle();
      expect(result.current.status).toBe("error");
      expect(result.current.error).toBe(message);
      expect(result.current.transport).toBeNull();
      expect(vi.getTimerCount()).toBe(0);
      await advance(120_000);
      expect(http.requests).toHaveLength(2);
      expect(createdSockets).toHaveLength(2); // no probes either
    });

    it("keeps polling at the same cadence after a server error or a network failure", async () => {
      const { result } = await onPolling(4);
      await advance(10_000);
      act(() => http.last().respond(503, { detail: "busy" }));
      await settle();
      expect(result.current.status).toBe("connecting");
      expect(result.current.transport).toBe("polling");
      await advance(10_000);
      act(() => http.last().fail());
      await settle();
      await advance(10_000);
      expect(http.requests).toHaveLength(4);
      act(() => http.last().respond(200, makeSnapshot({ seq: 5 })));
      await settle();
      expect(result.current.status).toBe("connected");
    });

    it("aborts a poll the server never answers and polls again", async () => {
      await onPolling(4);
      await advance(10_000);
      const hanging = http.last();
      await advance(35_000);
      expect(hanging.signal?.aborted).toBe(true);
      await advance(10_000);
      expect(http.requests).toHaveLength(3);
    });

    it("goes straight from WebSocket to polling when there is no EventSource", async () => {
      vi.stubGlobal("EventSource", undefined);
      const { result } = renderStream();
      await exhaustWebSocket();
      expect(result.current.transport).toBe("polling");
      expect(http.requests).toHaveLength(1);
    });
  });

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
