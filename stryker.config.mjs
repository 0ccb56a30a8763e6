// `npm run mutation`: change the control plane's logic one small edit at a time and check that some
// test fails for each. Runs the simulated-AWS suites only (the data plane is shell, tested for real).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  plugins: ["@stryker-mutator/*", "./stryker/ignore-logging.mjs"],
  ignorers: ["logging"],
  vitest: { configFile: "vitest.mutation.config.ts", related: false },
  mutate: [
    "packages/core/src/events/**/*.ts",
    "packages/core/src/dns/**/*.ts",
    "packages/core/src/workflows/**/*.ts",
    "packages/core/src/membership.ts",
    "packages/core/src/aws/**/*.ts",
  ],
  coverageAnalysis: "perTest",
  concurrency: 2,
  timeoutMS: 20_000,
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  thresholds: { high: 90, low: 80, break: 80 },
  ignoreStatic: true,
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
};
