import { describe, expect, it } from "vitest";
import { variantVerdict } from "./significance";

describe("variantVerdict", () => {
  it("labels the control as control whatever its p-value or flag", () => {
    expect(variantVerdict({ is_control: true, p_value: 0.001 })).toBe("control");
    expect(variantVerdict({ is_control: true, p_value: null, is_significant: true })).toBe("control");
  });

  it("follows the server's is_significant flag rather than the raw p-value when the flag is present", () => {
    expect(variantVerdict({ is_control: false, p_value: 0.01, is_significant: false })).toBe("not_significant");
    expect(variantVerdict({ is_control: false, p_value: 0.2, is_significant: true })).toBe("significant");
  });

  it("labels a variant with p below 0.05 as significant when the server sends no flag", () => {
    expect(variantVerdict({ is_control: false, p_value: 0.049 })).toBe("significant");
  });

  it("labels a variant with p of 0.05 or more, or no p-value, as not significant when the server sends no flag", () => {
    expect(variantVerdict({ is_control: false, p_value: 0.05 })).toBe("not_significant");
    expect(variantVerdict({ is_control: false, p_value: null })).toBe("not_significant");
  });
});
