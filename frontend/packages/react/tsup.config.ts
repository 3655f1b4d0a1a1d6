import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { defineConfig } from "tsup";

/** src/styles.css with its `@import "./…";` lines replaced by the files: one stylesheet to ship. */
function bundleStyles(): void {
  const entry = path.resolve("src/styles.css");
  const css = readFileSync(entry, "utf8").replace(/^@import "([^"]+)";$/gm, (_line, file: string) =>
    readFileSync(path.resolve(path.dirname(entry), file), "utf8").trimEnd(),
  );
  writeFileSync(path.resolve("dist/styles.css"), css);
}

// ESM (dist/index.js) and CJS (dist/index.cjs), each with its declarations (.d.ts / .d.cts);
// react and @expstream/client stay imports (peer dependency and dependency). Every module is a
// client component, so the bundles start with "use client" for React Server Components
// frameworks (other bundlers ignore it). The stylesheet's parts become dist/styles.css.
export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "es2022",
  platform: "browser",
  tsconfig: "tsconfig.build.json",
  external: ["react", "react-dom", "@expstream/client"],
  banner: { js: '"use client";' },
  onSuccess: () => Promise.resolve(bundleStyles()),
});
