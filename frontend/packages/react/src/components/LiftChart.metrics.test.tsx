import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { makeMetricsSnapshot, metricsHistory } from "@test-support/metricsFixtures";
import { LiftChart } from "./LiftChart";

const snapshot = makeMetricsSnapshot();
const metrics = snapshot.metrics ?? [];
const points = metricsHistory(3);

/** The latest lift per treatment, as the legend shows it. */
const legend = () => screen.getAllByTestId("lift-legend-item").map((item) => item.textContent);

function renderChart(props: Partial<Parameters<typeof LiftChart>[0]> = {}) {
  return render(<LiftChart points={points} variants={snapshot.variants} timeZone="UTC" metrics={metrics} {...props} />);
}

describe("LiftChart with metrics", () => {
  it("draws the primary metric by default", () => {
    renderChart();
    expect(screen.getByTestId<HTMLSelectElement>("lift-metric-select").value).toBe("checkout_conversion");
    // checkout_conversion at the third point: 0.1 × 3 for one_click, 0.1 × 3 × 2 for express.
    expect(legend()).toEqual([
      "One-click checkout +30.0% (+20.0% \u2026 +40.0%)",
      "Express checkout +60.0% (+50.0% \u2026 +70.0%)",
    ]);
  });

  it("draws the metric picked in the selector, and says when lower is better", () => {
    renderChart();
    expect(screen.getByTestId("lift-chart")).not.toHaveTextContent("lower is better");
    fireEvent.change(screen.getByTestId("lift-metric-select"), { target: { value: "revenue" } });
    expect(legend()[0]).toBe("One-click checkout +6.0% (\u22124.0% \u2026 +16.0%)");
    fireEvent.change(screen.getByTestId("lift-metric-select"), { target: { value: "refunds" } });
    expect(legend()[1]).toBe("Express checkout +30.0% (+20.0% \u2026 +40.0%)");
    expect(screen.getByTestId("lift-chart")).toHaveTextContent("lower is better");
  });

  it("keeps the choice across new snapshots, and returns to the primary metric when the chosen one disappears", () => {
    const { rerender } = renderChart();
    fireEvent.change(screen.getByTestId("lift-metric-select"), { target: { value: "revenue" } });
    rerender(<LiftChart points={points} variants={snapshot.variants} timeZone="UTC" metrics={[...metrics]} />);
    expect(screen.getByTestId("lift-chart")).toHaveAttribute("data-metric-key", "revenue");
    rerender(<LiftChart points={points} variants={snapshot.variants} timeZone="UTC" metrics={[metrics[0], metrics[2]]} />);
    expect(screen.getByTestId("lift-chart")).toHaveAttribute("data-metric-key", "checkout_conversion");
  });

  it("says there is not enough data for a metric the history does not have yet", () => {
    const { metrics: _metrics, ...old } = points[0];
    renderChart({ points: [old, { ...points[1], metrics: [] }] });
    expect(screen.getByTestId("lift-chart-empty")).toHaveTextContent("Not enough data yet.");
  });

  it("draws the conversion lifts without a selector when there are no metrics", () => {
    renderChart({ metrics: null });
    expect(screen.queryByTestId("lift-metric-select")).not.toBeInTheDocument();
    expect(screen.getByTestId("lift-chart")).not.toHaveAttribute("data-metric-key");
    expect(legend()[0]).toBe("One-click checkout +90.0% (+80.0% \u2026 +100.0%)");
  });
});
