/** Builds WebSocket URLs for the live results stream. */

export const RESULTS_WS_PATH_PREFIX = "/api/v1/ws/experiments";

interface LocationLike {
  protocol: string;
  host: string;
}

function stripTrailingSlashes(value: string): string {
  return value.replace(/\/+$/, "");
}

/**
 * Base URL (scheme + host, no trailing slash) for WebSocket connections.
 *
 * Uses NEXT_PUBLIC_WS_URL when set (e.g. "ws://localhost:8000"; http(s):// is
 * converted to ws(s)://), otherwise the page's own origin with ws: for http:
 * pages and wss: for https: pages.
 */
export function resolveWsBase(
  envValue: string | undefined = process.env.NEXT_PUBLIC_WS_URL,
  location: LocationLike | null = typeof window !== "undefined" ? window.location : null,
): string {
  const fromEnv = envValue?.trim();
  if (fromEnv) {
    return stripTrailingSlashes(fromEnv.replace(/^http(s?):\/\//i, "ws$1://"));
  }
  if (!location) {
    throw new Error("Cannot determine the WebSocket URL: NEXT_PUBLIC_WS_URL is not set and there is no window.location");
  }
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}`;
}

/** ws(s)://HOST/api/v1/ws/experiments/{id}/results */
export function buildResultsWsUrl(experimentId: string, base: string = resolveWsBase()): string {
  return `${stripTrailingSlashes(base)}${RESULTS_WS_PATH_PREFIX}/${encodeURIComponent(experimentId)}/results`;
}
