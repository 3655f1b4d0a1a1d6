"use client";

import { useEffect, useState } from "react";
import {
  appendSnapshotPoint,
  getResultsHistory,
  mergeHistoryPoints,
  type ClientOptions,
  type ExperimentSnapshot,
  type HistoryPoint,
} from "@expstream/client";

export const HISTORY_UNAVAILABLE_MESSAGE = "Earlier results could not be loaded; the chart shows live updates only.";

export interface LiftHistory {
  /** History merged with the live snapshots, oldest first, at most MAX_HISTORY_POINTS (500). */
  points: HistoryPoint[];
  /** The history request is still running. */
  loading: boolean;
  /** Set when the history request failed (the live points are still collected). */
  error: string | null;
}

interface State {
  experimentId: string | null;
  /** The snapshot last taken into account: appended to `points`, or the old experiment's last one. */
  snapshot: ExperimentSnapshot | null;
  points: HistoryPoint[];
  loading: boolean;
  error: string | null;
}

/**
 * `state` brought up to this render's experiment and snapshot: a new experiment starts empty
 * (the old experiment's last snapshot is not taken over), and a new snapshot with a newer seq
 * adds a point. Returns `state` itself when nothing changed.
 */
function advance(state: State, experimentId: string | null, snapshot: ExperimentSnapshot | null): State {
  let next =
    state.experimentId === experimentId
      ? state
      : { experimentId, snapshot: state.snapshot, points: [], loading: experimentId !== null, error: null };
  if (snapshot !== next.snapshot) {
    const points = snapshot && next.experimentId !== null ? appendSnapshotPoint(next.points, snapshot) : next.points;
    next = { ...next, snapshot, points };
  }
  return next;
}

/**
 * Points for the lift chart: GET …/results/history once per experiment, plus a
 * point for every live snapshot with a newer seq (no refetch). Live snapshots
 * that arrive before the history answers are kept and merged with it.
 */
export function useLiftHistory(
  experimentId: string | null | undefined,
  snapshot: ExperimentSnapshot | null,
  options: ClientOptions = {},
): LiftHistory {
  const id = experimentId || null;
  const [state, setState] = useState<State>(() =>
    advance({ experimentId: id, snapshot: null, points: [], loading: id !== null, error: null }, id, snapshot),
  );
  // A new experiment or snapshot changes the state during this render (adjusting state while
  // rendering, https://react.dev/learn/you-might-not-need-an-effect), not one effect later.
  const current = advance(state, id, snapshot);
  if (current !== state) setState(current);

  useEffect(() => {
    if (id === null) return;
    const controller = new AbortController();
    getResultsHistory(id, { ...options, signal: controller.signal }).then(
      (history) => {
        if (controller.signal.aborted) return;
        setState((prev) =>
          prev.experimentId === id ? { ...prev, points: mergeHistoryPoints(prev.points, history), loading: false } : prev,
        );
      },
      () => {
        if (controller.signal.aborted) return;
        setState((prev) => (prev.experimentId === id ? { ...prev, loading: false, error: HISTORY_UNAVAILABLE_MESSAGE } : prev));
      },
    );
    return () => controller.abort();
    // The options (base URL, token) are read when the experiment changes; new options alone do not refetch.
  }, [id]); // eslint-disable-line react-hooks/exhaustive-deps

  return { points: current.points, loading: current.loading, error: current.error };
}
