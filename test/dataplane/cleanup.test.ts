import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { cleanupLeftovers, listNamespaces, mountsUnder, processesIn } from "@ftpfleet/local";
import { describe, expect, it } from "vitest";
import { dataPlaneSkip } from "./helpers";

const skip = dataPlaneSkip("cleanup.test.ts");
const repo = join(import.meta.dirname, "../..");

describe.skipIf(skip)("cleanupLeftovers", () => {
  it("removes what a killed run left: daemons, s3fs, bind mounts, namespace, directory", async () => {
    // node itself (not the tsx wrapper) so that the PID killed below is the world's owner.
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "fixtures/crashing-world.ts")],
      {
        cwd: repo,
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let output = "";
    const ready = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        output += chunk;
        const line = /READY (\S+) (\S+)/.exec(output);
        if (line !== null) resolve(output);
      });
      child.on("exit", (code) => reject(new Error(`crashing world exited ${code} before READY: ${output}`)));
    });
    const [, dir = "", netns = ""] = /READY (\S+) (\S+)/.exec(ready) ?? [];
    try {
      const running = (await processesIn(netns)).map((entry) => entry.program).sort();
      expect(running).toEqual(expect.arrayContaining(["pure-ftpd", "s3fs"]));
      expect(mountsUnder(dir).length).toBeGreaterThanOrEqual(2); // s3fs + eve's bind mount
    } finally {
      // The crash: the S3 server dies with its process; s3fs is left retrying into the void.
      child.kill("SIGKILL");
      await new Promise((resolve) => child.once("exit", resolve));
    }

    const report = await cleanupLeftovers();
    expect(report.problems).toEqual([]);
    expect(report.namespaces).toContain(netns);
    expect(report.removedDirs).toContain(dir);
    expect(report.unmounted.length).toBeGreaterThanOrEqual(2);
    expect(mountsUnder(dir)).toEqual([]);
    expect(await listNamespaces()).not.toContain(netns);
    expect(existsSync(dir)).toBe(false);
  }, 60_000);
});
