import type { Dispatch, SetStateAction } from "react";
import { fetchResults } from "@/lib/api";
import { resultsStreamUrl } from "@/lib/apiUrl";
import { NOT_FOUND_MESSAGE, refusalMessage } from "@/lib/authMessages";
import {
  DEFAULT_INITIAL_BACKOFF_MS,
  DEFAULT_MAX_BACKOFF_MS,
  DEFAULT_MAX_RECONNECT_ATTEMPTS,
  computeBackoffDelay,
  secondsUntil,
} from "@/lib/backoff";
import {
  CLOSE_NORMAL,
  closeFailureMessage,
  closeKeepsServerMessage,
  closeOutcome,
} from "@/lib/closeCodes";
import { parseServerMessage, parseServerPayload } from "@/lib/parseServerMessage";
import { startPolling, withSnapshotEvent, type Poller } from "@/lib/pollingTransport";
import { createSeqTracker } from "@/lib/seqTracker";
import { isTerminalErrorCode, serverErrorText } from "@/lib/serverErrors";
import { hasEventSource, openSse, type SseConnection } from "@/lib/sseTransport";
import { currentToken } from "@/lib/token";
import {
  DEFAULT_WS_PROBE_INTERVAL_MS,
  POLL_INTERVAL_MS,
  POLL_TIMEOUT_MARGIN_MS,
  POLL_WAIT_SECONDS,
  WS_PROBE_TIMEOUT_MS,
  isFallback,
  nextFallback,
  type Transport,
} from "@/lib/transportState";
import { appendQuery } from "@/lib/urlQuery";
import { buildResultsWsUrl } from "@/lib/wsUrl";
import type { AnomalyEvent, ClientMessage, ServerMessage } from "@/types/messages";
import type { ExperimentSnapshot } from "@/types/snapshot";
import type { ConnectionStatus, ExperimentStream, UseExperimentStreamOptions } from "./streamTypes";

export const DEFAULT_PING_INTERVAL_MS = 30_000;
const COUNTDOWN_TICK_MS = 1_000;
const WS_CONNECTING = 0;
const WS_OPEN = 1;

export interface StreamSetters {
  setSnapshot: Dispatch<SetStateAction<ExperimentSnapshot | null>>;
  setAnomaly: (value: AnomalyEvent | null) => void;
  setStatus: (value: ConnectionStatus) => void;
  setError: (value: string | null) => void;
  setReconnectIn: (value: number | null) => void;
  setAttempt: (value: number) => void;
  setTransport: (value: Transport | null) => void;
}

type Timers = {
  reconnect?: ReturnType<typeof setTimeout>;
  countdown?: ReturnType<typeof setInterval>;
  ping?: ReturnType<typeof setInterval>;
  probe?: ReturnType<typeof setTimeout>;
  probeTimeout?: ReturnType<typeof setTimeout>;
};

/**
 * What createStreamController returns. Function-valued properties (not methods): they use no
 * `this`, so the hook hands them out detached (`refresh: controller.refresh`).
 */
export interface StreamController {
  /** The options the next connection, reconnect, ping or probe uses; the hook calls it after every commit. */
  setOptions: (options: UseExperimentStreamOptions) => void;
  /** Starts streaming `id` (or stops, for null). Called by the effect. */
  start: (id: string | null) => void;
  /** Effect cleanup: close every socket and EventSource, stop polling and clear every timer. */
  stop: () => void;
  refresh: ExperimentStream["refresh"];
  disconnect: ExperimentStream["disconnect"];
  reconnect: ExperimentStream["reconnect"];
}

const hasWebSocket = () => typeof WebSocket !== "undefined";

/**
 * Closes a socket we no longer want. Its handlers check identity (`socket === ws`,
 * `probe === ws`), so callers drop their reference first and the close is silent.
 */
function discardSocket(ws: WebSocket | null): void {
  if (!ws) return;
  if (ws.readyState === WS_CONNECTING || ws.readyState === WS_OPEN) {
    try {
      ws.close(CLOSE_NORMAL);
    } catch {
      // Already closing; nothing to do.
    }
  }
}

/**
 * Transport and timer bookkeeping for one useExperimentStream instance.
 * Everything mutable lives here (not in React state), so the functions are
 * stable for the hook's life; the hook hands over the latest options with
 * `setOptions` after every render it commits.
 *
 * One transport runs at a time: the WebSocket (`socket`, with ping and backoff
 * reconnects), or on fallback SSE (`sse`) or long polling (`poller`) with a
 * probe WebSocket (`probe`) tried every wsProbeIntervalMs. `seq` survives
 * every switch, so resuming never repeats or skips a snapshot.
 */
export function createStreamController(setters: StreamSetters, initialOptions: UseExperimentStreamOptions): StreamController {
  let options = initialOptions;
  let experimentId: string | null = null;
  let transport: Transport | null = null;
  let socket: WebSocket | null = null;
  let probe: WebSocket | null = null;
  let sse: SseConnection | null = null;
  let poller: Poller | null = null;
  let refreshRequest: AbortController | null = null;
  let attempt = 0;
  let serverError: string | null = null;
  const seq = createSeqTracker();
  const timers: Timers = {};

  // ------------------------------------------------------------ bookkeeping

  function setAttempt(value: number): void {
    attempt = value;
    setters.setAttempt(value);
  }

  function setTransport(value: Transport | null): void {
    transport = value;
    setters.setTransport(value);
  }

  function token(): string | null {
    const fromOptions = options.token;
    return fromOptions === undefined ? currentToken() : fromOptions;
  }

  function clearWsTimers(): void {
    if (timers.reconnect !== undefined) clearTimeout(timers.reconnect);
    if (timers.countdown !== undefined) clearInterval(timers.countdown);
    if (timers.ping !== undefined) clearInterval(timers.ping);
    timers.reconnect = timers.countdown = timers.ping = undefined;
  }

  function stopProbe(): void {
    if (timers.probe !== undefined) clearTimeout(timers.probe);
    if (timers.probeTimeout !== undefined) clearTimeout(timers.probeTimeout);
    timers.probe = timers.probeTimeout = undefined;
    discardSocket(probe);
    probe = null;
  }

  /** Stops the running transport (socket, SSE, polling, a pending refresh) and its timers; not the probe. */
  function stopTransport(): void {
    clearWsTimers();
    discardSocket(socket);
    socket = null;
    sse?.close();
    sse = null;
    poller?.stop();
    poller = null;
    refreshRequest?.abort();
    refreshRequest = null;
  }

  function stopAll(): void {
    stopTransport();
    stopProbe();
  }

  /** Stops everything and shows `message` with status 'error'; nothing reconnects by itself. */
  function fail(message: string): void {
    stopAll();
    setTransport(null);
    setters.setReconnectIn(null);
    setters.setError(message);
    setters.setStatus("error");
  }

  // ------------------------------------------------------------ messages

  function applyMessage(message: ServerMessage, source: Transport): void {
    switch (message.event) {
      case "results_update":
        if (!seq.accept(message.seq)) return; // stale: older than what is shown
        serverError = null;
        setters.setSnapshot(message);
        setters.setError(null);
        if (source === "websocket") {
          // A connection that delivers a snapshot is healthy: the reconnect budget starts over.
          if (attempt !== 0) setAttempt(0);
        } else {
          setters.setStatus("connected");
        }
        break;
      case "error": {
        const text = serverErrorText(message);
        serverError = text;
        setters.setError(text);
        // Over the WebSocket the close code that follows decides; SSE and polling have none.
        if (source !== "websocket" && isTerminalErrorCode(message.code)) {
          fail(text);
        }
        break;
      }
      case "STATUS_CHANGED":
        if (message.experiment_id && message.experiment_id !== experimentId) return;
        setters.setSnapshot((prev) => (prev && prev.status !== message.status ? { ...prev, status: message.status } : prev));
        break;
      case "anomaly":
        if (message.experiment_id && message.experiment_id !== experimentId) return;
        setters.setAnomaly(message);
        break;
      case "pong":
        break;
    }
    options.onMessage?.(message);
  }

  function handleFrame(data: unknown, source: Transport): void {
    const message = parseServerMessage(data);
    if (message) applyMessage(message, source); // garbage or unknown event: ignore
  }

  // ------------------------------------------------------------ WebSocket

  /** WebSocket URL with ?token= and, when resuming, &since_seq= of the last applied snapshot. */
  function wsUrl(id: string, resume: boolean): string {
    return appendQuery(options.url ?? buildResultsWsUrl(id), {
      token: token() ?? undefined,
      since_seq: resume ? seq.last : undefined,
    });
  }

  function send(message: ClientMessage): boolean {
    if (!socket || socket.readyState !== WS_OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  function startPing(): void {
    const interval = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
    if (!(interval > 0) || !Number.isFinite(interval)) return;
    timers.ping = setInterval(() => send({ action: "ping" }), interval);
  }

  function onSocketOpen(): void {
    setters.setError(null);
    setters.setStatus("connected");
    startPing();
  }

  /** Wires `ws` up as the primary socket. */
  function attachSocket(ws: WebSocket): void {
    socket = ws;
    ws.onopen = () => {
      if (socket === ws) onSocketOpen();
    };
    ws.onmessage = (event: MessageEvent) => {
      if (socket === ws) handleFrame(event.data, "websocket");
    };
    ws.onclose = (event: CloseEvent) => {
      if (socket !== ws) return; // expected close (disconnect, switch, unmount)
      socket = null;
      clearWsTimers();
      handleClose(event.code);
    };
  }

  function handleClose(code: number): void {
    switch (closeOutcome(code)) {
      case "stop":
        setters.setReconnectIn(null);
        setTransport(null);
        setters.setStatus("disconnected");
        return;
      case "fail":
        fail(closeKeepsServerMessage(code) ? (serverError ?? closeFailureMessage(code)) : closeFailureMessage(code));
        return;
      case "reconnect":
        scheduleReconnect();
        return;
    }
  }

  function scheduleReconnect(): void {
    const opts = options;
    const maxAttempts = opts.maxReconnectAttempts ?? DEFAULT_MAX_RECONNECT_ATTEMPTS;
    const next = attempt + 1;
    if (next > maxAttempts) {
      if (opts.fallback ?? true) {
        startFallback("websocket");
        return;
      }
      fail(
        maxAttempts > 0
          ? `Lost connection to the live results. Gave up after ${maxAttempts} reconnect ${maxAttempts === 1 ? "attempt" : "attempts"}.`
          : "Lost connection to the live results.",
      );
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
      openWebSocket();
    }, delay);
  }

  function openWebSocket(): void {
    stopAll();
    setters.setReconnectIn(null);
    if (!experimentId) {
      setTransport(null);
      setters.setStatus("disconnected");
      return;
    }
    if (!hasWebSocket()) {
      if (options.fallback ?? true) startFallback("websocket");
      else fail("This browser cannot open a WebSocket.");
      return;
    }
    serverError = null;
    setTransport("websocket");
    setters.setStatus("connecting");
    let ws: WebSocket;
    try {
      ws = new WebSocket(wsUrl(experimentId, true));
    } catch (err) {
      fail(`Cannot open the live results connection: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    attachSocket(ws);
  }

  // ------------------------------------------------------------ fallbacks

  function startFallback(failed: Transport): void {
    const next = nextFallback(failed, hasEventSource());
    if (next === "sse") startSse();
    else if (next === "polling") startPollingTransport();
  }

  /** Common start of SSE and polling; returns the experiment id, or null when there is none. */
  function enterFallback(next: "sse" | "polling"): string | null {
    stopTransport();
    if (!experimentId) return null;
    setters.setReconnectIn(null);
    setAttempt(0);
    serverError = null;
    setTransport(next);
    setters.setStatus("connecting");
    scheduleProbe();
    return experimentId;
  }

  function startSse(): void {
    const id = enterFallback("sse");
    if (!id) return;
    const url = appendQuery(resultsStreamUrl(id), { token: token() ?? undefined, since_seq: seq.last });
    const connection = openSse(url, {
      onOpen: () => setters.setStatus("connected"),
      onData: (data) => handleFrame(data, "sse"),
      onRetrying: () => setters.setStatus("connecting"),
      onFailed: () => {
        if (sse === connection) startFallback("sse");
      },
    });
    sse = connection;
  }

  function startPollingTransport(): void {
    const id = enterFallback("polling");
    if (!id) return;
    const current: Poller = startPolling({
      poll: (signal) =>
        fetchResults(id, { signal, afterSeq: seq.last, waitSeconds: POLL_WAIT_SECONDS, token: token() }),
      intervalMs: POLL_INTERVAL_MS,
      timeoutMs: POLL_WAIT_SECONDS * 1000 + POLL_TIMEOUT_MARGIN_MS,
      onData: (body) => {
        if (poller !== current) return;
        setters.setStatus("connected");
        const message = body === null ? null : parseServerPayload(withSnapshotEvent(body));
        if (message) applyMessage(message, "polling");
      },
      onRefused: (status) => {
        if (poller === current) fail(refusalMessage(status) ?? NOT_FOUND_MESSAGE);
      },
      onFailed: () => {
        if (poller === current) setters.setStatus("connecting");
      },
    });
    poller = current;
  }

  // ------------------------------------------------------------ probe WebSocket

  function scheduleProbe(): void {
    if (probe || timers.probe !== undefined || !hasWebSocket()) return;
    const interval = options.wsProbeIntervalMs ?? DEFAULT_WS_PROBE_INTERVAL_MS;
    if (!(interval > 0) || !Number.isFinite(interval)) return;
    timers.probe = setTimeout(() => {
      timers.probe = undefined;
      openProbe();
    }, interval);
  }

  function endProbe(ws: WebSocket): void {
    if (probe !== ws) return;
    stopProbe();
    scheduleProbe();
  }

  /**
   * Opens a WebSocket beside the fallback. It carries no since_seq, so the
   * server sends its current snapshot right away; that first snapshot proves
   * the path works end to end, and the probe becomes the primary socket.
   */
  function openProbe(): void {
    if (!experimentId || !isFallback(transport)) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(wsUrl(experimentId, false));
    } catch {
      scheduleProbe();
      return;
    }
    probe = ws;
    timers.probeTimeout = setTimeout(() => {
      timers.probeTimeout = undefined;
      endProbe(ws);
    }, WS_PROBE_TIMEOUT_MS);
    ws.onmessage = (event: MessageEvent) => {
      if (probe !== ws) return;
      const message = parseServerMessage(event.data);
      if (message?.event === "results_update") promoteProbe(ws, message);
    };
    ws.onclose = () => endProbe(ws);
  }

  /** The probe delivered: it becomes the primary socket; SSE/polling stop; seq is kept. */
  function promoteProbe(ws: WebSocket, first: ExperimentSnapshot): void {
    probe = null;
    stopProbe();
    stopTransport();
    setAttempt(0);
    serverError = null;
    setTransport("websocket");
    attachSocket(ws);
    onSocketOpen();
    applyMessage(first, "websocket");
  }

  // ------------------------------------------------------------ public API

  return {
    setOptions(next: UseExperimentStreamOptions): void {
      options = next;
    },
    start(id: string | null): void {
      experimentId = id;
      seq.reset();
      setAttempt(0);
      setters.setSnapshot(null);
      setters.setAnomaly(null);
      setters.setError(null);
      openWebSocket();
    },
    stop(): void {
      experimentId = null;
      stopAll();
    },
    refresh(): boolean {
      if (transport === "websocket") return send({ action: "refresh" });
      const id = experimentId;
      if (!id || !isFallback(transport)) return false;
      // On a fallback: fetch the current snapshot once over HTTP.
      refreshRequest?.abort();
      const request = new AbortController();
      refreshRequest = request;
      const source = transport;
      fetchResults(id, { signal: request.signal, token: token() }).then(
        (body) => {
          if (refreshRequest !== request) return;
          refreshRequest = null;
          const message = body === null ? null : parseServerPayload(withSnapshotEvent(body));
          if (message) applyMessage(message, source);
        },
        () => {
          if (refreshRequest === request) refreshRequest = null; // the running transport notices real trouble
        },
      );
      return true;
    },
    disconnect(): void {
      stopAll();
      setAttempt(0);
      setTransport(null);
      setters.setReconnectIn(null);
      setters.setStatus("disconnected");
    },
    reconnect(): void {
      setAttempt(0);
      setters.setError(null);
      openWebSocket();
    },
  };
}
