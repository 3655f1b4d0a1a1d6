import { describe, expect, it } from "vitest";
import { makeSnapshot } from "@test-support/mockWebSocket";
import { isExperimentSnapshot, parseServerMessage } from "./parseServerMessage";

describe("parseServerMessage", () => {
  it("parses a results_update snapshot", () => {
    const snapshot = makeSnapshot();
    expect(parseServerMessage(JSON.stringify(snapshot))).toEqual(snapshot);
  });

  it("parses a server error", () => {
    const error = { event: "error", code: "results_unavailable", experiment_id: "e", message: "Try later" };
    expect(parseServerMessage(JSON.stringify(error))).toEqual(error);
  });

  it("falls back to the code when an error has no message", () => {
    expect(parseServerMessage('{"event":"error","code":"results_unavailable"}')).toEqual({
      event: "error",
      code: "results_unavailable",
      experiment_id: "",
      message: "results_unavailable",
    });
  });

  it("parses pong", () => {
    expect(parseServerMessage('{"event":"pong"}')).toEqual({ event: "pong" });
  });

  it("returns null for non-JSON, non-objects, unknown events and non-string frames", () => {
    for (const frame of ["", "{", "null", "1", '"x"', "[]", '{"event":"nope"}', '{"foo":1}']) {
      expect(parseServerMessage(frame)).toBeNull();
    }
    expect(parseServerMessage(new ArrayBuffer(2))).toBeNull();
  });

  it("returns null for a results_update with a missing or mistyped field", () => {
    const { seq: _seq, ...withoutSeq } = makeSnapshot();
    expect(parseServerMessage(JSON.stringify(withoutSeq))).toBeNull();
    expect(parseServerMessage(JSON.stringify(makeSnapshot({ status: "archived" as never })))).toBeNull();
    const badVariant = makeSnapshot();
    (badVariant.variants[0] as unknown as Record<string, unknown>).p_value = "0.1";
    expect(parseServerMessage(JSON.stringify(badVariant))).toBeNull();
  });

  it("accepts null lift and p-value", () => {
    expect(isExperimentSnapshot(makeSnapshot())).toBe(true);
  });

  it("keeps the analysis, srm and per-variant statistics fields", () => {
    const snapshot = makeSnapshot({
      analysis: { method: "sequential", alpha: 0.05, sequential_tuning: 5000, correction: "holm-bonferroni" },
      srm: { p_value: null, mismatch: false },
    });
    const parsed = parseServerMessage(JSON.stringify(snapshot));
    expect(parsed).toStrictEqual(snapshot);
  });

  it("keeps the analysis under Benjamini-Hochberg (RESULTS_CORRECTION=bh)", () => {
    const snapshot = makeSnapshot({
      analysis: { method: "fixed", alpha: 0.05, sequential_tuning: null, correction: "benjamini-hochberg" },
    });
    expect(parseServerMessage(JSON.stringify(snapshot))).toStrictEqual(snapshot);
  });

  it("keeps the analysis when its correction is one the client does not know yet, and drops it when the correction is not a name", () => {
    const analysis = { method: "sequential", alpha: 0.05, sequential_tuning: 5000, correction: "benjamini-yekutieli" };
    const parsed = parseServerMessage(JSON.stringify({ ...makeSnapshot(), analysis }));
    expect(parsed).toHaveProperty("analysis", analysis);
    for (const correction of [null, 1, "", undefined]) {
      expect(parseServerMessage(JSON.stringify({ ...makeSnapshot(), analysis: { ...analysis, correction } }))).not.toHaveProperty(
        "analysis",
      );
    }
  });

  it("accepts a snapshot from a server without the statistics fields", () => {
    const { analysis: _analysis, srm: _srm, ...old } = makeSnapshot();
    old.variants = old.variants.map((v) => ({
      key: v.key,
      name: v.name,
      participant_count: v.participant_count,
      conversion_count: v.conversion_count,
      conversion_rate: v.conversion_rate,
      relative_lift: v.relative_lift,
      p_value: v.p_value,
      is_control: v.is_control,
    }));
    expect(parseServerMessage(JSON.stringify(old))).toStrictEqual(old);
  });

  it("drops malformed statistics fields but keeps the snapshot", () => {
    const snapshot = makeSnapshot() as unknown as Record<string, unknown> & { variants: Record<string, unknown>[] };
    snapshot.analysis = { method: "bayesian", alpha: 0.05, sequential_tuning: null, correction: "none" };
    snapshot.srm = { p_value: 0.5 };
    snapshot.variants[1].lift_ci = [0.3, 0.1];
    snapshot.variants[1].chance_to_win = "high";
    snapshot.variants[2].is_significant = "yes";
    const parsed = parseServerMessage(JSON.stringify(snapshot));
    expect(parsed).not.toBeNull();
    expect(parsed).not.toHaveProperty("analysis");
    expect(parsed).not.toHaveProperty("srm");
    const variants = (parsed as unknown as { variants: Record<string, unknown>[] }).variants;
    expect(variants[1]).not.toHaveProperty("lift_ci");
    expect(variants[1]).not.toHaveProperty("chance_to_win");
    expect(variants[1].difference_ci).toEqual([0.0026, 0.0716]);
    expect(variants[2]).not.toHaveProperty("is_significant");
  });

  it("parses a sample-ratio-mismatch anomaly event", () => {
    const event = {
      event: "anomaly",
      type: "sample_ratio_mismatch",
      experiment_id: "exp-1",
      p_value: 0.00001,
      message: "Traffic split 52/48 does not match 50/50",
      timestamp: "2024-05-01T12:00:00+00:00",
    };
    expect(parseServerMessage(JSON.stringify(event))).toEqual(event);
  });

  it("fills in missing anomaly details and rejects an anomaly without a type", () => {
    expect(parseServerMessage('{"event":"anomaly","type":"sample_ratio_mismatch"}')).toEqual({
      event: "anomaly",
      type: "sample_ratio_mismatch",
      experiment_id: "",
      p_value: null,
      message: "",
      timestamp: null,
    });
    expect(parseServerMessage('{"event":"anomaly","p_value":0.001}')).toBeNull();
  });

  it("flattens the STATUS_CHANGED lifecycle envelope", () => {
    const envelope = {
      topic: "experiment:exp-1",
      event: "STATUS_CHANGED",
      data: {
        entity_id: "exp-1",
        payload: { status: "paused", previous_status: "active" },
        timestamp: "2024-05-01T12:00:05+00:00",
      },
      trace_id: "t-1",
    };
    expect(parseServerMessage(JSON.stringify(envelope))).toEqual({
      event: "STATUS_CHANGED",
      experiment_id: "exp-1",
      status: "paused",
      previous_status: "active",
      timestamp: "2024-05-01T12:00:05+00:00",
    });
  });

  it("takes the experiment id from the topic when the envelope has no entity_id, and rejects unknown statuses", () => {
    const envelope = { topic: "experiment:exp-9", event: "STATUS_CHANGED", data: { payload: { status: "completed" } } };
    expect(parseServerMessage(JSON.stringify(envelope))).toMatchObject({ experiment_id: "exp-9", status: "completed" });
    const bad = { topic: "experiment:exp-9", event: "STATUS_CHANGED", data: { payload: { status: "archived" } } };
    expect(parseServerMessage(JSON.stringify(bad))).toBeNull();
  });

  it("ignores the connected and subscription_confirmed notices", () => {
    expect(parseServerMessage('{"event":"connected","connection_id":"c-1"}')).toBeNull();
    expect(parseServerMessage('{"event":"subscription_confirmed","experiment_id":"exp-1"}')).toBeNull();
  });
});
