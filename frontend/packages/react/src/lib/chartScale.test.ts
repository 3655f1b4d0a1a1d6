import { describe, expect, it } from "vitest";
import { linearScale, niceStep, niceTicks, niceTimeTicks, percentDigits } from "./chartScale";

describe("linearScale", () => {
  it("maps the domain onto the range, inverted ranges included", () => {
    const y = linearScale([-0.1, 0.3], [200, 0]);
    expect(y(-0.1)).toBe(200);
    expect(y(0.3)).toBeCloseTo(0);
    expect(y(0.1)).toBeCloseTo(100);
  });

  it("maps a zero-width domain to the middle of the range", () => {
    expect(linearScale([5, 5], [0, 100])(5)).toBe(50);
  });
});

describe("niceTicks", () => {
  it("picks the nearest round step of 1, 2 or 5 times a power of ten", () => {
    expect(niceStep(0.08)).toBeCloseTo(0.1);
    expect(niceStep(0.06)).toBeCloseTo(0.05);
    expect(niceStep(0.022)).toBeCloseTo(0.02);
    expect(niceStep(0.11)).toBeCloseTo(0.1);
    expect(niceStep(3)).toBe(2);
  });

  it("covers the range with round ticks that include zero", () => {
    expect(niceTicks(-0.12, 0.31, 5)).toEqual([-0.2, -0.1, 0, 0.1, 0.2, 0.3, 0.4]);
    expect(niceTicks(0, 0.05, 5)).toEqual([0, 0.01, 0.02, 0.03, 0.04, 0.05]);
  });

  it("returns the single value for an empty range and nothing for non-finite input", () => {
    expect(niceTicks(0.2, 0.2)).toEqual([0.2]);
    expect(niceTicks(Number.NaN, 1)).toEqual([]);
  });
});

describe("percentDigits", () => {
  it("uses whole percentages for steps of whole percents and decimals below", () => {
    expect(percentDigits(0.1)).toBe(0);
    expect(percentDigits(0.01)).toBe(0);
    expect(percentDigits(0.025)).toBe(1);
    expect(percentDigits(0.005)).toBe(1);
    expect(percentDigits(0.0025)).toBe(2);
  });
});

describe("niceTimeTicks", () => {
  const t = (iso: string) => Date.parse(iso);
  const iso = (ticks: number[]) => ticks.map((tick) => new Date(tick).toISOString().slice(11, 19));

  it("puts ticks on round minutes within a span of an hour", () => {
    const { ticks, stepMs } = niceTimeTicks(t("2024-05-01T08:03:10Z"), t("2024-05-01T08:58:00Z"), 5);
    expect(stepMs).toBe(15 * 60_000);
    expect(iso(ticks)).toEqual(["08:15:00", "08:30:00", "08:45:00"]);
  });

  it("puts ticks on round hours within a span of several hours", () => {
    const { ticks, stepMs } = niceTimeTicks(t("2024-05-01T08:00:00Z"), t("2024-05-01T13:57:00Z"), 5);
    expect(stepMs).toBe(2 * 3_600_000);
    expect(iso(ticks)).toEqual(["08:00:00", "10:00:00", "12:00:00"]);
  });

  it("aligns the ticks to the local time zone", () => {
    // UTC+05:30: local 14:00 and 16:00 are 08:30 and 10:30 UTC.
    const { ticks } = niceTimeTicks(t("2024-05-01T08:00:00Z"), t("2024-05-01T12:00:00Z"), 3, 5.5 * 3_600_000);
    expect(iso(ticks)).toEqual(["08:30:00", "10:30:00"]);
  });

  it("uses day steps over weeks and never more ticks than asked for", () => {
    const { ticks, stepMs } = niceTimeTicks(t("2024-05-01T00:00:00Z"), t("2024-05-20T00:00:00Z"), 5);
    expect(stepMs).toBe(7 * 86_400_000);
    expect(ticks.length).toBeLessThanOrEqual(5);
    expect(ticks.length).toBeGreaterThanOrEqual(2);
  });

  it("returns no ticks for an invalid range", () => {
    expect(niceTimeTicks(Number.NaN, 1).ticks).toEqual([]);
  });
});
