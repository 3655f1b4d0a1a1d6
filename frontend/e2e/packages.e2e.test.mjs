// End-to-end test of the npm packages as a user gets them: `npm pack` of @expstream/client and
// @expstream/react, a fresh Vite + React app (no Next.js) in a temporary folder that installs the
// two tarballs and react, react-dom and vite from the registry, type-checks and builds it, and
// serves the build with `vite preview` (/api proxied to the REAL `expstream serve`, with
// authentication on, against PostgreSQL). In Debian's Chromium the app shows the experiment, and
// a participant count changes without a reload after this test ingests data over the HTTP API.
// The client package is also used from Node (ESM and CJS, HTTP helper and live stream).
//
//   cd frontend && npm run e2e     # or: node --test e2e/packages.e2e.test.mjs
//
// Needs what the other e2e tests need (e2e/support.mjs), plus the npm registry unless npm's cache
// already holds the pinned react, react-dom, vite, typescript and React types (frontend's `npm ci`
// puts them there). EXPSTREAM_E2E_KEEP_APP=1 keeps the temporary app for a look.
//
// Artifacts: test-artifacts/e2e/packages.png (the app with the live panel), packages.log.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { installConsumerApp, packPackages, run, startPreview, writeConsumerApp } from "./consumerApp.mjs";
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
  isRunning,
  killServer,
  launchChromium,
  openPage,
  recreateDatabase,
  redactTokens,
  startServer,
  stopServer,
} from "./support.mjs";
import { createTokenMinter } from "./tokens.mjs";

const { secret: JWT_SECRET, mint } = createTokenMinter();
const WRITE_TOKEN = mint("write");
const READ_TOKEN = mint("read");
const DB_NAME = "expstream_e2e_packages";
/** Packing, installing and building take most of it; every single wait has its own timeout. */
const TEST_TIMEOUT_MS = 420_000;

const log = createLogger("packages");
/** Output of the server, npm, tsc, vite and the Node check, for packages.log. */
const outputLog = [];
const api = createApi({ token: WRITE_TOKEN });
const addTraffic = (base, experimentId, batches) => postTraffic({ api, log }, base, experimentId, batches);

const SEL = {
  panel: '[data-testid="live-results-panel"]',
  connected: '[data-testid="connection-status"][data-status="connected"]',
};

/** What the panel shows (runs in the page). */
function readPanel() {
  const text = (el) => (el ? el.textContent.trim() : null);
  const rows = {};
  for (const row of document.querySelectorAll('[data-testid="variant-row"]')) {
    rows[row.dataset.variantKey] = {
      participants: text(row.querySelector('[data-testid="variant-participants"]')),
      conversions: text(row.querySelector('[data-testid="variant-conversions"]')),
    };
  }
  return {
    status: document.querySelector('[data-testid="connection-status"]')?.dataset.status ?? null,
    error: text(document.querySelector('[data-testid="error-banner"]')),
    total: text(document.querySelector('[data-testid="total-participants"]')),
    rows,
  };
}

/** Waits until the panel is connected, error-free and shows `expected` (see support's expectation). */
async function waitForPanel(page, expected, { timeout = WAIT_MS, what }) {
  try {
    await page.waitForFunction(
      (expected) => {
        const state = window.__e2eReadPanel();
        if (state.status !== "connected" || state.error !== null || state.total !== expected.total) return false;
        return Object.entries(expected.rows).every(
          ([key, row]) =>
            state.rows[key]?.participants === row.participants && state.rows[key]?.conversions === row.conversions,
        );
      },
      expected,
      { timeout, polling: 100 },
    );
  } catch (err) {
    const shown = await page.evaluate(readPanel).catch((e) => `unavailable: ${e.message}`);
    throw new Error(`${what}: the panel did not show ${JSON.stringify(expected)} within ${timeout} ms; it shows ${JSON.stringify(shown)} (${err.message.split("\n")[0]})`);
  }
  log(`${what}: connected, total ${expected.total}, ${JSON.stringify(expected.rows)}`);
}

test("the packed packages work in a fresh Vite + React app and in Node against the real server", { timeout: TEST_TIMEOUT_MS }, async () => {
  checkPrerequisites();
  const tmp = mkdtempSync(path.join(os.tmpdir(), "expstream-packages-e2e-"));
  const appDir = path.join(tmp, "app");
  const collect = (lines) => outputLog.push(...lines);
  let server = null;
  let preview = null;
  let browser = null;
  let databaseCreated = false;
  const killPreview = () => killServer(preview);
  process.once("exit", killPreview);
  const guard = guardTest({ timeoutMs: TEST_TIMEOUT_MS, log, server: () => server, browser: () => browser });

  try {
    // 1. The tarballs, as `npm publish` would upload them.
    const packed = await packPackages(path.join(tmp, "tarballs"), log);
    for (const file of ["package.json", "README.md", "dist/index.js", "dist/index.cjs", "dist/index.d.ts", "dist/index.d.cts"]) {
      assert.ok(packed.client.files.includes(file), `@expstream/client's tarball lacks ${file}: ${packed.client.files}`);
      assert.ok(packed.react.files.includes(file), `@expstream/react's tarball lacks ${file}: ${packed.react.files}`);
    }
    assert.ok(packed.react.files.includes("dist/styles.css"), `@expstream/react's tarball lacks dist/styles.css`);
    const stray = [...packed.client.files, ...packed.react.files].filter((file) => /(^src\/|\.test\.|tsconfig|tsup)/.test(file));
    assert.deepEqual(stray, [], "sources, tests or build configuration in a tarball");

    // 2. A new app that installs them (and React and Vite from the registry), type-checks and builds.
    writeConsumerApp(appDir, { client: packed.client.file, react: packed.react.file });
    collect(await installConsumerApp(appDir, log));
    collect(await run(path.join(appDir, "node_modules/.bin/tsc"), ["-p", "."], { cwd: appDir, log }));
    collect(await run(path.join(appDir, "node_modules/.bin/vite"), ["build"], { cwd: appDir, log }));

    // 3. The real server (authentication on; the preview's origin may open streams) and an experiment.
    recreateDatabase(DB_NAME);
    databaseCreated = true;
    const [port, previewPort] = [await freePort(), await freePort()];
    const base = `http://127.0.0.1:${port}`;
    const previewOrigin = `http://127.0.0.1:${previewPort}`;
    server = await startServer({
      port,
      dbUrl: databaseUrl(DB_NAME),
      env: { EXPSTREAM_JWT_SECRET: JWT_SECRET, EXPSTREAM_ALLOWED_ORIGINS: previewOrigin },
      log,
      serverLog: outputLog,
    });
    const experiment = await api(base, "POST", "/api/v1/experiments", {
      name: "Packages e2e: one-click checkout",
      variants: [
        { key: "control", name: "Control", is_control: true },
        { key: "treatment", name: "One click", is_control: false },
      ],
    }, 201);
    const id = experiment.id;
    await api(base, "PATCH", `/api/v1/experiments/${id}`, { status: "active" }, 200);
    log(`created and activated experiment ${id}`);
    await addTraffic(base, id, [
      { variant: "control", from: 0, to: 200, conversions: 20 },
      { variant: "treatment", from: 0, to: 200, conversions: 30 },
    ]);

    // 4. Node: ESM and CJS entry points, getResults and the live stream (with Node's own means and
    // with the ws package) with the read token.
    const nodeOutput = await run(process.execPath, ["check-node.mjs", base, id, READ_TOKEN], { cwd: appDir, log, timeoutMs: 60_000 });
    collect(nodeOutput);
    const fromNode = JSON.parse(nodeOutput.at(-1));
    log(`Node ${process.version}: ${JSON.stringify(fromNode)}`);
    assert.equal(fromNode.cjs, "function", "require('@expstream/client').watchExperiment");
    assert.deepEqual(fromNode.results, { experiment_id: id, total: 400 });
    const nodeTransport = typeof WebSocket === "undefined" ? "polling" : "websocket";
    assert.deepEqual(fromNode.stream, { status: "connected", transport: nodeTransport, total: 400 }, "Node's own means");
    assert.deepEqual(fromNode.ws, { status: "connected", transport: "websocket", total: 400 }, "the ws package's WebSocket");

    // 5. The built app behind `vite preview`, in Chromium.
    preview = await startPreview({ dir: appDir, port: previewPort, apiBase: base, log, lines: outputLog });
    browser = await launchChromium(log);
    const { page, pageErrors, navigations } = await openPage(browser, { initScript: `window.__e2eReadPanel = ${readPanel.toString()};`, log });
    const url = `${previewOrigin}/?experiment=${id}&token=${READ_TOKEN}`;
    log(`opening ${previewOrigin}/?experiment=${id}&token=<jwt>`);
    const response = await page.goto(url, { waitUntil: "domcontentloaded" });
    assert.equal(response?.status(), 200, "GET the app");
    await page.locator(SEL.connected).waitFor({ state: "visible" });
    // The app's own call of @expstream/client's fetchExperiment, with the token, named the experiment.
    await page.waitForFunction((name) => document.querySelector('[data-testid="app-title"]')?.textContent === name, experiment.name);
    const transport = await page.locator('[data-testid="transport"]').getAttribute("data-transport");
    assert.equal(transport, "websocket", "the panel streams over the WebSocket (through the preview's proxy)");
    await waitForPanel(page, expectation({ participants: 200, conversions: 20 }, { participants: 200, conversions: 30 }), { what: "first snapshot" });

    // The stylesheet styles the panel and nothing else: a card looks like one; the page's body keeps the browser's margin.
    const looks = await page.evaluate(() => {
      const card = getComputedStyle(document.querySelector(".es-card"));
      return { cardBackground: card.backgroundColor, cardRadius: card.borderTopLeftRadius, bodyMargin: getComputedStyle(document.body).margin };
    });
    log(`styles: ${JSON.stringify(looks)}`);
    assert.deepEqual(looks, { cardBackground: "rgb(255, 255, 255)", cardRadius: "10px", bodyMargin: "8px" });

    // 6. Data ingested over the HTTP API reaches the open page by push.
    const navigationsBefore = navigations();
    await addTraffic(base, id, [
      { variant: "control", from: 200, to: 700, conversions: 50 },
      { variant: "treatment", from: 200, to: 650, conversions: 70 },
    ]);
    await waitForPanel(page, expectation({ participants: 700, conversions: 70 }, { participants: 650, conversions: 100 }), {
      timeout: PUSH_WAIT_MS,
      what: "pushed update",
    });
    assert.equal(navigations(), navigationsBefore, "the page reloaded or navigated");
    await page.locator('[data-testid="lift-chart"]').waitFor({ state: "visible" });

    const shot = path.join(ARTIFACTS_DIR, "packages.png");
    await page.screenshot({ path: shot, fullPage: true, animations: "disabled" });
    log(`saved ${path.relative(REPO_ROOT, shot)}`);
    assert.deepEqual(pageErrors, [], "uncaught errors in the page");
    log("all checks passed");
  } finally {
    guard.disarm();
    await browser?.close().catch((err) => log(`closing the browser failed: ${err.message}`));
    if (isRunning(preview)) {
      preview.kill("SIGTERM");
      await preview.exited;
    }
    process.removeListener("exit", killPreview);
    try {
      await stopServer(server, { log, serverLog: outputLog });
    } catch (err) {
      log(err.message.split("\n")[0]);
    }
    killServer(server);
    guard.release();
    writeFileSync(path.join(ARTIFACTS_DIR, "packages.log"), `${redactTokens(outputLog.join("\n"))}\n`);
    if (databaseCreated) {
      try {
        dropDatabase(DB_NAME);
      } catch (err) {
        log(`dropping database ${DB_NAME} failed: ${err.message}`);
      }
    }
    if (process.env.EXPSTREAM_E2E_KEEP_APP) log(`kept the app in ${appDir}`);
    else rmSync(tmp, { recursive: true, force: true });
  }
});
