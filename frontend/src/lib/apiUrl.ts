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
