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
import { writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { test } from "node:test";
import {
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
  insecureFlag,
  killServer,
  launchChromium,
  openPage,
  recreateDatabase,
  startServer as startExpstream,
  stopServer as stopExpstream,
} from "./support.mjs";

/** Not the dashboard test's database, so both files can run in parallel. */
const DB_NAME = "expstream_e2e_fallback";

/** Whole test; every wait below has its own, much shorter timeout. */
const TEST_TIMEOUT_MS = 150_000;
/**
 * The page's stream tuning (src/lib/streamQueryOptions.ts): one WebSocket reconnect
 * after 200 ms, so the fallback starts within about a second instead of ~31 s.
 */
const PAGE_QUERY = "?reconnectAttempts=1&backoffMs=200";

const SEL = {
  panel: '[data-testid="live-results-panel"]',
  status: '[data-testid="connection-status"]',
  transport: '[data-testid="transport"]',
  live: '[data-testid="live-indicator"]',
};

const log = createLogger("e2e fallback");
const serverLog = [];
/** No authentication: the server runs with --insecure-no-auth (see insecureFlag). */
const api = createApi();
const addTraffic = (base, experimentId, batches) => postTraffic({ api, log }, base, experimentId, batches);

/** The server without a label: its log lines go to fallback-server.log as they are. */
const startServer = ({ port, dbUrl }) => startExpstream({ port, dbUrl, args: insecureFlag(), log, serverLog });
const stopServer = (child) => stopExpstream(child, { log, serverLog });

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
  checkPrerequisites();

  let server = null;
  let proxy = null;
  let browser = null;
  let databaseCreated = false;
  const guard = guardTest({ timeoutMs: TEST_TIMEOUT_MS, log, server: () => server, browser: () => browser });

  try {
    // 1. Fresh database, server, and the proxy in front of it.
    log(`recreating database ${DB_NAME}`);
    recreateDatabase(DB_NAME);
    databaseCreated = true;
    const serverPort = await freePort();
    const base = `http://127.0.0.1:${serverPort}`;
    server = await startServer({ port: serverPort, dbUrl: databaseUrl(DB_NAME) });
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
    browser = await launchChromium(log);
    const { page, pageErrors, navigations } = await openPage(browser, {
      initScript: `window.__fallbackReadPanel = ${readPanel.toString()};`,
      log,
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
    const navigationsBefore = navigations();

    // 4. New traffic arrives over SSE without a reload.
    await addTraffic(base, id, [
      { variant: "control", from: 100, to: 600, conversions: 50 },
      { variant: "treatment", from: 100, to: 500, conversions: 60 },
    ]);
    await waitForSseTable(page, expectation({ participants: 600, conversions: 60 }, { participants: 500, conversions: 75 }), {
      timeout: PUSH_WAIT_MS,
      what: "pushed update over SSE",
    });
    assert.equal(navigations(), navigationsBefore, "the page navigated or reloaded");
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
    guard.disarm();
    if (browser) await browser.close().catch((err) => log(`closing the browser failed: ${err.message}`));
    if (proxy) await proxy.close().catch((err) => log(`closing the proxy failed: ${err.message}`));
    await stopServer(server).catch((err) => log(err.message));
    killServer(server);
    guard.release();
    writeFileSync(path.join(ARTIFACTS_DIR, "fallback-server.log"), `${serverLog.join("\n")}\n`);
    if (proxy) log(`proxy saw: ${proxy.stats.requests.length} requests, ${proxy.stats.refusedUpgrades} refused upgrades`);
    if (databaseCreated) {
      try {
        dropDatabase(DB_NAME);
      } catch (err) {
        log(`dropping database ${DB_NAME} failed: ${err.message}`);
      }
    }
  }
});
