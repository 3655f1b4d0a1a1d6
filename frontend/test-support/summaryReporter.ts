import type { Reporter } from "vitest/reporters";

type TaskLike = { type: string; mode?: string; result?: { state?: string }; tasks?: TaskLike[] };

function count(tasks: TaskLike[], totals: { passed: number; failed: number; skipped: number }) {
  for (const task of tasks) {
    if (task.tasks) count(task.tasks, totals);
    if (task.type !== "test") continue;
    const state = task.result?.state;
    if (state === "pass") totals.passed++;
    else if (state === "fail") totals.failed++;
    else totals.skipped++;
  }
}

/** Prints a plain "frontend: N passed, N failed, N skipped" closing line for CI log readers. */
export default class SummaryReporter implements Reporter {
  onFinished(files: TaskLike[] = [], errors: unknown[] = []) {
    const totals = { passed: 0, failed: 0, skipped: 0 };
    count(files, totals);
    const failed = totals.failed + (errors.length > 0 && totals.failed === 0 ? 1 : 0);
    console.log(`frontend: ${totals.passed} passed, ${failed} failed, ${totals.skipped} skipped`);
  }
}
