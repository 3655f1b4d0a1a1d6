import type { ServerErrorMessage } from "../types/messages";
import { FORBIDDEN_MESSAGE, UNAUTHORIZED_MESSAGE } from "../http/authMessages";

/**
 * Error codes after which streaming this experiment cannot succeed. Over the
 * WebSocket the close code that follows decides; over SSE and polling, which
 * have no close code, these stop the stream at once.
 */
export const TERMINAL_ERROR_CODES: ReadonlySet<string> = new Set(["experiment_not_found", "unauthorized", "forbidden"]);

export function isTerminalErrorCode(code: string): boolean {
  return TERMINAL_ERROR_CODES.has(code);
}

/** Text to show for a server error message: fixed, actionable texts for the auth codes. */
export function serverErrorText(message: ServerErrorMessage): string {
  if (message.code === "unauthorized") return UNAUTHORIZED_MESSAGE;
  if (message.code === "forbidden") return FORBIDDEN_MESSAGE;
  return message.message;
}
