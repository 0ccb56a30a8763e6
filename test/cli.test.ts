import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteObjectCommand, GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ListCommandsCommand } from "@aws-sdk/client-ssm";
import { run, type Target } from "@ftpfleet/cli";
import {
  EditRefusedError,
  editUsers,
  type FleetApply,
  memoryLogger,
  systemClock,
  type UsersStore,
} from "@ftpfleet/core";
import { s3AuditBucket, s3UsersStore } from "@ftpfleet/core/s3";
import { type LocalS3Server, localS3Client, startLocalS3 } from "@ftpfleet/local";
import { SimulatedAws } from "@ftpfleet/simulated-aws";
import { verify } from "unixcrypt";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Fleet, provisionedEnv, simulatedFleet, states, testConfig } from "./support";

// No root needed: the local S3 server (with S3's conditional writes) listens on loopback, and the
// rest of AWS is the simulation.
const BUCKET = provisionedEnv.FTPFLEET_BUCKET;
let dir: string;
let server: LocalS3Server;
let s3: S3Client;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ftpfleet-test-cli-"));
  server = await startLocalS3({ address: "127.0.0.1", directory: dir, buckets: [BUCKET] });
  s3 = localS3Client(server.endpoint);
});

afterAll(async () => {
  s3?.destroy();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const log = memoryLogger("warn");

/** A fresh fleet per test: the manifest key is per test, so tests never share a manifest. */
function fleet() {
  const config = testConfig(provisionedEnv);
  const aws = new SimulatedAws({
    config,
    clock: systemClock,
    ssm: { agentDelayMs: 0, registrationDelayMs: 10, deliveryDelayMs: 10 },
  });
  const users = s3UsersStore(s3, BUCKET, systemClock);
  const bucket = s3AuditBucket(s3, BUCKET, systemClock);
  const target: Target = {
    kind: "local",
    config,
    ports: aws.ports(log),
    users,
    bucket,
    close: () => undefined,
  };
  return { aws, users, target };
}

interface Captured {
  code: number;
  json: unknown;
  text: string;
  errors: string[];
}

async function cli(target: Target, argv: string[], password = "correct horse battery"): Promise<Captured> {
  const out: Captured = { code: -1, json: undefined, text: "", errors: [] };
  out.code = await run(argv, {
    openTarget: () => target,
    readPassword: async () => password,
    io: {
      result: (json, text) => {
        out.json = json;
        out.text = text;
      },
      progress: () => undefined,
      error: (line) => out.errors.push(line),
    },
  });
  return out;
}

async function manifestText(): Promise<string | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: ".ftpfleet/users.json" }));
    return await out.Body?.transformToString();
  } catch (error) {
    if ((error as Error).name === "NoSuchKey") return undefined;
    throw error;
  }
}

describe("ftpfleet users: invalid input names the field, exits 2 and changes nothing", () => {
  let target: Target;
  let before: string | undefined;

  beforeAll(async () => {
    target = fleet().target;
    expect(
      (await cli(target, ["users", "add", "alice", "--grant", "projects/alpha:ro", "--no-apply"])).code,
    ).toBe(0);
    before = await manifestText();
  });

  it.each([
    [["users", "add", "Alice"], "name: "],
    [["users", "add", "root"], "name: reserved for a system account"],
    [["users", "add", "bob", "--grant", "../etc:rw"], "grants[0].path: "],
    [["users", "add", "bob", "--grant", ".ftpfleet/x:rw"], "grants[0].path: a relative folder"],
    [["users", "add", "bob", "--grant", "inbox/bob:rx"], "grant: expected PATH:ro or PATH:rw"],
    [["users", "add", "bob", "--grant", "inbox/bob"], "grant: expected PATH:ro or PATH:rw"],
    [["users", "grant", "alice", "/abs:rw"], "grant.path: "],
    [["users", "grant", "alice", "a/\u00e9t\u00e9:rw"], "grant.path: control or non-ASCII characters"],
    [["users", "revoke", "alice", "a//b"], "path: "],
    [["users", "remove", "alice;rm"], "name: "],
    [["users", "disable", ""], "name: "],
    [["users", "enable", "x".repeat(33)], "name: "],
    [["users", "passwd", "ftp"], "name: reserved for a system account"],
    [["users", "show", "Bad Name"], "name: "],
  ])("%j → %s", async (argv, field) => {
    const result = await cli(target, argv);
    expect(result.code).toBe(2);
    expect(result.errors.join("\n")).toContain(field);
    expect(await manifestText()).toBe(before);
  });

  it("refuses a short password, and rate controls SSM would refuse, before anything is written", async () => {
    const short = await cli(target, ["users", "passwd", "alice"], "short");
    expect(short.code).toBe(2);
    expect(short.errors.join()).toContain("password: at least 8 characters");
    for (const argv of [
      ["users", "apply", "--max-concurrency", "0"],
      ["users", "apply", "--max-errors", "101%"],
      ["users", "add"],
      ["users", "frobnicate", "alice"],
      ["users", "add", "bob", "--unknown"],
    ]) {
      expect((await cli(target, argv)).code, argv.join(" ")).toBe(2);
    }
    expect(await manifestText()).toBe(before);
  });
});

describe("ftpfleet users: changes", () => {
  let target: Target;
  beforeEach(async () => {
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: ".ftpfleet/users.json" }));
    target = fleet().target;
  });

  it("adds a user with a SHA-512 crypt hash of the password, never printing it", async () => {
    const added = await cli(target, [
      "users",
      "add",
      "alice",
      "--grant",
      "inbox/alice:rw",
      "--grant",
      "public:ro",
      "--no-apply",
    ]);
    expect(added.code).toBe(0);
    expect(added.json).toMatchObject({ edit: "add", user: "alice", changed: true, revision: 1 });
    const stored = JSON.parse((await manifestText()) ?? "{}");
    expect(stored.revision).toBe(1);
    const [alice] = stored.users;
    expect(alice.grants).toEqual([
      { path: "inbox/alice", access: "rw" },
      { path: "public", access: "ro" },
    ]);
    expect(alice.passwordHash).toMatch(/^\$6\$[./A-Za-z0-9]{16}\$[./A-Za-z0-9]{86}$/);
    expect(verify("correct horse battery", alice.passwordHash)).toBe(true);

    const shown = await cli(target, ["users", "show", "alice", "--json"]);
    expect(shown.json).toEqual({
      revision: 1,
      user: { name: "alice", disabled: false, grants: alice.grants },
    });
    expect(JSON.stringify(shown.json) + shown.text).not.toContain("$6$");
  });

  it("grants, changes access, revokes, disables and enables; each write bumps the revision", async () => {
    await cli(target, ["users", "add", "bob", "--no-apply"]);
    expect((await cli(target, ["users", "grant", "bob", "inbox/bob:ro", "--no-apply"])).json).toMatchObject({
      revision: 2,
    });
    expect((await cli(target, ["users", "grant", "bob", "inbox/bob:rw", "--no-apply"])).json).toMatchObject({
      revision: 3,
    });
    // Already so: nothing written.
    expect((await cli(target, ["users", "grant", "bob", "inbox/bob:rw", "--no-apply"])).json).toMatchObject({
      changed: false,
      revision: 3,
    });
    expect((await cli(target, ["users", "disable", "bob", "--no-apply"])).json).toMatchObject({
      revision: 4,
    });
    let listed = await cli(target, ["users", "list"]);
    expect(listed.json).toEqual({
      revision: 4,
      users: [{ name: "bob", disabled: true, grants: [{ path: "inbox/bob", access: "rw" }] }],
    });
    await cli(target, ["users", "enable", "bob", "--no-apply"]);
    await cli(target, ["users", "revoke", "bob", "inbox/bob", "--no-apply"]);
    listed = await cli(target, ["users", "list"]);
    expect(listed.json).toEqual({ revision: 6, users: [{ name: "bob", disabled: false, grants: [] }] });
  });

  it("a dry run shows the change and writes nothing", async () => {
    await cli(target, ["users", "add", "carol", "--no-apply"]);
    const before = await manifestText();
    const dry = await cli(target, ["users", "grant", "carol", "projects:rw", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.json).toMatchObject({ changed: true, dryRun: true, revision: 2 });
    expect(await manifestText()).toBe(before);
  });

  it("refuses, with exit 1 and nothing written, what no longer fits the manifest", async () => {
    await cli(target, ["users", "add", "dave", "--grant", "projects:ro", "--no-apply"]);
    const before = await manifestText();
    for (const [argv, message] of [
      [["users", "add", "dave"], "user dave already exists"],
      [["users", "remove", "erin"], "user erin does not exist"],
      [["users", "revoke", "dave", "inbox"], "user dave has no grant inbox"],
      [["users", "grant", "dave", "projects/alpha:rw"], "inside grants[0].path"],
    ] as const) {
      const result = await cli(target, [...argv, "--no-apply"]);
      expect(result.code, argv.join(" ")).toBe(1);
      expect(result.errors.join()).toContain(message);
    }
    expect(await manifestText()).toBe(before);
  });
});

/** A store whose first write waits until `release` resolves: the other writer gets in between. */
function heldStore(
  store: UsersStore,
  release: Promise<void>,
): UsersStore & { readBeforeWrite: Promise<void> } {
  let readDone: () => void = () => undefined;
  const readBeforeWrite = new Promise<void>((resolve) => {
    readDone = resolve;
  });
  let held = true;
  return {
    ...store,
    readBeforeWrite,
    async write(manifest, expected) {
      if (held) {
        held = false;
        readDone();
        await release;
      }
      return store.write(manifest, expected);
    },
  };
}

describe("concurrent edits of the manifest (S3 conditional writes)", () => {
  beforeEach(async () => {
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: ".ftpfleet/users.json" }));
  });
  const context = { clock: systemClock, log };
  const hash = `$6$saltsalt$${"a".repeat(86)}`;

  it("two writers: the loser re-reads, makes its change again, and both changes are kept", async () => {
    const store = s3UsersStore(s3, BUCKET, systemClock);
    await editUsers(store, { kind: "add", name: "alice", passwordHash: hash, grants: [] }, context);
    let release: () => void = () => undefined;
    const slow = heldStore(store, new Promise((resolve) => (release = resolve)));
    const loser = editUsers(slow, { kind: "add", name: "bob", passwordHash: hash, grants: [] }, context);
    await slow.readBeforeWrite;
    const winner = await editUsers(
      store,
      { kind: "grant", name: "alice", grant: { path: "inbox", access: "rw" } },
      context,
    );
    release();
    const lost = await loser;
    expect(winner).toMatchObject({ conflicts: 0, manifest: { revision: 2 } });
    expect(lost).toMatchObject({ conflicts: 1, changed: true, manifest: { revision: 3 } });
    const stored = await store.read();
    expect(stored?.manifest.users.map((u) => [u.name, u.grants])).toEqual([
      ["alice", [{ path: "inbox", access: "rw" }]],
      ["bob", []],
    ]);
  });

  it("two first writers (no manifest yet): If-None-Match lets one create it, the other redoes its change", async () => {
    const store = s3UsersStore(s3, BUCKET, systemClock);
    const results = await Promise.all(
      ["erin", "frank", "grace"].map((name) =>
        editUsers(store, { kind: "add", name, passwordHash: hash, grants: [] }, context),
      ),
    );
    expect(results.map((r) => r.manifest.revision).sort()).toEqual([1, 2, 3]);
    expect(results.reduce((sum, r) => sum + r.conflicts, 0)).toBeGreaterThanOrEqual(2);
    expect((await store.read())?.manifest.users.map((u) => u.name).sort()).toEqual([
      "erin",
      "frank",
      "grace",
    ]);
  });

  it("a change that no longer makes sense after the other writer's is refused, not merged blindly", async () => {
    const store = s3UsersStore(s3, BUCKET, systemClock);
    await editUsers(store, { kind: "add", name: "alice", passwordHash: hash, grants: [] }, context);
    let release: () => void = () => undefined;
    const slow = heldStore(store, new Promise((resolve) => (release = resolve)));
    const loser = editUsers(
      slow,
      { kind: "grant", name: "alice", grant: { path: "inbox", access: "rw" } },
      context,
    );
    await slow.readBeforeWrite;
    await editUsers(store, { kind: "remove", name: "alice" }, context);
    release();
    await expect(loser).rejects.toThrow(EditRefusedError);
    await expect(loser).rejects.toThrow("user alice does not exist");
    expect((await store.read())?.manifest).toMatchObject({ revision: 2, users: [] });
  });
});

describe("ftpfleet users apply: the apply-users document on every instance, by the group's tag", () => {
  async function fleetOfThree() {
    const failing = new Set<string>();
    const fleet = simulatedFleet({
      env: provisionedEnv,
      commandExecutor: async ({ document, instanceId }) =>
        document.endsWith("apply-users") && failing.has(instanceId)
          ? { exitCode: 1, stdout: "", stderr: "ftpfleet apply-users: cannot read the manifest\n" }
          : { exitCode: 0, stdout: "applied\n", stderr: "" },
    });
    fleet.aws.autoscaling.setDesired(3);
    await fleet.advance(5 * 60_000);
    expect(Object.values(states(fleet.aws))).toEqual(["InService", "InService", "InService"]);
    const config = fleet.cp.config;
    const target: Target = {
      kind: "aws",
      config,
      ports: fleet.aws.ports(log),
      users: s3UsersStore(s3, BUCKET, systemClock),
      bucket: s3AuditBucket(s3, BUCKET, systemClock),
      close: () => undefined,
    };
    const ids = Object.keys(states(fleet.aws)).sort();
    return { fleet, target, failing, ids };
  }

  async function apply(fleet: Fleet, target: Target, argv: string[] = []) {
    const progress: string[] = [];
    const out = { code: -1, json: undefined as unknown, text: "" };
    out.code = await fleet.run(
      run(["users", "apply", ...argv], {
        openTarget: () => target,
        io: {
          result: (json, text) => Object.assign(out, { json, text }),
          progress: (line) => progress.push(line),
          error: () => undefined,
        },
      }),
    );
    return { ...out, progress };
  }

  it("applies on every in-service instance and shows each one's progress", async () => {
    const { fleet, target, ids } = await fleetOfThree();
    const result = await apply(fleet, target);
    expect(result.code).toBe(0);
    const json = result.json as FleetApply;
    expect(json.ok).toBe(true);
    expect(json.instances.map((i) => [i.instanceId, i.status]).sort()).toEqual(
      ids.map((id) => [id, "Success"]),
    );
    for (const id of ids) expect(result.progress).toContain(`  ${id}  Success`);
    // One command, sent by the group's tag with the default rate controls.
    const listed = await fleet.run(
      fleet.aws.ssm.client().send(new ListCommandsCommand({ CommandId: json.commandId })),
    );
    expect(listed.Commands?.[0]).toMatchObject({
      DocumentName: "test-apply-users",
      Targets: [{ Key: "tag:aws:autoscaling:groupName", Values: ["ftpfleet-test"] }],
      MaxConcurrency: "10",
      MaxErrors: "25%",
      TargetCount: 3,
      CompletedCount: 3,
      Status: "Success",
    });
    await fleet.stop();
  });

  it("exits 1 naming the instance that failed, the step, its stderr and where its full output is", async () => {
    const { fleet, target, failing, ids } = await fleetOfThree();
    const bad = ids[1] ?? "";
    failing.add(bad);
    const result = await apply(fleet, target, ["--max-errors", "1"]);
    expect(result.code).toBe(1);
    const json = result.json as FleetApply;
    const failed = json.instances.filter((i) => i.status !== "Success");
    expect(failed).toEqual([
      expect.objectContaining({ instanceId: bad, status: "Failed", failedStep: "applyUsers" }),
    ]);
    expect(failed[0]?.stderrHead).toContain("cannot read the manifest");
    expect(failed[0]?.outputUrl).toContain(
      `${provisionedEnv.FTPFLEET_OUTPUT_BUCKET}/ssm/apply-users/${json.commandId}/${bad}/`,
    );
    expect(result.text).toContain(`FAILED ${bad}: Failed in applyUsers`);
    // The others still applied it: one failure is within --max-errors 1.
    expect(json.instances.filter((i) => i.status === "Success")).toHaveLength(2);
    await fleet.stop();
  });

  it("names an in-service instance whose agent is not online: SSM's targets never reach it", async () => {
    const { fleet, target, ids } = await fleetOfThree();
    const [offline = ""] = ids;
    fleet.aws.ec2.setState(offline, "stopped");
    const result = await apply(fleet, target);
    expect(result.code).toBe(1);
    expect((result.json as FleetApply).unreached).toEqual([offline]);
    expect(result.text).toContain(`NOT REACHED ${offline}`);
    await fleet.stop();
  });

  it("a dry run lists the instances it would reach and sends nothing", async () => {
    const { fleet, target, ids } = await fleetOfThree();
    const before = fleet.aws.ssm.commands.size;
    const result = await apply(fleet, target, ["--dry-run"]);
    expect(result.code).toBe(0);
    expect((result.json as { instances: string[] }).instances.sort()).toEqual(ids);
    expect(fleet.aws.ssm.commands.size).toBe(before);
    await fleet.stop();
  });
});
