// End-to-end test of the live results dashboard against the REAL server and
// PostgreSQL, driven in Debian's Chromium through playwright-core.
//
//   cd frontend && npm run build   # once: the server serves frontend/out
//   npm run e2e                    # node --test e2e/
//
// Needs: /work/main/.venv (or EXPSTREAM_E2E_PYTHON) with expstream installed,
// PostgreSQL reachable at EXPSTREAM_TEST_DATABASE_URL (admin URL, default
// postgresql://postgres@127.0.0.1:5432/postgres), `psql`, and /usr/bin/chromium
// (or EXPSTREAM_E2E_CHROMIUM). No browser is ever downloaded.
//
// Artifacts (screenshots, server log) go to <repo>/test-artifacts/e2e/.

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import {
  ADMIN_DB_URL,
  ARTIFACTS_DIR,
  PUSH_WAIT_MS,
  REPO_ROOT,
  WAIT_MS,
  addTraffic as postTraffic,
  checkPrerequisites,
  createApi,
  createLogger,
  databaseUrl,
  dropDatabase,
  expectation,
  freePort,
  guardTest,
  killServer,
  launchChromium,
  openPage,
  recreateDatabase,
  startServer as startExpstream,
  stopServer as stopExpstream,
} from "./support.mjs";
import { createTokenMinter } from "./tokens.mjs";

// The server runs with authentication on, as in production: this run's own signing secret, and
// tokens minted here the way `expstream token` does (JWT, HS256).
const { secret: JWT_SECRET, mint: mintToken } = createTokenMinter();

const WRITE_TOKEN = mintToken("write");
const READ_TOKEN = mintToken("read");
const DB_NAME = "expstream_e2e";

/** Whole test; every single wait below has its own, much shorter timeout. */
const TEST_TIMEOUT_MS = 180_000;
/**
 * Reconnect attempts come after 1, 2, 4, 8, 16 s (+≤20 % jitter) of backoff: attempt 4 is
 * due ~15-18 s after the drop, attempt 5 ~31-37 s. The server is back within ~2 s, so attempt
 * 2 or 3 normally wins; 40 s leaves room for one slow restart without hiding a dead client.
 */
const RECONNECT_WAIT_MS = 40_000;

const SEL = {
  panel: '[data-testid="live-results-panel"]',
  status: '[data-testid="connection-status"]',
  live: '[data-testid="live-indicator"]',
  countdown: '[data-testid="reconnect-countdown"]',
  errorBanner: '[data-testid="error-banner"]',
  total: '[data-testid="total-participants"]',
  lastUpdated: '[data-testid="last-updated"] time',
};

const log = createLogger("e2e");
/** All server output of the run, kept for the artifact log and failure messages. */
const serverLog = [];
/** Every API call writes, with this run's write token. */
const api = createApi({ token: WRITE_TOKEN });
const addTraffic = (base, experimentId, batches) => postTraffic({ api, log }, base, experimentId, batches);
const startServer = ({ port, dbUrl, label }) =>
  startExpstream({ port, dbUrl, label, env: { EXPSTREAM_JWT_SECRET: JWT_SECRET }, log, serverLog });
const stopServer = (child, label) => stopExpstream(child, { label, log, serverLog });

// ---------------------------------------------------------------- page helpers

/**
 * Reads what the panel shows: status, LIVE, countdown, totals and every variant row.
 * Runs in the page (installed as window.__e2eReadPanel by an init script).
 */
function readPanel() {
  const text = (el) => (el ? el.textContent.trim() : null);
  const q = (sel) => document.querySelector(sel);
  const rows = {};
  for (const row of document.querySelectorAll('[data-testid="variant-row"]')) {
    rows[row.dataset.variantKey] = {
      participants: text(row.querySelector('[data-testid="variant-participants"]')),
      conversions: text(row.querySelector('[data-testid="variant-conversions"]')),
    };
  }
  return {
    status: q('[data-testid="connection-status"]')?.dataset.status ?? null,
    live: text(q('[data-testid="live-indicator"]')),
    countdown: text(q('[data-testid="reconnect-countdown"]')),
    error: text(q('[data-testid="error-banner"]')),
    total: text(q('[data-testid="total-participants"]')),
    rows,
  };
}

/**
 * Polls the page until the panel is connected, LIVE, error-free and shows exactly
 * `expected` ({ total, rows: { key: { participants, conversions } } }); on timeout the
 * error shows what the panel displayed last.
 */
async function waitForLiveTable(page, expected, { timeout = WAIT_MS, what }) {
  try {
    await page.waitForFunction(
      (expected) => {
        const state = window.__e2eReadPanel();
        if (state.status !== "connected" || state.live !== "LIVE" || state.error !== null) return false;
        if (state.total !== expected.total) return false;
        const keys = Object.keys(expected.rows);
        if (Object.keys(state.rows).length !== keys.length) return false;
        return keys.every(
          (key) =>
            state.rows[key]?.participants === expected.rows[key].participants &&
            state.rows[key]?.conversions === expected.rows[key].conversions,
        );
      },
      expected,
      { timeout, polling: 100 },
    );
  } catch (err) {
    const shown = await page.evaluate(readPanel).catch((e) => `unavailable: ${e.message}`);
    throw new Error(
      `${what}: panel did not show ${JSON.stringify(expected)} within ${timeout} ms; ` +
        `it shows ${JSON.stringify(shown)} (${err.message.split("\n")[0]})`,
    );
  }
  log(`${what}: connected, LIVE, total ${expected.total}, ${JSON.stringify(expected.rows)}`);
}

async function assertSamePage(page, what) {
  const marker = await page.evaluate(() => window.__e2eMarker);
  assert.equal(marker, 1, `${what}: window.__e2eMarker is ${marker}; the page was reloaded or navigated`);
}

// ---------------------------------------------------------------- the test

test("live results dashboard: streams, updates without reload, survives a server restart", { timeout: TEST_TIMEOUT_MS }, async () => {
  checkPrerequisites();

  let server = null;
  let browser = null;
  let databaseCreated = false;

  // Last resort: never leave a server behind, whatever happens to this process; and if the whole
  // test runs out of time, tear down so every pending wait rejects at once.
  const guard = guardTest({ timeoutMs: TEST_TIMEOUT_MS, log, server: () => server, browser: () => browser });

  try {
    // 1. Fresh database, server on a free port.
    log(`recreating database ${DB_NAME} via ${ADMIN_DB_URL}`);
    recreateDatabase(DB_NAME);
    databaseCreated = true;
    const dbUrl = databaseUrl(DB_NAME);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    server = await startServer({ port, dbUrl, label: "first" });

    // 2. Experiment with traffic.
    const experiment = await api(
      base,
      "POST",
      "/api/v1/experiments",
      {
        name: "E2E checkout button",
        variants: [
          { key: "control", name: "Control", is_control: true },
          { key: "treatment", name: "Green button", is_control: false },
        ],
      },
      201,
    );
    const id = experiment.id;
    log(`created experiment ${id}`);
    await api(base, "PATCH", `/api/v1/experiments/${id}`, { status: "active" }, 200);
    log("activated experiment");
    await addTraffic(base, id, [
      { variant: "control", from: 0, to: 200, conversions: 20 },
      { variant: "treatment", from: 0, to: 200, conversions: 30 },
    ]);

    // 3. Dashboard shows the live numbers.
    browser = await launchChromium(log);
    const { page, pageErrors, navigations } = await openPage(browser, {
      initScript: `window.__e2eReadPanel = ${readPanel.toString()};`,
      log,
    });

    // The link a user is handed: the page keeps the token in its cookie and drops it from the URL.
    const url = `${base}/results/${id}/?token=${READ_TOKEN}`;
    log(`opening ${url}`);
    const response = await page.goto(url, { waitUntil: "domcontentloaded" });
    assert.equal(response?.status(), 200, `GET ${url}`);
    await page.locator(SEL.live).waitFor({ state: "visible" });
    await page.locator(`${SEL.status}[data-status="connected"]`).waitFor({ state: "visible" });
    log("panel is connected and LIVE");
    await waitForLiveTable(page, expectation({ participants: 200, conversions: 20 }, { participants: 200, conversions: 30 }), {
      what: "initial snapshot",
    });
    await page.evaluate(() => {
      window.__e2eMarker = 1;
    });
    const navigationsBefore = navigations();

    // 4. New traffic is pushed to the open page.
    await addTraffic(base, id, [
      { variant: "control", from: 200, to: 1200, conversions: 100 },
      { variant: "treatment", from: 200, to: 1000, conversions: 120 },
    ]);
    const afterUpdate = expectation({ participants: 1200, conversions: 120 }, { participants: 1000, conversions: 150 });
    await waitForLiveTable(page, afterUpdate, { timeout: PUSH_WAIT_MS, what: "pushed update" });
    await assertSamePage(page, "after the pushed update");

    // 5. Screenshot of the live panel.
    const panelShot = path.join(ARTIFACTS_DIR, "live-results-panel.png");
    await page.locator(SEL.panel).screenshot({ path: panelShot, animations: "disabled" });
    log(`saved ${path.relative(REPO_ROOT, panelShot)}`);

    // 6. Server goes away: the panel counts down to a reconnect.
    await stopServer(server, "first");
    await page.locator(`${SEL.status}[data-status="disconnected"]`).waitFor({ state: "visible" });
    await page.locator(SEL.countdown).waitFor({ state: "visible" });
    const countdownText = (await page.locator(SEL.countdown).textContent()).trim();
    log(`panel shows: "${countdownText}"`);
    assert.match(countdownText, /Reconnecting in \d+s \(attempt \d+ of \d+\)/);
    assert.equal(await page.locator(SEL.live).count(), 0, "LIVE indicator must be gone while disconnected");
    const reconnectShot = path.join(ARTIFACTS_DIR, "reconnecting.png");
    await page.locator(SEL.panel).screenshot({ path: reconnectShot, animations: "disabled" });
    log(`saved ${path.relative(REPO_ROOT, reconnectShot)}`);

    // 7. Same port again: the page reconnects by itself.
    server = await startServer({ port, dbUrl, label: "second" });
    await waitForLiveTable(page, afterUpdate, { timeout: RECONNECT_WAIT_MS, what: "after reconnect" });
    // The page resumes with since_seq: the restarted server repeats nothing it already has, so the
    // proof that the new connection is live is the next batch below arriving by push.
    await page.locator(SEL.countdown).waitFor({ state: "detached" });
    await assertSamePage(page, "after the reconnect");

    // The reconnected stream is live too: one more batch must be pushed.
    await addTraffic(base, id, [
      { variant: "control", from: 1200, to: 1250, conversions: 10 },
      { variant: "treatment", from: 1000, to: 1050, conversions: 10 },
    ]);
    await waitForLiveTable(
      page,
      expectation({ participants: 1250, conversions: 130 }, { participants: 1050, conversions: 160 }),
      { timeout: PUSH_WAIT_MS, what: "pushed update after reconnect" },
    );
    await assertSamePage(page, "at the end");
    assert.equal(navigations(), navigationsBefore, "the page navigated during the test");
    assert.deepEqual(pageErrors, [], "uncaught errors in the page");
    log("all checks passed");
  } finally {
    guard.disarm();
    if (browser) {
      await browser.close().catch((err) => log(`closing the browser failed: ${err.message}`));
      log("browser closed");
    }
    try {
      await stopServer(server, "final");
    } catch (err) {
      log(err.message.split("\n")[0]);
    }
    killServer(server);
    guard.release();
    writeFileSync(path.join(ARTIFACTS_DIR, "server.log"), `${serverLog.join("\n")}\n`);
    if (databaseCreated) {
      try {
        dropDatabase(DB_NAME);
        log(`dropped database ${DB_NAME}`);
      } catch (err) {
        log(`dropping database ${DB_NAME} failed: ${err.message}`);
      }
    }
  }
});
