/**
 * Long-polling transport: GET /api/v1/experiments/{id}/results?after_seq=…&wait=…
 * repeatedly. Each poll starts `intervalMs` after the previous one returned.
 * 401/403/404 stop polling for good; other failures are retried at the same cadence.
 */
import { ApiError } from "../http/api";

/** HTTP answers after which polling stops (token refused, no access, no such experiment). */
export const FATAL_POLL_STATUSES: ReadonlySet<number> = new Set([401, 403, 404]);

export interface PollingOptions {
  /** One request; resolves with the body (null: nothing new), rejects with ApiError or a network error. */
  poll: (signal: AbortSignal) => Promise<unknown>;
  /** Pause between the end of a poll and the start of the next. */
  intervalMs: number;
  /** A poll not answered within this is aborted and counts as a failure. */
  timeoutMs: number;
  onData: (body: unknown) => void;
  /** 401/403/404: polling has stopped. */
  onRefused: (status: number) => void;
  /** Any other failure; the next poll is scheduled. */
  onFailed: (message: string) => void;
}

export interface Poller {
  stop: () => void;
}

/** Starts polling at once. */
export function startPolling(options: PollingOptions): Poller {
  let stopped = false;
  let controller: AbortController | null = null;
  let timeout: ReturnType<typeof setTimeout> | undefined;
  let next: ReturnType<typeof setTimeout> | undefined;

  function clearTimeoutTimer(): void {
    if (timeout !== undefined) clearTimeout(timeout);
    timeout = undefined;
  }

  function scheduleNext(): void {
    if (stopped) return;
    next = setTimeout(() => {
      next = undefined;
      void pollOnce();
    }, options.intervalMs);
  }

  async function pollOnce(): Promise<void> {
    const current = new AbortController();
    controller = current;
    let timedOut = false;
    timeout = setTimeout(() => {
      timedOut = true;
      current.abort();
    }, options.timeoutMs);
    try {
      const body = await options.poll(current.signal);
      if (stopped || controller !== current) return;
      clearTimeoutTimer();
      controller = null;
      options.onData(body);
      scheduleNext();
    } catch (err) {
      if (stopped || controller !== current) return;
      clearTimeoutTimer();
      controller = null;
      if (err instanceof ApiError && FATAL_POLL_STATUSES.has(err.status)) {
        stopped = true;
        options.onRefused(err.status);
        return;
      }
      options.onFailed(
        timedOut ? "The poll timed out." : err instanceof Error ? err.message : String(err),
      );
      scheduleNext();
    }
  }

  void pollOnce();

  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearTimeoutTimer();
      if (next !== undefined) clearTimeout(next);
      next = undefined;
      controller?.abort();
      controller = null;
    },
  };
}
