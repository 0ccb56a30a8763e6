import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Metrics } from "@aws-lambda-powertools/metrics";
import {
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { run, type Target } from "@ftpfleet/cli";
import {
  AUDIT_STATE_KEY,
  type AuditPorts,
  type AuditReport,
  answerKey,
  CANARY_KEY,
  canaryProblem,
  compareKeys,
  type InstanceEntry,
  type ProbeRequest,
  runAudit,
  secondLook,
  sqsRecentChanges,
  systemClock,
  until,
} from "@ftpfleet/core";
import { s3AuditBucket, s3UsersStore } from "@ftpfleet/core/s3";
import { type LocalS3Server, localS3Client, objectChange, startLocalS3 } from "@ftpfleet/local";
import { RECENT_CHANGES_QUEUE_URL } from "@ftpfleet/simulated-aws";
import type { Context } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createAuditHandler } from "../functions/audit";
import { capture, provisionedEnv, realTimeFleet, states } from "./support";

// The audit's workflow against the simulated AWS and the local S3 server on loopback (no root).
// Instances are played by a stand-in for the probe document that answers from what S3 holds now
// ("fresh"), from what it held when the instance froze ("frozen": a stale cache), or not at all.
// The real probe, on real mounts, is exercised by test/localmode/audit.test.ts.
const BUCKET = provisionedEnv.FTPFLEET_BUCKET;
let dir: string;
let server: LocalS3Server;
let s3: S3Client;
let requests: string[] = [];
let events: { objectChanged(key: string, change: "Object Created" | "Object Deleted"): void } | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ftpfleet-test-audit-"));
  server = await startLocalS3({
    address: "127.0.0.1",
    directory: dir,
    buckets: [BUCKET],
    onRequest: (r) => {
      requests.push(`${r.method} ${r.query.join("&")}`);
      // S3's object events, through EventBridge, to the current fleet's recent-changes queue.
      const changed = objectChange(r, BUCKET);
      if (changed) events?.objectChanged(changed.key, changed.change);
    },
  });
  s3 = localS3Client(server.endpoint);
});

afterAll(async () => {
  s3?.destroy();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const put = (Key: string, Body: string) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body }));
const text = async (Key: string) =>
  (
    await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key })).catch(() => undefined)
  )?.Body?.transformToString();

/** Every object of the bucket. The stand-ins list with ListObjects (version 1), so that the
 * workflow's own requests (ListObjectsV2) are counted apart. */
async function everything(): Promise<{ key: string; size: number; lastModified: number }[]> {
  const found: { key: string; size: number; lastModified: number }[] = [];
  let Marker: string | undefined;
  for (;;) {
    const page = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, ...(Marker ? { Marker } : {}) }));
    for (const o of page.Contents ?? [])
      found.push({ key: o.Key ?? "", size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 });
    Marker = page.Contents?.at(-1)?.Key;
    if (!page.IsTruncated || !Marker) return found;
  }
}

/** What an instance shows through its mount: the bucket's files and the folders they imply. */
interface View {
  entries: InstanceEntry[];
  canary: string | undefined;
}

async function viewOfBucket(): Promise<View> {
  const byKey = new Map<string, InstanceEntry>();
  for (const o of await everything()) {
    const parts = o.key.split("/");
    for (let i = 1; i < parts.length; i++) {
      const path = parts.slice(0, i).join("/");
      byKey.set(`${path}/`, { path, type: "dir", size: 0, mtime: o.lastModified });
    }
    if (!o.key.endsWith("/"))
      byKey.set(o.key, { path: o.key, type: "file", size: o.size, mtime: o.lastModified });
  }
  const entries = [...byKey.entries()].sort(([a], [b]) => compareKeys(a, b)).map(([, entry]) => entry);
  return { entries, canary: await text(CANARY_KEY) };
}

/** The CLI runs the audit with the defaults; these tests look again sooner. */
const SETTLE_MS = 1_200; // S3's LastModified is in whole seconds
const FAST = { pollMs: 20, settleExtraMs: SETTLE_MS } as const;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Behaviour = "fresh" | "frozen" | "broken" | "malformed";

describe("the audit workflow", () => {
  let fleet: ReturnType<typeof realTimeFleet>;
  let ids: string[];
  const behaviour = new Map<string, Behaviour>();
  const frozen = new Map<string, View>();
  /** Instances the repair document fixes (a remount with the safe options does it). */
  const repairable = new Set<string>();

  /** Runs once, as the first instance's "grown" look starts. */
  let duringGrownLook: (() => Promise<unknown>) | undefined;

  async function answer(instanceId: string, key: string): Promise<void> {
    if (key.includes("/grown/") && duringGrownLook) {
      const change = duringGrownLook;
      duringGrownLook = undefined;
      await change();
    }
    const request = JSON.parse((await text(key)) ?? "{}") as ProbeRequest;
    const now = fleet.aws.clock.now();
    const view = behaviour.get(instanceId) === "frozen" ? frozen.get(instanceId) : await viewOfBucket();
    if (!view) throw new Error(`no frozen view of ${instanceId}`);
    const reply: Record<string, unknown> = { version: 1, instanceId, runId: request.runId, startedAt: now };
    if (request.canary) {
      const size = view.canary === undefined ? null : Buffer.byteLength(view.canary);
      const sha256 = view.canary === undefined ? null : createHashHex(view.canary);
      const ok = sha256 === request.canary.sha256;
      reply.canary = {
        ok,
        reads: 1,
        size,
        sha256,
        statSize: size,
        first: { size, sha256 },
        ...(ok ? { seenAt: now } : {}),
      };
    }
    if (request.sweep) {
      const { after, through, skip = "" } = request.sweep;
      const inRange = (e: InstanceEntry) => {
        const k = e.type === "dir" ? `${e.path}/` : e.path;
        if (skip && k.startsWith(skip)) return false;
        return compareKeys(k, after) > 0 && (through === null || compareKeys(k, through) <= 0);
      };
      reply.sweep = { entries: view.entries.filter(inRange), errors: [], complete: true };
    }
    if (request.stat) {
      reply.stat = request.stat.map((k) => {
        const entry = view.entries.find((e) => (e.type === "dir" ? `${e.path}/` : e.path) === k);
        return entry
          ? { key: k, type: entry.type, size: entry.size, mtime: entry.mtime }
          : { key: k, type: "nothing" };
      });
    }
    reply.finishedAt = now;
    const phase = key.split("/").at(-2) ?? "";
    const body =
      behaviour.get(instanceId) === "malformed"
        ? JSON.stringify({ ...reply, startedAt: "soon" })
        : JSON.stringify(reply);
    await put(answerKey(request.runId, phase, instanceId), body);
  }

  beforeEach(async () => {
    behaviour.clear();
    duringGrownLook = undefined;
    frozen.clear();
    repairable.clear();
    // Real time: the simulation and the local S3 server share one clock (S3's LastModified).
    fleet = realTimeFleet({
      env: provisionedEnv,
      commandExecutor: async ({ document, instanceId, environment }) => {
        if (document.endsWith("audit-probe")) {
          if (behaviour.get(instanceId) === "broken") {
            return {
              exitCode: 1,
              stdout: "",
              stderr: "audit-probe: the probe could not read the bucket (exit 1)\n",
            };
          }
          await answer(instanceId, environment.SSM_RequestKey ?? "");
          return { exitCode: 0, stdout: "answered\n", stderr: "" };
        }
        if (document.endsWith("audit-repair") && repairable.has(instanceId))
          behaviour.set(instanceId, "fresh");
        return { exitCode: 0, stdout: "ok\n", stderr: "" };
      },
    });
    fleet.aws.autoscaling.setDesired(3);
    await until(
      systemClock,
      () => Object.values(states(fleet.aws)).filter((s) => s === "InService").length === 3,
      {
        limitMs: 30_000,
        stepMs: 20,
        what: "three instances in service",
      },
    );
    ids = Object.keys(states(fleet.aws)).sort();
    events = fleet.aws;
    // A bucket of 30 files, and no audit state from an earlier test.
    for (const o of await everything())
      await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: o.key }));
    for (let i = 0; i < 30; i++) await put(`data/file-${String(i).padStart(2, "0")}.txt`, `content ${i}\n`);
    await pause(SETTLE_MS + 100);
  });

  afterEach(() => fleet.stop());

  const ports = (): AuditPorts => ({
    ...fleet.cp,
    bucket: s3AuditBucket(s3, BUCKET, fleet.aws.clock),
    recent: sqsRecentChanges(fleet.aws.clients().sqs, RECENT_CHANGES_QUEUE_URL, fleet.aws.clock, fleet.log),
  });
  const audit = (repair: boolean, sliceKeys?: number) =>
    runAudit(ports(), { repair, ...FAST, ...(sliceKeys ? { sliceKeys } : {}) });
  const weights = () =>
    Object.fromEntries(
      fleet.aws.recordsAt().map((r) => [(r.SetIdentifier ?? "").split(":").at(-1), r.Weight]),
    );
  async function freeze(instanceId: string) {
    behaviour.set(instanceId, "frozen");
    frozen.set(instanceId, await viewOfBucket());
  }

  it("finds a fleet that serves what S3 holds clean, and stores the report", async () => {
    const report = await audit(false);
    expect(report.ok).toBe(true);
    expect(report.instances.map((i) => [i.instanceId, i.verdict, i.action])).toEqual(
      ids.map((id) => [id, "clean", "none"]),
    );
    for (const instance of report.instances) expect(instance.entries).toBe(31); // 30 files and data/
    expect(report.slice).toEqual({ after: "", through: null, objects: 30, wrapped: true });
    expect(JSON.parse((await text(report.reportKey)) ?? "{}").runId).toBe(report.runId);
    expect(JSON.parse((await text(".ftpfleet/audit/latest.json")) ?? "{}").runId).toBe(report.runId);
    expect(Object.values(weights())).toEqual([1, 1, 1]);
  });

  it("covers the bucket in slices across runs, the position kept in the bucket, each run's cost the same", async () => {
    const slices: AuditReport["slice"][] = [];
    const lists: number[] = [];
    for (let i = 0; i < 4; i++) {
      requests = [];
      const report = await audit(false, 12);
      expect(report.ok).toBe(true);
      slices.push(report.slice);
      lists.push(requests.filter((r) => r.startsWith("GET list-type")).length);
    }
    expect(slices).toEqual([
      { after: "", through: "data/file-11.txt", objects: 12, wrapped: false },
      { after: "data/file-11.txt", through: "data/file-23.txt", objects: 12, wrapped: false },
      { after: "data/file-23.txt", through: null, objects: 6, wrapped: true },
      { after: "", through: "data/file-11.txt", objects: 12, wrapped: false },
    ]);
    // The fleet's own objects (requests, answers, reports) are skipped in one step, never paged
    // through: at most one listing more when a slice starts before them.
    expect(Math.max(...lists)).toBeLessThanOrEqual(2);
    expect(Math.min(...lists)).toBe(1);
  });

  it("reports an instance serving a stale view, changes nothing, and `ftpfleet audit` exits 1", async () => {
    await audit(false);
    const [, stale = ""] = ids;
    await freeze(stale);
    await put("data/file-03.txt", "content 3, grown in S3 behind the fleet's back\n");
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "data/file-04.txt" }));
    await put("data/file-30.txt", "new\n");
    // The CLI runs with the default settle window (5 s): these changes must be older.
    await pause(5_200);

    const out = { json: undefined as unknown, text: "" };
    const target: Target = {
      kind: "aws",
      config: fleet.cp.config,
      ports: fleet.cp,
      users: s3UsersStore(s3, BUCKET, fleet.aws.clock),
      bucket: s3AuditBucket(s3, BUCKET, fleet.aws.clock),
      close: () => undefined,
    };
    const code = await run(["audit", "--json"], {
      openTarget: () => target,
      io: {
        result: (json, t) => Object.assign(out, { json, text: t }),
        progress: () => undefined,
        error: () => undefined,
      },
    });
    expect(code).toBe(1);
    const report = out.json as AuditReport;
    const findings = report.instances.find((i) => i.instanceId === stale)?.findings;
    expect(findings).toEqual([
      expect.objectContaining({ kind: "stale", key: CANARY_KEY }),
      expect.objectContaining({ kind: "stale", key: CANARY_KEY }),
      expect.objectContaining({
        kind: "stale",
        key: "data/file-03.txt",
        detail: "size 10 through the mount, 47 in S3",
      }),
      expect.objectContaining({ kind: "unexpected", key: "data/file-04.txt" }),
      expect.objectContaining({ kind: "missing", key: "data/file-30.txt" }),
    ]);
    for (const id of ids.filter((i) => i !== stale)) {
      expect(report.instances.find((i) => i.instanceId === id)?.findings).toEqual([]);
    }
    expect(report.instances.every((i) => i.action === "none")).toBe(true);
    expect(Object.values(weights())).toEqual([1, 1, 1]);
    expect(report.metrics).toMatchObject({ instancesAudited: 3, instancesWithFindings: 1, staleObjects: 3 });
  });

  it("repairs: out of rotation (weight 0) while the bucket is mounted again, back once a new audit passes", async () => {
    const [, stale = ""] = ids;
    await freeze(stale);
    repairable.add(stale);
    await put("data/file-03.txt", "grown behind the fleet's back\n");
    await pause(SETTLE_MS + 100);
    const seen: number[] = [];
    const watch = setInterval(() => {
      const w = weights()[stale];
      if (w !== undefined && seen.at(-1) !== w) seen.push(w);
    }, 1);
    const report = await audit(true);
    clearInterval(watch);
    const result = report.instances.find((i) => i.instanceId === stale);
    expect(result?.action, result?.actionDetail).toBe("repaired");
    expect(result?.actionDetail).toBe("mounted again; the new audit passed");
    expect(report.ok).toBe(true);
    expect(seen).toContain(0);
    expect(weights()).toEqual(Object.fromEntries(ids.map((id) => [id, 1])));
    const view = (await fleet.cp.instances.groupInstances()).find((v) => v.instanceId === stale);
    expect(view?.outOfRotation).toBeUndefined();
  });

  it("keeps an instance the repair does not fix out of rotation, and after two failed repairs has the group replace it", async () => {
    const [, stale = ""] = ids;
    await freeze(stale);
    await put("data/file-03.txt", "grown behind the fleet's back\n");
    await pause(SETTLE_MS + 100);
    const first = await audit(true);
    const result = first.instances.find((i) => i.instanceId === stale);
    expect(result?.action).toBe("repair-failed");
    expect(result?.actionDetail).toMatch(/new audit found: .*canary.*\(1 failed repair\(s\) in a row\)/);
    expect(weights()[stale]).toBe(0);
    expect(first.metrics.instancesOutOfRotation).toBe(1);
    expect(first.ok).toBe(false);

    const second = await audit(true);
    expect(second.instances.find((i) => i.instanceId === stale)?.action).toBe("marked-unhealthy");
    const member = fleet.aws.autoscaling.members.get(stale);
    expect(member?.healthStatus).toBe("Unhealthy");
    expect(member?.lifecycleState).toMatch(/^Terminating/);
    // Repair never touches user data.
    expect(await text("data/file-03.txt")).toBe("grown behind the fleet's back\n");
  });

  it("names a probe that failed, an answer that is not what the probe writes, and an instance SSM cannot reach", async () => {
    const [broken = "", malformed = "", offline = ""] = ids;
    behaviour.set(broken, "broken");
    behaviour.set(malformed, "malformed");
    fleet.aws.ssm.stopAgent(offline);
    const report = await audit(false);
    expect(report.unreached).toEqual([offline]);
    const of = (id: string) => report.instances.find((i) => i.instanceId === id)?.findings[0];
    expect(of(broken)).toMatchObject({
      kind: "unreadable",
      detail: expect.stringMatching(/probe Failed .*could not read/),
    });
    expect(of(malformed)).toMatchObject({
      kind: "unreadable",
      detail: expect.stringContaining("startedAt:"),
    });
    expect(report.ok).toBe(false);
  });

  it("finds a change outside this run's slice through S3's object events, and leaves one still in flight to the next run", async () => {
    const [, stale = ""] = ids;
    await freeze(stale);
    await put("data/file-25.txt", "grown behind the fleet's back, far from the slice\n");
    fleet.aws.recentChangesQueue.send("not an object event");
    await pause(SETTLE_MS + 100);
    // Written while the instances look: no verdict yet.
    duringGrownLook = () => put("data/file-26.txt", "written just now\n");
    const report = await audit(false, 10);
    expect(report.slice).toMatchObject({ after: "", through: "data/file-09.txt" });
    const findings = report.instances.find((i) => i.instanceId === stale)?.findings ?? [];
    expect(findings.filter((f) => f.key !== CANARY_KEY)).toEqual([
      { kind: "stale", key: "data/file-25.txt", detail: "size 11 through the mount, 50 in S3" },
    ]);
    // The 30 keys S3 reported (file-25 twice); file-26, rewritten during the look, waits for the next run.
    expect(report.recent).toEqual({ keys: 30, inFlight: 1 });
    expect(fleet.log.lines.some((l) => l.msg === "audit.recent-change-invalid")).toBe(true);
  });

  it("the scheduled function publishes each run's figures as CloudWatch metrics (EMF) and returns a summary", async () => {
    const [, stale = ""] = ids;
    await freeze(stale);
    await put("data/file-03.txt", "grown behind the fleet's back\n");
    await pause(5_200);
    const handler = createAuditHandler(
      ports,
      () => new Metrics({ namespace: "ftpfleet", serviceName: "audit" }),
    );
    const { result, written } = await capture(process.stdout, () =>
      handler({}, { awsRequestId: "test", functionName: "audit" } as Context),
    );
    expect(result.ok).toBe(false);
    expect(result.instances.find((i) => i.instanceId === stale)).toMatchObject({
      verdict: "findings",
      action: "none",
    });
    const emf = written.map((line) => JSON.parse(line)).find((line) => line._aws?.CloudWatchMetrics);
    expect(emf._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: "ftpfleet",
      Dimensions: [expect.arrayContaining(["Fleet"])],
    });
    expect(emf).toMatchObject({
      Fleet: "test",
      InstancesAudited: 3,
      InstancesWithFindings: 1,
      InstancesUnreached: 0,
      StaleObjects: 3,
      SymlinkObjects: 0,
    });
  });

  it("reports pure-ftpd's leftover temporary files and multipart uploads never finished, and starts over from a damaged position", async () => {
    await put("data/.pureftpd-upload.5f3a.txt", "half an upload");
    await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: "data/big.iso" }));
    await put(AUDIT_STATE_KEY, "{not json");
    await pause(SETTLE_MS + 100);
    const report = await runAudit(ports(), { repair: false, ...FAST, uploadAgeMs: 0, leftoverAgeMs: 0 });
    expect(report.slice.after).toBe("");
    expect(report.bucket.map((f) => [f.kind, f.key])).toEqual([
      ["leftover-temp-file", "data/.pureftpd-upload.5f3a.txt"],
      ["incomplete-upload", "data/big.iso"],
    ]);
    expect(fleet.log.lines.some((l) => l.msg === "audit.state-invalid")).toBe(true);
  });
});

function createHashHex(content: string): string {
  return createHash("sha256").update(content).digest("hex");
}

describe("the second look at a candidate", () => {
  const recentFrom = 1_000_000;
  const head = (size: number, mtime = 500_000) => ({
    shows: "file" as const,
    head: {
      key: "k",
      size,
      lastModified: 500_000,
      etag: '"0cc175b9c0f1b6a831c399e269772661"',
      mtime,
      metadata: {},
    },
  });
  const options = { recentFrom, hashMaxBytes: 1024 };
  /** Read whole through the mount, same size and time, another MD5. */
  const otherContent = {
    key: "k",
    type: "file" as const,
    size: 1,
    mtime: 500_000,
    md5: "ffffffffffffffffffffffffffffffff",
    readSize: 1,
  };

  it("confirms what both looks agree on, with nothing in flight", () => {
    expect(secondLook(head(5), { key: "k", type: "file", size: 3, mtime: 500_000 }, options)).toEqual({
      kind: "stale",
      detail: "size 3 through the mount, 5 in S3",
    });
    expect(
      secondLook({ shows: "nothing" }, { key: "k", type: "file", size: 3, mtime: 500_000 }, options)?.kind,
    ).toBe("unexpected");
    expect(secondLook(head(5), { key: "k", type: "nothing" }, options)?.kind).toBe("missing");
    expect(secondLook({ shows: "dir" }, { key: "k/", type: "file", size: 1, mtime: 1 }, options)?.kind).toBe(
      "type-mismatch",
    );
    expect(
      secondLook(head(1, 400_000), { key: "k", type: "file", size: 1, mtime: 500_000 }, options)?.detail,
    ).toMatch(/^mtime /);
    expect(secondLook(head(1), otherContent, options)?.detail).toBe(
      "content through the mount differs from S3's (MD5)",
    );
    expect(secondLook(head(1), { key: "k", type: "error", error: "ENOTCONN" }, options)?.kind).toBe(
      "unreadable",
    );
  });

  it("drops what agrees now, or is in flight on either side", () => {
    expect(secondLook(head(5), { key: "k", type: "file", size: 5, mtime: 500_000 }, options)).toBeUndefined();
    expect(secondLook(head(5), { key: "k", type: "link", size: 5, mtime: 500_000 }, options)).toBeUndefined();
    expect(secondLook({ shows: "nothing" }, { key: "k", type: "nothing" }, options)).toBeUndefined();
    // Changed during the look: no verdict.
    expect(
      secondLook(head(5, recentFrom), { key: "k", type: "file", size: 3, mtime: 1 }, options),
    ).toBeUndefined();
    expect(
      secondLook({ shows: "nothing" }, { key: "k", type: "file", size: 3, mtime: recentFrom + 1 }, options),
    ).toBeUndefined();
    // An MD5 means nothing under SSE-KMS.
    const kms = head(1);
    expect(
      secondLook(
        { shows: "file", head: { ...kms.head, serverSideEncryption: "aws:kms" } },
        otherContent,
        options,
      ),
    ).toBeUndefined();
  });
});

describe("the canary's verdict", () => {
  const spec = { size: 10, sha256: "b".repeat(64) };
  const answer = (
    statSize: number | null,
    first: { size: number | null; sha256: string | null },
    ok = true,
  ) => ({
    ok,
    reads: 2,
    size: 10,
    sha256: "b".repeat(64),
    statSize,
    first,
  });

  it("is fine only when the listing's size and the first read are what S3 holds", () => {
    expect(canaryProblem("grown", answer(10, { size: 10, sha256: "b".repeat(64) }), spec)).toBeUndefined();
    expect(canaryProblem("grown", answer(6, { size: 10, sha256: "b".repeat(64) }), spec)).toMatch(
      /the mount shows 6 bytes, S3 holds 10/,
    );
    expect(canaryProblem("grown", answer(10, { size: 6, sha256: "a".repeat(64) }), spec)).toBe(
      "grown canary: the first read served truncated: 6 of 10 bytes",
    );
    expect(canaryProblem("written", answer(10, { size: 12, sha256: "a".repeat(64) }, false), spec)).toBe(
      "written canary: the first read served other content (12 bytes); never served whole",
    );
    expect(canaryProblem("written", undefined, spec)).toBe("written canary: no answer");
  });
});

describe("ftpfleet audit's input", () => {
  it("refuses a slice that is not 1 to 100,000 objects with exit 2, naming the option, before reaching any fleet", async () => {
    for (const bad of ["0", "-5", "abc", "100001", "1e3"]) {
      const errors: string[] = [];
      const { result: code, written } = await capture(process.stderr, () =>
        run(["audit", "--slice-keys", bad], {
          openTarget: () => {
            throw new Error("no fleet must be opened");
          },
          io: { result: () => undefined, progress: () => undefined, error: (line) => errors.push(line) },
        }),
      );
      errors.push(...written);
      expect(code, bad).toBe(2);
      expect(errors.join(""), bad).toContain("--slice-keys");
    }
  });
});
