import type { ClientOptions } from "@expstream/client";
import { currentToken } from "./token";

/**
 * Where the dashboard's API and streams are, and its token, for @expstream/client and
 * @expstream/react:
 *
 * - HTTP: NEXT_PUBLIC_API_URL (build time), else relative to the page.
 * - WebSocket: NEXT_PUBLIC_WS_URL (build time), else the page's own origin (ws: or wss: to match),
 *   even when NEXT_PUBLIC_API_URL names another host (the packages would derive it from that).
 * - Token: the page's (`?token=` taken into the cookie, see token.ts), read for every request and
 *   connection.
 */
export function dashboardClientOptions(): ClientOptions {
  return {
    baseUrl: process.env.NEXT_PUBLIC_API_URL,
    wsBaseUrl: process.env.NEXT_PUBLIC_WS_URL?.trim() || pageOrigin(),
    token: currentToken,
  };
}

function pageOrigin(): string | undefined {
  return typeof window === "undefined" ? undefined : window.location.origin;
}
