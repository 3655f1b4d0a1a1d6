import { describe, expect, it } from "vitest";
import { FORBIDDEN_MESSAGE, UNAUTHORIZED_MESSAGE } from "../http/authMessages";
import { closeFailureMessage, closeKeepsServerMessage, closeOutcome } from "./closeCodes";

describe("closeOutcome", () => {
  it("stops without reconnecting after a normal close", () => {
    expect(closeOutcome(1000)).toBe("stop");
  });

  it("fails without reconnecting after experiment-not-found or a policy violation", () => {
    expect(closeOutcome(4404)).toBe("fail");
    expect(closeOutcome(1008)).toBe("fail");
  });

  it("fails without reconnecting when the token is refused, access is forbidden or a message was too big", () => {
    expect(closeOutcome(4401)).toBe("fail");
    expect(closeOutcome(4403)).toBe("fail");
    expect(closeOutcome(1009)).toBe("fail");
  });

  it("reconnects after abnormal closes, server restarts and try-again-later", () => {
    for (const code of [1001, 1005, 1006, 1011, 1012, 1013, 4000]) {
      expect(closeOutcome(code)).toBe("reconnect");
    }
  });

  it("explains a refused connection", () => {
    expect(closeFailureMessage(4404)).toMatch(/not found/);
    expect(closeFailureMessage(1008)).toMatch(/refused/);
    expect(closeFailureMessage(1009)).toMatch(/too big/);
  });

  it("tells the user to open a fresh link after 4401 and that access is missing after 4403", () => {
    expect(closeFailureMessage(4401)).toBe(UNAUTHORIZED_MESSAGE);
    expect(closeFailureMessage(4403)).toBe(FORBIDDEN_MESSAGE);
    expect(closeKeepsServerMessage(4401)).toBe(false);
    expect(closeKeepsServerMessage(4403)).toBe(false);
    expect(closeKeepsServerMessage(4404)).toBe(true);
  });
});
