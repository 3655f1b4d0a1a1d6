import { fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AnomalyEvent } from "@expstream/client";
import type { ConnectionStatus, ExperimentStream, UseExperimentStreamOptions } from "../hooks/useExperimentStream";
import { formatTime } from "../lib/format";
import { stubFetch } from "@test-support/fetchMock";
import { makeSnapshot } from "@test-support/mockWebSocket";
import { LiveResultsPanel } from "./LiveResultsPanel";

// The panel is tested against a stubbed hook here; LiveResultsPanel.stream.test.tsx
// runs it against the real hook and a mock WebSocket server.
const hook = vi.hoisted(() => ({
  state: null as ExperimentStream | null,
  calls: [] as unknown[][],
}));

vi.mock("../hooks/useExperimentStream", () => ({
  useExperimentStream: (...args: unknown[]) => {
    hook.calls.push(args);
    return hook.state;
  },
}));

function streamState(overrides: Partial<ExperimentStream> = {}): ExperimentStream {
  return {
    snapshot: makeSnapshot(),
    anomaly: null,
    status: "connected",
    error: null,
    transport: "websocket",
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

const SRM_TEXT = "traffic is not split as configured, so these results cannot be trusted.";

function srmAnomaly(pValue: number | null = 0.00001): AnomalyEvent {
  return {
    event: "anomaly",
    type: "sample_ratio_mismatch",
    experiment_id: "exp-1",
    p_value: pValue,
    message: "Sample ratio mismatch",
    timestamp: "2024-05-01T12:00:00+00:00",
  };
}

beforeEach(() => {
  hook.state = null;
  hook.calls = [];
  // The lift chart's history request stays pending unless a test answers it
  // (useLiftHistory.test.ts and LiftChart.test.tsx cover the chart itself).
  vi.stubGlobal("fetch", vi.fn(() => new Promise<Response>(() => {})));
});

afterEach(() => {
  vi.unstubAllGlobals();
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

  describe("transport", () => {
    it.each([
      ["websocket", "via WebSocket"],
      ["sse", "via Server-Sent Events (fallback)"],
      ["polling", "via polling every 10 s (fallback)"],
    ] as const)("names the %s transport next to the connection badge", (transport, text) => {
      renderPanel({ transport });
      const note = screen.getByTestId("transport");
      expect(note).toHaveAttribute("data-transport", transport);
      expect(note).toHaveTextContent(text);
    });

    it("names no transport when none is running", () => {
      renderPanel({ transport: null, status: "disconnected" });
      expect(screen.queryByTestId("transport")).not.toBeInTheDocument();
    });
  });

  describe("variant table", () => {
    it("renders one row per variant with the column headers in order", () => {
      renderPanel();
      expect(screen.getAllByTestId("variant-row")).toHaveLength(3);
      const headers = screen.getAllByRole("columnheader").map((th) => th.textContent);
      expect(headers).toEqual([
        "Name",
        "Participants",
        "Conversions",
        "Rate",
        "Lift",
        "Lift CI",
        "P-value",
        "Chance to win",
        "Status",
      ]);
    });

    it("shows the lift interval and the chance to win formatted for people", () => {
      renderPanel();
      expect(row("green").getByTestId("variant-lift-ci")).toHaveTextContent("+2.1% \u2026 +57.9%");
      expect(row("green").getByTestId("variant-chance-to-win")).toHaveTextContent("98.4%");
      expect(row("red").getByTestId("variant-lift-ci")).toHaveTextContent("\u221211.8% \u2026 +1.7%");
      expect(row("red").getByTestId("variant-chance-to-win")).toHaveTextContent("6.9%");
    });

    it("shows a dash for the control's interval and chance to win, and for intervals the server has not computed", () => {
      const snapshot = makeSnapshot();
      snapshot.variants[2].lift_ci = null;
      snapshot.variants[2].chance_to_win = null;
      renderPanel({ snapshot });
      expect(row("control").getByTestId("variant-lift-ci")).toHaveTextContent(/^—$/);
      expect(row("control").getByTestId("variant-chance-to-win")).toHaveTextContent(/^—$/);
      expect(row("red").getByTestId("variant-lift-ci")).toHaveTextContent(/^—$/);
      expect(row("red").getByTestId("variant-chance-to-win")).toHaveTextContent(/^—$/);
    });

    it("takes the Status from each variant's is_significant rather than from p < 0.05", () => {
      const snapshot = makeSnapshot();
      snapshot.variants[1].is_significant = false; // p = 0.031, but not significant under the analysis
      snapshot.variants[2].is_significant = true; // p = 0.137
      renderPanel({ snapshot });
      expect(row("green").getByTestId("variant-verdict")).toHaveTextContent("not significant");
      expect(row("red").getByTestId("variant-verdict")).toHaveAttribute("data-verdict", "significant");
    });

    it("shows Holm-adjusted p-values under a P-value (Holm) header with holm-bonferroni and two or more treatments", () => {
      const snapshot = makeSnapshot({
        analysis: { method: "fixed", alpha: 0.05, sequential_tuning: null, correction: "holm-bonferroni" },
      });
      snapshot.variants[1].p_value_adjusted = 0.062;
      snapshot.variants[2].p_value_adjusted = 0.137;
      renderPanel({ snapshot });
      expect(screen.getByTestId("p-value-header")).toHaveTextContent("P-value (Holm)");
      expect(row("green").getByTestId("variant-p-value")).toHaveTextContent("0.062");
      expect(row("red").getByTestId("variant-p-value")).toHaveTextContent("0.137");
    });

    it("shows raw p-values under a plain P-value header with holm-bonferroni and a single treatment", () => {
      const snapshot = makeSnapshot({
        analysis: { method: "fixed", alpha: 0.05, sequential_tuning: null, correction: "holm-bonferroni" },
      });
      snapshot.variants = snapshot.variants.slice(0, 2);
      snapshot.variants[1].p_value_adjusted = 0.5;
      renderPanel({ snapshot });
      expect(screen.getByTestId("p-value-header")).toHaveTextContent(/^P-value$/);
      expect(row("green").getByTestId("variant-p-value")).toHaveTextContent("0.031");
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

  describe("analysis method", () => {
    it("explains a sequential analysis next to the table", () => {
      renderPanel({
        snapshot: makeSnapshot({
          analysis: { method: "sequential", alpha: 0.05, sequential_tuning: 5000, correction: "none" },
        }),
      });
      expect(screen.getByTestId("analysis-method")).toHaveTextContent(
        "Sequential analysis (always-valid confidence sequences, N* = 5,000) at 95% confidence — safe to check as often as you like.",
      );
    });

    it("warns about peeking under a fixed-horizon analysis", () => {
      renderPanel();
      expect(screen.getByTestId("analysis-method")).toHaveTextContent(
        "Fixed-horizon analysis at 95% confidence — valid only when read once at the planned sample size; peeking inflates false positives.",
      );
    });

    it("mentions the Holm-Bonferroni correction across the treatments", () => {
      renderPanel({
        snapshot: makeSnapshot({
          analysis: { method: "sequential", alpha: 0.05, sequential_tuning: 5000, correction: "holm-bonferroni" },
        }),
      });
      expect(screen.getByTestId("analysis-method")).toHaveTextContent(
        "at 95% confidence, Holm-Bonferroni corrected across 2 treatments — safe to check",
      );
    });

    it("mentions the Benjamini-Hochberg adjustment and shows BH-adjusted p-values", () => {
      const snapshot = makeSnapshot({
        analysis: { method: "fixed", alpha: 0.05, sequential_tuning: null, correction: "benjamini-hochberg" },
      });
      snapshot.variants[1].p_value_adjusted = 0.062;
      renderPanel({ snapshot });
      expect(screen.getByTestId("analysis-method")).toHaveTextContent(
        "Fixed-horizon analysis at 95% confidence, p-values adjusted for multiple comparisons across 2 treatments (Benjamini-Hochberg, false discovery rate) — valid only",
      );
      expect(screen.getByTestId("p-value-header")).toHaveTextContent("P-value (BH)");
      expect(row("green").getByTestId("variant-p-value")).toHaveTextContent("0.062");
    });

    it("keeps describing the analysis under a correction it does not know, without naming it", () => {
      const snapshot = makeSnapshot({
        analysis: { method: "sequential", alpha: 0.05, sequential_tuning: 5000, correction: "benjamini-yekutieli" },
      });
      snapshot.variants[1].p_value_adjusted = 0.093;
      renderPanel({ snapshot });
      expect(screen.getByTestId("analysis-method")).toHaveTextContent(
        "Sequential analysis (always-valid confidence sequences, N* = 5,000) at 95% confidence — safe to check as often as you like.",
      );
      expect(screen.getByTestId("p-value-header")).toHaveTextContent("P-value (adj.)");
      expect(row("green").getByTestId("variant-p-value")).toHaveTextContent("0.093");
    });

    it("says nothing about the method when the server sends no analysis block", () => {
      renderPanel({ snapshot: makeSnapshot({ analysis: undefined }) });
      expect(screen.queryByTestId("analysis-method")).not.toBeInTheDocument();
    });
  });

  describe("sample ratio mismatch", () => {
    it("shows a red alert when an SRM anomaly event arrived", () => {
      renderPanel({ anomaly: srmAnomaly(0.00001) });
      const banner = screen.getByTestId("srm-banner");
      expect(banner).toHaveAttribute("role", "alert");
      expect(banner).toHaveTextContent(`Sample ratio mismatch (p < 0.001): ${SRM_TEXT}`);
    });

    it("shows the alert when the snapshot reports srm.mismatch, with its p-value", () => {
      renderPanel({ snapshot: makeSnapshot({ srm: { p_value: 0.0042, mismatch: true } }) });
      expect(screen.getByTestId("srm-banner")).toHaveTextContent(`Sample ratio mismatch (p = 0.004): ${SRM_TEXT}`);
    });

    it("shows the alert even before the first snapshot", () => {
      renderPanel({ snapshot: null, status: "connecting", anomaly: srmAnomaly(null) });
      expect(screen.getByTestId("srm-banner")).toHaveTextContent(`Sample ratio mismatch: ${SRM_TEXT}`);
    });

    it("shows no alert without a mismatch or anomaly", () => {
      renderPanel();
      expect(screen.queryByTestId("srm-banner")).not.toBeInTheDocument();
    });

    it("shows no SRM alert for anomalies of other types", () => {
      renderPanel({ anomaly: { ...srmAnomaly(), type: "traffic_drop" } });
      expect(screen.queryByTestId("srm-banner")).not.toBeInTheDocument();
    });
  });

  describe("lift chart", () => {
    it("shows the lift chart under the table once a snapshot is there", async () => {
      stubFetch({ "/api/v1/experiments/exp-1/results/history": { body: { experiment_id: "exp-1", points: [] } } });
      renderPanel();
      const chart = screen.getByTestId("lift-chart");
      expect(screen.getByTestId("variant-table").compareDocumentPosition(chart)).toBe(
        Node.DOCUMENT_POSITION_FOLLOWING,
      );
      expect(await within(chart).findByText("Not enough data yet.")).toBeInTheDocument();
    });

    it("asks for the history of the panel's experiment and says so while it loads", () => {
      renderPanel();
      expect(vi.mocked(fetch).mock.calls[0][0]).toBe("/api/v1/experiments/exp-1/results/history");
      expect(screen.getByTestId("lift-chart-empty")).toHaveTextContent("Loading the lift history…");
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
