import { describe, expect, it } from "vitest";
import { makeMetricsSnapshot } from "@test-support/metricsFixtures";
import {
  defaultMetricKey,
  formatMetricValue,
  isControlKey,
  selectedMetric,
  shownMetricPValue,
  shownMetrics,
  showsAdjustedPValues,
  variantName,
} from "./metrics";

const { metrics = [], variants } = makeMetricsSnapshot();

describe("formatMetricValue", () => {
  it("shows a proportion as a percentage, like the conversion rate", () => {
    expect(formatMetricValue(0.1234, "proportion")).toBe("12.34%");
  });

  it("shows a mean or a ratio as a number with two decimals", () => {
    expect(formatMetricValue(12.5, "mean")).toBe("12.50");
    expect(formatMetricValue(1234.5, "mean")).toBe("1,234.50");
    expect(formatMetricValue(0.04704, "ratio")).toBe("0.05");
    expect(formatMetricValue(-0.5, "mean")).toBe("\u22120.50");
  });

  it("shows a dash for a missing value", () => {
    expect(formatMetricValue(null, "ratio")).toBe("—");
  });
});

describe("choosing metrics", () => {
  it("shows metrics only when there is at least one", () => {
    expect(shownMetrics(metrics)).toBe(metrics);
    expect(shownMetrics([])).toBeNull();
    expect(shownMetrics(undefined)).toBeNull();
  });

  it("starts the chart with the primary metric, else the first one", () => {
    expect(defaultMetricKey(metrics)).toBe("checkout_conversion");
    expect(defaultMetricKey([metrics[1], metrics[2], metrics[0]])).toBe("checkout_conversion");
    expect(defaultMetricKey([metrics[2], metrics[1]])).toBe("refunds");
    expect(defaultMetricKey([])).toBeNull();
  });

  it("keeps a chosen metric while it exists, and falls back to the default when it is gone", () => {
    expect(selectedMetric(metrics, "refunds")?.key).toBe("refunds");
    expect(selectedMetric(metrics, "gone")?.key).toBe("checkout_conversion");
    expect(selectedMetric(metrics, null)?.key).toBe("checkout_conversion");
    expect(selectedMetric(null, "refunds")).toBeNull();
  });
});

describe("metric rows", () => {
  it("shows the adjusted p-value when there is one, else the raw one", () => {
    expect(shownMetricPValue({ p_value: 0.04, p_value_adjusted: 0.08 })).toBe(0.08);
    expect(shownMetricPValue({ p_value: 0.04, p_value_adjusted: null })).toBe(0.04);
  });

  it("says the p-values are adjusted when any treatment has an adjusted one", () => {
    expect(showsAdjustedPValues(metrics[0])).toBe(true);
    const raw = { variants: metrics[0].variants.map((v) => ({ ...v, p_value_adjusted: null })) };
    expect(showsAdjustedPValues(raw)).toBe(false);
  });

  it("names variants from the snapshot and knows its control", () => {
    expect(variantName(variants, "one_click")).toBe("One-click checkout");
    expect(variantName(variants, "mystery")).toBe("mystery");
    expect(isControlKey(variants, "control")).toBe(true);
    expect(isControlKey(variants, "one_click")).toBe(false);
  });
});
