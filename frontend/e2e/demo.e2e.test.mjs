// End-to-end test of `expstream demo` as a new user meets it: start the demo, open the dashboard
// link it prints, and watch the numbers move by themselves, in Debian's Chromium through
// playwright-core.
//
//   cd frontend && npm run build   # once: the demo serves frontend/out (EXPSTREAM_WEB_DIR)
//   npm run e2e                    # node --test e2e/
//
// Needs: /work/main/.venv (or EXPSTREAM_E2E_PYTHON; the `expstream` script beside it, or
// EXPSTREAM_E2E_EXPSTREAM) with expstream installed, PostgreSQL's initdb/pg_ctl for the demo's
// embedded database, and /usr/bin/chromium (or EXPSTREAM_E2E_CHROMIUM). No browser is ever
// downloaded, and no outside database is used.
//
// Also checks that "Revenue per user", whose covariate is the simulated users' past spend, shows
// the CUPED badge.
//
// Artifacts: <repo>/test-artifacts/e2e/demo.png (the dashboard with moving numbers) and demo.log
// (the demo's output, tokens redacted).

import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import {
  ARTIFACTS_DIR,
  EXPSTREAM,
  REPO_ROOT,
  WAIT_MS,
  checkPrerequisites,
  createLogger,
  freePort,
  guardTest,
  killServer,
  launchChromium,
  openPage,
  redactTokens,
  startDemo,
  stopServer as stopExpstream,
  tail,
} from "./support.mjs";

/** Whole test: the demo's initdb, the page, the growth and the shutdown. */
const TEST_TIMEOUT_MS = 180_000;
/**
 * The simulator writes ~40 users/s, pushed within about a second; the demo's periodic snapshot
 * comes every 5 s besides. Generous, for a loaded machine.
 */
const GROWTH_WAIT_MS = 30_000;
/** The demo's experiment (python/expstream/demo.py). */
const DEMO_NAME = "Demo: one-click checkout";
const DEMO_VARIANTS = ["control", "one_click"];
/** The variant whose participant count is watched. */
const WATCHED = "control";

const SEL = {
  name: '[data-testid="experiment-name"]',
  panel: '[data-testid="live-results-panel"]',
  status: '[data-testid="connection-status"]',
  live: '[data-testid="live-indicator"]',
  errorBanner: '[data-testid="error-banner"]',
  accessError: '[data-testid="access-error"]',
  metricCard: '[data-testid="metric-card"]',
  cuped: '[data-testid="metric-cuped"]',
};

const log = createLogger("demo-e2e");
/** All demo output (JWTs redacted), for the artifact log and failure messages. */
const serverLog = [];
const stopServer = (child) => stopExpstream(child, { label: "demo", log, serverLog });

// ---------------------------------------------------------------- page helpers

/**
 * The participant count shown for each variant (its digits, as a number). Runs in the page, where
 * an init script installs it as window.__e2eReadParticipants.
 */
function readParticipants() {
  const counts = {};
  for (const row of document.querySelectorAll('[data-testid="variant-row"]')) {
    const text = row.querySelector('[data-testid="variant-participants"]')?.textContent ?? "";
    const digits = text.replace(/\D/g, "");
    counts[row.dataset.variantKey] = digits === "" ? null : Number(digits);
  }
  return counts;
}

/** What the page shows, for failure messages. */
async function describePage(page) {
  return page
    .evaluate(
      (sel) => {
        const text = (s) => document.querySelector(s)?.textContent.trim() ?? null;
        return {
          url: location.pathname,
          name: text(sel.name),
          status: document.querySelector(sel.status)?.dataset.status ?? null,
          live: text(sel.live),
          error: text(sel.errorBanner) ?? text(sel.accessError),
          participants: window.__e2eReadParticipants(),
        };
      },
      SEL,
    )
    .then((shown) => JSON.stringify(shown))
    .catch((err) => `unavailable: ${err.message}`);
}

/**
 * Safety net after a failed run: a demo killed with SIGKILL cannot stop its embedded PostgreSQL,
 * which would outlive the test (and its data directory). Asks that postmaster for an immediate
 * shutdown (SIGQUIT) by the pid in postmaster.pid.
 */
function stopLeftoverPostgres(dataDir) {
  const pidFile = path.join(dataDir, "pgdata", "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, "SIGQUIT");
    log(`sent SIGQUIT to the demo's leftover PostgreSQL (pid ${pid})`);
  } catch (err) {
    if (err.code !== "ESRCH") log(`stopping the leftover PostgreSQL (pid ${pid}) failed: ${err.message}`);
  }
}

// ---------------------------------------------------------------- the test

test("expstream demo: the printed dashboard link shows the demo experiment, and its numbers grow without a reload", { timeout: TEST_TIMEOUT_MS }, async () => {
  checkPrerequisites();
  if (!existsSync(EXPSTREAM)) throw new Error(`${EXPSTREAM} is missing: install the package (make install)`);

  let demo = null;
  let browser = null;
  const guard = guardTest({ timeoutMs: TEST_TIMEOUT_MS, log, server: () => demo, browser: () => browser });

  // A fresh data directory, as on a new machine. As root, the demo runs its PostgreSQL as an
  // unprivileged user, which must be able to enter the directory.
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "expstream-demo-e2e-"));
  chmodSync(dataDir, 0o755);

  try {
    // 1. The demo starts and prints its dashboard link.
    const port = await freePort();
    const started = await startDemo({ port, dataDir, log, serverLog });
    demo = started.child;
    const dashboard = new URL(started.dashboardUrl);
    assert.equal(dashboard.port, String(port), `the dashboard URL names the demo's port: ${redactTokens(dashboard.href)}`);
    assert.match(dashboard.pathname, /^\/results\/[0-9a-f-]{36}\/$/, "the dashboard URL is a results page");
    assert.ok(dashboard.searchParams.get("token"), "the dashboard URL carries a read token");

    // 2. The link opens the live panel of the demo experiment.
    browser = await launchChromium(log);
    const { page, pageErrors, navigations } = await openPage(browser, {
      initScript: `window.__e2eReadParticipants = ${readParticipants.toString()};`,
      log,
    });
    log(`opening ${redactTokens(dashboard.href)}`);
    const response = await page.goto(dashboard.href, { waitUntil: "domcontentloaded" });
    assert.equal(response?.status(), 200, "GET of the dashboard link");

    let before;
    try {
      await page.locator(SEL.name, { hasText: DEMO_NAME }).waitFor({ state: "visible" });
      await page.locator(`${SEL.status}[data-status="connected"]`).waitFor({ state: "visible" });
      await page.locator(SEL.live).waitFor({ state: "visible" });
      const handle = await page.waitForFunction(
        (variants) => {
          const counts = window.__e2eReadParticipants();
          return variants.every((key) => Number.isInteger(counts[key])) ? counts : false;
        },
        DEMO_VARIANTS,
        { timeout: WAIT_MS, polling: "raf" },
      );
      before = await handle.jsonValue();
    } catch (err) {
      throw new Error(`the demo experiment did not show: the page shows ${await describePage(page)} (${err.message.split("\n")[0]})`);
    }
    log(`panel shows "${DEMO_NAME}", connected and LIVE; participants ${JSON.stringify(before)}`);
    assert.ok(!new URL(page.url()).searchParams.has("token"), "the page removes the token from the address bar");
    await page.evaluate(() => {
      window.__e2eMarker = 1;
    });
    const navigationsBefore = navigations();

    // 3. The simulator's traffic reaches the open page: the count grows, with no reload. Event
    // driven: the wait returns on the first animation frame that shows a larger number.
    let after;
    try {
      const handle = await page.waitForFunction(
        ({ key, previous }) => {
          const count = window.__e2eReadParticipants()[key];
          return Number.isInteger(count) && count > previous ? count : false;
        },
        { key: WATCHED, previous: before[WATCHED] },
        { timeout: GROWTH_WAIT_MS, polling: "raf" },
      );
      after = await handle.jsonValue();
    } catch (err) {
      throw new Error(
        `${WATCHED} participants did not grow past ${before[WATCHED]} within ${GROWTH_WAIT_MS} ms; ` +
          `the page shows ${await describePage(page)} (${err.message.split("\n")[0]})`,
      );
    }
    log(`${WATCHED} participants grew from ${before[WATCHED]} to ${after} on the open page`);
    assert.equal(await page.evaluate(() => window.__e2eMarker), 1, "the page was reloaded while the numbers grew");
    assert.equal(navigations(), navigationsBefore, "the page navigated while the numbers grew");
    assert.equal(await page.locator(`${SEL.status}[data-status="connected"]`).count(), 1, "still connected");

    // 4. The demo's revenue carries past spend as a covariate: its card shows the CUPED badge.
    const cupedBadge = page.locator(`${SEL.metricCard}[data-metric-key="revenue"] ${SEL.cuped}`);
    try {
      await cupedBadge.waitFor({ state: "visible", timeout: WAIT_MS });
    } catch (err) {
      throw new Error(`"Revenue per user" shows no CUPED badge: the page shows ${await describePage(page)} (${err.message.split("\n")[0]})`);
    }
    const cuped = { text: (await cupedBadge.textContent()).trim(), title: await cupedBadge.getAttribute("title") };
    log(`revenue's CUPED badge: ${JSON.stringify(cuped)}`);
    assert.match(cuped.text, /^CUPED(: (\u2212\d+% variance|no variance reduction))?$/, "the CUPED badge's text");
    assert.match(cuped.title ?? "", /pre-experiment values \(CUPED, \u03b8 = /, "the CUPED badge's tooltip names theta");

    // 5. What the new user sees.
    const shot = path.join(ARTIFACTS_DIR, "demo.png");
    await page.screenshot({ path: shot, fullPage: true, animations: "disabled" });
    log(`saved ${path.relative(REPO_ROOT, shot)}`);
    assert.deepEqual(pageErrors, [], "uncaught errors in the page");

    // 6. SIGTERM stops the demo, its server and its embedded PostgreSQL.
    await browser.close();
    browser = null;
    const exit = await stopServer(demo);
    // uvicorn finishes its shutdown, then re-raises the SIGTERM it caught: a clean stop ends by
    // that signal (or with 0); the log shows the shutdown (streams closed, database stopped) ran.
    assert.ok(
      (exit.code === 0 && exit.signal === null) || (exit.code === null && exit.signal === "SIGTERM"),
      `the demo exits by SIGTERM or with 0, not ${JSON.stringify(exit)}`,
    );
    assert.ok(
      serverLog.some((line) => line.includes("Application shutdown complete")),
      `the demo did not finish its shutdown:\n${tail(serverLog)}`,
    );
    const postmasterPid = path.join(dataDir, "pgdata", "postmaster.pid");
    assert.ok(!existsSync(postmasterPid), `the demo left its PostgreSQL running (${postmasterPid} exists)`);
    log("all checks passed");
  } finally {
    guard.disarm();
    if (browser) await browser.close().catch((err) => log(`closing the browser failed: ${err.message}`));
    await stopServer(demo).catch((err) => log(err.message.split("\n")[0]));
    killServer(demo);
    guard.release();
    writeFileSync(path.join(ARTIFACTS_DIR, "demo.log"), `${serverLog.join("\n")}\n`);
    stopLeftoverPostgres(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }
  assert.ok(!existsSync(dataDir), `the temporary data directory ${dataDir} is still there`);
  log(`removed ${dataDir}`);
});
