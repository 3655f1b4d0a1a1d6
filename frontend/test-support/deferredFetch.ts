import { vi } from "vitest";

export interface PendingRequest {
  url: string;
  headers: Record<string, string>;
  signal: AbortSignal | undefined;
  /** Answers with `status` and a JSON body. */
  respond: (status: number, body?: unknown) => void;
  /** Fails like a network error. */
  fail: (message?: string) => void;
  readonly settled: boolean;
}

/**
 * Stubs global fetch; every call stays pending until the test answers it (a
 * long poll), and rejects with AbortError when its signal aborts.
 */
export function stubDeferredFetch() {
  const requests: PendingRequest[] = [];
  const fetchMock = vi.fn((input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    const signal = init?.signal ?? undefined;
    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        fn();
      };
      signal?.addEventListener("abort", () =>
        settle(() => reject(new DOMException("The operation was aborted.", "AbortError"))),
      );
      requests.push({
        url,
        headers,
        signal,
        respond: (status, body) =>
          settle(() =>
            resolve(
              new Response(status === 204 ? null : JSON.stringify(body ?? null), {
                status,
                headers: { "Content-Type": "application/json" },
              }),
            ),
          ),
        fail: (message = "Failed to fetch") => settle(() => reject(new TypeError(message))),
        get settled() {
          return settled;
        },
      });
    });
  });
  vi.stubGlobal("fetch", fetchMock);
  return {
    fetchMock,
    requests,
    /** The newest request. */
    last(): PendingRequest {
      const request = requests.at(-1);
      if (!request) throw new Error("no fetch call yet");
      return request;
    },
  };
}
