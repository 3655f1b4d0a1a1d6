import path from "node:path";
import { defineConfig } from "vitest/config";

const dir = (relative: string) => path.resolve(__dirname, relative);

// One run for the dashboard (src/) and the workspace packages (packages/*/src/). The packages
// resolve to their sources, as in tsconfig.base.json's paths: no build needed before testing.
export default defineConfig({
  esbuild: { jsx: "automatic" },
  resolve: {
    alias: [
      { find: /^@expstream\/client$/, replacement: dir("packages/client/src/index.ts") },
      { find: /^@expstream\/react$/, replacement: dir("packages/react/src/index.ts") },
      { find: /^@test-support\//, replacement: `${dir("test-support")}/` },
      { find: /^@\//, replacement: `${dir("src")}/` },
    ],
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./test-support/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}", "packages/*/src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
    reporters: ["default", "./test-support/summaryReporter.ts"],
  },
});
