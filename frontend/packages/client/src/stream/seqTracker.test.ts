import { describe, expect, it } from "vitest";
import { createSeqTracker } from "./seqTracker";

describe("seq tracker", () => {
  it("accepts the first snapshot, newer ones and equal ones, but not older ones", () => {
    const seq = createSeqTracker();
    expect(seq.last).toBeNull();
    expect(seq.accept(5)).toBe(true);
    expect(seq.accept(5)).toBe(true);
    expect(seq.accept(4)).toBe(false);
    expect(seq.last).toBe(5);
    expect(seq.accept(9)).toBe(true);
    expect(seq.last).toBe(9);
  });

  it("forgets the last seq on reset", () => {
    const seq = createSeqTracker();
    seq.accept(3);
    seq.reset();
    expect(seq.last).toBeNull();
    expect(seq.accept(1)).toBe(true);
  });
});
