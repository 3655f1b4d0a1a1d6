/**
 * The probe WebSocket, tried while the stream is on SSE or polling: every so often a socket
 * without since_seq, so the server answers with its current snapshot at once. That first
 * snapshot proves the path works end to end, and the socket is handed over to become the
 * primary one.
 */
import { parseServerMessage } from "../parse/parseServerMessage";
import type { ExperimentSnapshot } from "../types/snapshot";
import { discardSocket } from "./socket";

export interface ProbeOptions {
  /** Delay before the next probe, read whenever one is scheduled; null: no more probes. */
  delayMs: () => number | null;
  /** A probe that has not delivered a snapshot by then is closed (e.g. a proxy that swallows frames). */
  timeoutMs: number;
  /** Opens a probe socket (may throw, like `new WebSocket`), or returns null to end probing. */
  open: () => WebSocket | null;
  /** The probe delivered `first`: probing has ended and `ws`, open, belongs to the caller now. */
  onSnapshot: (ws: WebSocket, first: ExperimentSnapshot) => void;
}

export interface Probe {
  /** False once probing has ended (stopped, handed over, or `open` declined). */
  readonly active: boolean;
  stop: () => void;
}

/** Schedules the first probe after `delayMs()`. */
export function startProbing(options: ProbeOptions): Probe {
  let active = true;
  let socket: WebSocket | null = null;
  let next: ReturnType<typeof setTimeout> | undefined;
  let timeout: ReturnType<typeof setTimeout> | undefined;

  function clearTimers(): void {
    if (next !== undefined) clearTimeout(next);
    if (timeout !== undefined) clearTimeout(timeout);
    next = timeout = undefined;
  }

  function schedule(): void {
    const delay = options.delayMs();
    if (delay === null || !(delay > 0) || !Number.isFinite(delay)) {
      active = false;
      return;
    }
    next = setTimeout(() => {
      next = undefined;
      openProbe();
    }, delay);
  }

  /** The probe closed or timed out: drop it and try again later. */
  function endProbe(ws: WebSocket): void {
    if (socket !== ws) return;
    socket = null;
    clearTimers();
    discardSocket(ws);
    schedule();
  }

  function openProbe(): void {
    let ws: WebSocket | null;
    try {
      ws = options.open();
    } catch {
      schedule();
      return;
    }
    if (!ws) {
      active = false;
      return;
    }
    const current = ws;
    socket = current;
    timeout = setTimeout(() => {
      timeout = undefined;
      endProbe(current);
    }, options.timeoutMs);
    current.onmessage = (event: MessageEvent) => {
      if (socket !== current) return;
      const message = parseServerMessage(event.data);
      if (message?.event !== "results_update") return;
      socket = null;
      active = false;
      clearTimers();
      options.onSnapshot(current, message);
    };
    current.onclose = () => endProbe(current);
  }

  schedule();

  return {
    get active() {
      return active;
    },
    stop() {
      active = false;
      clearTimers();
      const ws = socket;
      socket = null;
      discardSocket(ws);
    },
  };
}
