import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // Pulumi's SDKs come with SST (`sst install` writes .sst/platform): the stacks' resources are
    // tested under Pulumi's mocks with the very packages `sst deploy` runs them with.
    alias: [
      {
        find: /^@pulumi\/(aws|pulumi|random)$/,
        replacement: fileURLToPath(new URL("./.sst/platform/node_modules/@pulumi/$1", import.meta.url)),
      },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
  },
});
