"use client";

import { useEffect, useState } from "react";
import { currentToken, subscribeToken } from "@/lib/token";

/**
 * The page's API token for components (null while prerendering/hydrating and
 * when there is none). The first call on the client takes a `?token=` from the
 * URL over into the cookie and strips it from the address bar.
 */
export function useAuthToken(): string | null {
  const [token, setToken] = useState<string | null>(null);
  useEffect(() => {
    const update = () => setToken(currentToken());
    update();
    return subscribeToken(update);
  }, []);
  return token;
}
