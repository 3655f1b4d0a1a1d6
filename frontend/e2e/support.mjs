// Shared support for the end-to-end tests in this directory (*.e2e.test.mjs): paths and
// settings, the PostgreSQL test database, the REAL server (`expstream serve`, `expstream demo`),
// the HTTP API, Debian's Chromium through playwright-core, logging and the per-test safety nets.
// Not a test itself: `node --test e2e/` runs only the *.e2e.test.mjs files.
//
// Needs: /work/main/.venv (or EXPSTREAM_E2E_PYTHON) with expstream installed,
// PostgreSQL reachable at EXPSTREAM_TEST_DATABASE_URL (admin URL, default
// postgresql://postgres@127.0.0.1:5432/postgres), `psql`, and /usr/bin/chromium
// (or EXPSTREAM_E2E_CHROMIUM). No browser is ever downloaded.
//
// Artifacts (screenshots, server logs) go to <repo>/test-artifacts/e2e/.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const FRONTEND_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_ROOT = path.resolve(FRONTEND_DIR, "..");
export const OUT_DIR = path.join(FRONTEND_DIR, "out");
export const ARTIFACTS_DIR = path.join(REPO_ROOT, "test-artifacts", "e2e");
export const PYTHON = process.env.EXPSTREAM_E2E_PYTHON ?? path.join(REPO_ROOT, ".venv", "bin", "python");
/** The `expstream` command installed beside PYTHON (the venv's console script). */
export const EXPSTREAM = process.env.EXPSTREAM_E2E_EXPSTREAM ?? path.join(path.dirname(PYTHON), "expstream");
export const CHROMIUM = process.env.EXPSTREAM_E2E_CHROMIUM ?? "/usr/bin/chromium";
export const ADMIN_DB_URL = process.env.EXPSTREAM_TEST_DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres";

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** Default for every single wait (page, API call); each test sets its own, longer whole-test timeout. */
export const WAIT_MS = 30_000;
export const SERVER_START_MS = 30_000;
export const SERVER_STOP_MS = 15_000;
/** `expstream demo` runs initdb for its embedded PostgreSQL before it serves: more time than a server. */
export const DEMO_START_MS = 90_000;
/** The server's periodic results snapshot; see PUSH_WAIT_MS. */
const RESULTS_STREAM_INTERVAL_SECONDS = "30";
/**
 * Pushed updates must arrive well before the periodic 30 s snapshot
 * (RESULTS_STREAM_INTERVAL_SECONDS=30), so a broken push cannot pass thanks to the tick.
 */
export const PUSH_WAIT_MS = 20_000;

// ---------------------------------------------------------------- logging

/** A logger that prefixes every line with `[<tag> +<seconds since this call>s]`. */
export function createLogger(tag) {
  const started = Date.now();
  return function log(message) {
    const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
    process.stdout.write(`[${tag} +${seconds}s] ${message}\n`);
  };
}

export function tail(lines, count = 40) {
  return lines.slice(-count).join("\n");
}

/** `text` with every JWT (`eyJ….….…`) replaced by `<jwt>`: for logs and artifacts. */
export function redactTokens(text) {
  return text.replace(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g, "<jwt>");
}

// ---------------------------------------------------------------- prerequisites

/** Fails fast when the built dashboard, the venv or Chromium is missing; creates ARTIFACTS_DIR. */
export function checkPrerequisites() {
  const indexHtml = path.join(OUT_DIR, "index.html");
  if (!existsSync(indexHtml)) {
    throw new Error(`${indexHtml} is missing: build the dashboard first (cd frontend && npm run build)`);
  }
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: create the venv (or set EXPSTREAM_E2E_PYTHON)`);
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (or set EXPSTREAM_E2E_CHROMIUM)`);
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
}

// ---------------------------------------------------------------- database

export function psql(url, ...commands) {
  const args = [url, "-X", "-q", "-v", "ON_ERROR_STOP=1"];
  for (const command of commands) args.push("-c", command);
  const result = spawnSync("psql", args, { encoding: "utf8", timeout: 30_000 });
  if (result.error) throw new Error(`cannot run psql: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`psql failed (exit ${result.status}): ${result.stderr.trim()}`);
}

/** The URL of database `dbName` on the server of `adminUrl`. */
export function databaseUrl(dbName, adminUrl = ADMIN_DB_URL) {
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  return url.toString();
}

export function recreateDatabase(dbName) {
  psql(ADMIN_DB_URL, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`, `CREATE DATABASE ${dbName}`);
}

export function dropDatabase(dbName) {
  psql(ADMIN_DB_URL, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
}

// ---------------------------------------------------------------- server

export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `--insecure-no-auth` where the CLI has it (a server with authentication requires it for tests without tokens). */
export function insecureFlag() {
  const help = spawnSync(PYTHON, ["-m", "expstream.cli", "serve", "--help"], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: 30_000,
  });
  return `${help.stdout}${help.stderr}`.includes("--insecure-no-auth") ? ["--insecure-no-auth"] : [];
}

const serverName = (label) => (label === undefined ? "server" : `server (${label})`);

/**
 * Spawns `expstream serve` and resolves with the child once it accepts connections.
 * uvicorn logs "Application startup complete" (lifespan done) *before* it binds the port and
 * logs "Uvicorn running on ...", so both lines are awaited.
 *
 * - `args`: extra `serve` flags (e.g. `--insecure-no-auth`), placed before `--host`/`--port`.
 * - `env`: extra environment (e.g. `EXPSTREAM_JWT_SECRET`).
 * - `label`: names this server in log lines and prefixes its lines in `serverLog` with
 *   `[label] `; without one, the lines go in as they are.
 * - `serverLog`: array collecting all server output, for the artifact log and failure messages.
 *
 * @param {{ port: number, dbUrl: string, label?: string, args?: string[], env?: Record<string, string>,
 *   log: (message: string) => void, serverLog: string[] }} options
 */
export async function startServer({ port, dbUrl, label, args = [], env = {}, log, serverLog }) {
  const name = serverName(label);
  const serveArgs = ["-m", "expstream.cli", "serve", ...args, "--host", "127.0.0.1", "--port", String(port)];
  log(label === undefined ? `starting: ${path.basename(PYTHON)} ${serveArgs.join(" ")}` : `starting ${name} on port ${port}`);
  const child = spawn(PYTHON, serveArgs, {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      DATABASE_URL: dbUrl,
      ...env,
      RESULTS_STREAM_INTERVAL_SECONDS,
      EXPSTREAM_WEB_DIR: OUT_DIR,
      PYTHONUNBUFFERED: "1",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  let seenStartup = false;
  let seenListening = false;
  followLines(child, (line) => {
    serverLog.push(label === undefined ? line : `[${label}] ${line}`);
    if (line.includes("Application startup complete")) seenStartup = true;
    if (seenStartup && line.includes("Uvicorn running on")) seenListening = true;
  });
  await waitForOutput(child, () => seenListening, { name, timeoutMs: SERVER_START_MS, serverLog });
  log(`${name} ready: pid ${child.pid}`);
  return child;
}

/** Calls `onLine(line, streamName)` for every complete line the child writes to stdout or stderr. */
export function followLines(child, onLine) {
  for (const [name, stream] of [["stdout", child.stdout], ["stderr", child.stderr]]) {
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) onLine(line, name);
    });
  }
}

/**
 * Resolves once `isReady()` holds, checked after each chunk of the child's output (call
 * followLines first, so its lines are in by then). Rejects when the child exits first, or after
 * `timeoutMs` (the child is killed then), with the tail of `serverLog`.
 */
function waitForOutput(child, isReady, { name, timeoutMs, serverLog }) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${name} not ready after ${timeoutMs} ms:\n${tail(serverLog)}`));
    }, timeoutMs);
    const check = () => {
      if (isReady()) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", check);
    child.stderr.on("data", check);
    child.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited during startup (code ${code}, signal ${signal}):\n${tail(serverLog)}`));
    });
  });
}

/**
 * Spawns `expstream demo --port <port>` as a user would (its embedded PostgreSQL in `dataDir`,
 * its own signing secret, its traffic simulator) and resolves with `{ child, dashboardUrl }` once
 * uvicorn listens and the demo has printed its `dashboard:` line on stdout. The dashboard
 * served is this checkout's build (OUT_DIR), as in the other tests. Every output line goes into
 * `serverLog` with JWTs redacted; stop the child with stopServer(child, { label: "demo", … }).
 *
 * @param {{ port: number, dataDir: string, log: (message: string) => void, serverLog: string[] }} options
 */
export async function startDemo({ port, dataDir, log, serverLog }) {
  const args = ["demo", "--port", String(port)];
  log(`starting: ${path.relative(REPO_ROOT, EXPSTREAM)} ${args.join(" ")} (EXPSTREAM_DATA_DIR=${dataDir})`);
  const env = { ...process.env, EXPSTREAM_DATA_DIR: dataDir, EXPSTREAM_WEB_DIR: OUT_DIR, PYTHONUNBUFFERED: "1" };
  delete env.DATABASE_URL; // the demo is meant to start its own PostgreSQL
  const child = spawn(EXPSTREAM, args, { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  child.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  let dashboardUrl = null;
  let listening = false;
  followLines(child, (line, stream) => {
    serverLog.push(redactTokens(line));
    const match = stream === "stdout" ? /dashboard:\s+(\S+)/.exec(line) : null;
    if (match) dashboardUrl = match[1];
    if (line.includes("Uvicorn running on")) listening = true;
  });
  await waitForOutput(child, () => listening && dashboardUrl !== null, {
    name: "demo (dashboard URL and listening server)",
    timeoutMs: DEMO_START_MS,
    serverLog,
  });
  log(`demo ready: pid ${child.pid}, dashboard ${redactTokens(dashboardUrl)}`);
  return { child, dashboardUrl };
}

export function isRunning(child) {
  return child != null && child.exitCode === null && child.signalCode === null;
}

/**
 * SIGTERM and wait; a server that does not stop by itself is killed and reported (thrown).
 *
 * @param {any} child what startServer returned (or null)
 * @param {{ label?: string, log: (message: string) => void, serverLog: string[] }} options
 */
export async function stopServer(child, { label, log, serverLog }) {
  if (!isRunning(child)) return child?.exited;
  const name = serverName(label);
  log(`stopping ${name} with SIGTERM`);
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
    throw new Error(`${name} ignored SIGTERM for ${SERVER_STOP_MS} ms; killed:\n${tail(serverLog)}`);
  }
  log(`${name} exited (code ${result.code}, signal ${result.signal})`);
  return result;
}

export function killServer(child) {
  if (isRunning(child)) child.kill("SIGKILL");
}

// ---------------------------------------------------------------- HTTP API

/**
 * `api(base, method, route, body, expectedStatus)`: JSON in, JSON out, the status checked;
 * with `token`, every request carries `Authorization: Bearer <token>`.
 */
export function createApi(/** @type {{ token?: string }} */ { token } = {}) {
  return async function api(base, method, route, body, expectedStatus) {
    const response = await fetch(`${base}${route}`, {
      method,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
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
  };
}

/**
 * Assigns users [from, to) of each variant and converts users [from, from + conversions)
 * (user ids `<variant>-<i>`), through `api` (see createApi).
 */
export async function addTraffic({ api, log }, base, experimentId, batches) {
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

/** The panel's expected numbers, formatted as the page shows them (en-US). */
export function expectation(control, treatment) {
  const fmt = (n) => new Intl.NumberFormat("en-US").format(n);
  return {
    total: fmt(control.participants + treatment.participants),
    rows: {
      control: { participants: fmt(control.participants), conversions: fmt(control.conversions) },
      treatment: { participants: fmt(treatment.participants), conversions: fmt(treatment.conversions) },
    },
  };
}

// ---------------------------------------------------------------- browser

export async function launchChromium(log) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  log(`launched ${CHROMIUM} (${browser.version()})`);
  return browser;
}

/**
 * A 1280×900 page with `initScript` installed, WAIT_MS as its default timeout, uncaught page
 * errors collected in `pageErrors` and main-frame navigations counted by `navigations()`.
 */
export async function openPage(browser, { initScript, log }) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript({ content: initScript });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const pageErrors = [];
  page.on("pageerror", (err) => {
    pageErrors.push(err.message);
    log(`page error: ${err.message}`);
  });
  let navigations = 0;
  page.on("framenavigated", (frame) => {
    if (frame === page.mainFrame()) navigations += 1;
  });
  return { page, pageErrors, navigations: () => navigations };
}

// ---------------------------------------------------------------- safety nets

/**
 * Never leaves a server behind: kills `server()` when this process exits and, 5 s before the
 * test's own `timeoutMs`, tears down (server killed, `browser()` closed) so every pending wait
 * rejects at once. `server` and `browser` are getters, as the test replaces them.
 * Call `disarm()` first thing in `finally` and `release()` once the server is gone.
 */
export function guardTest({ timeoutMs, log, server, browser }) {
  const killOnExit = () => killServer(server());
  process.once("exit", killOnExit);
  const watchdog = setTimeout(() => {
    log("test deadline reached: tearing down");
    killServer(server());
    browser()?.close().catch(() => {});
  }, timeoutMs - 5_000);
  watchdog.unref();
  return {
    disarm: () => clearTimeout(watchdog),
    release: () => process.removeListener("exit", killOnExit),
  };
}
