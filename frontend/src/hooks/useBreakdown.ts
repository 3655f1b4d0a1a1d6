"use client";

import { useEffect, useState } from "react";
import { ApiError, apiRefusalMessage, fetchBreakdown, parseBreakdown, type Breakdown } from "@expstream/client";
import { dashboardClientOptions } from "@/lib/clientOptions";

/** Long-poll wait: the server answers as soon as a newer snapshot exists. */
const WAIT_SECONDS = 25;
/** After a failed request, wait this long before the next one. */
export const BREAKDOWN_RETRY_MS = 2000;

export interface BreakdownState {
  breakdown: Breakdown | null;
  error: string | null;
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function describe(error: unknown): string {
  if (error instanceof ApiError && error.status === 422) return "This experiment has no such dimension.";
  return apiRefusalMessage(error) ?? `Could not load the breakdown: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * The experiment broken down by `dimension`, live: fetched, then long-polled for the next one
 * after every snapshot (GET …/results?dimension=…&after_seq=…). Nothing runs for a null dimension.
 */
export function useBreakdown(experimentId: string, dimension: string | null): BreakdownState {
  const [state, setState] = useState<BreakdownState>({ breakdown: null, error: null });

  useEffect(() => {
    setState({ breakdown: null, error: null });
    if (!dimension) return;
    const controller = new AbortController();
    const { signal } = controller;
    void (async () => {
      let afterSeq: number | null = null;
      while (!signal.aborted) {
        try {
          const body = await fetchBreakdown(experimentId, dimension, {
            ...dashboardClientOptions(),
            afterSeq,
            waitSeconds: WAIT_SECONDS,
            signal,
          });
          const breakdown = parseBreakdown(body);
          if (!breakdown) throw new Error("the server's answer is not a breakdown");
          afterSeq = breakdown.seq;
          setState({ breakdown, error: null });
        } catch (error) {
          if (signal.aborted) return;
          setState((previous) => ({ ...previous, error: describe(error) }));
          if (error instanceof ApiError && error.status >= 400 && error.status < 500) return;  // asking again won't help
          await pause(BREAKDOWN_RETRY_MS, signal);
        }
      }
    })();
    return () => controller.abort();
  }, [experimentId, dimension]);

  return state;
}
