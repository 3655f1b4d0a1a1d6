import { defineConfig } from "tsup";

// ESM (dist/index.js) and CJS (dist/index.cjs), each with its declarations (.d.ts / .d.cts).
export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "es2022",
  platform: "neutral",
  tsconfig: "tsconfig.build.json",
});
