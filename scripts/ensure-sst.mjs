// `sst install` writes .sst/platform, whose types sst.config.ts and stacks/ are checked against.
// It works offline (no AWS account needed); it only runs when .sst/platform is missing.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

if (!existsSync(".sst/platform/config.d.ts")) {
  console.error("ftpfleet: preparing SST platform types (sst install)…");
  execFileSync("npx", ["sst", "install", "--stage", "dev"], {
    stdio: "inherit",
    env: { ...process.env, SST_NO_BUN: "1", SST_SKIP_DEPENDENCY_CHECK: "1", SST_TELEMETRY_DISABLED: "1" },
  });
}
