import { vi } from "vitest";

type Route = { status?: number; body?: unknown };

/** Stubs global fetch with fixed answers by URL; unknown URLs answer 404. */
export function stubFetch(routes: Record<string, Route | (() => Route)>) {
  const fetchMock = vi.fn((input: RequestInfo | URL, _init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const entry = routes[url];
    const route = typeof entry === "function" ? entry() : (entry ?? { status: 404, body: { detail: "Not found" } });
    const status = route.status ?? 200;
    return Promise.resolve(
      new Response(JSON.stringify(route.body ?? null), {
        status,
        headers: { "Content-Type": "application/json" },
      }),
    );
  });
  vi.stubGlobal("fetch", fetchMock);
  return fetchMock;
}
