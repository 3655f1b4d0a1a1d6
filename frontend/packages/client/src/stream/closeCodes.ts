/** WebSocket close codes and what the live results client does after each. */

import { FORBIDDEN_MESSAGE, NOT_FOUND_MESSAGE, UNAUTHORIZED_MESSAGE } from "../http/authMessages";

export const CLOSE_NORMAL = 1000;
/** Server restart or shutdown. */
export const CLOSE_GOING_AWAY = 1001;
/** No close frame at all (network drop, refused upgrade). Never sent by a server. */
export const CLOSE_ABNORMAL = 1006;
/** Bad experiment id, or rate limit exceeded. */
export const CLOSE_POLICY_VIOLATION = 1008;
/** A message was too big. */
export const CLOSE_MESSAGE_TOO_BIG = 1009;
export const CLOSE_INTERNAL_ERROR = 1011;
/** Connection cap reached, or the client reads too slowly: try again later. */
export const CLOSE_TRY_AGAIN_LATER = 1013;
/** Token missing, invalid or expired. */
export const CLOSE_UNAUTHORIZED = 4401;
/** Token valid but without access to this experiment. */
export const CLOSE_FORBIDDEN = 4403;
/** Sent by the server after {"event":"error","code":"experiment_not_found"}. */
export const CLOSE_EXPERIMENT_NOT_FOUND = 4404;

/**
 * - "stop":      closed on purpose (1000): become 'disconnected', do not reconnect.
 * - "fail":      the server refused us (4401, 4403, 4404, 1008, 1009): become 'error', do not reconnect.
 * - "reconnect": anything else (1001, 1006, 1011, 1013, …): reconnect with backoff.
 */
export type CloseOutcome = "stop" | "fail" | "reconnect";

const FAIL_CODES: ReadonlySet<number> = new Set([
  CLOSE_UNAUTHORIZED,
  CLOSE_FORBIDDEN,
  CLOSE_EXPERIMENT_NOT_FOUND,
  CLOSE_POLICY_VIOLATION,
  CLOSE_MESSAGE_TOO_BIG,
]);

export function closeOutcome(code: number): CloseOutcome {
  if (code === CLOSE_NORMAL) return "stop";
  if (FAIL_CODES.has(code)) return "fail";
  return "reconnect";
}

export function closeFailureMessage(code: number): string {
  switch (code) {
    case CLOSE_UNAUTHORIZED:
      return UNAUTHORIZED_MESSAGE;
    case CLOSE_FORBIDDEN:
      return FORBIDDEN_MESSAGE;
    case CLOSE_EXPERIMENT_NOT_FOUND:
      return NOT_FOUND_MESSAGE;
    case CLOSE_MESSAGE_TOO_BIG:
      return "The live results connection was closed: a message was too big.";
    default:
      return "The server refused the live results connection.";
  }
}

/**
 * Whether the server's own {"event":"error"} text may replace closeFailureMessage:
 * not for 4401/4403, whose fixed texts tell the user what to do.
 */
export function closeKeepsServerMessage(code: number): boolean {
  return code !== CLOSE_UNAUTHORIZED && code !== CLOSE_FORBIDDEN;
}
