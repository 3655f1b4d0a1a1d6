/** Builds WebSocket URLs for the live results stream. */

export const RESULTS_WS_PATH_PREFIX = "/api/v1/ws/experiments";

export interface LocationLike {
  protocol: string;
  host: string;
}

function stripTrailingSlashes(value: string): string {
  return value.replace(/\/+$/, "");
}

/** The page's location in a browser; null elsewhere (Node, workers without one). */
export function pageLocation(): LocationLike | null {
  const location = (globalThis as { location?: LocationLike }).location;
  return location && typeof location.host === "string" && location.host ? location : null;
}

function toWsScheme(url: string): string {
  return stripTrailingSlashes(url.replace(/^http(s?):\/\//i, "ws$1://"));
}

/**
 * Base URL (scheme + host, no trailing slash) for WebSocket connections:
 *
 * 1. `wsBaseUrl` when set (e.g. "ws://localhost:8000"; http(s):// is converted to ws(s)://);
 * 2. else an absolute http(s) `apiBaseUrl` turned into ws(s) (the API and its streams share a host);
 * 3. else the page's own origin, with ws: for http: pages and wss: for https: pages.
 */
export function resolveWsBase(
  wsBaseUrl: string | undefined = undefined,
  location: LocationLike | null = pageLocation(),
  apiBaseUrl: string | undefined = undefined,
): string {
  const explicit = wsBaseUrl?.trim();
  if (explicit) return toWsScheme(explicit);
  const api = apiBaseUrl?.trim();
  if (api && /^https?:\/\//i.test(api)) return toWsScheme(api);
  if (!location) {
    throw new Error("Cannot determine the WebSocket URL: set wsBaseUrl (or an absolute baseUrl); there is no page location");
  }
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}`;
}

/** ws(s)://HOST/api/v1/ws/experiments/{id}/results */
export function buildResultsWsUrl(experimentId: string, base: string = resolveWsBase()): string {
  return `${stripTrailingSlashes(base)}${RESULTS_WS_PATH_PREFIX}/${encodeURIComponent(experimentId)}/results`;
}
