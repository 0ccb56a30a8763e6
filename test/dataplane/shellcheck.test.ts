import { readdirSync } from "node:fs";
import { join } from "node:path";
import { findProgram, runCommand, scriptsDir } from "@ftpfleet/local";
import { describe, expect, it } from "vitest";

const shellcheck = findProgram("shellcheck");
if (shellcheck === undefined) {
  console.warn(
    "SKIPPED shellcheck test: shellcheck is not installed (bash scripts/install-system-packages.sh)",
  );
}
const scripts = readdirSync(scriptsDir)
  .filter((name) => name.endsWith(".sh"))
  .map((name) => join(scriptsDir, name));

describe.skipIf(shellcheck === undefined)("provisioning scripts", () => {
  it("include every provisioning step", () => {
    expect(scripts.map((path) => path.split("/").at(-1))).toEqual(
      expect.arrayContaining([
        "apply-users.sh",
        "build-daemons.sh",
        "configure-pure-ftpd.sh",
        "drain.sh",
        "install-packages.sh",
        "mount-bucket.sh",
      ]),
    );
  });

  it("pass shellcheck -x without a single finding", async () => {
    const all = [...scripts, join(scriptsDir, "../../scripts/install-system-packages.sh")];
    const result = await runCommand(shellcheck ?? "shellcheck", ["-x", "--severity=style", ...all]);
    expect(result.stdout + result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  it("start with set -euo pipefail and never eval", async () => {
    for (const path of scripts) {
      const text = await import("node:fs/promises").then((fs) => fs.readFile(path, "utf8"));
      expect(text.startsWith("#!/usr/bin/env bash\n"), path).toBe(true);
      expect(text, path).toContain("\nset -euo pipefail\n");
      expect(text, path).not.toMatch(/\beval\b/);
    }
  });
});
