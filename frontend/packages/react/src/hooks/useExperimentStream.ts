"use client";

import { useEffect, useState } from "react";
import {
  DEFAULT_MAX_RECONNECT_ATTEMPTS,
  createStreamController,
  type AnomalyEvent,
  type ConnectionStatus,
  type ExperimentSnapshot,
  type StreamActions,
  type StreamOptions,
  type StreamState,
  type Transport,
} from "@expstream/client";

export type { ConnectionStatus } from "@expstream/client";

/** Options of useExperimentStream: where the server is, the token, and the stream's tuning (@expstream/client's StreamOptions). */
export type UseExperimentStreamOptions = StreamOptions;

export interface ExperimentStream extends StreamState, StreamActions {
  maxReconnectAttempts: number;
}

/**
 * Live results of one experiment: WebSocket with ping keep-alive and
 * exponential-backoff reconnects that resume from the last seq; after the
 * reconnects are used up, Server-Sent Events, then long polling, while a
 * WebSocket is retried every minute. Pass null/'' to stay disconnected.
 * The transport logic is @expstream/client's createStreamController.
 */
export function useExperimentStream(
  experimentId: string | null | undefined,
  options: UseExperimentStreamOptions = {},
): ExperimentStream {
  const [snapshot, setSnapshot] = useState<ExperimentSnapshot | null>(null);
  const [anomaly, setAnomaly] = useState<AnomalyEvent | null>(null);
  const [status, setStatus] = useState<ConnectionStatus>(experimentId ? "connecting" : "disconnected");
  const [error, setError] = useState<string | null>(null);
  const [reconnectIn, setReconnectIn] = useState<number | null>(null);
  const [attempt, setAttempt] = useState(0);
  const [transport, setTransport] = useState<Transport | null>(null);

  const [controller] = useState(() =>
    createStreamController(
      { setSnapshot, setAnomaly, setStatus, setError, setReconnectIn, setAttempt, setTransport },
      options,
    ),
  );

  // The latest options, for the controller's next connection, reconnect, ping or probe. This effect
  // comes before the one that starts the stream, so a new experiment starts with them too.
  useEffect(() => {
    controller.setOptions(options);
  });

  const id = experimentId || null;
  useEffect(() => {
    controller.start(id);
    return () => controller.stop();
  }, [controller, id]);

  return {
    snapshot,
    anomaly,
    status,
    error,
    transport,
    refresh: controller.refresh,
    disconnect: controller.disconnect,
    reconnect: controller.reconnect,
    reconnectIn,
    attempt,
    maxReconnectAttempts: options.maxReconnectAttempts ?? DEFAULT_MAX_RECONNECT_ATTEMPTS,
  };
}
