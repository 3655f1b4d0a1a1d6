import type { UseExperimentStreamOptions } from "@expstream/react";

/**
 * Stream tuning from the results page's query string, for tests and demos:
 *
 * - `reconnectAttempts=N` (0-20): WebSocket reconnects before the SSE/polling fallback.
 * - `backoffMs=MS` (50-60000): delay before the first reconnect (doubles per attempt).
 * - `probeMs=MS` (1000-3600000): how often a WebSocket is retried while on a fallback.
 *
 * Missing or out-of-range values are ignored (the hook's defaults apply).
 */
export const STREAM_QUERY_PARAMS = {
  reconnectAttempts: { option: "maxReconnectAttempts", min: 0, max: 20 },
  backoffMs: { option: "initialBackoffMs", min: 50, max: 60_000 },
  probeMs: { option: "wsProbeIntervalMs", min: 1_000, max: 3_600_000 },
} as const satisfies Record<string, { option: keyof UseExperimentStreamOptions; min: number; max: number }>;

export function streamOptionsFromSearch(search: string): UseExperimentStreamOptions {
  const params = new URLSearchParams(search);
  const options: UseExperimentStreamOptions = {};
  for (const [name, { option, min, max }] of Object.entries(STREAM_QUERY_PARAMS)) {
    const raw = params.get(name);
    if (raw === null || !/^\d+$/.test(raw.trim())) continue;
    const value = Number(raw.trim());
    if (value < min || value > max) continue;
    options[option] = value;
  }
  return options;
}
