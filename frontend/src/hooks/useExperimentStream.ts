"use client";

import { useEffect, useRef, useState } from "react";
import {
  DEFAULT_INITIAL_BACKOFF_MS,
  DEFAULT_MAX_BACKOFF_MS,
  DEFAULT_MAX_RECONNECT_ATTEMPTS,
  computeBackoffDelay,
  secondsUntil,
} from "@/lib/backoff";
import { CLOSE_NORMAL, closeFailureMessage, closeOutcome } from "@/lib/closeCodes";
import { parseServerMessage } from "@/lib/parseServerMessage";
import { buildResultsWsUrl } from "@/lib/wsUrl";
import type { ClientMessage, ServerMessage } from "@/types/messages";
import type { ExperimentSnapshot } from "@/types/snapshot";

export type ConnectionStatus = "connecting" | "connected" | "disconnected" | "error";

export const DEFAULT_PING_INTERVAL_MS = 30_000;
const COUNTDOWN_TICK_MS = 1_000;
const WS_CONNECTING = 0;
const WS_OPEN = 1;

export interface UseExperimentStreamOptions {
  /** Reconnects tried after an unexpected close before giving up with status 'error'. Default 5. */
  maxReconnectAttempts?: number;
  /** Delay before the first reconnect; doubles on each further attempt. Default 1000. */
  initialBackoffMs?: number;
  /** Upper bound for the reconnect delay. Default 30000. */
  maxBackoffMs?: number;
  /** Add a little random jitter to reconnect delays. Default true; disable in tests. */
  jitter?: boolean;
  /** Interval for {"action":"ping"} while open; 0 disables. Default 30000. */
  pingIntervalMs?: number;
  /** Full WebSocket URL, overriding the one built from the experiment id. */
  url?: string;
  /** Called with every message the client understands (including pong). */
  onMessage?: (message: ServerMessage) => void;
}

export interface ExperimentStream {
  snapshot: ExperimentSnapshot | null;
  status: ConnectionStatus;
  error: string | null;
  /** Asks the server for a fresh snapshot; false when not connected. */
  refresh: () => boolean;
  /** Closes the connection; no automatic reconnect follows. */
  disconnect: () => void;
  /** Connects now, with a fresh reconnect budget. */
  reconnect: () => void;
  /** Whole seconds until the next automatic reconnect, or null when none is scheduled. */
  reconnectIn: number | null;
  /** Number of the current/next automatic reconnect attempt (0 while healthy). */
  attempt: number;
  maxReconnectAttempts: number;
}

type Timers = {
  reconnect?: ReturnType<typeof setTimeout>;
  countdown?: ReturnType<typeof setInterval>;
  ping?: ReturnType<typeof setInterval>;
};

interface Setters {
  setSnapshot: (value: ExperimentSnapshot | null) => void;
  setStatus: (value: ConnectionStatus) => void;
  setError: (value: string | null) => void;
  setReconnectIn: (value: number | null) => void;
  setAttempt: (value: number) => void;
}

/**
 * Socket and timer bookkeeping for one hook instance. Everything mutable lives
 * here (not in React state), so the functions are stable for the hook's life
 * and always see the latest options through `options.current`.
 */
function createController(setters: Setters, options: { current: UseExperimentStreamOptions }) {
  let experimentId: string | null = null;
  let socket: WebSocket | null = null;
  let attempt = 0;
  let serverError: string | null = null;
  let timers: Timers = {};

  function clearTimers(): void {
    if (timers.reconnect !== undefined) clearTimeout(timers.reconnect);
    if (timers.countdown !== undefined) clearInterval(timers.countdown);
    if (timers.ping !== undefined) clearInterval(timers.ping);
    timers = {};
  }

  function setAttempt(value: number): void {
    attempt = value;
    setters.setAttempt(value);
  }

  /** Closes the current socket as an expected close: its handlers are detached by identity. */
  function closeSocket(): void {
    const current = socket;
    socket = null;
    if (current && (current.readyState === WS_CONNECTING || current.readyState === WS_OPEN)) {
      try {
        current.close(CLOSE_NORMAL);
      } catch {
        // Already closing; nothing to do.
      }
    }
  }

  function send(message: ClientMessage): boolean {
    if (!socket || socket.readyState !== WS_OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  function startPing(): void {
    const interval = options.current.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
    if (!(interval > 0) || !Number.isFinite(interval)) return;
    timers.ping = setInterval(() => send({ action: "ping" }), interval);
  }

  function handleMessage(data: unknown): void {
    const message = parseServerMessage(data);
    if (!message) return; // garbage or unknown event: ignore
    if (message.event === "results_update") {
      serverError = null;
      setters.setSnapshot(message);
      setters.setError(null);
      // A connection that delivers a snapshot is healthy: the reconnect budget starts over.
      if (attempt !== 0) setAttempt(0);
    } else if (message.event === "error") {
      serverError = message.message;
      setters.setError(message.message);
    }
    options.current.onMessage?.(message);
  }

  function handleClose(code: number): void {
    switch (closeOutcome(code)) {
      case "stop":
        setters.setReconnectIn(null);
        setters.setStatus("disconnected");
        return;
      case "fail":
        setters.setReconnectIn(null);
        setters.setError(serverError ?? closeFailureMessage(code));
        setters.setStatus("error");
        return;
      case "reconnect":
        scheduleReconnect();
        return;
    }
  }

  function scheduleReconnect(): void {
    const opts = options.current;
    const maxAttempts = opts.maxReconnectAttempts ?? DEFAULT_MAX_RECONNECT_ATTEMPTS;
    const next = attempt + 1;
    if (next > maxAttempts) {
      setters.setReconnectIn(null);
      setters.setError(
        maxAttempts > 0
          ? `Lost connection to the live results. Gave up after ${maxAttempts} reconnect ${maxAttempts === 1 ? "attempt" : "attempts"}.`
          : "Lost connection to the live results.",
      );
      setters.setStatus("error");
      return;
    }
    setAttempt(next);
    const delay = computeBackoffDelay(next, {
      initialBackoffMs: opts.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS,
      maxBackoffMs: opts.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS,
      jitter: opts.jitter ?? true,
    });
    const deadline = Date.now() + delay;
    setters.setStatus("disconnected");
    setters.setReconnectIn(secondsUntil(deadline));
    timers.countdown = setInterval(() => setters.setReconnectIn(secondsUntil(deadline)), COUNTDOWN_TICK_MS);
    timers.reconnect = setTimeout(() => {
      timers.reconnect = undefined;
      open();
    }, delay);
  }

  function open(): void {
    clearTimers();
    closeSocket();
    setters.setReconnectIn(null);
    if (!experimentId) {
      setters.setStatus("disconnected");
      return;
    }
    serverError = null;
    setters.setStatus("connecting");
    let ws: WebSocket;
    try {
      ws = new WebSocket(options.current.url ?? buildResultsWsUrl(experimentId));
    } catch (err) {
      setters.setError(`Cannot open the live results connection: ${err instanceof Error ? err.message : String(err)}`);
      setters.setStatus("error");
      return;
    }
    socket = ws;
    ws.onopen = () => {
      if (socket !== ws) return;
      setters.setError(null);
      setters.setStatus("connected");
      startPing();
    };
    ws.onmessage = (event: MessageEvent) => {
      if (socket !== ws) return;
      handleMessage(event.data);
    };
    ws.onclose = (event: CloseEvent) => {
      if (socket !== ws) return; // expected close (disconnect, switch, unmount)
      socket = null;
      clearTimers();
      handleClose(event.code);
    };
  }

  return {
    /** Starts streaming `id` (or stops, for null). Called by the effect. */
    start(id: string | null): void {
      experimentId = id;
      setAttempt(0);
      setters.setSnapshot(null);
      setters.setError(null);
      open();
    },
    /** Effect cleanup: close the socket as expected and clear every timer. */
    stop(): void {
      experimentId = null;
      clearTimers();
      closeSocket();
    },
    refresh(): boolean {
      return send({ action: "refresh" });
    },
    disconnect(): void {
      clearTimers();
      closeSocket();
      setAttempt(0);
      setters.setReconnectIn(null);
      setters.setStatus("disconnected");
    },
    reconnect(): void {
      setAttempt(0);
      setters.setError(null);
      open();
    },
  };
}

/**
 * Live results of one experiment over WebSocket, with ping keep-alive and
 * exponential-backoff reconnects. Pass null/'' to stay disconnected.
 */
export function useExperimentStream(
  experimentId: string | null | undefined,
  options: UseExperimentStreamOptions = {},
): ExperimentStream {
  const optionsRef = useRef(options);
  optionsRef.current = options;

  const [snapshot, setSnapshot] = useState<ExperimentSnapshot | null>(null);
  const [status, setStatus] = useState<ConnectionStatus>(experimentId ? "connecting" : "disconnected");
  const [error, setError] = useState<string | null>(null);
  const [reconnectIn, setReconnectIn] = useState<number | null>(null);
  const [attempt, setAttempt] = useState(0);

  const [controller] = useState(() =>
    createController({ setSnapshot, setStatus, setError, setReconnectIn, setAttempt }, optionsRef),
  );

  const id = experimentId || null;
  useEffect(() => {
    controller.start(id);
    return () => controller.stop();
  }, [controller, id]);

  return {
    snapshot,
    status,
    error,
    refresh: controller.refresh,
    disconnect: controller.disconnect,
    reconnect: controller.reconnect,
    reconnectIn,
    attempt,
    maxReconnectAttempts: options.maxReconnectAttempts ?? DEFAULT_MAX_RECONNECT_ATTEMPTS,
  };
}
