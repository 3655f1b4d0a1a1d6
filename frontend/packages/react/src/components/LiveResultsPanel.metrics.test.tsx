import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AnomalyEvent, ExperimentSnapshot } from "@expstream/client";
import type { ExperimentStream } from "../hooks/useExperimentStream";
import {
  makeMetricsSnapshot,
  makeMetricsSnapshotWithoutCuped,
  makeSnapshotWithoutMetrics,
  metricsHistory,
} from "@test-support/metricsFixtures";
import { LiveResultsPanel } from "./LiveResultsPanel";

// The panel with several metrics, against a stubbed hook (as in LiveResultsPanel.test.tsx).
const hook = vi.hoisted(() => ({ state: null as ExperimentStream | null }));

vi.mock("../hooks/useExperimentStream", () => ({
  useExperimentStream: () => hook.state,
}));

function renderPanel(snapshot: ExperimentSnapshot | null, anomaly: AnomalyEvent | null = null) {
  hook.state = {
    snapshot,
    anomaly,
    status: "connected",
    error: null,
    transport: "websocket",
    refresh: vi.fn(() => true),
    disconnect: vi.fn(),
    reconnect: vi.fn(),
    reconnectIn: null,
    attempt: 0,
    maxReconnectAttempts: 5,
  };
  return render(<LiveResultsPanel experimentId="exp-1" />);
}

const guardrailEvent: AnomalyEvent = {
  event: "anomaly",
  type: "guardrail",
  experiment_id: "exp-1",
  p_value: null,
  message: "",
  timestamp: null,
  metric: "refunds",
  variant: "express",
  relative_lift: 0.3,
  lift_ci: [0.1, 0.5],
};

/** Every element with a data-testid, in document order. */
const testIds = (container: HTMLElement) =>
  Array.from(container.querySelectorAll("[data-testid]"), (el) => el.getAttribute("data-testid"));

beforeEach(() => {
  vi.stubGlobal(
    "fetch",
    vi.fn(() => Promise.resolve(Response.json({ experiment_id: "exp-1", points: metricsHistory(3) }))),
  );
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("LiveResultsPanel with several metrics", () => {
  it("shows a card per metric between the variant table and the lift chart", () => {
    const { container } = renderPanel(makeMetricsSnapshot());
    const ids = testIds(container);
    expect(ids.indexOf("variant-table")).toBeLessThan(ids.indexOf("metric-results"));
    expect(ids.indexOf("metric-results")).toBeLessThan(ids.indexOf("lift-chart"));
    expect(screen.getAllByTestId("metric-card").map((el) => el.dataset.metricKey)).toEqual([
      "checkout_conversion",
      "revenue",
      "refunds",
    ]);
  });

  it("raises a red guardrail banner, beside the sample-ratio one", () => {
    renderPanel(makeMetricsSnapshot({ srm: { p_value: 0.0001, mismatch: true } }));
    const banner = screen.getByTestId("guardrail-banner");
    expect(banner).toHaveAttribute("role", "alert");
    expect(banner).toHaveTextContent(
      "Guardrail \u201cRefunds per order\u201d (lower is better) got worse for One-click checkout: +12.0% (+2.0% \u2026 +22.0%).",
    );
    expect(screen.getByTestId("srm-banner")).toBeInTheDocument();
  });

  it("lists one line per guardrail alert", () => {
    const snapshot = makeMetricsSnapshot();
    snapshot.alerts = [
      ...(snapshot.alerts ?? []),
      { type: "guardrail", metric: "revenue", variant: "express", relative_lift: -0.104, lift_ci: [-0.16, -0.048] },
    ];
    renderPanel(snapshot);
    expect(screen.getAllByTestId("guardrail-alert").map((el) => el.dataset.metricKey)).toEqual(["refunds", "revenue"]);
  });

  it("says how many users saw more than one variant", () => {
    renderPanel(makeMetricsSnapshot());
    expect(screen.getByTestId("multiple-exposures-banner")).toHaveTextContent("120 users (1.30% of participants) saw more than one variant");
  });

  it("shows the count of users who saw more than one variant under the participants, and nothing when there are none", () => {
    const { unmount } = renderPanel(makeMetricsSnapshot());
    const note = screen.getByTestId("multiple-exposures-count");
    expect(note.textContent).toBe("120 users saw more than one variant");
    expect(note.closest(".es-stat")).toContainElement(screen.getByTestId("total-participants"));
    unmount();
    // Below the banner's 1 % the count is still shown, quietly.
    const quiet = renderPanel(makeMetricsSnapshot({ alerts: [], multiple_exposures: 1 }));
    expect(screen.queryByTestId("multiple-exposures-banner")).not.toBeInTheDocument();
    expect(screen.getByTestId("multiple-exposures-count").textContent).toBe("1 user saw more than one variant");
    quiet.unmount();
    renderPanel(makeMetricsSnapshot({ multiple_exposures: 0 }));
    expect(screen.queryByTestId("multiple-exposures-count")).not.toBeInTheDocument();
  });

  it("badges the CUPED-adjusted metric's card", () => {
    renderPanel(makeMetricsSnapshot());
    expect(screen.getAllByTestId("metric-cuped").map((el) => el.closest<HTMLElement>("[data-metric-key]")?.dataset.metricKey)).toEqual([
      "revenue",
    ]);
    expect(screen.getAllByTestId("metric-variant-cuped").map((el) => el.textContent)).toEqual([
      "CUPED: \u221231% variance",
      "CUPED: \u221224% variance",
    ]);
  });

  it("states the correction across the tested metrics × treatments, Holm or Benjamini-Hochberg", () => {
    const { unmount } = renderPanel(makeMetricsSnapshot());
    expect(screen.getByTestId("analysis-method")).toHaveTextContent(
      "at 95% confidence, Holm-Bonferroni corrected across 2 metrics × 2 treatments — safe to check",
    );
    expect(screen.getByTestId("p-value-header")).toHaveTextContent("P-value (Holm)");
    unmount();
    const bh = makeMetricsSnapshot({
      analysis: { method: "sequential", alpha: 0.05, sequential_tuning: 5000, correction: "benjamini-hochberg" },
    });
    bh.variants = bh.variants.slice(0, 2); // one treatment, as in the demo: still a family of two
    renderPanel(bh);
    expect(screen.getByTestId("analysis-method")).toHaveTextContent(
      "at 95% confidence, p-values adjusted for multiple comparisons across 2 metrics × 1 treatment (Benjamini-Hochberg, false discovery rate) — safe to check",
    );
    expect(screen.getByTestId("p-value-header")).toHaveTextContent("P-value (BH)");
    expect(screen.getByTestId("p-value-header")).toHaveAttribute(
      "title",
      "Benjamini-Hochberg adjusted across 2 metrics × 1 treatment (false discovery rate)",
    );
    expect(screen.getAllByTestId("variant-p-value").map((el) => el.textContent)).toEqual(["—", "<0.001"]);
  });

  it("shows a guardrail anomaly event when the snapshot carries no alerts, and trusts a snapshot that does", () => {
    const { unmount } = renderPanel(makeSnapshotWithoutMetrics(), guardrailEvent);
    expect(screen.getByTestId("guardrail-banner")).toHaveTextContent("Guardrail \u201crefunds\u201d got worse for Express checkout: +30.0%");
    unmount();
    renderPanel(makeMetricsSnapshot({ alerts: [] }), guardrailEvent);
    expect(screen.queryByTestId("guardrail-banner")).not.toBeInTheDocument();
  });

  it("draws the primary metric first and switches the chart to the metric chosen", async () => {
    renderPanel(makeMetricsSnapshot());
    const select = screen.getByTestId<HTMLSelectElement>("lift-metric-select");
    expect(select.value).toBe("checkout_conversion");
    expect(within(select).getAllByRole("option").map((o) => o.textContent)).toEqual([
      "Checkout conversion (Primary)",
      "Revenue per user (Secondary)",
      "Refunds per order (Guardrail)",
    ]);
    await screen.findAllByTestId("lift-line");
    fireEvent.change(select, { target: { value: "refunds" } });
    expect(screen.getByTestId("lift-chart")).toHaveAttribute("data-metric-key", "refunds");
    expect(screen.getByTestId("lift-chart")).toHaveTextContent("lower is better");
    expect(screen.getByTestId("lift-chart-svg")).toHaveAttribute(
      "aria-label",
      "Relative lift of Refunds per order over time for One-click checkout, Express checkout",
    );
  });
});

describe("LiveResultsPanel without CUPED or the exposure count", () => {
  it("renders a snapshot without cuped and multiple_exposures exactly like one with them null and 0", async () => {
    const without = renderPanel(makeMetricsSnapshotWithoutCuped());
    await waitFor(() => expect(without.container.querySelectorAll('[data-testid="lift-line"]')).toHaveLength(2));
    for (const testId of ["metric-cuped", "metric-variant-cuped", "multiple-exposures-count"]) {
      expect(screen.queryByTestId(testId)).not.toBeInTheDocument();
    }
    expect(screen.getAllByTestId("metric-card")).toHaveLength(3);
    const html = without.container.innerHTML;
    without.unmount();
    const base = makeMetricsSnapshotWithoutCuped();
    const nulls = {
      ...base,
      multiple_exposures: 0,
      metrics: (base.metrics ?? []).map((m) => ({ ...m, cuped: null, variants: m.variants.map((v) => ({ ...v, cuped: null })) })),
    };
    const empty = renderPanel(nulls);
    await waitFor(() => expect(empty.container.querySelectorAll('[data-testid="lift-line"]')).toHaveLength(2));
    const sameIds = (text: string) => text.replace(/_r_[0-9a-z]+_|«[^»]*»|:r[0-9a-z]+:/g, "ID");
    expect(sameIds(empty.container.innerHTML)).toBe(sameIds(html));
  });
});

describe("LiveResultsPanel without metrics", () => {
  it("renders no metric cards, alert banners or metric selector", async () => {
    renderPanel(makeSnapshotWithoutMetrics());
    await screen.findAllByTestId("lift-line");
    for (const testId of ["metric-results", "guardrail-banner", "multiple-exposures-banner", "lift-metric-select"]) {
      expect(screen.queryByTestId(testId)).not.toBeInTheDocument();
    }
    expect(screen.getByTestId("lift-chart-svg")).toHaveAttribute(
      "aria-label",
      "Relative lift over time for One-click checkout, Express checkout",
    );
  });

  it("renders an empty metrics list and empty alerts exactly like a snapshot without them", async () => {
    const without = renderPanel(makeSnapshotWithoutMetrics());
    await waitFor(() => expect(without.container.querySelectorAll('[data-testid="lift-line"]')).toHaveLength(2));
    const html = without.container.innerHTML;
    without.unmount();
    const empty = renderPanel({ ...makeSnapshotWithoutMetrics(), metrics: [], alerts: [] });
    await waitFor(() => expect(empty.container.querySelectorAll('[data-testid="lift-line"]')).toHaveLength(2));
    // React's generated ids (useId) count up from render to render.
    const sameIds = (text: string) => text.replace(/_r_[0-9a-z]+_|«[^»]*»|:r[0-9a-z]+:/g, "ID");
    expect(sameIds(empty.container.innerHTML)).toBe(sameIds(html));
  });
});
