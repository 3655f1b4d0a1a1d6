#!/usr/bin/env node
// Adds lockfile entries for platform-specific optional dependencies that the
// registry reachable here does not serve (e.g. @next/swc-darwin-*,
// @rollup/rollup-win32-*). `npm install` silently leaves them out, and then
// `npm ci` refuses the lockfile as "out of sync". Each added entry carries the
// os/cpu/libc read from its name, so npm skips it on every other platform
// without fetching it; on its own platform it is fetched from the registry as
// usual. Run after `npm install`: `npm run complete-lockfile`.
import { readFileSync, writeFileSync } from "node:fs";

const LOCKFILE = new URL("../package-lock.json", import.meta.url);
const OS = ["aix", "android", "darwin", "freebsd", "linux", "netbsd", "openbsd", "openharmony", "sunos", "win32"];
const CPU = ["arm", "arm64", "ia32", "loong64", "mips64el", "ppc64", "riscv64", "s390x", "x64"];
const LIBC = { gnu: "glibc", gnueabihf: "glibc", musl: "musl", musleabihf: "musl" };

export function platformOf(packageName) {
  const tokens = packageName.split("/").pop().split("-");
  const os = tokens.find((t) => OS.includes(t));
  const cpu = tokens.find((t) => CPU.includes(t));
  const libcToken = tokens.find((t) => t in LIBC);
  if (!os || !cpu) return null;
  return { os: [os], cpu: [cpu], ...(libcToken ? { libc: [LIBC[libcToken]] } : {}) };
}

function main() {
  const text = readFileSync(LOCKFILE, "utf8");
  const lock = JSON.parse(text);
  const packages = lock.packages ?? {};
  const added = [];
  for (const [path, meta] of Object.entries(packages)) {
    if (!path || !meta.optionalDependencies) continue;
    const root = path.slice(0, path.lastIndexOf("node_modules/"));
    for (const [name, spec] of Object.entries(meta.optionalDependencies)) {
      const target = `${root}node_modules/${name}`;
      const nested = `${path}/node_modules/${name}`;
      if (packages[target] || packages[nested]) continue;
      if (!/^\d+\.\d+\.\d+(?:-[\w.]+)?$/.test(spec)) continue; // only exact pins
      const platform = platformOf(name);
      if (!platform) continue; // not a platform binary: leave to npm
      // Key order as npm writes it: version, then alphabetical.
      packages[target] = {
        version: spec,
        cpu: platform.cpu,
        ...(meta.dev ? { dev: true } : {}),
        ...(platform.libc ? { libc: platform.libc } : {}),
        optional: true,
        os: platform.os,
      };
      added.push(`${name}@${spec}`);
    }
  }
  if (added.length === 0) {
    console.log("package-lock.json already lists every platform package.");
    return;
  }
  lock.packages = Object.fromEntries(
    Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b, "en"))),
  );
  writeFileSync(LOCKFILE, JSON.stringify(lock, null, 2) + "\n");
  console.log(`Added ${added.length} platform package entries:\n  ${added.join("\n  ")}`);
}

main();
