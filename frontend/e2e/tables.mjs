// Layout checks shared by the end-to-end tests (not a test itself): how the results tables of
// the page fit their cards. measureTables runs in the page (page.evaluate(measureTables)).

import assert from "node:assert/strict";

/**
 * Every results table on the page: its card's visible and full width, and how far each Status
 * pill reaches past the card's right edge (runs in the page).
 */
export function measureTables() {
  return Array.from(document.querySelectorAll(".es-table-scroll")).map((card) => {
    const cardRight = card.getBoundingClientRect().right;
    return {
      testId: card.querySelector("table")?.dataset.testid ?? null,
      clientWidth: card.clientWidth,
      scrollWidth: card.scrollWidth,
      statusOverhang: Array.from(card.querySelectorAll("[data-verdict]")).map((pill) =>
        Math.round(pill.getBoundingClientRect().right - cardRight),
      ),
      intervals: Array.from(card.querySelectorAll('[data-testid$="lift-ci"]')).map((cell) => ({
        text: cell.textContent,
        lines: new Set(Array.from(cell.children, (half) => Math.round(half.getBoundingClientRect().top))).size || 1,
      })),
    };
  });
}

/** Asserts that every results table fits its card: no horizontal scrolling, no pill past the edge. */
export function assertTablesFit(tables, what) {
  assert.ok(tables.length > 0, `${what}: no results table on the page`);
  for (const table of tables) {
    assert.ok(
      table.scrollWidth <= table.clientWidth,
      `${what}: ${table.testId} is ${table.scrollWidth} px wide in a ${table.clientWidth} px card: ${JSON.stringify(table)}`,
    );
    for (const overhang of table.statusOverhang) {
      assert.ok(overhang <= 0, `${what}: a Status pill of ${table.testId} reaches ${overhang} px past its card`);
    }
  }
}
