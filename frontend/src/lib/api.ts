import type { Experiment } from "@/types/experiment";
import { experimentUrl, experimentsListUrl } from "./apiUrl";

/** Non-2xx HTTP answer from the API. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(url, { headers: { Accept: "application/json" }, signal });
  if (!response.ok) {
    throw new ApiError(response.status, `GET ${url} failed with HTTP ${response.status}`);
  }
  return (await response.json()) as T;
}

/** GET /api/v1/experiments */
export function fetchExperiments(signal?: AbortSignal): Promise<Experiment[]> {
  return getJson<Experiment[]>(experimentsListUrl(), signal);
}

/** GET /api/v1/experiments/{id}; rejects with ApiError(404) when unknown. */
export function fetchExperiment(experimentId: string, signal?: AbortSignal): Promise<Experiment> {
  return getJson<Experiment>(experimentUrl(experimentId), signal);
}
