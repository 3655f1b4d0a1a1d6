import { afterEach, describe, expect, it, vi } from "vitest";
import {
  TOKEN_COOKIE,
  clearToken,
  currentToken,
  jwtExpiry,
  readToken,
  storeToken,
  subscribeToken,
  tokenCookie,
} from "./token";

/** An unsigned JWT-shaped token with the given payload (the client never verifies signatures). */
function jwt(payload: Record<string, unknown>): string {
  const encode = (value: unknown) =>
    btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${encode({ alg: "HS256", typ: "JWT" })}.${encode(payload)}.signature`;
}

afterEach(() => {
  clearToken();
  window.history.replaceState(null, "", "/");
});

describe("token", () => {
  it("reads the token from the page URL first and from the expstream_token cookie otherwise", () => {
    expect(readToken({ href: "http://h/results/x/?token=from-url", protocol: "http:" }, `${TOKEN_COOKIE}=from-cookie`)).toBe(
      "from-url",
    );
    expect(readToken({ href: "http://h/", protocol: "http:" }, `a=1; ${TOKEN_COOKIE}=from%20cookie; b=2`)).toBe(
      "from cookie",
    );
    expect(readToken({ href: "http://h/?token=", protocol: "http:" }, "")).toBeNull();
  });

  it("moves a token from the URL into the cookie and strips it from the visible URL, keeping the path, other parameters and the hash", () => {
    window.history.replaceState(null, "", "/results/exp-1/?tab=live&token=abc.def.ghi&x=1#top");
    expect(currentToken()).toBe("abc.def.ghi");
    expect(`${window.location.pathname}${window.location.search}${window.location.hash}`).toBe(
      "/results/exp-1/?tab=live&x=1#top",
    );
    expect(document.cookie).toContain(`${TOKEN_COOKIE}=abc.def.ghi`);
    expect(readToken()).toBe("abc.def.ghi");
    expect(currentToken()).toBe("abc.def.ghi");
  });

  it("leaves a URL without a token alone", () => {
    window.history.replaceState(null, "", "/results/exp-1/?tab=live");
    const replaceState = vi.spyOn(window.history, "replaceState");
    expect(currentToken()).toBeNull();
    expect(replaceState).not.toHaveBeenCalled();
  });

  it("writes the cookie with path=/, SameSite=Strict and a max-age until the JWT expires", () => {
    const now = Date.UTC(2024, 4, 1);
    const token = jwt({ sub: "u", exp: now / 1000 + 3600 });
    expect(jwtExpiry(token)).toBe(now / 1000 + 3600);
    expect(tokenCookie(token, now, "http:")).toBe(`${TOKEN_COOKIE}=${token}; path=/; SameSite=Strict; max-age=3600`);
  });

  it("writes a session cookie for a token that is not a JWT with exp, and adds Secure on https", () => {
    expect(jwtExpiry("opaque")).toBeNull();
    expect(jwtExpiry(jwt({ sub: "u" }))).toBeNull();
    expect(tokenCookie("opaque", 0, "https:")).toBe(`${TOKEN_COOKIE}=opaque; path=/; SameSite=Strict; Secure`);
  });

  it("keeps an already expired token in memory for this page but not in the cookie", () => {
    const expired = jwt({ exp: Date.now() / 1000 - 60 });
    storeToken(expired);
    expect(document.cookie).not.toContain(TOKEN_COOKIE);
    expect(currentToken()).toBe(expired);
  });

  it("tells subscribers when the token is stored or cleared", () => {
    const listener = vi.fn();
    const unsubscribe = subscribeToken(listener);
    storeToken("t");
    clearToken();
    unsubscribe();
    storeToken("u");
    expect(listener).toHaveBeenCalledTimes(2);
  });
});
