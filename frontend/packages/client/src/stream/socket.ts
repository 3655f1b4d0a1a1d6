/** The primary results WebSocket: frames in, ping out, one callback for an unexpected close. */
import type { ClientMessage } from "../types/messages";
import { CLOSE_NORMAL } from "./closeCodes";
import type { WebSocketConstructor } from "./types";

export const DEFAULT_PING_INTERVAL_MS = 30_000;
const WS_CONNECTING = 0;
const WS_OPEN = 1;

/** The global WebSocket, if this runtime has one (browsers, Node >= 22). */
export function globalWebSocket(): WebSocketConstructor | undefined {
  return typeof WebSocket === "undefined" ? undefined : WebSocket;
}

/** Closes a socket we no longer want, if it is still connecting or open. */
export function discardSocket(ws: WebSocket | null): void {
  if (!ws) return;
  if (ws.readyState === WS_CONNECTING || ws.readyState === WS_OPEN) {
    try {
      ws.close(CLOSE_NORMAL);
    } catch {
      // Already closing; nothing to do.
    }
  }
}

export interface SocketHandlers {
  /** The socket is open (called at once for a socket that already is, such as a promoted probe). */
  onOpen: () => void;
  /** One frame's data, unparsed. */
  onFrame: (data: unknown) => void;
  /** The socket closed without close() having been called. */
  onClose: (code: number) => void;
}

export interface ResultsSocket {
  /** Sends a client message; false when the socket is not open. */
  send: (message: ClientMessage) => boolean;
  /** Closes the socket (1000) and stops the ping; no handler is called any more. */
  close: () => void;
}

/**
 * Drives `ws` as the primary socket: handlers until close(), and {"action":"ping"} every
 * `pingIntervalMs()` ms (read when the socket opens; 0 or less: no ping) while it is open.
 */
export function driveSocket(ws: WebSocket, pingIntervalMs: () => number, handlers: SocketHandlers): ResultsSocket {
  let closed = false;
  let ping: ReturnType<typeof setInterval> | undefined;

  function stopPing(): void {
    if (ping !== undefined) clearInterval(ping);
    ping = undefined;
  }

  function send(message: ClientMessage): boolean {
    if (closed || ws.readyState !== WS_OPEN) return false;
    ws.send(JSON.stringify(message));
    return true;
  }

  function opened(): void {
    const interval = pingIntervalMs();
    if (interval > 0 && Number.isFinite(interval)) ping = setInterval(() => send({ action: "ping" }), interval);
    handlers.onOpen();
  }

  ws.onopen = () => {
    if (!closed) opened();
  };
  ws.onmessage = (event: MessageEvent) => {
    if (!closed) handlers.onFrame(event.data);
  };
  ws.onclose = (event: CloseEvent) => {
    if (closed) return; // expected close (disconnect, switch, unmount)
    closed = true;
    stopPing();
    handlers.onClose(event.code);
  };
  if (ws.readyState === WS_OPEN) opened();

  return {
    send,
    close() {
      if (closed) return;
      closed = true;
      stopPing();
      discardSocket(ws);
    },
  };
}
