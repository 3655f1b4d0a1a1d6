import { describe, expect, it } from "vitest";
import { experimentIdFromPath, resultsPathFor } from "./resultsPath";

describe("experimentIdFromPath", () => {
  it("reads the id from a results URL with a trailing slash", () => {
    expect(experimentIdFromPath("/results/3f1c9a2e-7b4d-4c1e-9a57-2d8e6f0b1c34/")).toBe(
      "3f1c9a2e-7b4d-4c1e-9a57-2d8e6f0b1c34",
    );
  });

  it("reads the id from a results URL without a trailing slash", () => {
    expect(experimentIdFromPath("/results/abc")).toBe("abc");
  });

  it("reads the id when the app is served under a prefix", () => {
    expect(experimentIdFromPath("/dashboard/results/abc/")).toBe("abc");
  });

  it("decodes percent-encoded ids", () => {
    expect(experimentIdFromPath("/results/a%20b/")).toBe("a b");
  });

  it("returns null for the build-time placeholder id", () => {
    expect(experimentIdFromPath("/results/_/")).toBeNull();
  });

  it("returns null for other pages and malformed input", () => {
    expect(experimentIdFromPath("/")).toBeNull();
    expect(experimentIdFromPath("/results/")).toBeNull();
    expect(experimentIdFromPath("/results/a/b/")).toBeNull();
    expect(experimentIdFromPath("/results/%E0%A4%A/")).toBeNull();
    expect(experimentIdFromPath("")).toBeNull();
    expect(experimentIdFromPath(null)).toBeNull();
  });

  it("round-trips with resultsPathFor", () => {
    expect(resultsPathFor("abc")).toBe("/results/abc/");
    expect(experimentIdFromPath(resultsPathFor("x y"))).toBe("x y");
  });
});
