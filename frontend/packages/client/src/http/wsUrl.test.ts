import { describe, expect, it } from "vitest";
import { buildResultsWsUrl, resolveWsBase } from "./wsUrl";

describe("resolveWsBase", () => {
  it("uses ws: for a page served over http", () => {
    expect(resolveWsBase("", { protocol: "http:", host: "localhost:8000" })).toBe("ws://localhost:8000");
  });

  it("uses wss: for a page served over https", () => {
    expect(resolveWsBase("", { protocol: "https:", host: "exp.example.com" })).toBe("wss://exp.example.com");
  });

  it("prefers wsBaseUrl over the page origin and drops trailing slashes", () => {
    expect(resolveWsBase("ws://localhost:8000/", { protocol: "https:", host: "other" })).toBe("ws://localhost:8000");
  });

  it("turns an http(s) wsBaseUrl into ws(s)", () => {
    expect(resolveWsBase("http://api.local:8000", null)).toBe("ws://api.local:8000");
    expect(resolveWsBase("https://api.example.com", null)).toBe("wss://api.example.com");
  });

  it("ignores a blank wsBaseUrl", () => {
    expect(resolveWsBase("  ", { protocol: "http:", host: "h:1" })).toBe("ws://h:1");
  });

  it("derives the base from an absolute API base before the page origin, keeping its path", () => {
    expect(resolveWsBase(undefined, { protocol: "http:", host: "localhost:5173" }, "http://localhost:8000/")).toBe("ws://localhost:8000");
    expect(resolveWsBase(undefined, null, "https://example.com/expstream")).toBe("wss://example.com/expstream");
    expect(resolveWsBase("ws://stream:1", null, "https://api")).toBe("ws://stream:1");
  });

  it("uses the page origin for a relative API base, and window.location by default", () => {
    expect(resolveWsBase(undefined, { protocol: "https:", host: "h" }, "")).toBe("wss://h");
    expect(resolveWsBase()).toBe(`ws://${window.location.host}`);
  });

  it("throws when there is neither a base nor a location", () => {
    expect(() => resolveWsBase("", null)).toThrow(/wsBaseUrl/);
  });
});

describe("buildResultsWsUrl", () => {
  it("builds the results stream URL for an experiment", () => {
    expect(buildResultsWsUrl("3f1c9a2e-7b4d", "ws://localhost:8000")).toBe(
      "ws://localhost:8000/api/v1/ws/experiments/3f1c9a2e-7b4d/results",
    );
  });

  it("encodes characters that are not safe in a path segment", () => {
    expect(buildResultsWsUrl("a/b c", "wss://h")).toBe("wss://h/api/v1/ws/experiments/a%2Fb%20c/results");
  });

  it("does not double the slash when the base ends with one", () => {
    expect(buildResultsWsUrl("x", "ws://h/")).toBe("ws://h/api/v1/ws/experiments/x/results");
  });
});
