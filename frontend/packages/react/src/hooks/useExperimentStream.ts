"use client";

import { useEffect, useState } from "react";
import { DEFAULT_MAX_RECONNECT_ATTEMPTS } from "@/lib/backoff";
import type { Transport } from "@/lib/transportState";
import type { AnomalyEvent } from "@/types/messages";
import type { ExperimentSnapshot } from "@/types/snapshot";
import { createStreamController } from "./streamController";
import type { ConnectionStatus, ExperimentStream, UseExperimentStreamOptions } from "./streamTypes";

export { DEFAULT_PING_INTERVAL_MS } from "./streamController";
export type { ConnectionStatus, ExperimentStream, UseExperimentStreamOptions } from "./streamTypes";

/**
 * Live results of one experiment: WebSocket with ping keep-alive and
 * exponential-backoff reconnects that resume from the last seq; after the
 * reconnects are used up, Server-Sent Events, then long polling, while a
 * WebSocket is retried every minute. Pass null/'' to stay disconnected.
 * See streamController.ts for the transport logic.
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
