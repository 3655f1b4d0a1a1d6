import { afterEach, describe, expect, it, vi } from "vitest";
import {
  buildApiUrl,
  experimentUrl,
  experimentsListUrl,
  resolveApiBase,
  resultsHistoryUrl,
  resultsStreamUrl,
  resultsUrl,
} from "./apiUrl";

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("API URLs", () => {
  it("are relative to the page origin when NEXT_PUBLIC_API_URL is not set", () => {
    vi.stubEnv("NEXT_PUBLIC_API_URL", "");
    expect(experimentsListUrl()).toBe("/api/v1/experiments");
    expect(experimentUrl("abc")).toBe("/api/v1/experiments/abc");
  });

  it("use NEXT_PUBLIC_API_URL as the base when set, without a doubled slash", () => {
    vi.stubEnv("NEXT_PUBLIC_API_URL", "http://localhost:8000/");
    expect(resolveApiBase()).toBe("http://localhost:8000");
    expect(experimentsListUrl()).toBe("http://localhost:8000/api/v1/experiments");
  });

  it("encode the experiment id", () => {
    expect(experimentUrl("a/b", "")).toBe("/api/v1/experiments/a%2Fb");
  });

  it("accept paths with or without a leading slash", () => {
    expect(buildApiUrl("experiments", "")).toBe("/api/v1/experiments");
    expect(buildApiUrl("/experiments", "http://h")).toBe("http://h/api/v1/experiments");
  });

  it("build the results and results-stream URLs of an experiment", () => {
    expect(resultsUrl("a b", "")).toBe("/api/v1/experiments/a%20b/results");
    expect(resultsStreamUrl("x", "http://h")).toBe("http://h/api/v1/experiments/x/results/stream");
  });

  it("build the results-history URL of an experiment", () => {
    expect(resultsHistoryUrl("a b", "")).toBe("/api/v1/experiments/a%20b/results/history");
  });
});
