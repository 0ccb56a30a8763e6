import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { FleetStatus } from "@ftpfleet/core";
import { ftpLogin, type LocalFleet, probeLogin, runCommand } from "@ftpfleet/local";
import type { Client } from "basic-ftp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataPlaneSkip } from "../dataplane/helpers";
import { startTestFleet, waitFor } from "./support";

const skip = dataPlaneSkip("localmode/cli.test.ts");

/** The ftpfleet bin, on the local mode announced in `announce`. */
function cliIn(announce: string, args: string[], stdin?: string) {
  return runCommand(join(process.cwd(), "node_modules/.bin/ftpfleet"), args, {
    env: { ...process.env, FTPFLEET_LOCAL_MODE_FILE: announce },
    ...(stdin === undefined ? {} : { input: stdin }),
  });
}

describe.skipIf(skip)("the ftpfleet CLI against a running local mode (3 instances)", () => {
  let fleet: LocalFleet;
  let dir: string;
  let announce: string;

  /** The real command, as an operator runs it from a second terminal (the bin entry, Node 22). */
  const ftpfleet = (args: string[], stdin?: string) => cliIn(announce, args, stdin);

  const serving = () =>
    fleet.status().instances.filter((i) => i.lifecycleState === "InService" && i.answered);
  const upload = (client: Client, path: string, text: string) =>
    client.uploadFrom(Readable.from([text]), path);
  const refused = async (work: Promise<unknown>) => {
    const error = await work.then(
      () => undefined,
      (e: unknown) => e as Error & { code?: number },
    );
    return error !== undefined;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ftpfleet-test-cli-local-"));
    announce = join(dir, "local-mode.json");
    fleet = await startTestFleet(3, announce);
    // Three cold builds of both daemons share 2 cores with whatever else the test run is doing.
    await waitFor("3 instances to serve", () => serving().length === 3, 300_000);
  }, 360_000);

  afterAll(async () => {
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it("users add: the new user logs in on every instance, and status shows each at the new revision", async () => {
    const added = await ftpfleet(
      ["users", "add", "carol", "--grant", "inbox/carol:ro", "--password-stdin"],
      "carol-secret-1\n",
    );
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain("Success, 3 of 3 instance(s) applied it");
    expect(added.stdout + added.stderr).not.toContain("carol-secret-1");
    for (const { address } of serving()) {
      expect(await probeLogin(address, "carol", "carol-secret-1")).toBeGreaterThan(0);
    }
    const status = await ftpfleet(["status", "--json"]);
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as FleetStatus & { dns: { answers: Record<string, number> } };
    expect(report.manifestRevision).toBe(2);
    expect(report.instances).toHaveLength(3);
    for (const instance of report.instances) {
      expect(instance).toMatchObject({ lifecycleState: "InService", users: { revision: 2 } });
      expect(instance.record?.address).toBe(instance.address);
    }
    expect(Object.keys(report.dns.answers).sort()).toEqual(
      serving()
        .map((i) => i.address)
        .sort(),
    );
  }, 120_000);

  it("grant turns a refused upload into a successful one, and revoke the reverse, in the same session", async () => {
    const [first] = serving();
    const client = await ftpLogin(first?.address ?? "", "carol", "carol-secret-1");
    try {
      expect(await refused(upload(client, "inbox/carol/before.txt", "no"))).toBe(true);
      const granted = await ftpfleet(["users", "grant", "carol", "inbox/carol:rw"]);
      expect(granted.code, granted.stderr).toBe(0);
      await upload(client, "inbox/carol/granted.txt", "yes");
      expect((await client.list("inbox/carol")).map((f) => f.name)).toContain("granted.txt");
      const revoked = await ftpfleet(["users", "revoke", "carol", "inbox/carol"]);
      expect(revoked.code, revoked.stderr).toBe(0);
      expect(await refused(upload(client, "inbox/carol/after.txt", "no"))).toBe(true);
      // Still the same session: it answers.
      expect(await client.pwd()).toBe("/");
    } finally {
      client.close();
    }
  }, 120_000);

  it("a user added through the CLI is on an instance the fleet scales out to", async () => {
    fleet.scale(4);
    await waitFor("4 instances to serve", () => serving().length === 4, 120_000);
    for (const { address } of serving()) {
      expect(await probeLogin(address, "carol", "carol-secret-1")).toBeGreaterThan(0);
    }
  }, 180_000);

  it("remove closes the user's open session and refuses the next login, everywhere", async () => {
    const [first] = serving();
    const client = await ftpLogin(first?.address ?? "", "carol", "carol-secret-1");
    try {
      const removed = await ftpfleet(["users", "remove", "carol", "--json"]);
      expect(removed.code, removed.stderr).toBe(0);
      expect(JSON.parse(removed.stdout)).toMatchObject({ edit: "remove", apply: { ok: true } });
      expect(await refused(client.list())).toBe(true);
    } finally {
      client.close();
    }
    for (const { address } of serving()) {
      await expect(probeLogin(address, "carol", "carol-secret-1")).rejects.toThrow("login refused");
    }
  }, 120_000);

  it("refuses hostile input with exit 2, changing neither the manifest nor any instance", async () => {
    const before = JSON.parse((await ftpfleet(["users", "list", "--json"])).stdout);
    for (const args of [
      ["users", "add", "../root", "--password-stdin"],
      ["users", "grant", "demo", "../../etc:rw"],
      ["users", "grant", "demo", "public/$(reboot):rw"],
    ]) {
      const result = await ftpfleet(args, "whatever-password\n");
      expect(result.code, args.join(" ")).toBe(2);
    }
    expect(JSON.parse((await ftpfleet(["users", "list", "--json"])).stdout)).toEqual(before);
  }, 60_000);
});

describe.skipIf(skip)("npm run local with standard input closed, driven by the CLI from outside", () => {
  it("keeps running after end of input, serves the CLI, and stops cleanly on SIGTERM", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ftpfleet-test-local-bg-"));
    const announce = join(dir, "local-mode.json");
    const env = { ...process.env, FTPFLEET_LOCAL_MODE_FILE: announce };
    // As `npm run local </dev/null &` would: no terminal, input at its end from the start.
    const local = spawn(
      join(process.cwd(), "node_modules/.bin/tsx"),
      ["scripts/local.ts", "up", "--instances", "1", "--dns-port", "0"],
      {
        env,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    local.stdout.on("data", (chunk) => (output += chunk));
    local.stderr.on("data", (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => local.on("close", resolve));
    const cli = (args: string[]) => cliIn(announce, args);
    try {
      // status exits 0 once the instance is in service, in DNS and at the manifest's revision.
      await waitFor("local mode to serve the CLI", async () => (await cli(["status"])).code === 0, 120_000);
      const listed = await cli(["users", "list", "--json"]);
      expect(listed.code, listed.stderr).toBe(0);
      expect(JSON.parse(listed.stdout).users.map((u: { name: string }) => u.name)).toEqual(["demo"]);
      expect(local.exitCode).toBeNull();
    } finally {
      local.kill("SIGTERM");
      expect(await exited, output).toBe(0);
      // Its announcement went with it: the CLI no longer finds a fleet there.
      expect(existsSync(announce)).toBe(false);
      await rm(dir, { recursive: true, force: true });
    }
    expect(output).toContain("Everything is cleaned up.");
  }, 180_000);
});
