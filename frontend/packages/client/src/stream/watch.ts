/** The live stream without a UI framework: a state object and a listener. */
import { createStreamController } from "./controller";
import type { StreamActions, StreamOptions, StreamSink, StreamState } from "./types";

export interface WatchOptions extends StreamOptions {
  /** Called after every change of the state, with the whole new state. */
  onChange?: (state: StreamState) => void;
}

export interface ExperimentWatch extends StreamActions {
  /** The current state (a new object after every change). */
  readonly state: StreamState;
  /** Stops for good: closes every connection and clears every timer. */
  close: () => void;
}

/**
 * Streams the live results of one experiment: WebSocket with ping and backoff reconnects that
 * resume from the last seq; then Server-Sent Events, then long polling, while a WebSocket is
 * retried every minute. Starts at once.
 *
 * ```ts
 * const watch = watchExperiment(id, { baseUrl: "https://expstream.example.com", token,
 *   onChange: (state) => console.log(state.status, state.snapshot?.total_participants) });
 * // later: watch.close();
 * ```
 */
export function watchExperiment(experimentId: string, { onChange, ...options }: WatchOptions = {}): ExperimentWatch {
  let state: StreamState = {
    snapshot: null,
    anomaly: null,
    status: "connecting",
    error: null,
    transport: null,
    reconnectIn: null,
    attempt: 0,
  };

  function update<K extends keyof StreamState>(key: K, value: StreamState[K]): void {
    if (Object.is(state[key], value)) return;
    state = { ...state, [key]: value };
    onChange?.(state);
  }

  const sink: StreamSink = {
    setSnapshot: (value) => update("snapshot", typeof value === "function" ? value(state.snapshot) : value),
    setAnomaly: (value) => update("anomaly", value),
    setStatus: (value) => update("status", value),
    setError: (value) => update("error", value),
    setReconnectIn: (value) => update("reconnectIn", value),
    setAttempt: (value) => update("attempt", value),
    setTransport: (value) => update("transport", value),
  };

  const controller = createStreamController(sink, options);
  controller.start(experimentId);

  return {
    get state() {
      return state;
    },
    refresh: controller.refresh,
    disconnect: controller.disconnect,
    reconnect: controller.reconnect,
    close: controller.stop,
  };
}
