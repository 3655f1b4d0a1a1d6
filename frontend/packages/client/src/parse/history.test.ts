import { describe, expect, it } from "vitest";
import { makeMetricsSnapshot } from "@test-support/metricsFixtures";
import { makeSnapshot } from "@test-support/mockWebSocket";
import type { HistoryPoint } from "../types/history";
import {
  MAX_HISTORY_POINTS,
  appendSnapshotPoint,
  mergeHistoryPoints,
  parseResultsHistory,
  pointFromSnapshot,
} from "./history";

function point(seq: number, lift: number | null = 0.1, ci: [number, number] | null = [0, 0.2]): HistoryPoint {
  return {
    seq,
    timestamp: new Date(Date.UTC(2024, 4, 1, 12, 0, seq)).toISOString(),
    variants: [
      { key: "control", participant_count: 100, conversion_count: 10, relative_lift: 0, lift_ci: null },
      { key: "green", participant_count: 100, conversion_count: 11, relative_lift: lift, lift_ci: ci },
    ],
  };
}

const seqs = (points: HistoryPoint[]) => points.map((p) => p.seq);

describe("parseResultsHistory", () => {
  it("reads the points of a history response, oldest first", () => {
    const body = {
      experiment_id: "exp-1",
      points: [
        {
          seq: 12,
          timestamp: "2024-05-01T12:00:00+00:00",
          variants: [
            { key: "control", participant_count: 500, conversion_count: 50, relative_lift: 0.0, lift_ci: null },
            { key: "b", participant_count: 510, conversion_count: 66, relative_lift: 0.3, lift_ci: [-0.1, 0.7] },
          ],
        },
        { seq: 11, timestamp: "2024-05-01T11:59:00+00:00", variants: [] },
      ],
    };
    const points = parseResultsHistory(body);
    expect(seqs(points)).toEqual([11, 12]);
    expect(points[1].variants[1]).toEqual({
      key: "b",
      participant_count: 510,
      conversion_count: 66,
      relative_lift: 0.3,
      lift_ci: [-0.1, 0.7],
    });
  });

  it("skips malformed points, treats malformed lifts and intervals as unknown, and rejects non-histories", () => {
    const body = {
      points: [
        { seq: "1", timestamp: "2024-05-01T12:00:00Z", variants: [] },
        { seq: 2, timestamp: "not a time", variants: [] },
        { seq: 3, timestamp: "2024-05-01T12:00:03Z", variants: [{ key: "b", relative_lift: "x", lift_ci: [1] }] },
      ],
    };
    const points = parseResultsHistory(body);
    expect(seqs(points)).toEqual([3]);
    expect(points[0].variants).toEqual([{ key: "b", relative_lift: null, lift_ci: null }]);
    expect(parseResultsHistory(null)).toEqual([]);
    expect(parseResultsHistory({ points: "nope" })).toEqual([]);
  });

  it("keeps only the newest points beyond the cap", () => {
    const body = { points: Array.from({ length: 510 }, (_, i) => point(i + 1)) };
    const points = parseResultsHistory(body);
    expect(points).toHaveLength(MAX_HISTORY_POINTS);
    expect(points[0].seq).toBe(11);
  });
});

describe("merging history and live snapshots", () => {
  it("merges history and live points by seq without duplicates, oldest first", () => {
    const live = [point(5), point(6)];
    const history = [point(3), point(4), point(5)];
    expect(seqs(mergeHistoryPoints(live, history))).toEqual([3, 4, 5, 6]);
  });

  it("returns the same array when the incoming points add nothing", () => {
    const existing = [point(1), point(2)];
    expect(mergeHistoryPoints(existing, [point(2)])).toBe(existing);
  });

  it("appends a live snapshot whose seq is newer than the last point", () => {
    const points = [point(3), point(4)];
    const next = appendSnapshotPoint(points, makeSnapshot({ seq: 5 }));
    expect(seqs(next)).toEqual([3, 4, 5]);
    expect(next[2]).toEqual(pointFromSnapshot(makeSnapshot({ seq: 5 })));
  });

  it("ignores a live snapshot with an older or equal seq", () => {
    const points = [point(3), point(4)];
    expect(appendSnapshotPoint(points, makeSnapshot({ seq: 2 }))).toBe(points);
    expect(appendSnapshotPoint(points, makeSnapshot({ seq: 4 }))).toBe(points);
  });

  it("caps the points at 500 by dropping the oldest", () => {
    let points: HistoryPoint[] = Array.from({ length: MAX_HISTORY_POINTS }, (_, i) => point(i + 1));
    points = appendSnapshotPoint(points, makeSnapshot({ seq: 501 }));
    points = appendSnapshotPoint(points, makeSnapshot({ seq: 502 }));
    expect(points).toHaveLength(500);
    expect(points[0].seq).toBe(3);
    expect(points[499].seq).toBe(502);
    expect(mergeHistoryPoints(points, [point(1000)])).toHaveLength(500);
  });

  it("turns a snapshot into a point with its lifts and intervals", () => {
    const snapshot = makeSnapshot({ seq: 9 });
    const p = pointFromSnapshot(snapshot);
    expect(p.seq).toBe(9);
    expect(p.timestamp).toBe(snapshot.timestamp);
    expect(p.variants.map((v) => [v.key, v.relative_lift, v.lift_ci])).toEqual(
      snapshot.variants.map((v) => [v.key, v.relative_lift, v.lift_ci ?? null]),
    );
  });
});


describe("per-metric points", () => {
  it("keeps a live snapshot's per-metric lifts as a point", () => {
    const point = pointFromSnapshot(makeMetricsSnapshot());
    expect(point.metrics?.map((m) => m.key)).toEqual(["checkout_conversion", "revenue", "refunds"]);
    expect(point.metrics?.[2].variants[1]).toEqual({ key: "one_click", relative_lift: 0.12, lift_ci: [0.02, 0.22] });
    expect(pointFromSnapshot(makeSnapshot())).not.toHaveProperty("metrics");
  });
});
