import { describe, expect, it } from "vitest";
import type { HistoryPoint } from "@expstream/client";
import { metricsHistory } from "@test-support/metricsFixtures";
import { buildLiftSeries, countLiftPoints, liftDomain, splitRuns } from "./liftSeries";

function point(seq: number, lift: number | null = 0.1, ci: [number, number] | null = [0, 0.2]): HistoryPoint {
  return {
    seq,
    timestamp: new Date(Date.UTC(2024, 4, 1, 12, 0, seq)).toISOString(),
    variants: [
      { key: "control", participant_count: 100, conversion_count: 10, relative_lift: 0, lift_ci: null },
      { key: "green", participant_count: 100, conversion_count: 11, relative_lift: lift, lift_ci: ci },
    ],
  };
}


describe("chart series", () => {
  it("builds one series per treatment with a gap where a point lacks the variant", () => {
    const points = [point(1, 0.1), { ...point(2), variants: [] }, point(3, 0.2)];
    const [green] = buildLiftSeries(points, [{ key: "green", name: "Green" }]);
    expect(green.values.map((v) => v.lift)).toEqual([0.1, null, 0.2]);
    expect(green.values[0].time).toBe(Date.parse(points[0].timestamp));
  });

  it("splits values into runs at the gaps", () => {
    expect(splitRuns([1, null, 2, 3, null, null, 4], (v) => v !== null)).toEqual([[1], [2, 3], [4]]);
    expect(splitRuns([null], (v) => v !== null)).toEqual([]);
  });

  it("counts the points that have any lift", () => {
    const series = buildLiftSeries([point(1, null, null), point(2, 0.1)], [{ key: "green", name: "Green" }]);
    expect(countLiftPoints(series)).toBe(1);
  });

  it("spans zero, the lifts and the intervals in the y range", () => {
    const series = buildLiftSeries([point(1, 0.1, [-0.05, 0.25]), point(2, 0.15, [0.02, 0.28])], [
      { key: "green", name: "Green" },
    ]);
    expect(liftDomain(series)).toEqual([-0.05, 0.28]);
  });

  it("limits how far early wide intervals stretch the y range, and never goes below −100%", () => {
    const series = buildLiftSeries([point(1, 0.1, [-3, 9]), point(2, 0.1, [0.05, 0.15])], [
      { key: "green", name: "Green" },
    ]);
    const [low, high] = liftDomain(series) ?? [0, 0];
    expect(low).toBeCloseTo(-0.15);
    expect(high).toBeCloseTo(0.25);
    const crash = buildLiftSeries([point(1, -0.9, [-2, 0])], [{ key: "green", name: "Green" }]);
    expect(liftDomain(crash)?.[0]).toBe(-1);
  });

  it("has no y range without any lift", () => {
    expect(liftDomain(buildLiftSeries([point(1, null, null)], [{ key: "green", name: "Green" }]))).toBeNull();
  });
});

describe("per-metric series", () => {
  const treatments = [
    { key: "one_click", name: "One-click checkout" },
    { key: "express", name: "Express checkout" },
  ];
  const lifts = (series: ReturnType<typeof buildLiftSeries>, index: number) => series[index].values.map((v) => v.lift);

  it("draws the chosen metric's lifts, and the conversion lifts without a metric", () => {
    const points = metricsHistory(3);
    expect(lifts(buildLiftSeries(points, treatments, "revenue"), 0).map((v) => v?.toFixed(2))).toEqual(["0.02", "0.04", "0.06"]);
    expect(lifts(buildLiftSeries(points, treatments, "refunds"), 1).map((v) => v?.toFixed(2))).toEqual(["0.10", "0.20", "0.30"]);
    expect(lifts(buildLiftSeries(points, treatments), 0).map((v) => v?.toFixed(2))).toEqual(["0.30", "0.60", "0.90"]);
  });

  it("leaves a gap at points from before the server had metrics, or without that metric", () => {
    const [withMetrics, ...rest] = metricsHistory(2);
    const { metrics: _metrics, ...old } = rest[0];
    const series = buildLiftSeries([old, withMetrics], treatments, "revenue");
    expect(lifts(series, 0)).toEqual([null, 0.02]);
    expect(lifts(buildLiftSeries([withMetrics], treatments, "unknown"), 0)).toEqual([null]);
  });
});
