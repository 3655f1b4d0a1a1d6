/**
 * Which transport carries the live results, the fallback order and its timing.
 *
 * WebSocket first. When its reconnect attempts are used up (or the browser has
 * no WebSocket): Server-Sent Events. When SSE fails too (EventSource closed for
 * good, or SSE_MAX_CONSECUTIVE_ERRORS errors without a message in between): HTTP
 * long polling. On a fallback, a probe WebSocket is tried every
 * DEFAULT_WS_PROBE_INTERVAL_MS and taken over once it delivers a snapshot.
 */

export type Transport = "websocket" | "sse" | "polling";

/** Probe WebSocket interval while on SSE or polling. */
export const DEFAULT_WS_PROBE_INTERVAL_MS = 60_000;
/** A probe WebSocket that has not delivered a snapshot by then is closed (e.g. a proxy that swallows frames). */
export const WS_PROBE_TIMEOUT_MS = 15_000;
/** EventSource errors in a row (no message in between) after which SSE is given up for polling. */
export const SSE_MAX_CONSECUTIVE_ERRORS = 3;
/** Pause between the end of one long poll and the start of the next. */
export const POLL_INTERVAL_MS = 10_000;
/** `wait` of the long poll: the server answers after at most this many seconds. */
export const POLL_WAIT_SECONDS = 25;
/** The client aborts a long poll that has not answered within the wait plus this margin. */
export const POLL_TIMEOUT_MARGIN_MS = 10_000;

/** The transport after `current` fails; null after polling (polling never gives up on transient errors). */
export function nextFallback(current: Transport, hasEventSource: boolean): Transport | null {
  if (current === "websocket") return hasEventSource ? "sse" : "polling";
  if (current === "sse") return "polling";
  return null;
}

export function isFallback(transport: Transport | null): transport is "sse" | "polling" {
  return transport === "sse" || transport === "polling";
}

/** Words shown next to the connection badge. */
export function describeTransport(transport: Transport): string {
  switch (transport) {
    case "websocket":
      return "via WebSocket";
    case "sse":
      return "via Server-Sent Events (fallback)";
    case "polling":
      return `via polling every ${Math.round(POLL_INTERVAL_MS / 1000)} s (fallback)`;
  }
}
