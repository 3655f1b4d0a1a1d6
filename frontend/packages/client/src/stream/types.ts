import type { Transport } from "@/lib/transportState";
import type { AnomalyEvent, ServerMessage } from "@/types/messages";
import type { ExperimentSnapshot } from "@/types/snapshot";

export type ConnectionStatus = "connecting" | "connected" | "disconnected" | "error";

export interface UseExperimentStreamOptions {
  /** WebSocket reconnects tried after an unexpected close before falling back to SSE. Default 5. */
  maxReconnectAttempts?: number;
  /** Delay before the first reconnect; doubles on each further attempt. Default 1000. */
  initialBackoffMs?: number;
  /** Upper bound for the reconnect delay. Default 30000. */
  maxBackoffMs?: number;
  /** Add a little random jitter to reconnect delays. Default true; disable in tests. */
  jitter?: boolean;
  /** Interval for {"action":"ping"} while the WebSocket is open; 0 disables. Default 30000. */
  pingIntervalMs?: number;
  /** Full WebSocket URL, overriding the one built from the experiment id (token/since_seq are appended). */
  url?: string;
  /** Bearer token. Default (undefined): the page's token (URL/cookie, src/lib/token.ts); null: none. */
  token?: string | null;
  /**
   * After the WebSocket reconnects are used up (or without WebSocket support), fall
   * back to Server-Sent Events and then long polling. Default true; false: give up
   * with status 'error' as before.
   */
  fallback?: boolean;
  /** While on SSE or polling, try a WebSocket again this often; 0 disables. Default 60000. */
  wsProbeIntervalMs?: number;
  /** Called with every message the client understands and applies (including pong). */
  onMessage?: (message: ServerMessage) => void;
}

export interface ExperimentStream {
  snapshot: ExperimentSnapshot | null;
  /** The latest {"event":"anomaly"} for this experiment (e.g. sample_ratio_mismatch); null until one arrives, reset when the experiment changes. */
  anomaly: AnomalyEvent | null;
  status: ConnectionStatus;
  error: string | null;
  /** The transport in use or being retried; null when none runs (stopped, failed, no experiment). */
  transport: Transport | null;
  /** Asks the server for a fresh snapshot; false when nothing is connected. */
  refresh: () => boolean;
  /** Closes everything; no automatic reconnect follows. */
  disconnect: () => void;
  /** Connects now over WebSocket, with a fresh reconnect budget. */
  reconnect: () => void;
  /** Whole seconds until the next automatic WebSocket reconnect, or null when none is scheduled. */
  reconnectIn: number | null;
  /** Number of the current/next automatic WebSocket reconnect attempt (0 while healthy and on fallbacks). */
  attempt: number;
  maxReconnectAttempts: number;
}
