/** Builds HTTP API URLs: relative to the page origin, or NEXT_PUBLIC_API_URL if set. */

export const API_PREFIX = "/api/v1";

export function resolveApiBase(envValue: string | undefined = process.env.NEXT_PUBLIC_API_URL): string {
  return (envValue ?? "").trim().replace(/\/+$/, "");
}

export function buildApiUrl(path: string, base: string = resolveApiBase()): string {
  const normalized = path.startsWith("/") ? path : `/${path}`;
  return `${base}${API_PREFIX}${normalized}`;
}

export function experimentsListUrl(base?: string): string {
  return buildApiUrl("/experiments", base);
}

export function experimentUrl(experimentId: string, base?: string): string {
  return buildApiUrl(`/experiments/${encodeURIComponent(experimentId)}`, base);
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
