"use client";

import { useEffect } from "react";
import { currentToken } from "@/lib/token";

/**
 * Takes a `?token=` from the page URL into the cookie and strips it from the
 * address bar as soon as any page has mounted (API calls do the same lazily).
 */
export function TokenCapture() {
  useEffect(() => {
    currentToken();
  }, []);
  return null;
}
