import { describe, expect, it } from "vitest";
import {
  EMPTY_VALUE,
  formatDate,
  formatDateTime,
  formatDays,
  formatInteger,
  formatLift,
  formatPValue,
  formatPercent,
  formatTime,
} from "./format";

describe("formatInteger", () => {
  it("adds thousands separators", () => {
    expect(formatInteger(1234567)).toBe("1,234,567");
    expect(formatInteger(999)).toBe("999");
    expect(formatInteger(0)).toBe("0");
  });

  it("shows a dash for missing or non-finite numbers", () => {
    expect(formatInteger(null)).toBe(EMPTY_VALUE);
    expect(formatInteger(undefined)).toBe("—");
    expect(formatInteger(Number.NaN)).toBe("—");
  });
});

describe("formatPercent", () => {
  it("turns a fraction into a percentage with two decimals", () => {
    expect(formatPercent(0.1234)).toBe("12.34%");
    expect(formatPercent(0.5)).toBe("50.00%");
    expect(formatPercent(0)).toBe("0.00%");
    expect(formatPercent(1)).toBe("100.00%");
  });

  it("shows a dash for null", () => {
    expect(formatPercent(null)).toBe("—");
  });
});

describe("formatLift", () => {
  it("prefixes a positive lift with a plus sign", () => {
    expect(formatLift(0.3)).toBe("+30.0%");
    expect(formatLift(0.0125)).toBe("+1.3%");
  });

  it("prefixes a negative lift with a minus sign", () => {
    expect(formatLift(-0.052)).toBe("\u22125.2%");
  });

  it("shows no sign when the lift rounds to zero", () => {
    expect(formatLift(0)).toBe("0.0%");
    expect(formatLift(-0.0001)).toBe("0.0%");
  });

  it("shows a dash for null", () => {
    expect(formatLift(null)).toBe("—");
  });
});

describe("formatPValue", () => {
  it("shows three decimals", () => {
    expect(formatPValue(0.031)).toBe("0.031");
    expect(formatPValue(0.13712)).toBe("0.137");
    expect(formatPValue(0.5)).toBe("0.500");
  });

  it("shows very small p-values as <0.001", () => {
    expect(formatPValue(0.0009)).toBe("<0.001");
    expect(formatPValue(0)).toBe("<0.001");
    expect(formatPValue(0.001)).toBe("0.001");
  });

  it("shows a dash for null", () => {
    expect(formatPValue(null)).toBe("—");
  });
});

describe("formatDays", () => {
  it("uses the singular for one day and the plural otherwise", () => {
    expect(formatDays(1)).toBe("1 day");
    expect(formatDays(0)).toBe("0 days");
    expect(formatDays(12)).toBe("12 days");
  });
});

describe("date formatting", () => {
  it("formats the time of an ISO timestamp with an offset in the given time zone", () => {
    expect(formatTime("2024-05-01T14:03:25+02:00", "UTC")).toBe("12:03:25");
  });

  it("formats a calendar date", () => {
    expect(formatDate("2024-05-01T12:00:00+00:00", "UTC")).toBe("May 1, 2024");
  });

  it("formats a date with time", () => {
    expect(formatDateTime("2024-05-01T12:30:00Z", "UTC")).toBe("May 1, 2024, 12:30");
  });

  it("shows a dash for missing or invalid timestamps", () => {
    expect(formatTime(null)).toBe("—");
    expect(formatDate("not a date")).toBe("—");
  });
});
