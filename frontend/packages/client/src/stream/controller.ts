import { fetchResults } from "../http/api";
import { resultsStreamUrl } from "../http/apiUrl";
import { NOT_FOUND_MESSAGE, refusalMessage } from "../http/authMessages";
import { resolveToken } from "../http/clientOptions";
import { appendQuery } from "../http/urlQuery";
import { buildResultsWsUrl, pageLocation, resolveWsBase } from "../http/wsUrl";
import { parseServerMessage, parseServerPayload, withSnapshotEvent } from "../parse/parseServerMessage";
import type { ServerMessage } from "../types/messages";
import type { ExperimentSnapshot } from "../types/snapshot";
import { planReconnect, startCountdown } from "./backoff";
import { closeFailureMessage, closeKeepsServerMessage, closeOutcome } from "./closeCodes";
import { startPolling, type Poller } from "./pollingTransport";
import { startProbing, type Probe } from "./probe";
import { createSeqTracker } from "./seqTracker";
import { isTerminalErrorCode, serverErrorText } from "./serverErrors";
import { DEFAULT_PING_INTERVAL_MS, driveSocket, globalWebSocket, type ResultsSocket } from "./socket";
import { globalEventSource, openSse, type SseConnection } from "./sseTransport";
import {
  DEFAULT_WS_PROBE_INTERVAL_MS,
  POLL_INTERVAL_MS,
  POLL_TIMEOUT_MARGIN_MS,
  POLL_WAIT_SECONDS,
  WS_PROBE_TIMEOUT_MS,
  isFallback,
  nextFallback,
  type Transport,
} from "./transportState";
import type { StreamActions, StreamOptions, StreamSink } from "./types";

/**
 * What createStreamController returns. Function-valued properties (not methods): they use no
 * `this`, so callers hand them out detached (`refresh: controller.refresh`).
 */
export interface StreamController extends StreamActions {
  /** The options the next connection, reconnect, ping or probe uses (a React hook calls it after every commit). */
  setOptions: (options: StreamOptions) => void;
  /** Starts streaming `id` (or stops, for null). */
  start: (id: string | null) => void;
  /** Closes every socket and EventSource, stops polling and clears every timer. */
  stop: () => void;
}

/**
 * Transport and timer bookkeeping for one live stream; the state it shows goes to `sink`.
 * Everything mutable lives here, so the functions are stable for the stream's life; the latest
 * options arrive with `setOptions`.
 *
 * One transport runs at a time: the WebSocket (`socket`, with ping and backoff reconnects), or
 * on fallback SSE (`sse`) or long polling (`poller`) with a probe WebSocket (`probe`) tried every
 * wsProbeIntervalMs. `seq` survives every switch, so resuming never repeats or skips a snapshot.
 */
export function createStreamController(sink: StreamSink, initialOptions: StreamOptions = {}): StreamController {
  let options = initialOptions;
  let experimentId: string | null = null;
  let transport: Transport | null = null;
  let socket: ResultsSocket | null = null;
  let probe: Probe | null = null;
  let sse: SseConnection | null = null;
  let poller: Poller | null = null;
  let refreshRequest: AbortController | null = null;
  let cancelReconnect: (() => void) | null = null;
  let attempt = 0;
  let serverError: string | null = null;
  const seq = createSeqTracker();

  // ------------------------------------------------------------ bookkeeping

  function setAttempt(value: number): void {
    attempt = value;
    sink.setAttempt(value);
  }

  function setTransport(value: Transport | null): void {
    transport = value;
    sink.setTransport(value);
  }

  const token = () => resolveToken(options.token);
  const webSocketClass = () => options.WebSocket ?? globalWebSocket();
  const eventSourceClass = () => options.EventSource ?? globalEventSource();

  function stopProbe(): void {
    probe?.stop();
    probe = null;
  }

  /** Stops the running transport (socket, SSE, polling, a pending refresh or reconnect); not the probe. */
  function stopTransport(): void {
    cancelReconnect?.();
    cancelReconnect = null;
    socket?.close();
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
    sink.setReconnectIn(null);
    sink.setError(message);
    sink.setStatus("error");
  }

  // ------------------------------------------------------------ messages

  function applyMessage(message: ServerMessage, source: Transport): void {
    switch (message.event) {
      case "results_update":
        if (!seq.accept(message.seq)) return; // stale: older than what is shown
        serverError = null;
        sink.setSnapshot(message);
        sink.setError(null);
        if (source === "websocket") {
          // A connection that delivers a snapshot is healthy: the reconnect budget starts over.
          if (attempt !== 0) setAttempt(0);
        } else {
          sink.setStatus("connected");
        }
        break;
      case "error": {
        const text = serverErrorText(message);
        serverError = text;
        sink.setError(text);
        // Over the WebSocket the close code that follows decides; SSE and polling have none.
        if (source !== "websocket" && isTerminalErrorCode(message.code)) {
          fail(text);
        }
        break;
      }
      case "STATUS_CHANGED":
        if (message.experiment_id && message.experiment_id !== experimentId) return;
        sink.setSnapshot((prev) => (prev && prev.status !== message.status ? { ...prev, status: message.status } : prev));
        break;
      case "anomaly":
        if (message.experiment_id && message.experiment_id !== experimentId) return;
        sink.setAnomaly(message);
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

  function applyBody(body: unknown, source: Transport): void {
    const message = body === null ? null : parseServerPayload(withSnapshotEvent(body));
    if (message) applyMessage(message, source);
  }

  // ------------------------------------------------------------ WebSocket

  /** WebSocket URL with ?token= and, when resuming, &since_seq= of the last applied snapshot. */
  function wsUrl(id: string, resume: boolean): string {
    const url = options.url ?? buildResultsWsUrl(id, resolveWsBase(options.wsBaseUrl, pageLocation(), options.baseUrl));
    return appendQuery(url, { token: token() ?? undefined, since_seq: resume ? seq.last : undefined });
  }

  /** Makes `ws` the primary socket. */
  function useSocket(ws: WebSocket): void {
    const current = driveSocket(ws, () => options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS, {
      onOpen: () => {
        sink.setError(null);
        sink.setStatus("connected");
      },
      onFrame: (data) => handleFrame(data, "websocket"),
      onClose: (code) => {
        if (socket !== current) return;
        socket = null;
        handleClose(code);
      },
    });
    socket = current;
  }

  function handleClose(code: number): void {
    switch (closeOutcome(code)) {
      case "stop":
        sink.setReconnectIn(null);
        setTransport(null);
        sink.setStatus("disconnected");
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
    const plan = planReconnect(attempt, options);
    if (!plan.retry) {
      if (options.fallback ?? true) startFallback("websocket");
      else fail(plan.message);
      return;
    }
    setAttempt(plan.attempt);
    sink.setStatus("disconnected");
    cancelReconnect = startCountdown(plan.delayMs, sink.setReconnectIn, () => {
      cancelReconnect = null;
      openWebSocket();
    });
  }

  function openWebSocket(): void {
    stopAll();
    sink.setReconnectIn(null);
    if (!experimentId) {
      setTransport(null);
      sink.setStatus("disconnected");
      return;
    }
    const WebSocketClass = webSocketClass();
    if (!WebSocketClass) {
      if (options.fallback ?? true) startFallback("websocket");
      else fail("This browser cannot open a WebSocket.");
      return;
    }
    serverError = null;
    setTransport("websocket");
    sink.setStatus("connecting");
    let ws: WebSocket;
    try {
      ws = new WebSocketClass(wsUrl(experimentId, true));
    } catch (err) {
      fail(`Cannot open the live results connection: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    useSocket(ws);
  }

  // ------------------------------------------------------------ fallbacks

  function startFallback(failed: Transport): void {
    const next = nextFallback(failed, eventSourceClass() !== undefined);
    if (next === "sse") startSse();
    else if (next === "polling") startPollingTransport();
  }

  /** Common start of SSE and polling; returns the experiment id, or null when there is none. */
  function enterFallback(next: "sse" | "polling"): string | null {
    stopTransport();
    if (!experimentId) return null;
    sink.setReconnectIn(null);
    setAttempt(0);
    serverError = null;
    setTransport(next);
    sink.setStatus("connecting");
    startProbe();
    return experimentId;
  }

  function startSse(): void {
    const id = enterFallback("sse");
    if (!id) return;
    const url = appendQuery(resultsStreamUrl(id, options.baseUrl), { token: token() ?? undefined, since_seq: seq.last });
    const connection = openSse(
      url,
      {
        onOpen: () => sink.setStatus("connected"),
        onData: (data) => handleFrame(data, "sse"),
        onRetrying: () => sink.setStatus("connecting"),
        onFailed: () => {
          if (sse === connection) startFallback("sse");
        },
      },
      { EventSource: eventSourceClass() },
    );
    sse = connection;
  }

  function startPollingTransport(): void {
    const id = enterFallback("polling");
    if (!id) return;
    const current: Poller = startPolling({
      poll: (signal) =>
        fetchResults(id, { signal, afterSeq: seq.last, waitSeconds: POLL_WAIT_SECONDS, baseUrl: options.baseUrl, token: token() }),
      intervalMs: POLL_INTERVAL_MS,
      timeoutMs: POLL_WAIT_SECONDS * 1000 + POLL_TIMEOUT_MARGIN_MS,
      onData: (body) => {
        if (poller !== current) return;
        sink.setStatus("connected");
        applyBody(body, "polling");
      },
      onRefused: (status) => {
        if (poller === current) fail(refusalMessage(status) ?? NOT_FOUND_MESSAGE);
      },
      onFailed: () => {
        if (poller === current) sink.setStatus("connecting");
      },
    });
    poller = current;
  }

  // ------------------------------------------------------------ probe WebSocket

  /** Starts probing for a working WebSocket, unless a probe already runs or there is no WebSocket. */
  function startProbe(): void {
    if (probe?.active || !webSocketClass()) return;
    probe = startProbing({
      delayMs: () => {
        const interval = options.wsProbeIntervalMs ?? DEFAULT_WS_PROBE_INTERVAL_MS;
        return webSocketClass() && interval > 0 && Number.isFinite(interval) ? interval : null;
      },
      timeoutMs: WS_PROBE_TIMEOUT_MS,
      open: () => {
        const WebSocketClass = webSocketClass();
        if (!experimentId || !isFallback(transport) || !WebSocketClass) return null;
        return new WebSocketClass(wsUrl(experimentId, false));
      },
      onSnapshot: promoteProbe,
    });
  }

  /** The probe delivered: it becomes the primary socket; SSE/polling stop; seq is kept. */
  function promoteProbe(ws: WebSocket, first: ExperimentSnapshot): void {
    probe = null;
    stopTransport();
    setAttempt(0);
    serverError = null;
    setTransport("websocket");
    useSocket(ws); // open already: status 'connected' at once
    applyMessage(first, "websocket");
  }

  // ------------------------------------------------------------ public API

  return {
    setOptions(next: StreamOptions): void {
      options = next;
    },
    start(id: string | null): void {
      experimentId = id;
      seq.reset();
      setAttempt(0);
      sink.setSnapshot(null);
      sink.setAnomaly(null);
      sink.setError(null);
      openWebSocket();
    },
    stop(): void {
      experimentId = null;
      stopAll();
    },
    refresh(): boolean {
      if (transport === "websocket") return socket?.send({ action: "refresh" }) ?? false;
      const id = experimentId;
      if (!id || !isFallback(transport)) return false;
      // On a fallback: fetch the current snapshot once over HTTP.
      refreshRequest?.abort();
      const request = new AbortController();
      refreshRequest = request;
      const source = transport;
      fetchResults(id, { signal: request.signal, baseUrl: options.baseUrl, token: token() }).then(
        (body) => {
          if (refreshRequest !== request) return;
          refreshRequest = null;
          applyBody(body, source);
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
      sink.setReconnectIn(null);
      sink.setStatus("disconnected");
    },
    reconnect(): void {
      setAttempt(0);
      sink.setError(null);
      openWebSocket();
    },
  };
}
