import { describeTransport, isFallback, type Transport } from "@expstream/client";
import type { ConnectionStatus } from "../hooks/useExperimentStream";
import { classNames as styles } from "../classNames";

export const CONNECTION_LABELS: Record<ConnectionStatus, string> = {
  connected: "Connected",
  connecting: "Connecting…",
  disconnected: "Disconnected",
  error: "Connection error",
};

/** Coloured dot + text: green connected, yellow connecting, grey disconnected, red error. */
export function ConnectionBadge({ status }: { status: ConnectionStatus }) {
  return (
    <span className={styles.badge} data-testid="connection-status" data-status={status} role="status">
      <span className={styles.dot} data-testid="connection-dot" aria-hidden="true" />
      {CONNECTION_LABELS[status]}
    </span>
  );
}

/** Pulsing "LIVE" marker, shown while connected. */
export function LiveIndicator() {
  return (
    <span className={styles.live} data-testid="live-indicator" title="Receiving live updates">
      <span className={styles.livePulse} aria-hidden="true" />
      LIVE
    </span>
  );
}

/** "via WebSocket", "via Server-Sent Events (fallback)", "via polling every 10 s (fallback)". */
export function TransportNote({ transport }: { transport: Transport }) {
  return (
    <span
      className={isFallback(transport) ? `${styles.transport} ${styles.transportFallback}` : styles.transport}
      data-testid="transport"
      data-transport={transport}
    >
      {describeTransport(transport)}
    </span>
  );
}
