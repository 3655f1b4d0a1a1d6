import { fireEvent, render, screen, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { ConnectionStatus, ExperimentStream, UseExperimentStreamOptions } from "@/hooks/useExperimentStream";
import { formatTime } from "@/lib/format";
import { makeSnapshot } from "@/test/mockWebSocket";
import { LiveResultsPanel } from "./LiveResultsPanel";

// The panel is tested against a stubbed hook here; LiveResultsPanel.stream.test.tsx
// runs it against the real hook and a mock WebSocket server.
const hook = vi.hoisted(() => ({
  state: null as ExperimentStream | null,
  calls: [] as unknown[][],
}));

vi.mock("@/hooks/useExperimentStream", () => ({
  useExperimentStream: (...args: unknown[]) => {
    hook.calls.push(args);
    return hook.state;
  },
}));

function streamState(overrides: Partial<ExperimentStream> = {}): ExperimentStream {
  return {
    snapshot: makeSnapshot(),
    status: "connected",
    error: null,
    refresh: vi.fn(() => true),
    disconnect: vi.fn(),
    reconnect: vi.fn(),
    reconnectIn: null,
    attempt: 0,
    maxReconnectAttempts: 5,
    ...overrides,
  };
}

function renderPanel(overrides: Partial<ExperimentStream> = {}) {
  hook.state = streamState(overrides);
  render(<LiveResultsPanel experimentId="exp-1" />);
  return hook.state;
}

function row(key: string) {
  const match = screen.getAllByTestId("variant-row").find((el) => el.dataset.variantKey === key);
  if (!match) throw new Error(`no row for ${key}`);
  return within(match);
}

beforeEach(() => {
  hook.state = null;
  hook.calls = [];
});

describe("LiveResultsPanel", () => {
  describe("connection badge", () => {
    it.each<[ConnectionStatus, string]>([
      ["connected", "Connected"],
      ["connecting", "Connecting…"],
      ["disconnected", "Disconnected"],
      ["error", "Connection error"],
    ])("shows the %s status with its label", (status, label) => {
      renderPanel({ status, error: status === "error" ? "boom" : null });
      const badge = screen.getByTestId("connection-status");
      expect(badge).toHaveAttribute("data-status", status);
      expect(badge).toHaveTextContent(label);
    });

    it("shows the pulsing LIVE marker only while connected", () => {
      renderPanel({ status: "connected" });
      expect(screen.getByTestId("live-indicator")).toHaveTextContent("LIVE");
    });

    it.each<ConnectionStatus>(["connecting", "disconnected", "error"])(
      "hides the LIVE marker when the status is %s",
      (status) => {
        renderPanel({ status, error: status === "error" ? "boom" : null });
        expect(screen.queryByTestId("live-indicator")).not.toBeInTheDocument();
      },
    );
  });

  describe("variant table", () => {
    it("renders one row per variant with the column headers in order", () => {
      renderPanel();
      expect(screen.getAllByTestId("variant-row")).toHaveLength(3);
      const headers = screen.getAllByRole("columnheader").map((th) => th.textContent);
      expect(headers).toEqual(["Name", "Participants", "Conversions", "Rate", "Lift", "P-value", "Status"]);
    });

    it("formats counts, rates, lifts and p-values for people", () => {
      renderPanel();
      const green = row("green");
      expect(green.getByText("Green button")).toBeInTheDocument();
      expect(green.getByTestId("variant-participants")).toHaveTextContent("1,230,000");
      expect(green.getByTestId("variant-conversions")).toHaveTextContent("197,430");
      expect(green.getByTestId("variant-rate")).toHaveTextContent("16.05%");
      expect(green.getByTestId("variant-lift")).toHaveTextContent("+30.0%");
      expect(green.getByTestId("variant-p-value")).toHaveTextContent("0.031");

      const red = row("red");
      expect(red.getByTestId("variant-lift")).toHaveTextContent("\u22125.2%");
      expect(red.getByTestId("variant-p-value")).toHaveTextContent("0.137");
    });

    it("shows a dash for the control's null lift and p-value", () => {
      renderPanel();
      const control = row("control");
      expect(control.getByTestId("variant-participants")).toHaveTextContent("1,234,567");
      expect(control.getByTestId("variant-rate")).toHaveTextContent("12.34%");
      expect(control.getByTestId("variant-lift")).toHaveTextContent("—");
      expect(control.getByTestId("variant-p-value")).toHaveTextContent("—");
    });

    it("shows p-values below 0.001 as <0.001", () => {
      const snapshot = makeSnapshot();
      snapshot.variants[1].p_value = 0.00002;
      renderPanel({ snapshot });
      expect(row("green").getByTestId("variant-p-value")).toHaveTextContent("<0.001");
    });

    it("labels variants as control, significant or not significant", () => {
      renderPanel();
      const verdicts = screen.getAllByTestId("variant-verdict").map((el) => [el.dataset.verdict, el.textContent]);
      expect(verdicts).toEqual([
        ["control", "control"],
        ["significant", "significant"],
        ["not_significant", "not significant"],
      ]);
    });
  });

  describe("summary", () => {
    it("shows the experiment status, total participants, days running and last updated time", () => {
      const snapshot = makeSnapshot({ status: "paused", total_participants: 3693567, days_running: 12 });
      renderPanel({ snapshot });
      expect(screen.getByTestId("experiment-status")).toHaveTextContent("paused");
      expect(screen.getByTestId("total-participants")).toHaveTextContent("3,693,567");
      expect(screen.getByTestId("days-running")).toHaveTextContent("12 days");
      expect(screen.getByTestId("overall-significance")).toHaveTextContent("Significant");
      expect(screen.getByTestId("last-updated")).toHaveTextContent(`Last updated ${formatTime(snapshot.timestamp)}`);
      expect(screen.getByTestId("last-updated").querySelector("time")).toHaveAttribute(
        "datetime",
        snapshot.timestamp,
      );
    });

    it("shows a waiting message and a dash for last updated before the first snapshot", () => {
      renderPanel({ snapshot: null, status: "connecting" });
      expect(screen.getByTestId("waiting-for-results")).toBeInTheDocument();
      expect(screen.getByTestId("last-updated")).toHaveTextContent("Last updated —");
      expect(screen.queryByTestId("variant-row")).not.toBeInTheDocument();
    });
  });

  describe("refresh", () => {
    it("asks the stream for a fresh snapshot when Refresh is clicked", () => {
      const state = renderPanel();
      fireEvent.click(screen.getByTestId("refresh-button"));
      expect(state.refresh).toHaveBeenCalledTimes(1);
    });

    it("disables Refresh while not connected", () => {
      renderPanel({ status: "connecting" });
      expect(screen.getByTestId("refresh-button")).toBeDisabled();
    });
  });

  describe("reconnecting and errors", () => {
    it("shows the reconnect countdown with the attempt number while disconnected", () => {
      renderPanel({ status: "disconnected", reconnectIn: 3, attempt: 2, maxReconnectAttempts: 5 });
      expect(screen.getByTestId("reconnect-countdown")).toHaveTextContent("Reconnecting in 3s (attempt 2 of 5)");
    });

    it("reconnects at once when Reconnect now is clicked during the countdown", () => {
      const state = renderPanel({ status: "disconnected", reconnectIn: 8, attempt: 4 });
      fireEvent.click(screen.getByTestId("reconnect-now-button"));
      expect(state.reconnect).toHaveBeenCalledTimes(1);
    });

    it("does not show a countdown while connected", () => {
      renderPanel({ status: "connected" });
      expect(screen.queryByTestId("reconnect-countdown")).not.toBeInTheDocument();
      expect(screen.queryByTestId("error-banner")).not.toBeInTheDocument();
    });

    it("shows which attempt is running while reconnecting", () => {
      renderPanel({ status: "connecting", attempt: 3 });
      expect(screen.getByTestId("reconnecting-notice")).toHaveTextContent("Reconnecting… (attempt 3 of 5)");
    });

    it("shows the error banner with a Reconnect button that reconnects", () => {
      const state = renderPanel({ status: "error", error: "Experiment exp-1 not found", snapshot: null });
      const banner = screen.getByTestId("error-banner");
      expect(banner).toHaveAttribute("role", "alert");
      expect(banner).toHaveTextContent("Experiment exp-1 not found");
      fireEvent.click(within(banner).getByTestId("reconnect-button"));
      expect(state.reconnect).toHaveBeenCalledTimes(1);
    });

    it("shows the error banner while staying connected when results are unavailable", () => {
      renderPanel({ status: "connected", error: "Results are being recomputed" });
      expect(screen.getByTestId("error-banner")).toHaveTextContent("Results are being recomputed");
      expect(screen.getByTestId("connection-status")).toHaveAttribute("data-status", "connected");
      expect(screen.getByTestId("live-indicator")).toBeInTheDocument();
    });

    it("offers to resume after a deliberate disconnect", () => {
      const state = renderPanel({ status: "disconnected", reconnectIn: null });
      fireEvent.click(screen.getByTestId("resume-button"));
      expect(state.reconnect).toHaveBeenCalledTimes(1);
    });
  });

  it("passes the experiment id and options to the stream hook", () => {
    hook.state = streamState();
    const options: UseExperimentStreamOptions = { pingIntervalMs: 5000 };
    render(<LiveResultsPanel experimentId="abc" options={options} />);
    expect(hook.calls[0]).toEqual(["abc", options]);
  });
});
