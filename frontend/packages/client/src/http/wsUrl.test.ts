import { afterEach, describe, expect, it, vi } from "vitest";
import { buildResultsWsUrl, resolveWsBase } from "./wsUrl";

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("resolveWsBase", () => {
  it("uses ws: for a page served over http", () => {
    expect(resolveWsBase("", { protocol: "http:", host: "localhost:8000" })).toBe("ws://localhost:8000");
  });

  it("uses wss: for a page served over https", () => {
    expect(resolveWsBase("", { protocol: "https:", host: "exp.example.com" })).toBe("wss://exp.example.com");
  });

  it("prefers NEXT_PUBLIC_WS_URL over the page origin and drops trailing slashes", () => {
    expect(resolveWsBase("ws://localhost:8000/", { protocol: "https:", host: "other" })).toBe("ws://localhost:8000");
  });

  it("turns an http(s) NEXT_PUBLIC_WS_URL into ws(s)", () => {
    expect(resolveWsBase("http://api.local:8000", null)).toBe("ws://api.local:8000");
    expect(resolveWsBase("https://api.example.com", null)).toBe("wss://api.example.com");
  });

  it("ignores a blank NEXT_PUBLIC_WS_URL", () => {
    expect(resolveWsBase("  ", { protocol: "http:", host: "h:1" })).toBe("ws://h:1");
  });

  it("reads NEXT_PUBLIC_WS_URL from the environment and otherwise window.location by default", () => {
    vi.stubEnv("NEXT_PUBLIC_WS_URL", "wss://stream.example.com");
    expect(resolveWsBase()).toBe("wss://stream.example.com");
    vi.stubEnv("NEXT_PUBLIC_WS_URL", "");
    expect(resolveWsBase()).toBe(`ws://${window.location.host}`);
  });

  it("throws when there is neither an environment value nor a location", () => {
    expect(() => resolveWsBase("", null)).toThrow(/NEXT_PUBLIC_WS_URL/);
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
