"use client";

import { useSyncExternalStore } from "react";

function subscribe(onChange: () => void): () => void {
  window.addEventListener("popstate", onChange);
  return () => window.removeEventListener("popstate", onChange);
}

const getPathname = () => window.location.pathname;
/** During prerender and hydration the path is unknown. */
const getServerPathname = () => null;

/**
 * window.location.pathname, or null while prerendering/hydrating. The static
 * export serves one placeholder page for every /results/<id>/ URL, so the real
 * id has to be read from here rather than from the route params.
 */
export function useLocationPathname(): string | null {
  return useSyncExternalStore(subscribe, getPathname, getServerPathname);
}
