"use client";

import { useCallback, useEffect, useRef, useState } from "react";

export interface AsyncResource<T> {
  data: T | null;
  error: Error | null;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs `load` when `key` changes (null key: nothing to load) and aborts the
 * previous request. The latest `load` is kept in a ref, so passing a new
 * function identity each render does not refetch.
 */
export function useAsyncResource<T>(key: string | null, load: (signal: AbortSignal) => Promise<T>): AsyncResource<T> {
  const loadRef = useRef(load);
  // Declared before the loading effect, so that effect always calls the latest `load`.
  useEffect(() => {
    loadRef.current = load;
  });
  const [generation, setGeneration] = useState(0);
  const [state, setState] = useState<{ data: T | null; error: Error | null; loading: boolean }>({
    data: null,
    error: null,
    loading: key !== null,
  });

  // A new key or a reload: show it during this render already (adjusting state while rendering,
  // https://react.dev/learn/you-might-not-need-an-effect), not one effect later. The previous
  // data stays on screen while the new request runs; a null key clears it.
  const [requested, setRequested] = useState({ key, generation });
  if (requested.key !== key || requested.generation !== generation) {
    setRequested({ key, generation });
    setState((prev) => (key === null ? { data: null, error: null, loading: false } : { data: prev.data, error: null, loading: true }));
  }

  useEffect(() => {
    if (key === null) return;
    const controller = new AbortController();
    loadRef.current(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ data, error: null, loading: false });
      },
      (err: unknown) => {
        if (controller.signal.aborted) return;
        setState({ data: null, error: err instanceof Error ? err : new Error(String(err)), loading: false });
      },
    );
    return () => controller.abort();
  }, [key, generation]);

  const reload = useCallback(() => setGeneration((n) => n + 1), []);
  return { ...state, reload };
}
