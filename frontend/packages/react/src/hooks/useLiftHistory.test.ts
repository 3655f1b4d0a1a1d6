import { act, renderHook, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MAX_HISTORY_POINTS, type ExperimentSnapshot } from "@expstream/client";
import { stubDeferredFetch } from "@test-support/deferredFetch";
import { makeSnapshot } from "@test-support/mockWebSocket";
import { HISTORY_UNAVAILABLE_MESSAGE, useLiftHistory } from "./useLiftHistory";

function historyPoint(seq: number) {
  return {
    seq,
    timestamp: new Date(Date.UTC(2024, 4, 1, 11, 0, seq)).toISOString(),
    variants: [
      { key: "control", participant_count: 100, conversion_count: 10, relative_lift: 0, lift_ci: null },
      { key: "green", participant_count: 100, conversion_count: 12, relative_lift: 0.2, lift_ci: [-0.1, 0.5] },
    ],
  };
}

const history = (id: string, seqs: number[]) => ({ experiment_id: id, points: seqs.map(historyPoint) });

type Props = { id: string | null; snapshot: ExperimentSnapshot | null };

function renderHistory(id: string | null = "exp-1", snapshot: ExperimentSnapshot | null = null, token?: string | null) {
  return renderHook(({ id, snapshot }: Props) => useLiftHistory(id, snapshot, { token }), {
    initialProps: { id, snapshot },
  });
}

const seqs = (points: { seq: number }[]) => points.map((p) => p.seq);

let fetches: ReturnType<typeof stubDeferredFetch>;

beforeEach(() => {
  fetches = stubDeferredFetch();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("useLiftHistory", () => {
  it("loads the history of the experiment on mount with the Bearer token", async () => {
    const { result } = renderHistory("exp-1", null, "secret");
    expect(result.current.loading).toBe(true);
    expect(fetches.last().url).toBe("/api/v1/experiments/exp-1/results/history");
    expect(fetches.last().headers.authorization).toBe("Bearer secret");
    act(() => fetches.last().respond(200, history("exp-1", [1, 2, 3])));
    await waitFor(() => expect(result.current.loading).toBe(false));
    expect(seqs(result.current.points)).toEqual([1, 2, 3]);
    expect(result.current.error).toBeNull();
  });

  it("appends every live snapshot with a newer seq without fetching again", async () => {
    const { result, rerender } = renderHistory();
    act(() => fetches.last().respond(200, history("exp-1", [1, 2, 3])));
    await waitFor(() => expect(result.current.loading).toBe(false));
    rerender({ id: "exp-1", snapshot: makeSnapshot({ seq: 4 }) });
    rerender({ id: "exp-1", snapshot: makeSnapshot({ seq: 3 }) }); // stale: ignored
    rerender({ id: "exp-1", snapshot: makeSnapshot({ seq: 5 }) });
    expect(seqs(result.current.points)).toEqual([1, 2, 3, 4, 5]);
    expect(fetches.fetchMock).toHaveBeenCalledTimes(1);
  });

  it("keeps live snapshots that arrive before the history and merges them without duplicates", async () => {
    const { result, rerender } = renderHistory();
    rerender({ id: "exp-1", snapshot: makeSnapshot({ seq: 3 }) });
    rerender({ id: "exp-1", snapshot: makeSnapshot({ seq: 4 }) });
    expect(seqs(result.current.points)).toEqual([3, 4]);
    act(() => fetches.last().respond(200, history("exp-1", [1, 2, 3])));
    await waitFor(() => expect(result.current.loading).toBe(false));
    expect(seqs(result.current.points)).toEqual([1, 2, 3, 4]);
  });

  it("keeps at most 500 points, dropping the oldest", async () => {
    const { result, rerender } = renderHistory();
    const all = Array.from({ length: MAX_HISTORY_POINTS }, (_, i) => i + 1);
    act(() => fetches.last().respond(200, history("exp-1", all)));
    await waitFor(() => expect(result.current.points).toHaveLength(MAX_HISTORY_POINTS));
    rerender({ id: "exp-1", snapshot: makeSnapshot({ seq: 501 }) });
    expect(result.current.points).toHaveLength(MAX_HISTORY_POINTS);
    expect(result.current.points[0].seq).toBe(2);
    expect(result.current.points.at(-1)?.seq).toBe(501);
  });

  it("starts over and loads the new history when the experiment changes", async () => {
    const { result, rerender } = renderHistory();
    act(() => fetches.last().respond(200, history("exp-1", [1, 2])));
    await waitFor(() => expect(result.current.points).toHaveLength(2));
    rerender({ id: "exp-2", snapshot: null });
    expect(result.current.points).toEqual([]);
    expect(result.current.loading).toBe(true);
    expect(fetches.last().url).toBe("/api/v1/experiments/exp-2/results/history");
    act(() => fetches.last().respond(200, history("exp-2", [7])));
    await waitFor(() => expect(seqs(result.current.points)).toEqual([7]));
  });

  it("ignores a history answer for the previous experiment", async () => {
    const { result, rerender } = renderHistory();
    const first = fetches.last();
    rerender({ id: "exp-2", snapshot: null });
    expect(first.signal?.aborted).toBe(true);
    act(() => fetches.last().respond(200, history("exp-2", [9])));
    await waitFor(() => expect(seqs(result.current.points)).toEqual([9]));
  });

  it("reports a failed history request and still collects live points", async () => {
    const { result, rerender } = renderHistory();
    act(() => fetches.last().respond(500));
    await waitFor(() => expect(result.current.error).toBe(HISTORY_UNAVAILABLE_MESSAGE));
    expect(result.current.loading).toBe(false);
    rerender({ id: "exp-1", snapshot: makeSnapshot({ seq: 8 }) });
    expect(seqs(result.current.points)).toEqual([8]);
  });

  it("fetches nothing without an experiment", () => {
    const { result } = renderHistory(null);
    expect(fetches.fetchMock).not.toHaveBeenCalled();
    expect(result.current).toEqual({ points: [], loading: false, error: null });
  });
});
