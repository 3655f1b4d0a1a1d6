import { render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ResultsPage } from "./ResultsPage";

vi.mock("./ResultsDashboard", () => ({
  ResultsDashboard: ({ experimentId, streamOptions }: { experimentId: string; streamOptions?: object }) => (
    <div data-testid="results-dashboard" data-stream-options={JSON.stringify(streamOptions ?? null)}>
      dashboard for {experimentId}
    </div>
  ),
}));

afterEach(() => {
  window.history.replaceState(null, "", "/");
});

describe("ResultsPage", () => {
  it("reads the experiment id from window.location.pathname", () => {
    window.history.replaceState(null, "", "/results/3f1c9a2e-7b4d-4c1e-9a57-2d8e6f0b1c34/");
    render(<ResultsPage />);
    expect(screen.getByTestId("results-dashboard")).toHaveTextContent(
      "dashboard for 3f1c9a2e-7b4d-4c1e-9a57-2d8e6f0b1c34",
    );
  });

  it("asks for an experiment when opened at the build-time placeholder path", () => {
    window.history.replaceState(null, "", "/results/_/");
    render(<ResultsPage />);
    expect(screen.getByTestId("results-no-id")).toHaveTextContent("No experiment selected.");
    expect(screen.queryByTestId("results-dashboard")).not.toBeInTheDocument();
  });

  it("passes reconnectAttempts, backoffMs and probeMs from the query string to the stream", () => {
    window.history.replaceState(null, "", "/results/exp-1/?reconnectAttempts=1&backoffMs=200&probeMs=5000");
    render(<ResultsPage />);
    expect(JSON.parse(screen.getByTestId("results-dashboard").dataset.streamOptions ?? "null")).toEqual({
      maxReconnectAttempts: 1,
      initialBackoffMs: 200,
      wsProbeIntervalMs: 5000,
    });
  });
});
