/** HTTP API URLs: relative to the page origin, or under an explicit base (ClientOptions.baseUrl). */

export const API_PREFIX = "/api/v1";

/** `baseUrl` without surrounding blanks and trailing slashes; "" when unset (relative URLs). */
export function resolveApiBase(baseUrl: string | undefined = undefined): string {
  return (baseUrl ?? "").trim().replace(/\/+$/, "");
}

export function buildApiUrl(path: string, base: string = ""): string {
  const normalized = path.startsWith("/") ? path : `/${path}`;
  return `${resolveApiBase(base)}${API_PREFIX}${normalized}`;
}

export function experimentsListUrl(base?: string): string {
  return buildApiUrl("/experiments", base);
}

export function experimentUrl(experimentId: string, base?: string): string {
  return buildApiUrl(`/experiments/${encodeURIComponent(experimentId)}`, base);
}

/** GET /api/v1/experiments/{id}/alerts: the experiment's recorded transitions. */
export function alertsUrl(experimentId: string, base?: string): string {
  return buildApiUrl(`/experiments/${encodeURIComponent(experimentId)}/alerts`, base);
}

/** GET /api/v1/experiments/{id}/results: the current snapshot, or a long poll with after_seq & wait. */
export function resultsUrl(experimentId: string, base?: string): string {
  return buildApiUrl(`/experiments/${encodeURIComponent(experimentId)}/results`, base);
}

/** GET /api/v1/experiments/{id}/results/stream: Server-Sent Events with the same snapshots. */
export function resultsStreamUrl(experimentId: string, base?: string): string {
  return buildApiUrl(`/experiments/${encodeURIComponent(experimentId)}/results/stream`, base);
}

/** GET /api/v1/experiments/{id}/results/history: up to 500 earlier snapshots, oldest first (for the lift chart). */
export function resultsHistoryUrl(experimentId: string, base?: string): string {
  return buildApiUrl(`/experiments/${encodeURIComponent(experimentId)}/results/history`, base);
}
