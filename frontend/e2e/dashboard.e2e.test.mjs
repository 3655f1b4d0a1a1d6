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
import { spawn, spawnSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const FRONTEND_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const REPO_ROOT = path.resolve(FRONTEND_DIR, "..");
const OUT_DIR = path.join(FRONTEND_DIR, "out");
const ARTIFACTS_DIR = path.join(REPO_ROOT, "test-artifacts", "e2e");
const PYTHON = process.env.EXPSTREAM_E2E_PYTHON ?? path.join(REPO_ROOT, ".venv", "bin", "python");
const CHROMIUM = process.env.EXPSTREAM_E2E_CHROMIUM ?? "/usr/bin/chromium";
const ADMIN_DB_URL = process.env.EXPSTREAM_TEST_DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres";

// The server runs with authentication on, as in production: this run's own signing secret, and
// tokens minted here the way `expstream token` does (JWT, HS256).
const JWT_SECRET = randomBytes(32).toString("hex");

function base64url(value) {
  return Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
}

function mintToken(scope, ttlSeconds = 600) {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url({ alg: "HS256", typ: "JWT" });
  const payload = base64url({ sub: `e2e-${scope}`, iat: now, exp: now + ttlSeconds, scope, experiments: ["*"],
    jti: randomBytes(8).toString("hex") });
  const signature = createHmac("sha256", JWT_SECRET).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${signature}`;
}

const WRITE_TOKEN = mintToken("write");
const READ_TOKEN = mintToken("read");
const DB_NAME = "expstream_e2e";

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** Whole test; every single wait below has its own, much shorter timeout. */
const TEST_TIMEOUT_MS = 180_000;
const WAIT_MS = 30_000;
const SERVER_START_MS = 30_000;
const SERVER_STOP_MS = 15_000;
/**
 * Pushed updates must arrive well before the periodic 30 s snapshot
 * (RESULTS_STREAM_INTERVAL_SECONDS=30), so a broken push cannot pass thanks to the tick.
 */
const PUSH_WAIT_MS = 20_000;
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

const started = Date.now();
function log(message) {
  const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
  process.stdout.write(`[e2e +${seconds}s] ${message}\n`);
}

// ---------------------------------------------------------------- database

function psql(url, ...commands) {
  const args = [url, "-X", "-q", "-v", "ON_ERROR_STOP=1"];
  for (const command of commands) args.push("-c", command);
  const result = spawnSync("psql", args, { encoding: "utf8", timeout: 30_000 });
  if (result.error) throw new Error(`cannot run psql: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`psql failed (exit ${result.status}): ${result.stderr.trim()}`);
}

function databaseUrl(adminUrl, dbName) {
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  return url.toString();
}

function recreateDatabase() {
  psql(ADMIN_DB_URL, `DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`, `CREATE DATABASE ${DB_NAME}`);
}

function dropDatabase() {
  psql(ADMIN_DB_URL, `DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`);
}

// ---------------------------------------------------------------- server

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** All server output of the run, kept for the artifact log and failure messages. */
const serverLog = [];

function tail(lines, count = 40) {
  return lines.slice(-count).join("\n");
}

/**
 * Spawns `expstream serve` and resolves once it accepts connections. uvicorn logs
 * "Application startup complete" (lifespan done) *before* it binds the port and logs
 * "Uvicorn running on ...", so both lines are awaited.
 */
async function startServer({ port, dbUrl, label }) {
  log(`starting server (${label}) on port ${port}`);
  const child = spawn(PYTHON, ["-m", "expstream.cli", "serve", "--host", "127.0.0.1", "--port", String(port)], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      DATABASE_URL: dbUrl,
      EXPSTREAM_JWT_SECRET: JWT_SECRET,
      RESULTS_STREAM_INTERVAL_SECONDS: "30",
      EXPSTREAM_WEB_DIR: OUT_DIR,
      PYTHONUNBUFFERED: "1",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  child.exited = exited;
  let seenStartup = false;
  let seenListening = false;
  let onProgress = () => {};
  const collect = (stream) => {
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) {
        serverLog.push(`[${label}] ${line}`);
        if (line.includes("Application startup complete")) seenStartup = true;
        if (seenStartup && line.includes("Uvicorn running on")) seenListening = true;
      }
      onProgress();
    });
  };
  collect(child.stdout);
  collect(child.stderr);

  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`server (${label}) not ready after ${SERVER_START_MS} ms:\n${tail(serverLog)}`));
    }, SERVER_START_MS);
    onProgress = () => {
      if (seenListening) {
        clearTimeout(timer);
        resolve();
      }
    };
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server (${label}) exited during startup (code ${code}, signal ${signal}):\n${tail(serverLog)}`));
    });
  });
  log(`server (${label}) ready: pid ${child.pid}`);
  return child;
}

function isRunning(child) {
  return child != null && child.exitCode === null && child.signalCode === null;
}

/** SIGTERM and wait; a server that does not stop by itself is killed and reported. */
async function stopServer(child, label) {
  if (!isRunning(child)) return child?.exited;
  log(`stopping server (${label}) with SIGTERM`);
  child.kill("SIGTERM");
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve(null), SERVER_STOP_MS);
  });
  const result = await Promise.race([child.exited, timeout]);
  clearTimeout(timer);
  if (result === null) {
    child.kill("SIGKILL");
    await child.exited;
    throw new Error(`server (${label}) ignored SIGTERM for ${SERVER_STOP_MS} ms; killed:\n${tail(serverLog)}`);
  }
  log(`server (${label}) exited (code ${result.code}, signal ${result.signal})`);
  return result;
}

function killServer(child) {
  if (isRunning(child)) child.kill("SIGKILL");
}

// ---------------------------------------------------------------- HTTP API

async function api(base, method, route, body, expectedStatus) {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${WRITE_TOKEN}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  const text = await response.text();
  if (response.status !== expectedStatus) {
    throw new Error(`${method} ${route}: expected HTTP ${expectedStatus}, got ${response.status}: ${text}`);
  }
  return text ? JSON.parse(text) : null;
}

function userIds(prefix, from, to) {
  const ids = [];
  for (let i = from; i < to; i += 1) ids.push(`${prefix}-${i}`);
  return ids;
}

/** Assigns users [from, to) of each variant and converts users [from, from + conversions). */
async function addTraffic(base, experimentId, batches) {
  const assignments = [];
  const events = [];
  for (const { variant, from, to, conversions } of batches) {
    const users = userIds(variant, from, to);
    for (const userId of users) assignments.push({ user_id: userId, variant_key: variant });
    for (const userId of users.slice(0, conversions)) events.push({ user_id: userId, type: "conversion" });
  }
  const assigned = await api(base, "POST", `/api/v1/experiments/${experimentId}/assignments`, { assignments }, 200);
  assert.equal(assigned.accepted, assignments.length, `assignments accepted: ${JSON.stringify(assigned)}`);
  const converted = await api(base, "POST", `/api/v1/experiments/${experimentId}/events`, { events }, 200);
  assert.equal(converted.accepted, events.length, `conversions accepted: ${JSON.stringify(converted)}`);
  log(`posted ${assignments.length} assignments and ${events.length} conversions`);
}

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

function expectation(control, treatment) {
  const fmt = (n) => new Intl.NumberFormat("en-US").format(n);
  return {
    total: fmt(control.participants + treatment.participants),
    rows: {
      control: { participants: fmt(control.participants), conversions: fmt(control.conversions) },
      treatment: { participants: fmt(treatment.participants), conversions: fmt(treatment.conversions) },
    },
  };
}

// ---------------------------------------------------------------- the test

test("live results dashboard: streams, updates without reload, survives a server restart", { timeout: TEST_TIMEOUT_MS }, async () => {
  const indexHtml = path.join(OUT_DIR, "index.html");
  if (!existsSync(indexHtml)) {
    throw new Error(`${indexHtml} is missing: build the dashboard first (cd frontend && npm run build)`);
  }
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: create the venv (or set EXPSTREAM_E2E_PYTHON)`);
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (or set EXPSTREAM_E2E_CHROMIUM)`);
  mkdirSync(ARTIFACTS_DIR, { recursive: true });

  let server = null;
  let browser = null;
  const pageErrors = [];
  let databaseCreated = false;

  // Last resort: never leave a server behind, whatever happens to this process.
  const killOnExit = () => killServer(server);
  process.once("exit", killOnExit);
  // If the whole test runs out of time, tear down so every pending wait rejects at once.
  const watchdog = setTimeout(() => {
    log("test deadline reached: tearing down");
    killServer(server);
    browser?.close().catch(() => {});
  }, TEST_TIMEOUT_MS - 5_000);
  watchdog.unref();

  try {
    // 1. Fresh database, server on a free port.
    log(`recreating database ${DB_NAME} via ${ADMIN_DB_URL}`);
    recreateDatabase();
    databaseCreated = true;
    const dbUrl = databaseUrl(ADMIN_DB_URL, DB_NAME);
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
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    log(`launched ${CHROMIUM} (${browser.version()})`);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript({ content: `window.__e2eReadPanel = ${readPanel.toString()};` });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on("pageerror", (err) => {
      pageErrors.push(err.message);
      log(`page error: ${err.message}`);
    });
    let navigations = 0;
    page.on("framenavigated", (frame) => {
      if (frame === page.mainFrame()) navigations += 1;
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
    const navigationsBefore = navigations;

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
    assert.equal(navigations, navigationsBefore, "the page navigated during the test");
    assert.deepEqual(pageErrors, [], "uncaught errors in the page");
    log("all checks passed");
  } finally {
    clearTimeout(watchdog);
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
    process.removeListener("exit", killOnExit);
    writeFileSync(path.join(ARTIFACTS_DIR, "server.log"), `${serverLog.join("\n")}\n`);
    if (databaseCreated) {
      try {
        dropDatabase();
        log(`dropped database ${DB_NAME}`);
      } catch (err) {
        log(`dropping database ${DB_NAME} failed: ${err.message}`);
      }
    }
  }
});
