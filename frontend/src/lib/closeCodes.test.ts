import { describe, expect, it } from "vitest";
import { closeFailureMessage, closeOutcome } from "./closeCodes";

describe("closeOutcome", () => {
  it("stops without reconnecting after a normal close", () => {
    expect(closeOutcome(1000)).toBe("stop");
  });

  it("fails without reconnecting after experiment-not-found or a policy violation", () => {
    expect(closeOutcome(4404)).toBe("fail");
    expect(closeOutcome(1008)).toBe("fail");
  });

  it("reconnects after abnormal closes", () => {
    for (const code of [1001, 1005, 1006, 1011, 1012, 4000]) {
      expect(closeOutcome(code)).toBe("reconnect");
    }
  });

  it("explains a refused connection", () => {
    expect(closeFailureMessage(4404)).toMatch(/not found/);
    expect(closeFailureMessage(1008)).toMatch(/refused/);
  });
});
