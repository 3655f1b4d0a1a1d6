import { act, renderHook } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { createdSockets, makeSnapshot } from "@test-support/mockWebSocket";
import { MOCK_DELAY_MS, URL_1, URL_2, advance, flush, serve, setUpStreamTests } from "@test-support/streamHarness";
import { useExperimentStream, type UseExperimentStreamOptions } from "./useExperimentStream";

// Connecting, messages, errors, authentication, lifecycle events and anomalies; reconnects,
// close codes and resuming are in useExperimentStream.reconnect.test.ts.

const TEST_OPTIONS: UseExperimentStreamOptions = { jitter: false };

function renderStream(id: string | null = "exp-1", options: UseExperimentStreamOptions = TEST_OPTIONS) {
  return renderHook(({ id, options }) => useExperimentStream(id, options), {
    initialProps: { id, options },
  });
}

setUpStreamTests();

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

  describe("authentication", () => {
    it("passes the token option to the WebSocket as a URL-encoded token query parameter", async () => {
      serve(URL_1);
      renderStream("exp-1", { ...TEST_OPTIONS, token: "a.b+c/d" });
      await flush();
      expect(createdSockets.map((s) => s.url)).toEqual([`${URL_1}?token=a.b%2Bc%2Fd`]);
    });

    it("asks a token function for each connection, and sends none for null", async () => {
      serve(URL_1);
      const { rerender } = renderStream("exp-1", { ...TEST_OPTIONS, token: () => "from-function" });
      await flush();
      rerender({ id: "exp-2", options: { ...TEST_OPTIONS, token: null } });
      await flush();
      expect(createdSockets.map((s) => s.url)).toEqual([`${URL_1}?token=from-function`, URL_2]);
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
