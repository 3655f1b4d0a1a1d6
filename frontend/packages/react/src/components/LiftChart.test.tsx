import { render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { HistoryPoint } from "@expstream/client";
import { LiftChart } from "./LiftChart";

const VARIANTS = [
  { key: "control", name: "Control", is_control: true },
  { key: "green", name: "Green button", is_control: false },
  { key: "red", name: "Red button", is_control: false },
];

type Lift = [number | null, [number, number] | null];

/** One point per minute from 12:00 UTC; `lifts` maps variant key to [lift, ci]. */
function point(seq: number, lifts: Record<string, Lift>): HistoryPoint {
  return {
    seq,
    timestamp: new Date(Date.UTC(2024, 4, 1, 12, seq)).toISOString(),
    variants: [
      { key: "control", relative_lift: 0, lift_ci: null },
      ...Object.entries(lifts).map(([key, [lift, ci]]) => ({ key, relative_lift: lift, lift_ci: ci })),
    ],
  };
}

const POINTS: HistoryPoint[] = [
  point(0, { green: [0.1, [-0.1, 0.3]], red: [-0.05, [-0.2, 0.1]] }),
  point(10, { green: [0.15, [0.0, 0.3]], red: [-0.02, [-0.15, 0.1]] }),
  point(20, { green: [0.2, [0.05, 0.35]], red: [-0.03, [-0.12, 0.06]] }),
];

function renderChart(points: HistoryPoint[] = POINTS, extra: Partial<Parameters<typeof LiftChart>[0]> = {}) {
  return render(<LiftChart points={points} variants={VARIANTS} timeZone="UTC" {...extra} />);
}

const seriesOf = (key: string) => {
  const group = screen.getAllByTestId("lift-series").find((g) => g.getAttribute("data-variant-key") === key);
  if (!group) throw new Error(`no series for ${key}`);
  return within(group);
};

/** Number of subpaths (each starts with M) in a path's d attribute. */
const subpaths = (element: Element) => (element.getAttribute("d")?.match(/M/g) ?? []).length;

describe("LiftChart", () => {
  it("draws a line and a confidence band for every treatment, but none for the control", () => {
    renderChart();
    const chart = screen.getByTestId("lift-chart");
    expect(within(chart).getAllByTestId("lift-series").map((g) => g.getAttribute("data-variant-key"))).toEqual([
      "green",
      "red",
    ]);
    expect(within(chart).getAllByTestId("lift-line")).toHaveLength(2);
    expect(within(chart).getAllByTestId("lift-band")).toHaveLength(2);
    const band = seriesOf("green").getByTestId("lift-band");
    expect(band.getAttribute("d")).toMatch(/^M.*Z$/);
    expect(subpaths(seriesOf("green").getByTestId("lift-line"))).toBe(1);
  });

  it("draws the zero line, percentage ticks on the y axis and time ticks on the x axis", () => {
    renderChart();
    expect(screen.getByTestId("lift-zero-line")).toBeInTheDocument();
    const yLabels = within(screen.getByTestId("lift-y-axis"))
      .getAllByText(/%$/)
      .map((t) => t.textContent);
    expect(yLabels).toContain("0%");
    expect(yLabels).toContain("+20%");
    expect(yLabels).toContain("\u221210%");
    const xLabels = screen.getByTestId("lift-x-axis").querySelectorAll("text");
    expect(xLabels.length).toBeGreaterThanOrEqual(3);
    expect(xLabels[0].textContent).toBe("12:00");
    expect(xLabels[xLabels.length - 1].textContent).toBe("12:20");
  });

  it("scales to the card's width through its viewBox", () => {
    renderChart();
    const svg = screen.getByTestId("lift-chart-svg");
    expect(svg.getAttribute("viewBox")).toMatch(/^0 0 \d+ \d+$/);
    expect(svg).not.toHaveAttribute("width");
  });

  it("names every treatment in the legend with its latest lift and interval", () => {
    renderChart();
    const items = within(screen.getByTestId("lift-chart-legend")).getAllByTestId("lift-legend-item");
    expect(items.map((li) => li.textContent)).toEqual([
      "Green button +20.0% (+5.0% \u2026 +35.0%)",
      "Red button \u22123.0% (\u221212.0% \u2026 +6.0%)",
    ]);
  });

  it("leaves gaps where the lift or the interval is unknown", () => {
    const points = [
      ...POINTS,
      point(30, { green: [null, null], red: [-0.01, null] }),
      point(40, { green: [0.22, [0.1, 0.34]], red: [-0.01, [-0.1, 0.08]] }),
      point(50, { green: [0.21, [0.1, 0.32]], red: [0.0, [-0.09, 0.08]] }),
    ];
    renderChart(points);
    expect(subpaths(seriesOf("green").getByTestId("lift-line"))).toBe(2);
    expect(subpaths(seriesOf("green").getByTestId("lift-band"))).toBe(2);
    expect(subpaths(seriesOf("red").getByTestId("lift-line"))).toBe(1);
    expect(subpaths(seriesOf("red").getByTestId("lift-band"))).toBe(2);
  });

  it("says there is not enough data yet without history", () => {
    renderChart([]);
    expect(screen.getByTestId("lift-chart")).toHaveTextContent("Not enough data yet.");
    expect(screen.queryByTestId("lift-chart-svg")).not.toBeInTheDocument();
    expect(screen.queryByTestId("lift-chart-legend")).not.toBeInTheDocument();
  });

  it("says there is not enough data yet with a single point or only unknown lifts", () => {
    renderChart(POINTS.slice(0, 1));
    expect(screen.getByTestId("lift-chart-empty")).toHaveTextContent("Not enough data yet.");
    renderChart([point(1, { green: [null, null] }), point(2, { green: [null, null] })]);
    expect(screen.getAllByTestId("lift-chart-empty")[1]).toHaveTextContent("Not enough data yet.");
  });

  it("says the history is loading while it is", () => {
    renderChart([], { loading: true });
    expect(screen.getByTestId("lift-chart-empty")).toHaveTextContent("Loading the lift history…");
  });

  it("notes when the history could not be loaded", () => {
    renderChart(POINTS, { error: "Earlier results could not be loaded" });
    expect(screen.getByTestId("lift-chart-error")).toHaveTextContent("Earlier results could not be loaded");
    expect(screen.getByTestId("lift-chart-svg")).toBeInTheDocument();
  });
});

describe("LiftChart on a narrow card", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("follows the measured card width, with at most three time labels on a phone", () => {
    class FakeResizeObserver {
      constructor(private readonly callback: ResizeObserverCallback) {}
      observe(target: Element) {
        this.callback([{ target, contentRect: { width: 340 } } as unknown as ResizeObserverEntry], this);
      }
      unobserve() {}
      disconnect() {}
    }
    vi.stubGlobal("ResizeObserver", FakeResizeObserver);
    const points = Array.from({ length: 13 }, (_, i) => point(i * 5, { green: [0.1 + i / 100, [0, 0.3]] }));
    renderChart(points);
    expect(screen.getByTestId("lift-chart-svg").getAttribute("viewBox")).toBe("0 0 340 260");
    expect(screen.getByTestId("lift-x-axis").querySelectorAll("text").length).toBeLessThanOrEqual(3);
  });
});
