import { describe, expect, it } from "vitest";
import { intervalEffect, liftEffect, metricVerdict, variantVerdict } from "./significance";

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

describe("liftEffect and intervalEffect", () => {
  it("calls a rise good and a fall bad when higher is better", () => {
    expect(liftEffect(0.1)).toBe("good");
    expect(liftEffect(-0.1, "increase")).toBe("bad");
    expect(liftEffect(0)).toBeNull();
    expect(liftEffect(null)).toBeNull();
  });

  it("turns it around when lower is better", () => {
    expect(liftEffect(-0.1, "decrease")).toBe("good");
    expect(liftEffect(0.12, "decrease")).toBe("bad");
  });

  it("judges an interval only when it lies wholly on one side of zero", () => {
    expect(intervalEffect([0.02, 0.22])).toBe("good");
    expect(intervalEffect([0.02, 0.22], "decrease")).toBe("bad");
    expect(intervalEffect([-0.2, -0.038], "decrease")).toBe("good");
    expect(intervalEffect([-0.1, 0.1], "decrease")).toBeNull();
    expect(intervalEffect(null)).toBeNull();
  });
});

describe("metricVerdict", () => {
  const significant = (relative_lift: number | null) => ({ is_significant: true, relative_lift });

  it("labels the control as control", () => {
    expect(metricVerdict(significant(0.2), { isControl: true, direction: "increase" })).toBe("control");
  });

  it("calls a significant change in the good direction better and one in the bad direction worse", () => {
    expect(metricVerdict(significant(0.2), { isControl: false, direction: "increase" })).toBe("better");
    expect(metricVerdict(significant(-0.1), { isControl: false, direction: "increase" })).toBe("worse");
    expect(metricVerdict(significant(-0.119), { isControl: false, direction: "decrease" })).toBe("better");
    expect(metricVerdict(significant(0.12), { isControl: false, direction: "decrease" })).toBe("worse");
  });

  it("labels a change the server does not call significant as not significant, whatever its size", () => {
    expect(metricVerdict({ is_significant: false, relative_lift: 0.5 }, { isControl: false, direction: "increase" })).toBe(
      "not_significant",
    );
    expect(metricVerdict(significant(null), { isControl: false, direction: "increase" })).toBe("not_significant");
  });
});
