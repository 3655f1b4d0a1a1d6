/**
 * Shared setup of the useExperimentStream tests (useExperimentStream*.test.ts): fake timers, the
 * mock WebSocket, mock servers that are stopped after each test, and clock helpers.
 */
import { act } from "@testing-library/react";
import { afterEach, beforeEach, vi } from "vitest";
import { installMockWebSocket, startMockServer } from "./mockWebSocket";

/** jsdom's page is http://localhost:3000/, so the default URL uses ws://localhost:3000. */
export const urlFor = (id: string) => `ws://localhost:3000/api/v1/ws/experiments/${id}/results`;
export const URL_1 = urlFor("exp-1");
export const URL_2 = urlFor("exp-2");

/** mock-socket delivers open/close/client→server frames after a 4 ms timer. */
export const MOCK_DELAY_MS = 4;

export async function advance(ms: number): Promise<void> {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
  });
}

export const flush = () => advance(MOCK_DELAY_MS);

let servers: ReturnType<typeof startMockServer>[] = [];

/** A mock server at `url`, stopped after the test. */
export function serve(url: string) {
  const server = startMockServer(url);
  servers.push(server);
  return server;
}

/** Registers the beforeEach/afterEach of a stream test file. */
export function setUpStreamTests(): void {
  beforeEach(() => {
    vi.useFakeTimers();
    installMockWebSocket();
  });

  afterEach(() => {
    for (const server of servers) server.stop();
    servers = [];
    vi.clearAllTimers();
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });
}
