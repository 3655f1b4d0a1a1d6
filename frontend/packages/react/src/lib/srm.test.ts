import { describe, expect, it } from "vitest";
import type { AnomalyEvent } from "@expstream/client";
import { srmAlert, srmMessage } from "./srm";

const anomaly = (overrides: Partial<AnomalyEvent> = {}): AnomalyEvent => ({
  event: "anomaly",
  type: "sample_ratio_mismatch",
  experiment_id: "exp-1",
  p_value: 0.00001,
  message: "Traffic split is off",
  timestamp: "2024-05-01T12:00:00+00:00",
  ...overrides,
});

describe("srmAlert", () => {
  it("raises no alert when the snapshot reports no mismatch and no anomaly arrived", () => {
    expect(srmAlert({ srm: { p_value: 0.4, mismatch: false } }, null)).toBeNull();
    expect(srmAlert({}, null)).toBeNull();
    expect(srmAlert(null, null)).toBeNull();
  });

  it("raises an alert with the snapshot's p-value when srm.mismatch is true", () => {
    expect(srmAlert({ srm: { p_value: 0.0004, mismatch: true } }, null)).toEqual({ pValue: 0.0004 });
  });

  it("raises an alert with the event's p-value on a sample_ratio_mismatch anomaly", () => {
    expect(srmAlert({ srm: { p_value: 0.4, mismatch: false } }, anomaly())).toEqual({ pValue: 0.00001 });
  });

  it("ignores anomalies of other types", () => {
    expect(srmAlert(null, anomaly({ type: "traffic_drop" }))).toBeNull();
  });
});

describe("srmMessage", () => {
  it("states the p-value the way the table formats it, and that the results cannot be trusted", () => {
    expect(srmMessage({ pValue: 0.00001 })).toBe(
      "Sample ratio mismatch (p < 0.001): traffic is not split as configured, so these results cannot be trusted.",
    );
    expect(srmMessage({ pValue: 0.0123 })).toBe(
      "Sample ratio mismatch (p = 0.012): traffic is not split as configured, so these results cannot be trusted.",
    );
  });

  it("leaves the p-value out when it is unknown", () => {
    expect(srmMessage({ pValue: null })).toBe(
      "Sample ratio mismatch: traffic is not split as configured, so these results cannot be trusted.",
    );
  });
});
