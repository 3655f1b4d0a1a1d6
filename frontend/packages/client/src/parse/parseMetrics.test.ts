import { describe, expect, it } from "vitest";
import { makeMetricsSnapshot, makeSnapshotWithoutMetrics, metricsSnapshotJson } from "@test-support/metricsFixtures";
import type { ExperimentSnapshot } from "../types/snapshot";
import { parseResultsHistory } from "./history";
import { parseAlerts, parseMetrics } from "./parseMetrics";
import { parseServerMessage } from "./parseServerMessage";

type Raw = Record<string, unknown>;

const parse = (value: unknown) => parseServerMessage(JSON.stringify(value)) as ExperimentSnapshot | null;

/** The fixture's metric entries as raw JSON, for breaking them. */
function rawMetrics(json: Raw): (Raw & { variants: unknown[] })[] {
  return json.metrics as (Raw & { variants: unknown[] })[];
}

describe("snapshot metrics and alerts", () => {
  it("keeps every metric of the fixture in definition order, and the known alerts", () => {
    const parsed = parse(metricsSnapshotJson());
    expect(parsed).toStrictEqual(makeMetricsSnapshot());
    expect(parsed?.metrics?.map((m) => [m.key, m.kind, m.role, m.direction])).toEqual([
      ["checkout_conversion", "proportion", "primary", "increase"],
      ["revenue", "mean", "secondary", "increase"],
      ["refunds", "ratio", "guardrail", "decrease"],
    ]);
  });

  it("drops an alert of a type it does not know, keeping the others", () => {
    const parsed = parse(metricsSnapshotJson());
    expect(parsed?.alerts?.map((alert) => alert.type)).toEqual(["guardrail", "multiple_exposures"]);
  });

  it("parses a snapshot without metrics exactly as before: no metrics or alerts fields appear", () => {
    const parsed = parse(makeSnapshotWithoutMetrics());
    expect(parsed).toStrictEqual(makeSnapshotWithoutMetrics());
    expect(parsed).not.toHaveProperty("metrics");
    expect(parsed).not.toHaveProperty("alerts");
  });

  it("drops malformed metric entries one by one and keeps the snapshot", () => {
    const json = metricsSnapshotJson();
    const metrics = rawMetrics(json);
    metrics[1].kind = "median";
    metrics[2].direction = "sideways";
    json.metrics = [...metrics, null, 7, { key: "x", name: "X", kind: "mean", role: "secondary", direction: "increase" }];
    const parsed = parse(json);
    expect(parsed).not.toBeNull();
    expect(parsed?.metrics?.map((m) => m.key)).toEqual(["checkout_conversion"]);
    expect(parsed?.variants).toHaveLength(3);
  });

  it("rejects a metric without a key, with an unknown role, or twice the same key (the first wins)", () => {
    const [first, second, third] = rawMetrics(metricsSnapshotJson());
    expect(parseMetrics([{ ...first, key: "" }, { ...second, role: "vanity" }, third, { ...third, name: "Again" }])).toEqual([
      parseMetrics([third])?.[0],
    ]);
  });

  it("drops malformed variant entries of a metric and turns malformed statistics into null", () => {
    const [metric] = rawMetrics(metricsSnapshotJson());
    metric.variants.push({ key: "no_users" }, "junk");
    Object.assign(metric.variants[1] as Raw, { p_value: "0.01", lift_ci: [0.3, 0.1], chance_to_win: Number.NaN, is_significant: "yes" });
    const [parsed] = parseMetrics([metric]) ?? [];
    expect(parsed.variants.map((v) => v.key)).toEqual(["control", "one_click", "express"]);
    expect(parsed.variants[1]).toMatchObject({ p_value: null, lift_ci: null, chance_to_win: null, is_significant: false });
    expect(parsed.variants[1].difference_ci).toEqual([0.008, 0.032]);
  });

  it("keeps CUPED's theta and variance reduction where the server sends them, null for a malformed one, nothing where it sends none", () => {
    const [metric, revenue, other] = rawMetrics(metricsSnapshotJson());
    metric.cuped = { theta: 0.41, variance_reduction: 0.31 };
    (metric.variants[0] as Raw).cuped = null;
    (metric.variants[1] as Raw).cuped = { theta: 0.4, variance_reduction: "a lot" };
    delete (metric.variants[2] as Raw).cuped;
    delete other.cuped;
    const [parsed, fromFixture, untouched] = parseMetrics([metric, revenue, other]) ?? [];
    expect(parsed.cuped).toEqual({ theta: 0.41, variance_reduction: 0.31 });
    expect(Object.keys(parsed).indexOf("cuped")).toBe(Object.keys(parsed).indexOf("variants") - 1);
    expect(parsed.variants.map((v) => v.cuped)).toEqual([null, null, undefined]);
    expect(parsed.variants[2]).not.toHaveProperty("cuped");
    expect(fromFixture.cuped).toEqual({ theta: 0.41, variance_reduction: 0.31 });
    expect(fromFixture.variants.map((v) => v.cuped)).toEqual([
      null,
      { theta: 0.41, variance_reduction: 0.31 },
      { theta: 0.38, variance_reduction: 0.24 },
    ]);
    expect(untouched).not.toHaveProperty("cuped");
  });

  it("keeps a CUPED entry whose variance reduction the server could not compute (null), with its theta", () => {
    const [metric] = rawMetrics(metricsSnapshotJson());
    metric.cuped = { theta: 0, variance_reduction: null };
    (metric.variants[1] as Raw).cuped = { theta: 1.7, variance_reduction: -0.02 };
    (metric.variants[2] as Raw).cuped = { theta: null, variance_reduction: 0.2 };
    const [parsed] = parseMetrics([metric]) ?? [];
    expect(parsed.cuped).toEqual({ theta: 0, variance_reduction: null });
    expect(parsed.variants.map((v) => v.cuped)).toEqual([null, { theta: 1.7, variance_reduction: -0.02 }, null]);
  });

  it("keeps the snapshot's count of users with several exposures when it is a number", () => {
    expect(parse({ ...metricsSnapshotJson(), multiple_exposures: 410 })?.multiple_exposures).toBe(410);
    expect(parse({ ...metricsSnapshotJson(), multiple_exposures: "410" })).not.toHaveProperty("multiple_exposures");
  });

  it("leaves metrics out when the field is not an array", () => {
    const json = metricsSnapshotJson();
    json.metrics = { revenue: 1 };
    json.alerts = "none";
    const parsed = parse(json);
    expect(parsed).not.toHaveProperty("metrics");
    expect(parsed).not.toHaveProperty("alerts");
  });

  it("drops alerts without their required fields", () => {
    expect(
      parseAlerts([
        { type: "guardrail", metric: "refunds" },
        { type: "multiple_exposures", share: 0.1 },
        { type: "multiple_exposures", users: 3, share: "many" },
        { type: "guardrail", metric: "refunds", variant: "one_click", relative_lift: "big", lift_ci: [1] },
      ]),
    ).toEqual([
      { type: "multiple_exposures", users: 3, share: null },
      { type: "guardrail", metric: "refunds", variant: "one_click", relative_lift: null, lift_ci: null },
    ]);
  });
});

describe("guardrail anomaly event", () => {
  it("keeps the metric, the variant and the lift with its interval", () => {
    const event = {
      event: "anomaly",
      type: "guardrail",
      experiment_id: "exp-1",
      metric: "refunds",
      variant: "one_click",
      relative_lift: 0.12,
      lift_ci: [0.02, 0.22],
    };
    expect(parseServerMessage(JSON.stringify(event))).toEqual({
      ...event,
      p_value: null,
      message: "",
      timestamp: null,
    });
  });

  it("drops malformed guardrail details but keeps the event", () => {
    const parsed = parseServerMessage('{"event":"anomaly","type":"guardrail","metric":5,"lift_ci":[2,1]}');
    expect(parsed).toMatchObject({ event: "anomaly", type: "guardrail" });
    expect(parsed).not.toHaveProperty("metric");
    expect(parsed).not.toHaveProperty("lift_ci");
  });
});

describe("history metrics", () => {
  it("keeps each point's per-metric lifts and drops malformed entries", () => {
    const body = {
      experiment_id: "exp-1",
      points: [
        {
          seq: 1,
          timestamp: "2024-05-01T12:00:00+00:00",
          variants: [{ key: "control", relative_lift: 0, lift_ci: null }],
          metrics: [
            { key: "revenue", variants: [{ key: "one_click", relative_lift: 0.03, lift_ci: [-0.01, 0.07] }, { lift: 1 }] },
            { variants: [] },
            "junk",
          ],
        },
        { seq: 2, timestamp: "2024-05-01T12:01:00+00:00", variants: [] },
      ],
    };
    const [first, second] = parseResultsHistory(body);
    expect(first.metrics).toEqual([{ key: "revenue", variants: [{ key: "one_click", relative_lift: 0.03, lift_ci: [-0.01, 0.07] }] }]);
    expect(second).not.toHaveProperty("metrics");
  });
});
