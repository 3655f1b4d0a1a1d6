import { Server, WebSocket as MockWebSocket } from "mock-socket";
import { vi } from "vitest";
import type { ExperimentSnapshot } from "@expstream/client";

/** Every client socket created while the mock is installed, oldest first. */
export const createdSockets: MockWebSocket[] = [];

class TrackedWebSocket extends MockWebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols);
    createdSockets.push(this);
  }
}

/** Replaces the global WebSocket with mock-socket's (call in beforeEach). */
export function installMockWebSocket(): void {
  createdSockets.length = 0;
  vi.stubGlobal("WebSocket", TrackedWebSocket);
}

/** One mock server at `url` that records the frames clients send it. */
export function startMockServer(url: string) {
  const server = new Server(url, { mock: false });
  const received: unknown[] = [];
  server.on("connection", (socket) => {
    socket.on("message", (data) => {
      received.push(typeof data === "string" ? JSON.parse(data) : data);
    });
  });
  return {
    server,
    received,
    /** Sends a raw frame (string) or JSON value to every connected client. */
    send(value: unknown) {
      const data = typeof value === "string" ? value : JSON.stringify(value);
      for (const client of server.clients()) client.send(data);
    },
    /** Closes every connected client from the server side with `code` (delivered after ~4 ms). */
    closeClients(code: number, reason = "") {
      for (const client of server.clients()) client.close({ code, reason, wasClean: code === 1000 });
    },
    /** From now on, accept each connection and immediately close it with `code`. */
    dropEveryConnection(code: number) {
      server.on("connection", (socket) => socket.close({ code, reason: "", wasClean: false }));
    },
    stop() {
      server.stop();
    },
  };
}

/** A snapshot with three variants (control, green, red) under fixed-horizon analysis without correction. */
export function makeSnapshot(overrides: Partial<ExperimentSnapshot> = {}): ExperimentSnapshot {
  return {
    event: "results_update",
    experiment_id: "exp-1",
    timestamp: "2024-05-01T12:00:00+00:00",
    status: "active",
    variants: [
      {
        key: "control",
        name: "Control",
        participant_count: 1234567,
        conversion_count: 152345,
        conversion_rate: 0.1234,
        relative_lift: null,
        p_value: null,
        is_control: true,
        weight: 1,
        lift_ci: null,
        difference_ci: null,
        p_value_adjusted: null,
        chance_to_win: null,
        is_significant: false,
      },
      {
        key: "green",
        name: "Green button",
        participant_count: 1230000,
        conversion_count: 197430,
        conversion_rate: 0.1605,
        relative_lift: 0.3,
        p_value: 0.031,
        is_control: false,
        weight: 1,
        lift_ci: [0.021, 0.579],
        difference_ci: [0.0026, 0.0716],
        p_value_adjusted: 0.031,
        chance_to_win: 0.9843,
        is_significant: true,
      },
      {
        key: "red",
        name: "Red button",
        participant_count: 1229000,
        conversion_count: 143700,
        conversion_rate: 0.1169,
        relative_lift: -0.052,
        p_value: 0.137,
        is_control: false,
        weight: 1,
        lift_ci: [-0.118, 0.017],
        difference_ci: [-0.0146, 0.0021],
        p_value_adjusted: 0.137,
        chance_to_win: 0.0685,
        is_significant: false,
      },
    ],
    total_participants: 3693567,
    days_running: 12,
    is_significant: true,
    seq: 7,
    analysis: { method: "fixed", alpha: 0.05, sequential_tuning: null, correction: "none" },
    srm: { p_value: 0.91, mismatch: false },
    ...overrides,
  };
}
