import { describe, expect, it } from "vitest";
import type { AnomalyEvent } from "@expstream/client";
import { makeMetricsSnapshot, makeSnapshotWithoutMetrics } from "@test-support/metricsFixtures";
import {
  guardrailAlerts,
  guardrailMessage,
  multipleExposuresAlert,
  multipleExposuresCount,
  multipleExposuresMessage,
  multipleExposuresNote,
} from "./alerts";

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

describe("guardrailAlerts", () => {
  it("takes the guardrail entries of the snapshot's alerts", () => {
    expect(guardrailAlerts(makeMetricsSnapshot(), null)).toEqual([
      { type: "guardrail", metric: "refunds", variant: "one_click", relative_lift: 0.12, lift_ci: [0.02, 0.22] },
    ]);
  });

  it("trusts a snapshot with alerts over an older event: a recovered guardrail shows no banner", () => {
    expect(guardrailAlerts(makeMetricsSnapshot({ alerts: [] }), guardrailEvent)).toEqual([]);
  });

  it("falls back to a guardrail event when the snapshot carries no alerts", () => {
    expect(guardrailAlerts(makeSnapshotWithoutMetrics(), guardrailEvent)).toEqual([
      { type: "guardrail", metric: "refunds", variant: "express", relative_lift: 0.3, lift_ci: [0.1, 0.5] },
    ]);
    expect(guardrailAlerts(null, guardrailEvent)).toHaveLength(1);
  });

  it("ignores other anomalies and guardrail events without a metric or variant", () => {
    expect(guardrailAlerts(null, { ...guardrailEvent, type: "sample_ratio_mismatch" })).toEqual([]);
    expect(guardrailAlerts(null, { ...guardrailEvent, metric: undefined })).toEqual([]);
    expect(guardrailAlerts(null, null)).toEqual([]);
  });
});

describe("guardrailMessage", () => {
  const { metrics = [], variants } = makeMetricsSnapshot();

  it("names the metric, which way is better, the treatment and its lift with the interval", () => {
    const [alert] = guardrailAlerts(makeMetricsSnapshot(), null);
    expect(guardrailMessage(alert, metrics, variants)).toBe(
      "Guardrail \u201cRefunds per order\u201d (lower is better) got worse for One-click checkout: +12.0% (+2.0% \u2026 +22.0%).",
    );
  });

  it("shows unknown keys as they are and leaves out what is missing", () => {
    const alert = { type: "guardrail", metric: "latency", variant: "beta", relative_lift: null, lift_ci: null } as const;
    expect(guardrailMessage(alert, metrics, variants)).toBe("Guardrail \u201clatency\u201d got worse for beta.");
  });
});

describe("multiple exposures", () => {
  it("finds the alert and says how many users saw more than one variant", () => {
    const alert = multipleExposuresAlert(makeMetricsSnapshot());
    expect(alert).toEqual({ type: "multiple_exposures", users: 120, share: 0.013 });
    expect(multipleExposuresMessage(alert!)).toBe(
      "120 users (1.30% of participants) saw more than one variant, which blurs the comparison.",
    );
    expect(multipleExposuresMessage({ type: "multiple_exposures", users: 1, share: null })).toBe(
      "1 user saw more than one variant, which blurs the comparison.",
    );
  });

  it("is absent without alerts", () => {
    expect(multipleExposuresAlert(makeSnapshotWithoutMetrics())).toBeNull();
    expect(multipleExposuresAlert(null)).toBeNull();
  });

  it("counts the users who saw more than one variant only when there are some", () => {
    expect(multipleExposuresCount(makeMetricsSnapshot())).toBe(120);
    expect(multipleExposuresCount({ multiple_exposures: 0 })).toBeNull();
    expect(multipleExposuresCount({ multiple_exposures: -3 })).toBeNull();
    expect(multipleExposuresCount(makeSnapshotWithoutMetrics())).toBeNull();
    expect(multipleExposuresCount(null)).toBeNull();
    expect(multipleExposuresNote(1234)).toBe("1,234 users saw more than one variant");
    expect(multipleExposuresNote(1)).toBe("1 user saw more than one variant");
  });
});
