// End-to-end check of the multiple-metrics panel in Chromium. The page comes from the REAL server
// (experiment, static dashboard); its results WebSocket and history request are answered here
// with the shared fixture (test-support/fixtures/metrics-snapshot.json: three metrics and alerts),
// since the server's side of metrics is built separately. Checks that the metric cards (with the
// revenue card's CUPED badge and per-treatment notes), the guardrail and exposure banners, the
// count of users who saw more than one variant and the chart's metric selector render, and that
// every results table fits its card at 1280 px.
//
//   cd frontend && npm run build   # once: the server serves frontend/out
//   npm run e2e                    # node --test e2e/
//
// Needs what the other e2e tests need (see support.mjs). Artifacts go to
// <repo>/test-artifacts/e2e/: metrics-panel.png, metrics-chart-refunds.png, metrics-server.log.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import {
  ARTIFACTS_DIR,
  FRONTEND_DIR,
  REPO_ROOT,
  checkPrerequisites,
  createApi,
  createLogger,
  databaseUrl,
  dropDatabase,
  freePort,
  guardTest,
  insecureFlag,
  killServer,
  launchChromium,
  openPage,
  recreateDatabase,
  startServer as startExpstream,
  stopServer as stopExpstream,
} from "./support.mjs";
import { assertTablesFit, measureTables } from "./tables.mjs";

const DB_NAME = "expstream_e2e_metrics";
const TEST_TIMEOUT_MS = 120_000;
const FIXTURE = JSON.parse(readFileSync(path.join(FRONTEND_DIR, "test-support/fixtures/metrics-snapshot.json"), "utf8"));

const log = createLogger("e2e metrics");
const serverLog = [];
const api = createApi();

/** Ten history points a minute apart, ending a minute before the snapshot, lifts growing towards its values. */
function history(experimentId) {
  const end = Date.parse(FIXTURE.timestamp);
  const scaled = (variants, share) =>
    variants.map((v) => ({
      key: v.key,
      relative_lift: v.relative_lift === null ? null : v.relative_lift * share,
      lift_ci: v.lift_ci === null ? null : [v.lift_ci[0] * share - (1 - share), v.lift_ci[1] * share + (1 - share)],
    }));
  const points = Array.from({ length: 10 }, (_, index) => {
    const share = (index + 1) / 10;
    return {
      seq: FIXTURE.seq - 10 + index,
      timestamp: new Date(end - (10 - index) * 60_000).toISOString(),
      variants: scaled(FIXTURE.variants, share),
      metrics: FIXTURE.metrics.map((metric) => ({ key: metric.key, variants: scaled(metric.variants, share) })),
    };
  });
  return { experiment_id: experimentId, points };
}

test("several metrics: a card per metric, guardrail banner, metric selector, tables that fit at 1280 px", { timeout: TEST_TIMEOUT_MS }, async () => {
  checkPrerequisites();

  let server = null;
  let browser = null;
  let databaseCreated = false;
  const guard = guardTest({ timeoutMs: TEST_TIMEOUT_MS, log, server: () => server, browser: () => browser });

  try {
    recreateDatabase(DB_NAME);
    databaseCreated = true;
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    server = await startExpstream({ port, dbUrl: databaseUrl(DB_NAME), args: insecureFlag(), log, serverLog });
    const experiment = await api(
      base,
      "POST",
      "/api/v1/experiments",
      {
        name: "E2E metrics: checkout",
        variants: FIXTURE.variants.map((v) => ({ key: v.key, name: v.name, is_control: v.is_control })),
      },
      201,
    );
    const id = experiment.id;
    await api(base, "PATCH", `/api/v1/experiments/${id}`, { status: "active" }, 200);
    const snapshot = { ...FIXTURE, experiment_id: id };

    browser = await launchChromium(log);
    const { page, pageErrors } = await openPage(browser, { initScript: "", log });
    let socketsServed = 0;
    await page.routeWebSocket(/\/api\/v1\/ws\/experiments\/[^/]+\/results/, (ws) => {
      socketsServed += 1;
      ws.onMessage((message) => {
        if (String(message).includes('"ping"')) ws.send(JSON.stringify({ event: "pong" }));
      });
      ws.send(JSON.stringify(snapshot));
    });
    await page.route(`**/api/v1/experiments/${id}/results/history`, (route) => route.fulfill({ json: history(id) }));

    await page.goto(`${base}/results/${id}/`, { waitUntil: "domcontentloaded" });
    await page.locator('[data-testid="metric-card"]').first().waitFor({ state: "visible" });
    await page.locator('[data-testid="lift-line"]').first().waitFor({ state: "visible" });
    assert.ok(socketsServed >= 1, "the page opened no results WebSocket");

    const cards = await page.locator('[data-testid="metric-card"]').evaluateAll((els) =>
      els.map((el) => ({
        key: el.dataset.metricKey,
        name: el.querySelector('[data-testid="metric-name"]').textContent,
        role: el.querySelector('[data-testid="metric-role"]').textContent,
        verdicts: Array.from(el.querySelectorAll('[data-testid="metric-verdict"]'), (v) => v.textContent),
      })),
    );
    log(`metric cards: ${JSON.stringify(cards)}`);
    assert.deepEqual(
      cards.map((c) => [c.key, c.role]),
      [
        ["checkout_conversion", "Primary"],
        ["revenue", "Secondary"],
        ["refunds", "Guardrail"],
      ],
    );
    assert.deepEqual(cards[2].verdicts, ["control", "worse", "better"], "refunds: lower is better");
    const banner = (await page.locator('[data-testid="guardrail-banner"]').textContent()).trim();
    log(`guardrail banner: ${banner}`);
    assert.match(banner, /Refunds per order.*One-click checkout/);
    await page.locator('[data-testid="multiple-exposures-banner"]').waitFor({ state: "visible" });
    assert.equal(
      (await page.locator('[data-testid="multiple-exposures-count"]').textContent()).trim(),
      "120 users saw more than one variant",
    );
    // CUPED: revenue's treatments were adjusted differently, so a badge and a note per row.
    const cuped = await page.locator('[data-testid="metric-cuped"]').evaluateAll((els) =>
      els.map((el) => [el.closest("[data-metric-key]").dataset.metricKey, el.textContent]),
    );
    const cupedRows = await page.locator('[data-testid="metric-variant-cuped"]').allTextContents();
    log(`CUPED badges ${JSON.stringify(cuped)}, row notes ${JSON.stringify(cupedRows)}`);
    assert.deepEqual(cuped, [["revenue", "CUPED"]]);
    assert.deepEqual(cupedRows, ["CUPED: \u221231% variance", "CUPED: \u221224% variance"]);
    assert.equal(await page.locator('[data-testid="lift-metric-select"]').inputValue(), "checkout_conversion");

    const tables = await page.evaluate(measureTables);
    log(`tables at 1280 px: ${JSON.stringify(tables.map((t) => [t.testId, t.scrollWidth, t.clientWidth]))}`);
    assert.equal(tables.length, 4, "the variant table and one table per metric");
    assertTablesFit(tables, "at 1280 px");
    const panelShot = path.join(ARTIFACTS_DIR, "metrics-panel.png");
    await page.locator('[data-testid="live-results-panel"]').screenshot({ path: panelShot, animations: "disabled" });
    log(`saved ${path.relative(REPO_ROOT, panelShot)}`);

    // The chart follows the selector.
    await page.locator('[data-testid="lift-metric-select"]').selectOption("refunds");
    await page.locator('[data-testid="lift-chart"][data-metric-key="refunds"]').waitFor({ state: "visible" });
    const legend = await page.locator('[data-testid="lift-legend-item"]').allTextContents();
    log(`chart legend for refunds: ${JSON.stringify(legend)}`);
    assert.match(legend[0], /^One-click checkout \+12\.0%/);
    const chartShot = path.join(ARTIFACTS_DIR, "metrics-chart-refunds.png");
    await page.locator('[data-testid="lift-chart"]').screenshot({ path: chartShot, animations: "disabled" });
    log(`saved ${path.relative(REPO_ROOT, chartShot)}`);

    assert.deepEqual(pageErrors, [], "uncaught errors in the page");
    log("all checks passed");
  } finally {
    guard.disarm();
    if (browser) await browser.close().catch((err) => log(`closing the browser failed: ${err.message}`));
    await stopExpstream(server, { log, serverLog }).catch((err) => log(err.message));
    killServer(server);
    guard.release();
    writeFileSync(path.join(ARTIFACTS_DIR, "metrics-server.log"), `${serverLog.join("\n")}\n`);
    if (databaseCreated) {
      try {
        dropDatabase(DB_NAME);
      } catch (err) {
        log(`dropping database ${DB_NAME} failed: ${err.message}`);
      }
    }
  }
});
