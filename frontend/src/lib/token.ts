/**
 * The API token (a JWT) the dashboard sends to the server.
 *
 * It arrives in the page URL (`?token=…`) or in the cookie `expstream_token`.
 * A token in the URL is stored in the cookie and removed from the visible URL
 * (history.replaceState, other query parameters and the hash kept), so it does
 * not end up in screenshots, bookmarks or Referer headers.
 */

export const TOKEN_COOKIE = "expstream_token";
export const TOKEN_QUERY_PARAM = "token";

interface LocationLike {
  href: string;
  protocol: string;
}

const hasWindow = () => typeof window !== "undefined" && typeof document !== "undefined";

/** Token kept in memory for this page, in case the cookie cannot be written (cookies blocked). */
let memoryToken: string | null = null;
const listeners = new Set<() => void>();

function notify(): void {
  for (const listener of listeners) listener();
}

function tokenFromUrl(href: string): string | null {
  try {
    const value = new URL(href).searchParams.get(TOKEN_QUERY_PARAM);
    return value && value.trim() ? value.trim() : null;
  } catch {
    return null;
  }
}

function tokenFromCookie(cookie: string): string | null {
  for (const part of cookie.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== TOKEN_COOKIE) continue;
    const raw = part.slice(eq + 1).trim();
    try {
      const value = decodeURIComponent(raw);
      return value || null;
    } catch {
      return raw || null;
    }
  }
  return null;
}

/** Token from the page URL (`?token=`), else from the `expstream_token` cookie; no side effects. */
export function readToken(
  location: LocationLike | null = hasWindow() ? window.location : null,
  cookie: string = hasWindow() ? document.cookie : "",
): string | null {
  return (location && tokenFromUrl(location.href)) || tokenFromCookie(cookie);
}

function base64UrlDecode(segment: string): string {
  const base64 = segment.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  return atob(padded);
}

/** The JWT's `exp` (seconds since the epoch), or null when the token is not a decodable JWT with one. */
export function jwtExpiry(token: string): number | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const payload: unknown = JSON.parse(base64UrlDecode(parts[1]));
    if (typeof payload !== "object" || payload === null) return null;
    const exp = (payload as Record<string, unknown>).exp;
    return typeof exp === "number" && Number.isFinite(exp) ? exp : null;
  } catch {
    return null;
  }
}

/**
 * The Set-Cookie string for `token`: path=/, SameSite=Strict, Secure on https,
 * max-age until the JWT's exp when decodable (0, i.e. delete, when already
 * expired), otherwise a session cookie.
 */
export function tokenCookie(token: string, nowMs: number = Date.now(), protocol = hasWindow() ? window.location.protocol : "http:"): string {
  const attributes = [`${TOKEN_COOKIE}=${encodeURIComponent(token)}`, "path=/", "SameSite=Strict"];
  const exp = jwtExpiry(token);
  if (exp !== null) attributes.push(`max-age=${Math.max(0, Math.floor(exp - nowMs / 1000))}`);
  if (protocol === "https:") attributes.push("Secure");
  return attributes.join("; ");
}

/** Stores the token in the cookie (and in memory for this page) and tells useAuthToken users. */
export function storeToken(token: string, nowMs: number = Date.now()): void {
  memoryToken = token;
  if (hasWindow()) document.cookie = tokenCookie(token, nowMs);
  notify();
}

/** Forgets the token: memory and cookie. */
export function clearToken(): void {
  memoryToken = null;
  if (hasWindow()) document.cookie = `${TOKEN_COOKIE}=; path=/; SameSite=Strict; max-age=0`;
  notify();
}

/** Removes `?token=` from the visible URL, keeping the path, other parameters and the hash. */
export function stripTokenFromUrl(): void {
  if (!hasWindow()) return;
  const url = new URL(window.location.href);
  if (!url.searchParams.has(TOKEN_QUERY_PARAM)) return;
  url.searchParams.delete(TOKEN_QUERY_PARAM);
  window.history.replaceState(window.history.state, "", `${url.pathname}${url.search}${url.hash}`);
}

/**
 * The token to send now. A token in the page URL is taken over first (stored in
 * the cookie and stripped from the URL); otherwise the one stored earlier.
 * Safe to call any number of times; null on the server and when there is none.
 */
export function currentToken(): string | null {
  if (!hasWindow()) return null;
  const fromUrl = tokenFromUrl(window.location.href);
  if (fromUrl) {
    // Strip first: storeToken notifies listeners, which call currentToken again.
    stripTokenFromUrl();
    storeToken(fromUrl);
    return fromUrl;
  }
  return tokenFromCookie(document.cookie) ?? memoryToken;
}

/** Subscribes to storeToken/clearToken; returns the unsubscribe function. */
export function subscribeToken(listener: () => void): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}
