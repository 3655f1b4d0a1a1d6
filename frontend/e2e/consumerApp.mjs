// A user's app for packages.e2e (not a test itself): `npm pack` of @expstream/client and
// @expstream/react, a fresh Vite + React app in a temporary folder that installs the two
// tarballs and react, react-dom, vite (and typescript with React's types, to type-check it as a
// TypeScript user would, and ws for Node) from the npm registry, its production build, and `vite preview` serving
// it with /api proxied to the expstream server (HTTP and WebSocket), so the app and the API share
// one origin, as behind a reverse proxy in production.
//
// The registry packages are pinned to the versions this checkout's own `npm ci` installed, so
// after that they come from npm's cache (--prefer-offline): the install needs no download then.

import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { FRONTEND_DIR, WAIT_MS, followLines, redactTokens, tail } from "./support.mjs";

export const PACKAGES_DIR = path.join(FRONTEND_DIR, "packages");
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";

/** The version of `name` installed in the dashboard's node_modules (what its lockfile pins). */
export function installedVersion(name) {
  return JSON.parse(readFileSync(path.join(FRONTEND_DIR, "node_modules", name, "package.json"), "utf8")).version;
}

/**
 * Runs a command to completion and resolves with its output; rejects on a non-zero exit or after
 * `timeoutMs` (the command is killed then), with the tail of its output.
 */
export function run(command, args, { cwd, env = {}, log, timeoutMs = 180_000 }) {
  const name = redactTokens(`${path.basename(command)} ${args.join(" ")}`);
  log(`$ ${name}   (in ${path.relative(FRONTEND_DIR, cwd) || "."})`);
  const started = Date.now();
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const lines = [];
  followLines(child, (line) => lines.push(line));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${name}: no result after ${timeoutMs} ms:\n${tail(lines)}`));
    }, timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`${name}: ${err.message}`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`${name} failed (code ${code}, signal ${signal}):\n${tail(lines)}`));
        return;
      }
      log(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      resolve(lines);
    });
  });
}

/**
 * `npm pack` of both packages into `destination` (prepack builds them first) and a listing of
 * each tarball's files; resolves with `{ client, react }`: { file, files }.
 */
export async function packPackages(destination, log) {
  mkdirSync(destination, { recursive: true });
  const packed = {};
  for (const name of ["client", "react"]) {
    const output = await run(NPM, ["pack", "--json", "--loglevel=error", "--pack-destination", destination], {
      cwd: path.join(PACKAGES_DIR, name),
      log,
    });
    // The JSON report comes last; prepack's build logs come before it.
    const text = output.join("\n");
    const [report] = JSON.parse(text.slice(text.indexOf("[\n")));
    packed[name] = { file: path.join(destination, report.filename), files: report.files.map((f) => f.path) };
    log(`  ${report.filename}: ${report.files.length} files, ${report.size} bytes`);
  }
  return packed;
}

/** The app's files: package.json, vite.config.js, tsconfig.json, index.html, src/main.tsx, check-node.mjs. */
export function writeConsumerApp(dir, tarballs) {
  const pin = (name) => installedVersion(name);
  const files = {
    "package.json": JSON.stringify(
      {
        name: "expstream-consumer-e2e",
        private: true,
        type: "module",
        dependencies: {
          "@expstream/client": `file:${tarballs.client}`,
          "@expstream/react": `file:${tarballs.react}`,
          react: pin("react"),
          "react-dom": pin("react-dom"),
        },
        devDependencies: {
          "@types/react": pin("@types/react"),
          "@types/react-dom": pin("@types/react-dom"),
          typescript: pin("typescript"),
          vite: pin("vite"),
          ws: pin("ws"),
        },
      },
      null,
      2,
    ),
    "vite.config.js": `import { defineConfig } from "vite";

// The expstream server stays where it is; \`vite preview\` forwards /api (HTTP and WebSocket) to it.
export default defineConfig({
  esbuild: { jsx: "automatic" },
  preview: { proxy: { "/api": { target: process.env.EXPSTREAM_URL, ws: true } } },
});
`,
    "tsconfig.json": JSON.stringify(
      {
        compilerOptions: {
          target: "ES2022",
          lib: ["ES2022", "DOM", "DOM.Iterable"],
          module: "ESNext",
          moduleResolution: "bundler",
          jsx: "react-jsx",
          strict: true,
          noEmit: true,
          isolatedModules: true,
          types: ["vite/client"],
        },
        include: ["src"],
      },
      null,
      2,
    ),
    "index.html": `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <title>My experiments</title>
  </head>
  <body>
    <div id="root"></div>
    <script type="module" src="/src/main.tsx"></script>
  </body>
</html>
`,
    "src/main.tsx": `import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { fetchExperiment, type Experiment } from "@expstream/client";
import { LiveResultsPanel, type UseExperimentStreamOptions } from "@expstream/react";
import "@expstream/react/styles.css";

// The experiment and a read token come in the page URL: /?experiment=<id>&token=<jwt>.
// The API is this page's origin (/api is proxied to the expstream server).
const params = new URLSearchParams(window.location.search);
const experimentId = params.get("experiment") ?? "";
const options: UseExperimentStreamOptions = { token: params.get("token") };

function App() {
  const [experiment, setExperiment] = useState<Experiment | null>(null);
  useEffect(() => {
    const request = new AbortController();
    fetchExperiment(experimentId, { ...options, signal: request.signal }).then(setExperiment, () => undefined);
    return () => request.abort();
  }, []);
  return (
    <main style={{ maxWidth: 1080, margin: "0 auto", padding: 16 }}>
      <h1 data-testid="app-title">{experiment ? experiment.name : "Loading…"}</h1>
      <LiveResultsPanel experimentId={experimentId} options={options} />
    </main>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
`,
    // Node: the ESM build through import, the CJS build through require, the HTTP helper, and the
    // live stream with Node's own means (Node 20 has no WebSocket or EventSource, so long polling;
    // Node >= 22 has a WebSocket) and with the ws package's WebSocket.
    "check-node.mjs": `import { createRequire } from "node:module";
import { getResults, watchExperiment } from "@expstream/client";
import { WebSocket as WsWebSocket } from "ws";

const [baseUrl, experimentId, token] = process.argv.slice(2);
const cjs = createRequire(import.meta.url)("@expstream/client");
const snapshot = await getResults(experimentId, { baseUrl, token });

/** The first state with a snapshot, from a stream with \`extra\` options. */
function firstSnapshot(extra) {
  let watch;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no snapshot within 20 s: " + JSON.stringify(watch?.state))), 20_000);
    watch = watchExperiment(experimentId, {
      baseUrl,
      token,
      ...extra,
      onChange(current) {
        if (current.snapshot) {
          clearTimeout(timer);
          resolve(current);
        } else if (current.status === "error") {
          clearTimeout(timer);
          reject(new Error(current.error ?? "the stream failed"));
        }
      },
    });
  }).finally(() => watch.close());
}

const summary = (state) => ({ status: state.status, transport: state.transport, total: state.snapshot.total_participants });
console.log(JSON.stringify({
  cjs: typeof cjs.watchExperiment,
  results: snapshot && { experiment_id: snapshot.experiment_id, total: snapshot.total_participants },
  stream: summary(await firstSnapshot({})),
  ws: summary(await firstSnapshot({ WebSocket: WsWebSocket })),
}));
`,
  };
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
}

/** `npm install` in the app: the tarballs, and the registry packages from npm's cache when it has them. */
export function installConsumerApp(dir, log) {
  return run(NPM, ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], { cwd: dir, log });
}

/**
 * Starts `vite preview` of the built app on `port` with /api proxied to `apiBase`; resolves with
 * the child once the page answers. `lines` collects its output.
 */
export async function startPreview({ dir, port, apiBase, log, lines }) {
  const vite = path.join(dir, "node_modules", ".bin", "vite");
  const args = ["preview", "--host", "127.0.0.1", "--port", String(port), "--strictPort"];
  log(`$ vite ${args.join(" ")}   (EXPSTREAM_URL=${apiBase})`);
  const child = spawn(vite, args, { cwd: dir, env: { ...process.env, EXPSTREAM_URL: apiBase }, stdio: ["ignore", "pipe", "pipe"] });
  child.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  followLines(child, (line) => lines.push(line));
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`vite preview exited during startup:\n${tail(lines)}`);
    }
    const ok = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2_000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`vite preview did not answer within ${WAIT_MS} ms:\n${tail(lines)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  log(`vite preview ready: pid ${child.pid}, http://127.0.0.1:${port}/`);
  return child;
}
