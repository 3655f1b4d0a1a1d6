// @vitest-environment node
import { describe, expect, it, vi } from "vitest";

describe("importing @expstream/client and @expstream/react", () => {
  it("has no side effects: no new globals, no request, no socket", async () => {
    const fetchSpy = vi.fn();
    const socketSpy = vi.fn();
    vi.stubGlobal("fetch", fetchSpy);
    vi.stubGlobal("WebSocket", socketSpy);
    const before = new Set(Object.getOwnPropertyNames(globalThis));
    const client = await import("@expstream/client");
    const react = await import("./index");
    expect(Object.getOwnPropertyNames(globalThis).filter((name) => !before.has(name))).toEqual([]);
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(socketSpy).not.toHaveBeenCalled();
    expect(typeof client.watchExperiment).toBe("function");
    expect(typeof react.LiveResultsPanel).toBe("function");
    vi.unstubAllGlobals();
  });
});
