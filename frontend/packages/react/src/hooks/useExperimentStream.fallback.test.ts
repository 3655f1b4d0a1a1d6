import { act } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { FORBIDDEN_MESSAGE, NOT_FOUND_MESSAGE, SSE_MAX_CONSECUTIVE_ERRORS, UNAUTHORIZED_MESSAGE } from "@expstream/client";
import {
  FAILED_CONNECTION_MS,
  MOCK_DELAY_MS,
  RESULTS_PATH,
  SSE_PATH,
  TOKEN,
  WS_URL,
  advance,
  exhaustWebSocket,
  http,
  lastEventSource,
  onPolling,
  onSse,
  renderStream,
  setUpFallbackTests,
  settle,
  wsServer,
} from "@test-support/fallbackHarness";
import { FakeEventSource, openEventSources } from "@test-support/fakeEventSource";
import { createdSockets, makeSnapshot } from "@test-support/mockWebSocket";

// WebSocket → Server-Sent Events → long polling; back to the WebSocket in useExperimentStream.probe.test.ts.

setUpFallbackTests();

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
});
