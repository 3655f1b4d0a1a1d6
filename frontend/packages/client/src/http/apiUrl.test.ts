import { describe, expect, it } from "vitest";
import {
  buildApiUrl,
  experimentUrl,
  experimentsListUrl,
  resolveApiBase,
  resultsHistoryUrl,
  resultsStreamUrl,
  resultsUrl,
} from "./apiUrl";

describe("API URLs", () => {
  it("are relative to the page origin without a base", () => {
    expect(experimentsListUrl()).toBe("/api/v1/experiments");
    expect(experimentUrl("abc")).toBe("/api/v1/experiments/abc");
    expect(resolveApiBase(undefined)).toBe("");
  });

  it("use the base when given, without a doubled slash", () => {
    expect(resolveApiBase(" http://localhost:8000/ ")).toBe("http://localhost:8000");
    expect(experimentsListUrl("http://localhost:8000/")).toBe("http://localhost:8000/api/v1/experiments");
  });

  it("keep a path prefix of the base", () => {
    expect(resultsUrl("x", "https://example.com/expstream/")).toBe("https://example.com/expstream/api/v1/experiments/x/results");
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
