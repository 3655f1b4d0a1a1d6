"use client";

import { useEffect, useState } from "react";
import { fetchResultsHistory } from "@/lib/api";
import { appendSnapshotPoint, mergeLiftPoints, parseResultsHistory } from "@/lib/liftSeries";
import type { HistoryPoint } from "@/types/history";
import type { ExperimentSnapshot } from "@/types/snapshot";

export const HISTORY_UNAVAILABLE_MESSAGE = "Earlier results could not be loaded; the chart shows live updates only.";

export interface LiftHistory {
  /** History merged with the live snapshots, oldest first, at most MAX_LIFT_POINTS. */
  points: HistoryPoint[];
  /** The history request is still running. */
  loading: boolean;
  /** Set when the history request failed (the live points are still collected). */
  error: string | null;
}

interface State {
  experimentId: string | null;
  points: HistoryPoint[];
  loading: boolean;
  error: string | null;
}

const initialState = (experimentId: string | null): State => ({
  experimentId,
  points: [],
  loading: experimentId !== null,
  error: null,
});

/**
 * Points for the lift chart: GET …/results/history once per experiment, plus a
 * point for every live snapshot with a newer seq (no refetch). Live snapshots
 * that arrive before the history answers are kept and merged with it.
 */
export function useLiftHistory(
  experimentId: string | null | undefined,
  snapshot: ExperimentSnapshot | null,
  { token }: { token?: string | null } = {},
): LiftHistory {
  const id = experimentId || null;
  const [state, setState] = useState<State>(() => initialState(id));

  useEffect(() => {
    setState(initialState(id));
    if (id === null) return;
    const controller = new AbortController();
    fetchResultsHistory(id, { signal: controller.signal, token }).then(
      (body) => {
        if (controller.signal.aborted) return;
        const history = parseResultsHistory(body);
        setState((prev) =>
          prev.experimentId === id ? { ...prev, points: mergeLiftPoints(prev.points, history), loading: false } : prev,
        );
      },
      () => {
        if (controller.signal.aborted) return;
        setState((prev) => (prev.experimentId === id ? { ...prev, loading: false, error: HISTORY_UNAVAILABLE_MESSAGE } : prev));
      },
    );
    return () => controller.abort();
    // The token is read when the experiment changes; a new token alone does not refetch.
  }, [id]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    if (!snapshot) return;
    setState((prev) => {
      if (prev.experimentId === null) return prev;
      const points = appendSnapshotPoint(prev.points, snapshot);
      return points === prev.points ? prev : { ...prev, points };
    });
  }, [snapshot]);

  // Until the reset effect has run for a new experiment, show nothing of the old one.
  if (state.experimentId !== id) return { points: [], loading: id !== null, error: null };
  return { points: state.points, loading: state.loading, error: state.error };
}
