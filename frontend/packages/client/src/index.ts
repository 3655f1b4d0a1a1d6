/**
 * @expstream/client: live A/B-experiment results from an expstream server, without a UI
 * framework. Browsers and Node >= 20.
 *
 * - watchExperiment / createStreamController: the live stream (WebSocket, then Server-Sent
 *   Events, then long polling; backoff with jitter; resume by seq; token auth).
 * - getResults, getResultsHistory, fetchExperiments, …: small HTTP helpers.
 * - The wire types (ExperimentSnapshot with its metrics and alerts, server messages, history)
 *   and their validating parsers.
 */

// Wire types
export type { Experiment, ExperimentVariant } from "./types/experiment";
export type { AlertTransition, AlertTransitionType } from "./types/alertTransition";
export type { Breakdown, BreakdownValue } from "./types/breakdown";
export type { HistoryMetric, HistoryMetricVariant, HistoryPoint, HistoryVariant, ResultsHistory } from "./types/history";
export type {
  AnomalyEvent,
  AnomalyType,
  ClientMessage,
  PongMessage,
  ServerErrorCode,
  ServerErrorMessage,
  ServerMessage,
  StatusChangedMessage,
} from "./types/messages";
export {
  METRIC_DIRECTIONS,
  METRIC_FIELDS,
  METRIC_KINDS,
  METRIC_ROLES,
  METRIC_VARIANT_FIELDS,
  type CupedInfo,
  type GuardrailAlert,
  type MetricDirection,
  type MetricKind,
  type MetricResult,
  type MetricRole,
  type MetricVariantResult,
  type MultipleExposuresAlert,
  type SnapshotAlert,
} from "./types/metrics";
export {
  ANALYSIS_FIELDS,
  ANALYSIS_METHODS,
  CORRECTIONS,
  EXPERIMENT_STATUSES,
  SNAPSHOT_FIELDS,
  SRM_FIELDS,
  VARIANT_FIELDS,
  type AnalysisInfo,
  type AnalysisMethod,
  type ExperimentSnapshot,
  type ExperimentStatus,
  type Interval,
  type MultipleTestingCorrection,
  type SrmInfo,
  type VariantResult,
} from "./types/snapshot";

// Parsing and history
export {
  isExperimentSnapshot,
  parseExperimentSnapshot,
  parseServerMessage,
  parseServerPayload,
  withSnapshotEvent,
} from "./parse/parseServerMessage";
export { parseAlerts, parseMetrics } from "./parse/parseMetrics";
export { parseBreakdown } from "./parse/parseBreakdown";
export {
  MAX_HISTORY_POINTS,
  appendSnapshotPoint,
  mergeHistoryPoints,
  parseResultsHistory,
  pointFromSnapshot,
} from "./parse/history";

// HTTP
export { resolveToken, type ClientOptions, type TokenSource } from "./http/clientOptions";
export {
  ApiError,
  apiRefusalMessage,
  authHeaders,
  fetchAlerts,
  fetchBreakdown,
  fetchExperiment,
  fetchExperiments,
  fetchResults,
  fetchResultsHistory,
  getResults,
  getResultsHistory,
  type RequestOptions,
  type ResultsRequest,
} from "./http/api";
export {
  API_PREFIX,
  alertsUrl,
  buildApiUrl,
  experimentUrl,
  experimentsListUrl,
  resolveApiBase,
  resultsHistoryUrl,
  resultsStreamUrl,
  resultsUrl,
} from "./http/apiUrl";
export { buildResultsWsUrl, resolveWsBase, type LocationLike } from "./http/wsUrl";
export { appendQuery, type QueryValue } from "./http/urlQuery";
export { FORBIDDEN_MESSAGE, NOT_FOUND_MESSAGE, UNAUTHORIZED_MESSAGE, refusalMessage } from "./http/authMessages";

// Live stream
export { watchExperiment, type ExperimentWatch, type WatchOptions } from "./stream/watch";
export { createStreamController, type StreamController } from "./stream/controller";
export type {
  ConnectionStatus,
  EventSourceConstructor,
  SnapshotUpdate,
  StreamActions,
  StreamOptions,
  StreamSink,
  StreamState,
  WebSocketConstructor,
} from "./stream/types";
export { DEFAULT_PING_INTERVAL_MS } from "./stream/socket";
export {
  BACKOFF_JITTER_RATIO,
  DEFAULT_INITIAL_BACKOFF_MS,
  DEFAULT_MAX_BACKOFF_MS,
  DEFAULT_MAX_RECONNECT_ATTEMPTS,
  computeBackoffDelay,
} from "./stream/backoff";
export {
  DEFAULT_WS_PROBE_INTERVAL_MS,
  POLL_INTERVAL_MS,
  POLL_WAIT_SECONDS,
  SSE_MAX_CONSECUTIVE_ERRORS,
  WS_PROBE_TIMEOUT_MS,
  describeTransport,
  isFallback,
  type Transport,
} from "./stream/transportState";
export {
  CLOSE_EXPERIMENT_NOT_FOUND,
  CLOSE_FORBIDDEN,
  CLOSE_GOING_AWAY,
  CLOSE_NORMAL,
  CLOSE_UNAUTHORIZED,
  closeOutcome,
  type CloseOutcome,
} from "./stream/closeCodes";
