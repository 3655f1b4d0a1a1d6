/** WebSocket close codes and what the live results client does after each. */

export const CLOSE_NORMAL = 1000;
export const CLOSE_POLICY_VIOLATION = 1008;
/** Sent by the server after {"event":"error","code":"experiment_not_found"}. */
export const CLOSE_EXPERIMENT_NOT_FOUND = 4404;

/**
 * - "stop":      closed on purpose (1000): become 'disconnected', do not reconnect.
 * - "fail":      the server refused us (1008, 4404): become 'error', do not reconnect.
 * - "reconnect": anything else (1001, 1006, 1011, …): reconnect with backoff.
 */
export type CloseOutcome = "stop" | "fail" | "reconnect";

export function closeOutcome(code: number): CloseOutcome {
  if (code === CLOSE_NORMAL) return "stop";
  if (code === CLOSE_POLICY_VIOLATION || code === CLOSE_EXPERIMENT_NOT_FOUND) return "fail";
  return "reconnect";
}

export function closeFailureMessage(code: number): string {
  return code === CLOSE_EXPERIMENT_NOT_FOUND
    ? "Experiment not found."
    : "The server refused the live results connection.";
}
