// Access tokens for end-to-end tests that run the server with authentication on (not a test
// itself): a fresh signing secret per run, and JWTs (HS256) minted the way `expstream token` does.

import { createHmac, randomBytes } from "node:crypto";

function base64url(value) {
  return Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
}

/**
 * A random EXPSTREAM_JWT_SECRET and `mint(scope, ttlSeconds = 600)`, which signs a token with it
 * for every experiment (`experiments: ["*"]`) with `scope` "read", "write" or "admin".
 */
export function createTokenMinter() {
  const secret = randomBytes(32).toString("hex");
  function mint(scope, ttlSeconds = 600) {
    const now = Math.floor(Date.now() / 1000);
    const header = base64url({ alg: "HS256", typ: "JWT" });
    const payload = base64url({ sub: `e2e-${scope}`, iat: now, exp: now + ttlSeconds, scope, experiments: ["*"],
      jti: randomBytes(8).toString("hex") });
    const signature = createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url");
    return `${header}.${payload}.${signature}`;
  }
  return { secret, mint };
}
