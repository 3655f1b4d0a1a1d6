import { act, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { installFakeEventSource, FakeEventSource } from "@test-support/fakeEventSource";
import { installMockWebSocket, makeSnapshot, startMockServer } from "@test-support/mockWebSocket";
import { LiveResultsPanel } from "./LiveResultsPanel";

// The panel wired to the real useExperimentStream and a mock WebSocket server.
const URL = "ws://localhost:3000/api/v1/ws/experiments/exp-1/results";
let server: ReturnType<typeof startMockServer>;

async function advance(ms: number) {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
  });
}

const status = () => screen.getByTestId("connection-status").getAttribute("data-status");

beforeEach(() => {
  vi.useFakeTimers();
  installMockWebSocket();
  // The lift chart's history request stays pending (covered by useLiftHistory.test.ts).
  vi.stubGlobal("fetch", vi.fn(() => new Promise<Response>(() => {})));
  server = startMockServer(URL);
});

afterEach(() => {
  server.stop();
  vi.clearAllTimers();
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("LiveResultsPanel with a live stream", () => {
  it("renders the streamed snapshot and sends refresh when the button is clicked", async () => {
    render(<LiveResultsPanel experimentId="exp-1" options={{ jitter: false }} />);
    expect(status()).toBe("connecting");
    await advance(4);
    expect(status()).toBe("connected");
    expect(screen.getByTestId("live-indicator")).toBeInTheDocument();
    expect(screen.getByTestId("transport")).toHaveTextContent("via WebSocket");

    act(() => server.send(makeSnapshot()));
    expect(screen.getAllByTestId("variant-row")).toHaveLength(3);
    expect(screen.getByTestId("total-participants")).toHaveTextContent("3,693,567");

    fireEvent.click(screen.getByTestId("refresh-button"));
    await advance(4);
    expect(server.received).toEqual([{ action: "refresh" }]);
  });

  it("keeps the analysis sentence of a streamed snapshot under Benjamini-Hochberg and under a correction it does not know", async () => {
    render(<LiveResultsPanel experimentId="exp-1" options={{ jitter: false }} />);
    await advance(4);
    const analysis = { method: "sequential", alpha: 0.05, sequential_tuning: 5000, correction: "benjamini-hochberg" } as const;
    act(() => server.send(makeSnapshot({ analysis })));
    expect(screen.getByTestId("analysis-method")).toHaveTextContent(
      "at 95% confidence, p-values adjusted for multiple comparisons across 2 treatments (Benjamini-Hochberg, false discovery rate) — safe to check",
    );
    act(() => server.send(makeSnapshot({ seq: 8, analysis: { ...analysis, correction: "storey-q-values" } })));
    expect(screen.getByTestId("analysis-method")).toHaveTextContent(
      "Sequential analysis (always-valid confidence sequences, N* = 5,000) at 95% confidence — safe to check as often as you like.",
    );
  });

  it("counts down after the connection drops and reconnects when the countdown ends", async () => {
    render(<LiveResultsPanel experimentId="exp-1" options={{ jitter: false, initialBackoffMs: 3000 }} />);
    await advance(4);
    server.closeClients(1006);
    await advance(4);
    expect(status()).toBe("disconnected");
    expect(screen.getByTestId("reconnect-countdown")).toHaveTextContent("Reconnecting in 3s (attempt 1 of 5)");
    await advance(1000);
    expect(screen.getByTestId("reconnect-countdown")).toHaveTextContent("Reconnecting in 2s");
    await advance(1000);
    expect(screen.getByTestId("reconnect-countdown")).toHaveTextContent("Reconnecting in 1s");
    await advance(1000 + 4);
    expect(status()).toBe("connected");
    expect(screen.queryByTestId("reconnect-countdown")).not.toBeInTheDocument();
  });

  it("shows the not-found error with a Reconnect button that connects again", async () => {
    render(<LiveResultsPanel experimentId="exp-1" options={{ jitter: false }} />);
    await advance(4);
    act(() =>
      server.send({ event: "error", code: "experiment_not_found", experiment_id: "exp-1", message: "No such experiment" }),
    );
    server.closeClients(4404);
    await advance(4);
    expect(status()).toBe("error");
    expect(screen.getByTestId("error-banner")).toHaveTextContent("No such experiment");

    fireEvent.click(screen.getByTestId("reconnect-button"));
    expect(status()).toBe("connecting");
    expect(screen.queryByTestId("error-banner")).not.toBeInTheDocument();
    await advance(4);
    expect(status()).toBe("connected");
  });

  it("says it streams via Server-Sent Events after falling back, and shows the SSE snapshots", async () => {
    installFakeEventSource();
    server.server.on("connection", (socket) => socket.close({ code: 1006, reason: "", wasClean: false }));
    render(<LiveResultsPanel experimentId="exp-1" options={{ jitter: false, maxReconnectAttempts: 0, token: null }} />);
    await advance(8);
    const source = FakeEventSource.instances[0];
    expect(source.url).toBe("/api/v1/experiments/exp-1/results/stream");
    act(() => {
      source.open();
      source.emit(makeSnapshot({ total_participants: 42 }));
    });
    expect(status()).toBe("connected");
    expect(screen.getByTestId("live-indicator")).toBeInTheDocument();
    const transport = screen.getByTestId("transport");
    expect(transport).toHaveAttribute("data-transport", "sse");
    expect(transport).toHaveTextContent("via Server-Sent Events (fallback)");
    expect(screen.getByTestId("total-participants")).toHaveTextContent("42");
  });
});
