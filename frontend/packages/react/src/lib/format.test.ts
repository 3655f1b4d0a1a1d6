import { describe, expect, it } from "vitest";
import {
  EMPTY_VALUE,
  formatDate,
  formatDecimal,
  formatDateTime,
  formatDays,
  formatInteger,
  formatLift,
  formatPValue,
  formatPercent,
  formatTime,
  formatChance,
  formatConfidenceLevel,
  formatLiftInterval,
  formatLiftIntervalLines,
  formatPValueRelation,
  formatTimeTick,
  timeZoneOffsetMs,
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

describe("formatDecimal", () => {
  it("shows two decimals with thousands separators and a typographic minus", () => {
    expect(formatDecimal(12.5)).toBe("12.50");
    expect(formatDecimal(1234.567)).toBe("1,234.57");
    expect(formatDecimal(-0.5)).toBe("\u22120.50");
    expect(formatDecimal(-0.001)).toBe("0.00");
    expect(formatDecimal(3.14159, 3)).toBe("3.142");
  });

  it("shows a dash for a missing number", () => {
    expect(formatDecimal(null)).toBe("—");
    expect(formatDecimal(Number.POSITIVE_INFINITY)).toBe("—");
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

describe("formatPValueRelation", () => {
  it("writes p = with three decimals for p-values of 0.001 and more", () => {
    expect(formatPValueRelation(0.0213)).toBe("p = 0.021");
    expect(formatPValueRelation(0.001)).toBe("p = 0.001");
  });

  it("writes p < 0.001 for smaller p-values, like the table's <0.001", () => {
    expect(formatPValueRelation(0.00001)).toBe("p < 0.001");
  });

  it("shows a dash for null", () => {
    expect(formatPValueRelation(null)).toBe("—");
  });
});

describe("formatLiftInterval", () => {
  it("shows both ends as signed percentages joined by an ellipsis", () => {
    expect(formatLiftInterval([-0.021, 0.31])).toBe("\u22122.1% \u2026 +31.0%");
    expect(formatLiftInterval([0.001321, 0.269866])).toBe("+0.1% \u2026 +27.0%");
    expect(formatLiftInterval([-0.144303, -0.02])).toBe("\u221214.4% \u2026 \u22122.0%");
  });

  it("shows a dash for a missing interval", () => {
    expect(formatLiftInterval(null)).toBe("—");
    expect(formatLiftInterval(undefined)).toBe("—");
  });

  it("writes out the very wide intervals of an experiment's first hours in full", () => {
    expect(formatLiftInterval([-7.018, 7.918])).toBe("\u2212701.8% \u2026 +791.8%");
    expect(formatLiftInterval([-0.99, 12.345])).toBe("\u221299.0% \u2026 +1,234.5%");
  });
});

describe("formatLiftIntervalLines", () => {
  it("splits an interval after the ellipsis, so a narrow cell can show it on two lines", () => {
    expect(formatLiftIntervalLines([-7.018, 7.918])).toEqual(["\u2212701.8% \u2026", "+791.8%"]);
    expect(formatLiftIntervalLines([0.001321, 0.269866], 2)).toEqual(["+0.13% \u2026", "+26.99%"]);
  });

  it("reads as formatLiftInterval when the halves are joined with a space", () => {
    const interval: [number, number] = [-0.144303, 0.094716];
    expect(formatLiftIntervalLines(interval)?.join(" ")).toBe(formatLiftInterval(interval));
  });

  it("is null for a missing or non-finite interval", () => {
    expect(formatLiftIntervalLines(null)).toBeNull();
    expect(formatLiftIntervalLines(undefined)).toBeNull();
    expect(formatLiftIntervalLines([Number.NaN, 1])).toBeNull();
  });
});

describe("formatChance", () => {
  it("shows a probability as a percentage with one decimal", () => {
    expect(formatChance(0.873)).toBe("87.3%");
    expect(formatChance(0.2568)).toBe("25.7%");
    expect(formatChance(0.5)).toBe("50.0%");
  });

  it("never rounds to a certain 0% or 100%", () => {
    expect(formatChance(0.99995)).toBe(">99.9%");
    expect(formatChance(1)).toBe(">99.9%");
    expect(formatChance(0.0001)).toBe("<0.1%");
    expect(formatChance(0)).toBe("<0.1%");
    expect(formatChance(0.9993)).toBe("99.9%");
  });

  it("shows a dash for null, as for the control", () => {
    expect(formatChance(null)).toBe("—");
    expect(formatChance(undefined)).toBe("—");
  });
});

describe("formatConfidenceLevel", () => {
  it("turns the significance level into a confidence percentage", () => {
    expect(formatConfidenceLevel(0.05)).toBe("95%");
    expect(formatConfidenceLevel(0.1)).toBe("90%");
    expect(formatConfidenceLevel(0.01)).toBe("99%");
    expect(formatConfidenceLevel(0.025)).toBe("97.5%");
  });

  it("shows a dash for a level outside (0, 1)", () => {
    expect(formatConfidenceLevel(0)).toBe("—");
    expect(formatConfidenceLevel(1.5)).toBe("—");
    expect(formatConfidenceLevel(null)).toBe("—");
  });
});

describe("formatTimeTick", () => {
  const at = Date.parse("2024-05-01T14:03:25Z");
  const MINUTE = 60_000;
  const HOUR = 60 * MINUTE;

  it("shows seconds when the ticks are seconds apart", () => {
    expect(formatTimeTick(at, 15_000, 2 * MINUTE, "UTC")).toBe("14:03:25");
  });

  it("shows hours and minutes when the ticks are minutes or hours apart", () => {
    expect(formatTimeTick(at, HOUR, 6 * HOUR, "UTC")).toBe("14:03");
  });

  it("adds the date to hourly ticks that span more than a day", () => {
    expect(formatTimeTick(at, 12 * HOUR, 40 * HOUR, "UTC")).toBe("May 1, 14:03");
  });

  it("shows only the date when the ticks are days apart", () => {
    expect(formatTimeTick(at, 24 * HOUR, 5 * 24 * HOUR, "UTC")).toBe("May 1");
  });
});

describe("timeZoneOffsetMs", () => {
  it("gives the offset of a time zone from UTC at an instant, daylight saving included", () => {
    expect(timeZoneOffsetMs(Date.parse("2024-05-01T12:00:00Z"), "UTC")).toBe(0);
    expect(timeZoneOffsetMs(Date.parse("2024-05-01T12:00:00Z"), "Europe/Berlin")).toBe(2 * 3_600_000);
    expect(timeZoneOffsetMs(Date.parse("2024-01-15T12:00:00Z"), "Europe/Berlin")).toBe(3_600_000);
    expect(timeZoneOffsetMs(Date.parse("2024-01-15T12:00:00Z"), "Asia/Kolkata")).toBe(5.5 * 3_600_000);
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
