// End-to-end layout check of the results page in Chromium against the REAL server: an experiment
// in its first minutes (few users, so the lift interval spans hundreds of percent, and the demo's
// long variant names) must fit the 1280 px page without clipping the Status column, and a phone
// width must scroll the table inside its card instead of widening the page.
//
//   cd frontend && npm run build   # once: the server serves frontend/out
//   npm run e2e                    # node --test e2e/
//
// Needs: /work/main/.venv (or EXPSTREAM_E2E_PYTHON) with expstream installed,
// PostgreSQL reachable at EXPSTREAM_TEST_DATABASE_URL (admin URL, default
// postgresql://postgres@127.0.0.1:5432/postgres), `psql`, and /usr/bin/chromium
// (or EXPSTREAM_E2E_CHROMIUM). No browser is ever downloaded.
//
// Artifacts go to <repo>/test-artifacts/e2e/: layout-1280.png, layout-390.png,
// layout-390-scrolled.png (the table scrolled to its end), layout-server.log.

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import {
  ARTIFACTS_DIR,
  REPO_ROOT,
  addTraffic as postTraffic,
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

/** Not the other tests' databases, so the files can run in parallel. */
const DB_NAME = "expstream_e2e_layout";
const TEST_TIMEOUT_MS = 120_000;
const PHONE = { width: 390, height: 844 };

const log = createLogger("e2e layout");
const serverLog = [];
const api = createApi();
const addTraffic = (base, experimentId, batches) => postTraffic({ api, log }, base, experimentId, batches);

test("the results table holds at 1280 px with a very wide lift interval and scrolls in its card on a phone", { timeout: TEST_TIMEOUT_MS }, async () => {
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

    // An experiment as the demo shows it in its first minutes.
    const experiment = await api(
      base,
      "POST",
      "/api/v1/experiments",
      {
        name: "E2E layout: one-click checkout",
        variants: [
          { key: "control", name: "Current checkout", is_control: true },
          { key: "one_click", name: "One-click checkout", is_control: false },
        ],
      },
      201,
    );
    const id = experiment.id;
    await api(base, "PATCH", `/api/v1/experiments/${id}`, { status: "active" }, 200);
    await addTraffic(base, id, [
      { variant: "control", from: 0, to: 30, conversions: 2 },
      { variant: "one_click", from: 0, to: 28, conversions: 4 },
    ]);

    browser = await launchChromium(log);
    const { page, pageErrors } = await openPage(browser, { initScript: "", log });
    await page.goto(`${base}/results/${id}/`, { waitUntil: "domcontentloaded" });
    const oneClickCi = page.locator('[data-variant-key="one_click"] [data-testid="variant-lift-ci"]');
    await page.waitForFunction(
      () => /%.*%/.test(document.querySelector('[data-variant-key="one_click"] [data-testid="variant-lift-ci"]')?.textContent ?? ""),
      undefined,
      { polling: 100 },
    );
    log(`one_click's lift interval: ${await oneClickCi.textContent()}`);

    // 1280 px: the table fits its card, the Status column whole.
    const wide = await page.evaluate(measureTables);
    log(`at 1280 px: ${JSON.stringify(wide)}`);
    assertTablesFit(wide, "at 1280 px");
    const wideShot = path.join(ARTIFACTS_DIR, "layout-1280.png");
    await page.locator('[data-testid="live-results-panel"]').screenshot({ path: wideShot, animations: "disabled" });
    log(`saved ${path.relative(REPO_ROOT, wideShot)}`);

    // Phone: the page keeps its width; the table scrolls inside its card and nothing is cut off for good.
    await page.setViewportSize(PHONE);
    await page.waitForFunction((width) => window.innerWidth === width, PHONE.width);
    const pageWidth = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
    assert.ok(pageWidth.scroll <= pageWidth.inner, `at ${PHONE.width} px the page scrolls sideways: ${JSON.stringify(pageWidth)}`);
    const narrow = await page.evaluate(measureTables);
    log(`at ${PHONE.width} px: ${JSON.stringify(narrow)}`);
    const scrolled = await page.evaluate(() => {
      const card = document.querySelector(".es-table-scroll");
      card.scrollLeft = card.scrollWidth;
      const pill = card.querySelector('[data-variant-key="one_click"] [data-verdict]');
      const [c, p] = [card.getBoundingClientRect(), pill.getBoundingClientRect()];
      return { pillRight: p.right, cardRight: c.right, scrollLeft: card.scrollLeft };
    });
    assert.ok(scrolled.pillRight <= scrolled.cardRight + 0.5, `scrolled to the end, the Status pill is still cut: ${JSON.stringify(scrolled)}`);
    const scrolledShot = path.join(ARTIFACTS_DIR, "layout-390-scrolled.png");
    await page.locator(".es-table-scroll").first().screenshot({ path: scrolledShot, animations: "disabled" });
    log(`saved ${path.relative(REPO_ROOT, scrolledShot)}`);
    await page.evaluate(() => {
      document.querySelector(".es-table-scroll").scrollLeft = 0;
    });
    const narrowShot = path.join(ARTIFACTS_DIR, "layout-390.png");
    await page.screenshot({ path: narrowShot, fullPage: true, animations: "disabled" });
    log(`saved ${path.relative(REPO_ROOT, narrowShot)}`);

    assert.deepEqual(pageErrors, [], "uncaught errors in the page");
    log("all checks passed");
  } finally {
    guard.disarm();
    if (browser) await browser.close().catch((err) => log(`closing the browser failed: ${err.message}`));
    await stopExpstream(server, { log, serverLog }).catch((err) => log(err.message));
    killServer(server);
    guard.release();
    writeFileSync(path.join(ARTIFACTS_DIR, "layout-server.log"), `${serverLog.join("\n")}\n`);
    if (databaseCreated) {
      try {
        dropDatabase(DB_NAME);
      } catch (err) {
        log(`dropping database ${DB_NAME} failed: ${err.message}`);
      }
    }
  }
});
