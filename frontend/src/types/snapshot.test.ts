import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isExperimentSnapshot } from "@/lib/parseServerMessage";
import { SNAPSHOT_FIELDS, VARIANT_FIELDS, type ExperimentSnapshot } from "./snapshot";

// Shared with the backend, whose tests generate/verify the same file.
// (frontend/src/types -> repo root)/tests/fixtures/snapshot_schema.json
const FIXTURE_PATH = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../tests/fixtures/snapshot_schema.json",
);

function loadFixture(): Record<string, unknown> & { variants: Record<string, unknown>[] } {
  return JSON.parse(readFileSync(FIXTURE_PATH, "utf8"));
}

describe("snapshot wire format", () => {
  it("lists the snapshot fields in the same order as the shared fixture", () => {
    expect([...SNAPSHOT_FIELDS]).toEqual(Object.keys(loadFixture()));
  });

  it("lists the variant fields in the same order as every variant in the shared fixture", () => {
    const fixture = loadFixture();
    expect(fixture.variants.length).toBeGreaterThan(0);
    for (const variant of fixture.variants) {
      expect([...VARIANT_FIELDS]).toEqual(Object.keys(variant));
    }
  });

  it("accepts the shared fixture as a valid ExperimentSnapshot", () => {
    const fixture: unknown = loadFixture();
    expect(isExperimentSnapshot(fixture)).toBe(true);
    const snapshot = fixture as ExperimentSnapshot;
    expect(snapshot.event).toBe("results_update");
    expect(snapshot.variants.some((v) => v.is_control)).toBe(true);
  });
});
