import type { ClientOptions } from "../http/clientOptions";
import type { AnomalyEvent, ServerMessage } from "../types/messages";
import type { ExperimentSnapshot } from "../types/snapshot";
import type { Transport } from "./transportState";

export type ConnectionStatus = "connecting" | "connected" | "disconnected" | "error";

/** A WebSocket implementation: the browser's, Node 22's global one, or e.g. the `ws` package's. */
export type WebSocketConstructor = new (url: string) => WebSocket;

/** An EventSource implementation (browsers have one; Node needs a package such as `eventsource`). */
export type EventSourceConstructor = new (url: string) => EventSource;

export interface StreamOptions extends ClientOptions {
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
  /**
   * After the WebSocket reconnects are used up (or without WebSocket support), fall
   * back to Server-Sent Events and then long polling. Default true; false: give up
   * with status 'error'.
   */
  fallback?: boolean;
  /** While on SSE or polling, try a WebSocket again this often; 0 disables. Default 60000. */
  wsProbeIntervalMs?: number;
  /** Called with every message the client understands and applies (including pong). */
  onMessage?: (message: ServerMessage) => void;
  /** WebSocket implementation. Default: the global one (Node 20 has none: without one the stream uses SSE or polling). */
  WebSocket?: WebSocketConstructor;
  /** EventSource implementation. Default: the global one (without one, the fallback after WebSocket is polling). */
  EventSource?: EventSourceConstructor;
}

/** Everything a stream shows at one moment. */
export interface StreamState {
  snapshot: ExperimentSnapshot | null;
  /** The latest {"event":"anomaly"} for this experiment (e.g. sample_ratio_mismatch); null until one arrives, reset when the experiment changes. */
  anomaly: AnomalyEvent | null;
  status: ConnectionStatus;
  error: string | null;
  /** The transport in use or being retried; null when none runs (stopped, failed, no experiment). */
  transport: Transport | null;
  /** Whole seconds until the next automatic WebSocket reconnect, or null when none is scheduled. */
  reconnectIn: number | null;
  /** Number of the current/next automatic WebSocket reconnect attempt (0 while healthy and on fallbacks). */
  attempt: number;
}

/** A new snapshot, or a function of the previous one (a STATUS_CHANGED envelope patches the status). */
export type SnapshotUpdate = ExperimentSnapshot | null | ((previous: ExperimentSnapshot | null) => ExperimentSnapshot | null);

/**
 * Where a stream controller writes its state, one field at a time: React's useState setters
 * (useExperimentStream), or a plain object (watchExperiment). Function-valued properties, so
 * setters can be handed over as they are.
 */
export interface StreamSink {
  setSnapshot: (value: SnapshotUpdate) => void;
  setAnomaly: (value: AnomalyEvent | null) => void;
  setStatus: (value: ConnectionStatus) => void;
  setError: (value: string | null) => void;
  setReconnectIn: (value: number | null) => void;
  setAttempt: (value: number) => void;
  setTransport: (value: Transport | null) => void;
}

/** What a caller can do with a running stream. */
export interface StreamActions {
  /** Asks the server for a fresh snapshot; false when nothing is connected. */
  refresh: () => boolean;
  /** Closes everything; no automatic reconnect follows. */
  disconnect: () => void;
  /** Connects now over WebSocket, with a fresh reconnect budget. */
  reconnect: () => void;
}
