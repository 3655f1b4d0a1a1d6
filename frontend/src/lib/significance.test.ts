import { describe, expect, it } from "vitest";
import { variantVerdict } from "./significance";

describe("variantVerdict", () => {
  it("labels the control as control whatever its p-value", () => {
    expect(variantVerdict({ is_control: true, p_value: 0.001 })).toBe("control");
  });

  it("labels a variant with p below 0.05 as significant", () => {
    expect(variantVerdict({ is_control: false, p_value: 0.049 })).toBe("significant");
  });

  it("labels a variant with p of 0.05 or more, or no p-value, as not significant", () => {
    expect(variantVerdict({ is_control: false, p_value: 0.05 })).toBe("not_significant");
    expect(variantVerdict({ is_control: false, p_value: null })).toBe("not_significant");
  });
});
