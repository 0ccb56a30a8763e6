// Installs npm dependencies when they are missing or older than the lock file, so that `npm test`,
// `npm run local` and `npm run bench` work on a fresh clone. Runs on whatever Node starts npm.
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";

const installed = "node_modules/.package-lock.json";
const stale = !existsSync(installed) || statSync("package-lock.json").mtimeMs > statSync(installed).mtimeMs;
if (stale) {
  console.error("ftpfleet: installing npm dependencies (npm ci)…");
  execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { stdio: "inherit" });
}
