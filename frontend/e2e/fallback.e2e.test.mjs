// End-to-end test of the transport fallback: a corporate-style HTTP proxy that
// forwards plain HTTP (streaming responses included) but refuses WebSocket
// upgrades sits between Chromium and the REAL server. The dashboard must give up
// on the WebSocket, switch to Server-Sent Events and keep updating live.
//
//   cd frontend && npm run build   # once: the server serves frontend/out
//   npm run e2e                    # node --test e2e/
//
// Needs: /work/main/.venv (or EXPSTREAM_E2E_PYTHON) with expstream installed,
// PostgreSQL reachable at EXPSTREAM_TEST_DATABASE_URL (admin URL, default
// postgresql://postgres@127.0.0.1:5432/postgres), `psql`, and /usr/bin/chromium
// (or EXPSTREAM_E2E_CHROMIUM). No browser is ever downloaded.
//
// Artifacts go to <repo>/test-artifacts/e2e/: fallback-sse.png, fallback-server.log.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
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
/** Not the dashboard test's database, so both files can run in parallel. */
const DB_NAME = "expstream_e2e_fallback";

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

/** Whole test; every wait below has its own, much shorter timeout. */
const TEST_TIMEOUT_MS = 150_000;
const WAIT_MS = 30_000;
const SERVER_START_MS = 30_000;
const SERVER_STOP_MS = 15_000;
/**
 * The page's stream tuning (src/lib/streamQueryOptions.ts): one WebSocket reconnect
 * after 200 ms, so the fallback starts within about a second instead of ~31 s.
 */
const PAGE_QUERY = "?reconnectAttempts=1&backoffMs=200";
/** Well before the periodic snapshot (RESULTS_STREAM_INTERVAL_SECONDS=30): the update must be pushed. */
const PUSH_WAIT_MS = 20_000;

const SEL = {
  panel: '[data-testid="live-results-panel"]',
  status: '[data-testid="connection-status"]',
  transport: '[data-testid="transport"]',
  live: '[data-testid="live-indicator"]',
};

const started = Date.now();
function log(message) {
  const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
  process.stdout.write(`[e2e fallback +${seconds}s] ${message}\n`);
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

const serverLog = [];
const tail = (lines, count = 40) => lines.slice(-count).join("\n");

/** `--insecure-no-auth` where the CLI has it (the auth-enabled server requires it for this test). */
function insecureFlag() {
  const help = spawnSync(PYTHON, ["-m", "expstream.cli", "serve", "--help"], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: 30_000,
  });
  return `${help.stdout}${help.stderr}`.includes("--insecure-no-auth") ? ["--insecure-no-auth"] : [];
}

/**
 * Spawns `expstream serve` and resolves once it accepts connections (uvicorn logs
 * "Application startup complete" before it binds, so "Uvicorn running on" is awaited too).
 */
async function startServer({ port, dbUrl }) {
  const args = ["-m", "expstream.cli", "serve", ...insecureFlag(), "--host", "127.0.0.1", "--port", String(port)];
  log(`starting: ${path.basename(PYTHON)} ${args.join(" ")}`);
  const child = spawn(PYTHON, args, {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      DATABASE_URL: dbUrl,
      RESULTS_STREAM_INTERVAL_SECONDS: "30",
      EXPSTREAM_WEB_DIR: OUT_DIR,
      PYTHONUNBUFFERED: "1",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  let seenStartup = false;
  let seenListening = false;
  let onProgress = () => {};
  for (const stream of [child.stdout, child.stderr]) {
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) {
        serverLog.push(line);
        if (line.includes("Application startup complete")) seenStartup = true;
        if (seenStartup && line.includes("Uvicorn running on")) seenListening = true;
      }
      onProgress();
    });
  }
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`server not ready after ${SERVER_START_MS} ms:\n${tail(serverLog)}`));
    }, SERVER_START_MS);
    onProgress = () => {
      if (seenListening) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited during startup (code ${code}, signal ${signal}):\n${tail(serverLog)}`));
    });
  });
  log(`server ready: pid ${child.pid}`);
  return child;
}

const isRunning = (child) => child != null && child.exitCode === null && child.signalCode === null;

async function stopServer(child) {
  if (!isRunning(child)) return;
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
    log(`server ignored SIGTERM for ${SERVER_STOP_MS} ms; killed`);
    return;
  }
  log(`server exited (code ${result.code}, signal ${result.signal})`);
}

// ---------------------------------------------------------------- proxy

/**
 * HTTP proxy in front of `target` that forwards every plain request, streaming
 * the response through as it arrives (SSE included), and answers every
 * WebSocket upgrade with 502: the corporate proxy that breaks WebSockets.
 */
async function startRefusingProxy(targetPort) {
  const stats = { refusedUpgrades: 0, requests: [] };
  const sockets = new Set();
  const agent = new http.Agent({ keepAlive: false });

  const proxy = http.createServer((req, res) => {
    stats.requests.push(`${req.method} ${req.url}`);
    const upstream = http.request(
      { host: "127.0.0.1", port: targetPort, method: req.method, path: req.url, headers: req.headers, agent },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        res.flushHeaders();
        upstreamRes.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`proxy: ${err.message}`);
    });
    res.on("close", () => upstream.destroy()); // the browser went away (EventSource closed)
    req.pipe(upstream);
  });
  proxy.on("upgrade", (req, socket) => {
    stats.refusedUpgrades += 1;
    stats.requests.push(`UPGRADE ${req.url} (refused)`);
    socket.end("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    socket.destroy();
  });
  proxy.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  const port = await freePort();
  await new Promise((resolve, reject) => {
    proxy.once("error", reject);
    proxy.listen(port, "127.0.0.1", resolve);
  });
  log(`proxy on port ${port} -> ${targetPort} (WebSocket upgrades refused)`);
  return {
    port,
    stats,
    async close() {
      for (const socket of sockets) socket.destroy(); // open event streams
      await new Promise((resolve) => proxy.close(resolve));
      agent.destroy();
    },
  };
}

// ---------------------------------------------------------------- HTTP API

async function api(base, method, route, body, expectedStatus) {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  const text = await response.text();
  if (response.status !== expectedStatus) {
    throw new Error(`${method} ${route}: expected HTTP ${expectedStatus}, got ${response.status}: ${text}`);
  }
  return text ? JSON.parse(text) : null;
}

/** Assigns users [from, to) of each variant and converts users [from, from + conversions). */
async function addTraffic(base, experimentId, batches) {
  const assignments = [];
  const events = [];
  for (const { variant, from, to, conversions } of batches) {
    for (let i = from; i < to; i += 1) {
      assignments.push({ user_id: `${variant}-${i}`, variant_key: variant });
      if (i < from + conversions) events.push({ user_id: `${variant}-${i}`, type: "conversion" });
    }
  }
  const assigned = await api(base, "POST", `/api/v1/experiments/${experimentId}/assignments`, { assignments }, 200);
  assert.equal(assigned.accepted, assignments.length, `assignments accepted: ${JSON.stringify(assigned)}`);
  const converted = await api(base, "POST", `/api/v1/experiments/${experimentId}/events`, { events }, 200);
  assert.equal(converted.accepted, events.length, `conversions accepted: ${JSON.stringify(converted)}`);
  log(`posted ${assignments.length} assignments and ${events.length} conversions`);
}

/** What the panel shows; runs in the page (installed as window.__fallbackReadPanel). */
function readPanel() {
  const q = (sel) => document.querySelector(sel);
  const text = (el) => (el ? el.textContent.trim() : null);
  const rows = {};
  for (const row of document.querySelectorAll('[data-testid="variant-row"]')) {
    rows[row.dataset.variantKey] = {
      participants: text(row.querySelector('[data-testid="variant-participants"]')),
      conversions: text(row.querySelector('[data-testid="variant-conversions"]')),
    };
  }
  return {
    status: q('[data-testid="connection-status"]')?.dataset.status ?? null,
    transport: q('[data-testid="transport"]')?.dataset.transport ?? null,
    transportText: text(q('[data-testid="transport"]')),
    live: text(q('[data-testid="live-indicator"]')),
    error: text(q('[data-testid="error-banner"]')),
    total: text(q('[data-testid="total-participants"]')),
    rows,
  };
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

/** Waits until the panel is connected via SSE, LIVE, error-free and shows `expected`. */
async function waitForSseTable(page, expected, { timeout = WAIT_MS, what }) {
  try {
    await page.waitForFunction(
      (expected) => {
        const state = window.__fallbackReadPanel();
        if (state.status !== "connected" || state.transport !== "sse" || state.live !== "LIVE") return false;
        if (state.error !== null || state.total !== expected.total) return false;
        const keys = Object.keys(expected.rows);
        return (
          Object.keys(state.rows).length === keys.length &&
          keys.every(
            (key) =>
              state.rows[key]?.participants === expected.rows[key].participants &&
              state.rows[key]?.conversions === expected.rows[key].conversions,
          )
        );
      },
      expected,
      { timeout, polling: 100 },
    );
  } catch (err) {
    const shown = await page.evaluate(readPanel).catch((e) => `unavailable: ${e.message}`);
    throw new Error(
      `${what}: panel did not show ${JSON.stringify(expected)} via SSE within ${timeout} ms; ` +
        `it shows ${JSON.stringify(shown)} (${err.message.split("\n")[0]})`,
    );
  }
  log(`${what}: connected via SSE, total ${expected.total}`);
}

// ---------------------------------------------------------------- the test

test("behind a proxy that refuses WebSocket upgrades, the dashboard falls back to Server-Sent Events and stays live", { timeout: TEST_TIMEOUT_MS }, async () => {
  const indexHtml = path.join(OUT_DIR, "index.html");
  if (!existsSync(indexHtml)) throw new Error(`${indexHtml} is missing: build the dashboard first (cd frontend && npm run build)`);
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: create the venv (or set EXPSTREAM_E2E_PYTHON)`);
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (or set EXPSTREAM_E2E_CHROMIUM)`);
  mkdirSync(ARTIFACTS_DIR, { recursive: true });

  let server = null;
  let proxy = null;
  let browser = null;
  let databaseCreated = false;
  const pageErrors = [];
  const killOnExit = () => {
    if (isRunning(server)) server.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  const watchdog = setTimeout(() => {
    log("test deadline reached: tearing down");
    killOnExit();
    browser?.close().catch(() => {});
  }, TEST_TIMEOUT_MS - 5_000);
  watchdog.unref();

  try {
    // 1. Fresh database, server, and the proxy in front of it.
    log(`recreating database ${DB_NAME}`);
    psql(ADMIN_DB_URL, `DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`, `CREATE DATABASE ${DB_NAME}`);
    databaseCreated = true;
    const serverPort = await freePort();
    const base = `http://127.0.0.1:${serverPort}`;
    server = await startServer({ port: serverPort, dbUrl: databaseUrl(ADMIN_DB_URL, DB_NAME) });
    proxy = await startRefusingProxy(serverPort);
    const proxyBase = `http://127.0.0.1:${proxy.port}`;

    // 2. Experiment with some traffic (straight to the server; the page goes through the proxy).
    const experiment = await api(
      base,
      "POST",
      "/api/v1/experiments",
      {
        name: "E2E fallback",
        variants: [
          { key: "control", name: "Control", is_control: true },
          { key: "treatment", name: "Green button", is_control: false },
        ],
      },
      201,
    );
    const id = experiment.id;
    await api(base, "PATCH", `/api/v1/experiments/${id}`, { status: "active" }, 200);
    await addTraffic(base, id, [
      { variant: "control", from: 0, to: 100, conversions: 10 },
      { variant: "treatment", from: 0, to: 100, conversions: 15 },
    ]);
    const sseProbe = await fetch(`${base}/api/v1/experiments/${id}/results/stream`, { signal: AbortSignal.timeout(WAIT_MS) });
    const sseType = sseProbe.headers.get("content-type") ?? "";
    await sseProbe.body?.cancel();
    assert.ok(
      sseProbe.status === 200 && sseType.startsWith("text/event-stream"),
      `the server has no SSE endpoint yet: GET /api/v1/experiments/{id}/results/stream answered ${sseProbe.status} ${sseType}`,
    );

    // 3. The dashboard through the proxy: WebSocket refused, SSE takes over.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    log(`launched ${CHROMIUM} (${browser.version()})`);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript({ content: `window.__fallbackReadPanel = ${readPanel.toString()};` });
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

    const url = `${proxyBase}/results/${id}/${PAGE_QUERY}`;
    log(`opening ${url}`);
    const response = await page.goto(url, { waitUntil: "domcontentloaded" });
    assert.equal(response?.status(), 200, `GET ${url} through the proxy`);
    await waitForSseTable(page, expectation({ participants: 100, conversions: 10 }, { participants: 100, conversions: 15 }), {
      what: "initial snapshot",
    });
    assert.ok(proxy.stats.refusedUpgrades >= 2, `expected the first WebSocket and one reconnect to be refused, saw ${proxy.stats.refusedUpgrades}`);
    assert.equal(
      (await page.locator(SEL.transport).textContent()).trim(),
      "via Server-Sent Events (fallback)",
      "transport shown next to the badge",
    );
    const navigationsBefore = navigations;

    // 4. New traffic arrives over SSE without a reload.
    await addTraffic(base, id, [
      { variant: "control", from: 100, to: 600, conversions: 50 },
      { variant: "treatment", from: 100, to: 500, conversions: 60 },
    ]);
    await waitForSseTable(page, expectation({ participants: 600, conversions: 60 }, { participants: 500, conversions: 75 }), {
      timeout: PUSH_WAIT_MS,
      what: "pushed update over SSE",
    });
    assert.equal(navigations, navigationsBefore, "the page navigated or reloaded");
    assert.ok(
      proxy.stats.requests.some((line) => line.startsWith(`GET /api/v1/experiments/${id}/results/stream`)),
      `no SSE request went through the proxy: ${JSON.stringify(proxy.stats.requests)}`,
    );

    // 5. Screenshot of the panel on the fallback.
    const shot = path.join(ARTIFACTS_DIR, "fallback-sse.png");
    await page.locator(SEL.panel).screenshot({ path: shot, animations: "disabled" });
    log(`saved ${path.relative(REPO_ROOT, shot)}`);
    assert.deepEqual(pageErrors, [], "uncaught errors in the page");
    log("all checks passed");
  } finally {
    clearTimeout(watchdog);
    if (browser) await browser.close().catch((err) => log(`closing the browser failed: ${err.message}`));
    if (proxy) await proxy.close().catch((err) => log(`closing the proxy failed: ${err.message}`));
    await stopServer(server).catch((err) => log(err.message));
    killOnExit();
    process.removeListener("exit", killOnExit);
    writeFileSync(path.join(ARTIFACTS_DIR, "fallback-server.log"), `${serverLog.join("\n")}\n`);
    if (proxy) log(`proxy saw: ${proxy.stats.requests.length} requests, ${proxy.stats.refusedUpgrades} refused upgrades`);
    if (databaseCreated) {
      try {
        psql(ADMIN_DB_URL, `DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`);
      } catch (err) {
        log(`dropping database ${DB_NAME} failed: ${err.message}`);
      }
    }
  }
});
