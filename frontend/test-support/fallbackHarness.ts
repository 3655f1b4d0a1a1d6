/**
 * Shared setup of the useExperimentStream fallback tests (useExperimentStream.fallback.test.ts,
 * useExperimentStream.probe.test.ts): a mock WebSocket server that refuses, serves or stays
 * silent, a fake EventSource, fetch answered by the test, fake timers, and helpers that bring the
 * hook onto SSE or polling. `wsServer` and `http` are replaced before each test (live bindings).
 */
import { act, renderHook } from "@testing-library/react";
import { Server } from "mock-socket";
import { afterEach, beforeEach, vi } from "vitest";
import { useExperimentStream, type UseExperimentStreamOptions } from "@expstream/react";
import { stubDeferredFetch } from "./deferredFetch";
import { FakeEventSource, installFakeEventSource } from "./fakeEventSource";
import { installMockWebSocket, makeSnapshot } from "./mockWebSocket";

// jsdom's page is http://localhost:3000/; the HTTP API is relative to it.

export const WS_URL = "ws://localhost:3000/api/v1/ws/experiments/exp-1/results";
export const SSE_PATH = "/api/v1/experiments/exp-1/results/stream";
export const RESULTS_PATH = "/api/v1/experiments/exp-1/results";
export const TOKEN = "tok";

/** mock-socket delivers open/close after a 4 ms timer. */
export const MOCK_DELAY_MS = 4;
/** One failing connection: open, then the server's close. */
export const FAILED_CONNECTION_MS = 2 * MOCK_DELAY_MS;

/**
 * One reconnect (1 s) before the fallback keeps the tests short; the token is an option.
 */
export const OPTIONS: UseExperimentStreamOptions = { jitter: false, maxReconnectAttempts: 1, token: TOKEN };

export type ServerMode = "drop" | "snapshot" | "silent";

/**
 * Mock WebSocket server that drops every connection (like a proxy refusing
 * upgrades), serves a snapshot on connect, or accepts and stays silent.
 */
export function startServer() {
  const server = new Server(WS_URL, { mock: false });
  const state = { mode: "drop" as ServerMode, snapshot: makeSnapshot({ seq: 10 }) };
  server.on("connection", (socket) => {
    if (state.mode === "drop") socket.close({ code: 1006, reason: "", wasClean: false });
    else if (state.mode === "snapshot") socket.send(JSON.stringify(state.snapshot));
  });
  return {
    server,
    state,
    send(value: unknown) {
      for (const client of server.clients()) client.send(JSON.stringify(value));
    },
  };
}

export let wsServer: ReturnType<typeof startServer>;
export let http: ReturnType<typeof stubDeferredFetch>;

export async function advance(ms: number): Promise<void> {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
  });
}

/** Settles promise callbacks (fetch answers) without moving the clock. */
export const settle = () => advance(0);

export function renderStream(options: UseExperimentStreamOptions = OPTIONS, id: string | null = "exp-1") {
  return renderHook(({ id, options }) => useExperimentStream(id, options), { initialProps: { id, options } });
}

/** Lets the first connection and the single reconnect (after 1 s) fail. */
export async function exhaustWebSocket(): Promise<void> {
  await advance(FAILED_CONNECTION_MS + 1000 + FAILED_CONNECTION_MS);
}

export function lastEventSource(): FakeEventSource {
  const source = FakeEventSource.instances.at(-1);
  if (!source) throw new Error("no EventSource yet");
  return source;
}

/** Renders, reaches SSE, opens it and delivers a snapshot with `seq`. */
export async function onSse(seq = 4, options: UseExperimentStreamOptions = OPTIONS) {
  const hook = renderStream(options);
  await exhaustWebSocket();
  const source = lastEventSource();
  act(() => {
    source.open();
    source.emit(makeSnapshot({ seq }));
  });
  return { ...hook, source };
}

/** Renders, reaches polling (SSE refused) and answers the first poll with a snapshot with `seq`. */
export async function onPolling(seq = 4, options: UseExperimentStreamOptions = OPTIONS) {
  const hook = renderStream(options);
  await exhaustWebSocket();
  act(() => lastEventSource().refuse());
  await settle();
  act(() => http.last().respond(200, makeSnapshot({ seq })));
  await settle();
  return hook;
}

/** Registers the beforeEach/afterEach of a fallback test file. */
export function setUpFallbackTests(): void {
  beforeEach(() => {
    vi.useFakeTimers();
    installMockWebSocket();
    installFakeEventSource();
    http = stubDeferredFetch();
    wsServer = startServer();
  });

  afterEach(() => {
    wsServer.server.stop();
    vi.clearAllTimers();
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });
}
