import { describe, expect, it } from "vitest";
import { makeSnapshot } from "@/test/mockWebSocket";
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
});
