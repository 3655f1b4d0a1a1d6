/** Small HTTP helpers for the expstream API (fetch; browsers and Node >= 20). */
import { parseResultsHistory } from "../parse/history";
import { parseServerPayload, withSnapshotEvent } from "../parse/parseServerMessage";
import type { AlertTransition } from "../types/alertTransition";
import type { Experiment } from "../types/experiment";
import type { HistoryPoint } from "../types/history";
import type { ExperimentSnapshot } from "../types/snapshot";
import { alertsUrl, experimentUrl, experimentsListUrl, resultsHistoryUrl, resultsUrl } from "./apiUrl";
import { refusalMessage } from "./authMessages";
import { resolveToken, type ClientOptions } from "./clientOptions";
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

export interface RequestOptions extends ClientOptions {
  signal?: AbortSignal;
}

/** `Authorization: Bearer …` when a token is known, else no headers. */
export function authHeaders(token: string | null | undefined): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** GET returning the parsed JSON body, or null for 204 No Content. */
async function getJson<T>(url: string, { signal, token }: RequestOptions = {}): Promise<T> {
  const headers = { Accept: "application/json", ...authHeaders(resolveToken(token)) };
  const response = await fetch(url, { headers, signal });
  if (!response.ok) {
    throw new ApiError(response.status, `GET ${url} failed with HTTP ${response.status}`);
  }
  if (response.status === 204) return null as T;
  return (await response.json()) as T;
}

/** GET /api/v1/experiments */
export function fetchExperiments(options: RequestOptions = {}): Promise<Experiment[]> {
  return getJson<Experiment[]>(experimentsListUrl(options.baseUrl), options);
}

/** GET /api/v1/experiments/{id}; rejects with ApiError(404) when unknown. */
export function fetchExperiment(experimentId: string, options: RequestOptions = {}): Promise<Experiment> {
  return getJson<Experiment>(experimentUrl(experimentId, options.baseUrl), options);
}

/** GET /api/v1/experiments/{id}/alerts: the experiment's transitions, newest first. */
export function fetchAlerts(experimentId: string, options: RequestOptions = {}): Promise<AlertTransition[]> {
  return getJson<AlertTransition[]>(alertsUrl(experimentId, options.baseUrl), options);
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
  const url = appendQuery(resultsUrl(experimentId, options.baseUrl), {
    after_seq: hasSeq ? afterSeq : undefined,
    wait: hasSeq ? waitSeconds : undefined,
  });
  return getJson<unknown>(url, options);
}

/**
 * GET /api/v1/experiments/{id}/results?dimension=…[&after_seq=…&wait=…]: the breakdown JSON
 * (unvalidated; see parseBreakdown). With afterSeq, answers once a newer snapshot exists.
 */
export function fetchBreakdown(
  experimentId: string,
  dimension: string,
  { afterSeq, waitSeconds, ...options }: ResultsRequest = {},
): Promise<unknown> {
  const hasSeq = afterSeq !== null && afterSeq !== undefined;
  const url = appendQuery(resultsUrl(experimentId, options.baseUrl), {
    dimension,
    after_seq: hasSeq ? afterSeq : undefined,
    wait: hasSeq ? waitSeconds : undefined,
  });
  return getJson<unknown>(url, options);
}

/**
 * GET /api/v1/experiments/{id}/results/history: {"experiment_id", "points": [...]}
 * (unvalidated; see parseResultsHistory).
 */
export function fetchResultsHistory(experimentId: string, options: RequestOptions = {}): Promise<unknown> {
  return getJson<unknown>(resultsHistoryUrl(experimentId, options.baseUrl), options);
}

/** The current snapshot of an experiment, validated; null when the server has none or sent something else. */
export async function getResults(experimentId: string, options: ResultsRequest = {}): Promise<ExperimentSnapshot | null> {
  const body = await fetchResults(experimentId, options);
  const message = body === null ? null : parseServerPayload(withSnapshotEvent(body));
  return message?.event === "results_update" ? message : null;
}

/** The results history of an experiment, validated: oldest first, at most 500 points. */
export async function getResultsHistory(experimentId: string, options: RequestOptions = {}): Promise<HistoryPoint[]> {
  return parseResultsHistory(await fetchResultsHistory(experimentId, options));
}

/** The sign-in/access message for a 401/403 ApiError, else null. */
export function apiRefusalMessage(error: unknown): string | null {
  return error instanceof ApiError ? refusalMessage(error.status) : null;
}
