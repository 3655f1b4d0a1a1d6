import type { ExperimentSnapshot } from "./snapshot";

export type ServerErrorCode = "experiment_not_found" | "results_unavailable";

/** {"event":"error",...} sent by the server over the results WebSocket. */
export interface ServerErrorMessage {
  event: "error";
  /** Known codes are listed in ServerErrorCode; others are passed through. */
  code: ServerErrorCode | (string & {});
  experiment_id: string;
  message: string;
}

export interface PongMessage {
  event: "pong";
}

/** Every server message the client understands. */
export type ServerMessage = ExperimentSnapshot | ServerErrorMessage | PongMessage;

/** Messages the client sends. */
export type ClientMessage = { action: "ping" } | { action: "refresh" };
