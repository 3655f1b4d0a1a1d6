import { act, renderHook } from "@testing-library/react";
import { Server, WebSocket as MockWebSocket } from "mock-socket";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BACKOFF_JITTER_RATIO, DEFAULT_INITIAL_BACKOFF_MS, DEFAULT_MAX_BACKOFF_MS } from "@expstream/client";
import { useExperimentStream, type UseExperimentStreamOptions } from "./useExperimentStream";

/**
 * Many dashboards lose the server at once (a restart, a 1013 "try again later"). Their reconnects
 * must spread out: each client waits a different, jittered delay, within the bounds of its attempt,
 * growing attempt by attempt. Measured end to end through the hook: from the moment a socket closes
 * to the moment the next one is created, with fake timers, so the delays are exact.
 */

const CLIENTS = 8;
const ATTEMPTS = 5;
const urlFor = (id: string) => `ws://localhost:3000/api/v1/ws/experiments/${id}/results`;

/** Per URL: when each socket was created and when each closed (fake time, ms). */
const created = new Map<string, number[]>();
const closed = new Map<string, number[]>();

class TimedWebSocket extends MockWebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols);
    const key = String(url);
    created.set(key, [...(created.get(key) ?? []), Date.now()]);
    this.addEventListener("close", () => closed.set(key, [...(closed.get(key) ?? []), Date.now()]));
  }
}

/** A small deterministic PRNG (mulberry32), so the test is the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let servers: Server[] = [];

beforeEach(() => {
  vi.useFakeTimers();
  vi.stubGlobal("WebSocket", TimedWebSocket);
  created.clear();
  closed.clear();
});

afterEach(() => {
  for (const server of servers) server.stop();
  servers = [];
  vi.restoreAllMocks();
  vi.clearAllTimers();
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

/** CLIENTS hooks, each on its own experiment whose server refuses every connection with 1013. */
async function reconnectDelays(options: UseExperimentStreamOptions): Promise<number[][]> {
  const ids = Array.from({ length: CLIENTS }, (_, i) => `exp-${i}`);
  for (const id of ids) {
    const server = new Server(urlFor(id), { mock: false });
    server.on("connection", (socket) => socket.close({ code: 1013, reason: "try again later", wasClean: true }));
    servers.push(server);
  }
  const hooks = ids.map((id) => renderHook(() => useExperimentStream(id, options)));
  // Every attempt's longest possible wait, and then some: every client runs out of attempts.
  await act(async () => {
    await vi.advanceTimersByTimeAsync(2 * DEFAULT_MAX_BACKOFF_MS * ATTEMPTS);
  });
  for (const hook of hooks) {
    expect(hook.result.current.status).toBe("error"); // gave up after ATTEMPTS, no fallback
    hook.unmount();
  }
  return ids.map((id) => {
    const opened = created.get(urlFor(id)) ?? [];
    const ended = closed.get(urlFor(id)) ?? [];
    expect(opened).toHaveLength(ATTEMPTS + 1); // the first connection and one per attempt
    // Delay of attempt k: from the close of socket k-1 to the creation of socket k.
    return opened.slice(1).map((at, k) => at - ended[k]);
  });
}

describe("reconnect backoff across many clients", () => {
  it("gives different clients different delays, each within its attempt's bounds and growing", async () => {
    vi.spyOn(Math, "random").mockImplementation(seeded(8));
    const delays = await reconnectDelays({ maxReconnectAttempts: ATTEMPTS, fallback: false });

    for (const perClient of delays) {
      perClient.forEach((delay, k) => {
        const base = Math.min(DEFAULT_INITIAL_BACKOFF_MS * 2 ** k, DEFAULT_MAX_BACKOFF_MS);
        expect(delay).toBeGreaterThanOrEqual(base);
        expect(delay).toBeLessThanOrEqual(Math.min(Math.round(base * (1 + BACKOFF_JITTER_RATIO)), DEFAULT_MAX_BACKOFF_MS));
      });
      // Growing: each attempt waits longer than the one before.
      for (let k = 1; k < perClient.length; k++) expect(perClient[k]).toBeGreaterThan(perClient[k - 1]);
    }
    // Spread: at every attempt, the clients do not come back in lockstep.
    for (let k = 0; k < ATTEMPTS; k++) {
      const atAttempt = new Set(delays.map((perClient) => perClient[k]));
      expect(atAttempt.size).toBeGreaterThan(CLIENTS / 2);
    }
  });

  it("without jitter, every client waits exactly the same (the spread above comes from the jitter)", async () => {
    const delays = await reconnectDelays({ maxReconnectAttempts: ATTEMPTS, fallback: false, jitter: false });
    const expected = Array.from({ length: ATTEMPTS }, (_, k) => DEFAULT_INITIAL_BACKOFF_MS * 2 ** k);
    for (const perClient of delays) expect(perClient).toEqual(expected);
  });
});
