import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** The suites mutation testing runs: everything on the simulated AWS, nothing that needs root.
 * Workspace packages resolve to this tree's sources: Stryker mutates a copy of the repository, and
 * node_modules' workspace links would lead back to the unmutated originals. */
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@ftpfleet\/core\/documents$/, replacement: here("./packages/core/src/documents/bundle.ts") },
      { find: /^@ftpfleet\/core$/, replacement: here("./packages/core/src/index.ts") },
      { find: /^@ftpfleet\/simulated-aws$/, replacement: here("./packages/simulated-aws/src/index.ts") },
      { find: /^@ftpfleet\/local$/, replacement: here("./packages/local/src/index.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    // stacks-resources builds Pulumi resources from .sst/platform, outside the mutated code.
    exclude: [
      "test/dataplane/**",
      "test/localmode/**",
      "test/bundles.test.ts",
      "test/docs.test.ts",
      "test/stacks-resources.test.ts",
    ],
    testTimeout: 30_000,
  },
});
