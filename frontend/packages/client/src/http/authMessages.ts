/** What the dashboard says when the server rejects the token (HTTP 401/403, close 4401/4403). */

export const UNAUTHORIZED_MESSAGE = "Not signed in or token expired — open the link with a fresh token";
export const FORBIDDEN_MESSAGE = "No access to this experiment";
export const NOT_FOUND_MESSAGE = "Experiment not found.";

/** Message for a refusal by HTTP status, or null when the status is not a refusal we name. */
export function refusalMessage(status: number): string | null {
  if (status === 401) return UNAUTHORIZED_MESSAGE;
  if (status === 403) return FORBIDDEN_MESSAGE;
  return null;
}
