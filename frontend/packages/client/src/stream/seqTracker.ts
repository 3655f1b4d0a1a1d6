/**
 * Resume bookkeeping: the seq of the last applied snapshot. Snapshots with a
 * lower seq are stale (a slower transport, a replay) and must be ignored; an
 * equal seq is a periodic refresh (same data, newer timestamp) and is applied.
 */
export interface SeqTracker {
  /** Seq of the last applied snapshot, null before the first. */
  readonly last: number | null;
  /** True (and remembered) when a snapshot with `seq` may be applied. */
  accept(seq: number): boolean;
  reset(): void;
}

export function isStaleSeq(last: number | null, seq: number): boolean {
  return last !== null && seq < last;
}

export function createSeqTracker(): SeqTracker {
  let last: number | null = null;
  return {
    get last() {
      return last;
    },
    accept(seq: number): boolean {
      if (isStaleSeq(last, seq)) return false;
      last = seq;
      return true;
    },
    reset() {
      last = null;
    },
  };
}
