import type { Experiment } from "@/types/experiment";
import { experimentUrl, experimentsListUrl, resultsHistoryUrl, resultsUrl } from "./apiUrl";
import { refusalMessage } from "./authMessages";
import { authHeaders, currentToken } from "./token";
import { appendQuery } from "./urlQuery";

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

export interface RequestOptions {
  signal?: AbortSignal;
  /** Bearer token; undefined: the page's token (src/lib/token.ts), null: none. */
  token?: string | null;
}

/** GET returning the parsed JSON body, or null for 204 No Content. */
async function getJson<T>(url: string, { signal, token }: RequestOptions = {}): Promise<T> {
  const bearer = token === undefined ? currentToken() : token;
  const response = await fetch(url, { headers: { Accept: "application/json", ...authHeaders(bearer) }, signal });
  if (!response.ok) {
    throw new ApiError(response.status, `GET ${url} failed with HTTP ${response.status}`);
  }
  if (response.status === 204) return null as T;
  return (await response.json()) as T;
}

/** GET /api/v1/experiments */
export function fetchExperiments(signal?: AbortSignal): Promise<Experiment[]> {
  return getJson<Experiment[]>(experimentsListUrl(), { signal });
}

/** GET /api/v1/experiments/{id}; rejects with ApiError(404) when unknown. */
export function fetchExperiment(experimentId: string, signal?: AbortSignal): Promise<Experiment> {
  return getJson<Experiment>(experimentUrl(experimentId), { signal });
}

export interface ResultsRequest extends RequestOptions {
  /** Long poll: answer once a snapshot newer than this seq exists (or the wait elapses). */
  afterSeq?: number | null;
  /** Long-poll wait in seconds; sent only together with afterSeq. */
  waitSeconds?: number;
}

/**
 * GET /api/v1/experiments/{id}/results[?after_seq=…&wait=…]: the snapshot JSON
 * (unvalidated; see parseServerPayload), or null for 204.
 */
export function fetchResults(experimentId: string, { afterSeq, waitSeconds, ...options }: ResultsRequest = {}): Promise<unknown> {
  const hasSeq = afterSeq !== null && afterSeq !== undefined;
  const url = appendQuery(resultsUrl(experimentId), {
    after_seq: hasSeq ? afterSeq : undefined,
    wait: hasSeq ? waitSeconds : undefined,
  });
  return getJson<unknown>(url, options);
}

/**
 * GET /api/v1/experiments/{id}/results/history: {"experiment_id", "points": [...]}
 * (unvalidated; see parseResultsHistory in liftSeries.ts).
 */
export function fetchResultsHistory(experimentId: string, options: RequestOptions = {}): Promise<unknown> {
  return getJson<unknown>(resultsHistoryUrl(experimentId), options);
}

/** The sign-in/access message for a 401/403 ApiError, else null. */
export function apiRefusalMessage(error: unknown): string | null {
  return error instanceof ApiError ? refusalMessage(error.status) : null;
}
