import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isExperimentSnapshot, parseExperimentSnapshot } from "../parse/parseServerMessage";
import { METRIC_FIELDS, METRIC_VARIANT_FIELDS } from "./metrics";
import { ANALYSIS_FIELDS, SNAPSHOT_FIELDS, SRM_FIELDS, VARIANT_FIELDS, type ExperimentSnapshot } from "./snapshot";

// Shared with the backend, whose tests generate/verify the same file.
// (frontend/packages/client/src/types -> repo root)/tests/fixtures/snapshot_schema.json
const FIXTURE_PATH = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../../../tests/fixtures/snapshot_schema.json",
);

type Fixture = Record<string, unknown> & {
  variants: Record<string, unknown>[];
  analysis: Record<string, unknown>;
  srm: Record<string, unknown>;
  metrics?: (Record<string, unknown> & { variants: Record<string, unknown>[] })[];
};

/**
 * Fields the dashboard reads before the backend's fixture has them (multiple metrics are being
 * built on both sides at once): absent from the fixture they are skipped; present, they must
 * stand where SNAPSHOT_FIELDS puts them.
 */
const NEWER_FIELDS: readonly string[] = ["metrics", "alerts"];

function loadFixture(): Fixture {
  return JSON.parse(readFileSync(FIXTURE_PATH, "utf8")) as Fixture;
}

describe("snapshot wire format", () => {
  it("lists the snapshot fields in the same order as the shared fixture", () => {
    const keys = Object.keys(loadFixture());
    expect(SNAPSHOT_FIELDS.filter((field) => keys.includes(field) || !NEWER_FIELDS.includes(field))).toEqual(keys);
  });

  it("lists the metric fields in the same order as every metric in the shared fixture, once it has metrics", () => {
    for (const metric of loadFixture().metrics ?? []) {
      expect([...METRIC_FIELDS]).toEqual(Object.keys(metric));
      for (const variant of metric.variants) expect([...METRIC_VARIANT_FIELDS]).toEqual(Object.keys(variant));
    }
  });

  it("lists the variant fields in the same order as every variant in the shared fixture", () => {
    const fixture = loadFixture();
    expect(fixture.variants.length).toBeGreaterThan(0);
    for (const variant of fixture.variants) {
      expect([...VARIANT_FIELDS]).toEqual(Object.keys(variant));
    }
  });

  it("lists the analysis fields in the same order as the shared fixture", () => {
    expect([...ANALYSIS_FIELDS]).toEqual(Object.keys(loadFixture().analysis));
  });

  it("lists the sample-ratio-mismatch fields in the same order as the shared fixture", () => {
    expect([...SRM_FIELDS]).toEqual(Object.keys(loadFixture().srm));
  });

  it("accepts the shared fixture as a valid ExperimentSnapshot", () => {
    const fixture: unknown = loadFixture();
    expect(isExperimentSnapshot(fixture)).toBe(true);
    const snapshot = fixture as ExperimentSnapshot;
    expect(snapshot.event).toBe("results_update");
    expect(snapshot.variants.some((v) => v.is_control)).toBe(true);
  });

  it("keeps every field of the shared fixture when parsing it, so no statistic is rejected as malformed", () => {
    const fixture = loadFixture();
    const parsed = parseExperimentSnapshot(fixture);
    expect(parsed).toStrictEqual(fixture);
    expect(Object.keys(parsed ?? {})).toEqual(Object.keys(fixture));
    expect(Object.keys(parsed?.variants[1] ?? {})).toEqual([...VARIANT_FIELDS]);
  });
});
