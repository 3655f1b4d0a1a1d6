/**
 * Snapshots for the multiple-metrics UI: one with three metrics (a proportion primary, a mean
 * secondary, a ratio guardrail where lower is better) and its alerts, from
 * fixtures/metrics-snapshot.json (also served by e2e/metrics.e2e.test.mjs); and the same
 * experiment as a server without metrics sends it. In the fixture CUPED adjusts the revenue
 * metric (theta 0.41 / variance reduction 0.31 for one_click, 0.38 / 0.24 for express; null for
 * the control and the other metrics), and 120 users saw more than one variant.
 */
import type { ExperimentSnapshot, HistoryPoint } from "@expstream/client";
import fixture from "./fixtures/metrics-snapshot.json";

/** The raw JSON, as the server would send it (includes an alert type the dashboard does not know). */
export function metricsSnapshotJson(): Record<string, unknown> {
  return structuredClone(fixture);
}

/** The three-metric snapshot as the dashboard holds it after parsing (unknown alerts dropped). */
export function makeMetricsSnapshot(overrides: Partial<ExperimentSnapshot> = {}): ExperimentSnapshot {
  const json = metricsSnapshotJson() as unknown as ExperimentSnapshot;
  return {
    ...json,
    alerts: (json.alerts ?? []).filter((alert) => alert.type === "guardrail" || alert.type === "multiple_exposures"),
    ...overrides,
  };
}

/** The same snapshot without `metrics`, `alerts` and `multiple_exposures`: what a server from before metrics sends. */
export function makeSnapshotWithoutMetrics(): ExperimentSnapshot {
  const { metrics: _metrics, alerts: _alerts, multiple_exposures: _exposures, ...rest } = makeMetricsSnapshot();
  return rest;
}

/** The three-metric snapshot as a server from before CUPED and the exposure count sends it: no `cuped` fields, no `multiple_exposures`. */
export function makeMetricsSnapshotWithoutCuped(): ExperimentSnapshot {
  const { multiple_exposures: _exposures, ...snapshot } = makeMetricsSnapshot();
  return {
    ...snapshot,
    metrics: (snapshot.metrics ?? []).map(({ cuped: _cuped, variants, ...metric }) => ({
      ...metric,
      variants: variants.map(({ cuped: _variantCuped, ...variant }) => variant),
    })),
  };
}

/**
 * `count` history points a minute apart from 11:00 UTC, with per-metric lifts. At point i (step
 * i + 1) treatment t (0: one_click, 1: express) has the conversion lift 0.3 × step × (t + 1) and
 * the metric lifts f × step × (t + 1) with f = 0.1 (checkout_conversion), 0.02 (revenue) and
 * 0.05 (refunds); every interval is the lift ± 0.1.
 */
export function metricsHistory(count = 3): HistoryPoint[] {
  const factor: Record<string, number> = { checkout_conversion: 0.1, revenue: 0.02, refunds: 0.05 };
  const treatments = ["one_click", "express"];
  return Array.from({ length: count }, (_, index) => {
    const step = index + 1;
    const lift = (value: number) => ({ relative_lift: value, lift_ci: [value - 0.1, value + 0.1] as [number, number] });
    return {
      seq: 100 + index,
      timestamp: new Date(Date.UTC(2024, 4, 1, 11, index)).toISOString(),
      variants: [
        { key: "control", relative_lift: null, lift_ci: null },
        ...treatments.map((key, t) => ({ key, ...lift(0.3 * step * (t + 1)) })),
      ],
      metrics: Object.entries(factor).map(([key, f]) => ({
        key,
        variants: [
          { key: "control", relative_lift: null, lift_ci: null },
          ...treatments.map((variant, t) => ({ key: variant, ...lift(f * step * (t + 1)) })),
        ],
      })),
    };
  });
}
