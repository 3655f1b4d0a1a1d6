/**
 * Server-Sent Events transport: one EventSource on
 * /api/v1/experiments/{id}/results/stream. The server sends default "message"
 * events whose data is the same JSON as a WebSocket frame, with `id: <seq>`, so
 * EventSource resends Last-Event-ID by itself on its own reconnects.
 */
import { SSE_MAX_CONSECUTIVE_ERRORS } from "./transportState";
import type { EventSourceConstructor } from "./types";

export interface SseHandlers {
  /** The stream is open (HTTP 200, text/event-stream). */
  onOpen: () => void;
  /** One event's data (a JSON text). */
  onData: (data: string) => void;
  /** The stream broke and EventSource is reconnecting by itself. */
  onRetrying: () => void;
  /** Given up: closed for good by the browser, or too many errors in a row. Already closed. */
  onFailed: (reason: string) => void;
}

export interface SseOptions {
  /** Errors in a row (no message in between) after which the stream is given up. */
  maxConsecutiveErrors?: number;
  /** Default: the global EventSource. */
  EventSource?: EventSourceConstructor;
}

export interface SseConnection {
  close: () => void;
}

const ES_CLOSED = 2;

/** The global EventSource, if this runtime has one. */
export function globalEventSource(): EventSourceConstructor | undefined {
  return typeof EventSource === "undefined" ? undefined : EventSource;
}

/**
 * Opens the stream. Errors are counted until a message arrives; after
 * `maxConsecutiveErrors` of them, or as soon as the EventSource is CLOSED (HTTP
 * error status, wrong content type), the stream is closed and onFailed is called once.
 */
export function openSse(
  url: string,
  handlers: SseHandlers,
  { maxConsecutiveErrors = SSE_MAX_CONSECUTIVE_ERRORS, EventSource: Source = globalEventSource() }: SseOptions = {},
): SseConnection {
  if (!Source) throw new Error("This runtime has no EventSource.");
  let closed = false;
  let consecutiveErrors = 0;
  const source = new Source(url);

  function close(): void {
    if (closed) return;
    closed = true;
    source.onopen = null;
    source.onmessage = null;
    source.onerror = null;
    source.close();
  }

  source.onopen = () => {
    if (!closed) handlers.onOpen();
  };
  source.onmessage = (event: MessageEvent) => {
    if (closed) return;
    consecutiveErrors = 0;
    if (typeof event.data === "string") handlers.onData(event.data);
  };
  source.onerror = (event: Event) => {
    if (closed) return;
    // A server-sent `event: error` arrives here too, as a MessageEvent with data.
    const data = (event as Partial<MessageEvent<unknown>>).data;
    if (typeof data === "string") {
      handlers.onData(data);
      return;
    }
    consecutiveErrors += 1;
    if (source.readyState === ES_CLOSED || consecutiveErrors >= maxConsecutiveErrors) {
      const reason =
        source.readyState === ES_CLOSED
          ? "the event stream was refused"
          : `the event stream failed ${consecutiveErrors} times in a row`;
      close();
      handlers.onFailed(reason);
      return;
    }
    handlers.onRetrying();
  };

  return { close };
}
