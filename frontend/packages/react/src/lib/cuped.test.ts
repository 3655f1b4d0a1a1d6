import { describe, expect, it } from "vitest";
import type { CupedInfo, MetricResult } from "@expstream/client";
import { makeMetricsSnapshot } from "@test-support/metricsFixtures";
import { cupedDisplay, cupedLabel, cupedTitle, formatTheta, varianceReductionPercent } from "./cuped";

const snapshot = makeMetricsSnapshot();
const metric = (key: string): MetricResult => {
  const found = snapshot.metrics?.find((m) => m.key === key);
  if (!found) throw new Error(`no metric ${key}`);
  return structuredClone(found);
};
const cuped = (theta: number, variance_reduction: number | null): CupedInfo => ({ theta, variance_reduction });

describe("CUPED badge text", () => {
  it("says how much variance the adjustment removed, in whole percent with a minus sign", () => {
    expect(cupedLabel(cuped(0.41, 0.31))).toBe("CUPED: \u221231% variance");
    expect(cupedLabel(cuped(0.9, 0.876))).toBe("CUPED: \u221288% variance");
    expect(cupedLabel(cuped(1, 0.005))).toBe("CUPED: \u22121% variance");
  });

  it("says there was no variance reduction when it is 0, negative or rounds to 0 %", () => {
    for (const reduction of [0, -0.02, 0.0049]) {
      expect(cupedLabel(cuped(0.2, reduction))).toBe("CUPED: no variance reduction");
    }
    expect(varianceReductionPercent(cuped(0.2, -0.3))).toBe(0);
  });

  it("says just CUPED when the reduction cannot be computed yet (null)", () => {
    expect(cupedLabel(cuped(0.41, null))).toBe("CUPED");
    expect(varianceReductionPercent(cuped(0.41, null))).toBeNull();
  });

  it("explains the adjustment and gives theta in the tooltip", () => {
    expect(cupedTitle(cuped(0.41, 0.31))).toBe(
      "Regression-adjusted on the users\u2019 pre-experiment values (CUPED, \u03b8 = 0.41): the lift\u2019s variance is 31% lower, so its interval is narrower.",
    );
    expect(cupedTitle(cuped(0, 0))).toBe(
      "Regression-adjusted on the users\u2019 pre-experiment values (CUPED, \u03b8 = 0.00); here the adjustment did not reduce the lift\u2019s variance.",
    );
    expect(cupedTitle(cuped(1.5, null))).toContain("(CUPED, \u03b8 = 1.50); its variance reduction cannot be computed yet.");
  });

  it("formats theta with two decimals, or two significant digits when it is tiny", () => {
    expect(formatTheta(0.41)).toBe("0.41");
    expect(formatTheta(12.3456)).toBe("12.35");
    expect(formatTheta(-0.4)).toBe("\u22120.40");
    expect(formatTheta(0.0042)).toBe("0.0042");
    expect(formatTheta(-0.00123)).toBe("\u22120.0012");
    expect(formatTheta(0)).toBe("0.00");
  });
});

describe("cupedDisplay", () => {
  it("gives a metric without CUPED no badge, whether its cuped fields are null or absent", () => {
    expect(cupedDisplay(metric("checkout_conversion"), snapshot.variants)).toEqual({ badge: null, rows: new Map() });
    const { cuped: _cuped, variants, ...rest } = metric("refunds");
    const absent = { ...rest, variants: variants.map(({ cuped: _c, ...v }) => v) };
    expect(cupedDisplay(absent, snapshot.variants)).toEqual({ badge: null, rows: new Map() });
  });

  it("gives one badge when the treatments were adjusted alike", () => {
    const revenue = metric("revenue");
    revenue.variants[2].cuped = cuped(0.41, 0.306);
    const display = cupedDisplay(revenue, snapshot.variants);
    expect(display.badge).toEqual({ text: "CUPED: \u221231% variance", title: cupedTitle(cuped(0.41, 0.31)) });
    expect(display.rows.size).toBe(0);
  });

  it("gives one badge for a single treatment, and falls back to the metric's cuped when the entries have none", () => {
    const revenue = metric("revenue");
    revenue.variants = revenue.variants.slice(0, 2);
    expect(cupedDisplay(revenue, snapshot.variants).badge?.text).toBe("CUPED: \u221231% variance");
    const older = { ...revenue, variants: revenue.variants.map(({ cuped: _c, ...v }) => v) };
    expect(cupedDisplay(older, snapshot.variants).badge?.text).toBe("CUPED: \u221231% variance");
  });

  it("notes each treatment in its row when they were adjusted differently, the badge listing them all", () => {
    const display = cupedDisplay(metric("revenue"), snapshot.variants);
    expect(display.badge).toEqual({
      text: "CUPED",
      title:
        "Regression-adjusted on the users\u2019 pre-experiment values (CUPED) per treatment. " +
        "One-click checkout: \u03b8 = 0.41, 31% less variance; Express checkout: \u03b8 = 0.38, 24% less variance.",
    });
    expect([...display.rows].map(([key, row]) => [key, row.text])).toEqual([
      ["one_click", "CUPED: \u221231% variance"],
      ["express", "CUPED: \u221224% variance"],
    ]);
    expect(display.rows.get("express")?.title).toContain("\u03b8 = 0.38");
  });

  it("notes only the adjusted treatment when another was not adjusted", () => {
    const revenue = metric("revenue");
    revenue.variants[2].cuped = null;
    const display = cupedDisplay(revenue, snapshot.variants);
    expect(display.badge?.title).toContain("One-click checkout: \u03b8 = 0.41, 31% less variance; Express checkout: not adjusted.");
    expect([...display.rows.keys()]).toEqual(["one_click"]);
  });
});
