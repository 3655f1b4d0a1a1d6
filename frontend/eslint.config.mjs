// ESLint 9 flat config. `npm run lint` runs it with --max-warnings=0; `npm run check` runs
// typecheck and lint together.
//
// - TypeScript (src/, packages/*/, test-support/, vitest.config.ts): typescript-eslint's type-aware
//   recommended rules (floating promises, promises passed where a void callback is expected,
//   unsafe `any` flows), through the project service and the nearest tsconfig.json.
// - React (src/, packages/react/): eslint-plugin-react-hooks' recommended rules (rules of hooks,
//   exhaustive deps and the React Compiler checks: refs during render, setState in effects, ...).
// - Next.js (src/ only): @next/eslint-plugin-next's core-web-vitals rules (its flat config).
// - Packages: no Next.js and no dashboard (`@/`) imports; @expstream/client imports no React.
// - Plain JavaScript (e2e/, scripts/, the config files): ESLint's recommended rules with Node
//   globals; no type information, as tsconfig.json does not include JavaScript.
import js from "@eslint/js";
import nextPlugin from "@next/eslint-plugin-next";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

const TS_FILES = ["**/*.ts", "**/*.tsx"];
const JS_FILES = ["**/*.js", "**/*.mjs", "**/*.cjs"];

export default tseslint.config(
  {
    name: "expstream/ignores",
    ignores: ["out/", ".next/", "node_modules/", "coverage/", "next-env.d.ts", "packages/*/dist/"],
  },
  {
    name: "expstream/linter-options",
    linterOptions: { reportUnusedDisableDirectives: "error" },
  },
  js.configs.recommended,
  {
    name: "expstream/typescript",
    files: TS_FILES,
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // `_`-prefixed parameters and variables are deliberately unused (callback signatures).
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
    },
  },
  {
    name: "expstream/react-hooks",
    files: ["src/**/*.{ts,tsx}", "packages/react/src/**/*.{ts,tsx}"],
    ...reactHooks.configs.flat.recommended,
  },
  {
    name: "expstream/next",
    files: ["src/**/*.{ts,tsx}"],
    ...nextPlugin.flatConfig.coreWebVitals,
  },
  {
    // The packages run outside Next.js: nothing of Next, nothing of the dashboard.
    name: "expstream/packages",
    files: ["packages/*/src/**/*.{ts,tsx}"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["next", "next/*"], message: "The packages must work without Next.js." },
            { group: ["@/*"], message: "The packages cannot import the dashboard (src/)." },
          ],
        },
      ],
    },
  },
  {
    name: "expstream/client-without-react",
    files: ["packages/client/src/**/*.ts"],
    ignores: ["packages/client/src/**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["next", "next/*"], message: "The packages must work without Next.js." },
            { group: ["@/*"], message: "The packages cannot import the dashboard (src/)." },
            { group: ["react", "react-dom", "react/*", "react-dom/*", "@expstream/react"], message: "@expstream/client is framework-free." },
          ],
        },
      ],
    },
  },
  {
    name: "expstream/javascript",
    files: JS_FILES,
    languageOptions: {
      sourceType: "module",
      globals: { ...globals.node },
    },
  },
  {
    // The e2e tests pass functions to page.evaluate/waitForFunction, which run in the page.
    name: "expstream/e2e-page-functions",
    files: ["e2e/**/*.mjs"],
    languageOptions: { globals: { ...globals.browser } },
  },
);
