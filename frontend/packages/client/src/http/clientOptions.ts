/** Where the expstream server is and how to sign in: shared by the HTTP helpers and the live stream. */

/** A bearer token, or a function that returns the current one (called for every request and connection). */
export type TokenSource = string | null | undefined | (() => string | null | undefined);

export interface ClientOptions {
  /**
   * HTTP base of the server, e.g. "https://expstream.example.com" (trailing slashes are dropped, a
   * path prefix is kept). Default "": URLs relative to the page, which only a browser can use.
   */
  baseUrl?: string;
  /**
   * WebSocket base, e.g. "wss://expstream.example.com" (http(s): is turned into ws(s):). Default:
   * derived from an absolute `baseUrl`, else the page's own origin (ws: or wss: to match it).
   */
  wsBaseUrl?: string;
  /**
   * JWT for the server (`EXPSTREAM_JWT_SECRET`): sent as `Authorization: Bearer` over HTTP and as
   * `?token=` on WebSocket and Server-Sent Events URLs. Default: none (a server started with
   * `--insecure-no-auth`).
   */
  token?: TokenSource;
}

/** The token to send now, or null for none (an empty string counts as none). */
export function resolveToken(token: TokenSource): string | null {
  const value = typeof token === "function" ? token() : token;
  return value ? value : null;
}
