import { rm } from "node:fs/promises";
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { type AuditPorts, type AuditReport, runAudit } from "@ftpfleet/core";
import { DEMO_USER, type LocalFleet, runCommand } from "@ftpfleet/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataPlaneSkip, getObject, lftp, scratchDir, writeScratch } from "../dataplane/helpers";
import { startTestFleet, waitFor } from "./support";

const skip = dataPlaneSkip("localmode/audit.test.ts");

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The audit against real instances (namespaces running the documents' scripts: s3fs, pure-ftpd), the
// control plane's adapters on the simulated AWS, the probe and repair documents run by the simulated
// SSM agent on the instances.
describe.skipIf(skip)("cache-consistency audit on the real data plane", () => {
  let fleet: LocalFleet;
  let s3: S3Client;
  let ports: AuditPorts;
  const scratch = scratchDir();
  const settle = { settleExtraMs: 2_000, pollMs: 250 };
  const login = (host: string) => ({ host, user: DEMO_USER.name, password: DEMO_USER.password, tls: true });
  const serving = () => fleet.status().instances.filter((i) => i.lifecycleState === "InService" && i.inDns);
  const put = (Key: string, Body: string, Metadata?: Record<string, string>) =>
    s3.send(
      new PutObjectCommand({ Bucket: fleet.world.bucket, Key, Body, ...(Metadata ? { Metadata } : {}) }),
    );
  /** What the instance answers to FTP SIZE (a stat through its mount; clients ask it before a download). */
  const sizeOf = async (address: string, path: string) => {
    const asked = await lftp(login(address), [`quote SIZE ${path}`]);
    expect(asked.code, asked.stderr).toBe(0);
    return Number(/^213 (\d+)/m.exec(`${asked.stdout}\n${asked.stderr}`)?.[1]);
  };
  const audit = (repair: boolean): Promise<AuditReport> => runAudit(ports, { repair, ...settle });

  beforeAll(async () => {
    fleet = await startTestFleet(2);
    s3 = fleet.world.s3Client();
    // As local mode's scheduled audit has them: the bucket's object events included.
    ports = fleet.auditPorts();
    await waitFor("two instances serving", () => serving().length === 2, 150_000);
    for (let i = 0; i < 40; i++)
      await put(`public/data/file-${String(i).padStart(2, "0")}.txt`, `content ${i}\n`);
    await put("public/data/", "");
    // Older than the settle window: judged, not in flight.
    await sleep(2_500);
  }, 240_000);

  afterAll(async () => {
    s3?.destroy();
    await rm(scratch, { recursive: true, force: true });
    await fleet?.stop();
  }, 120_000);

  it("finds nothing on instances with the safe options while files are uploaded, grown, shrunk and deleted during the audit", async () => {
    const [first] = serving();
    if (!first) throw new Error("no instance");
    let writing = true;
    let writes = 0;
    // A bounded writer behind the fleet's back (S3 directly) and one through FTP, for the whole run.
    const direct = (async () => {
      for (let n = 0; writing && n < 2_000; n++) {
        const i = n % 40;
        const key = `public/data/file-${String(i).padStart(2, "0")}.txt`;
        if (n % 7 === 3) await s3.send(new DeleteObjectCommand({ Bucket: fleet.world.bucket, Key: key }));
        else await put(key, `content ${i} version ${n}\n${"+".repeat((n * 37) % 500)}`);
        if (n % 5 === 0) await put(`public/data/new-${n}.txt`, `new ${n}\n`);
        writes++;
        await sleep(20);
      }
    })();
    const file = writeScratch(scratch, "upload.bin", "uploaded through FTP during the audit\n".repeat(1000));
    const ftp = (async () => {
      for (let n = 0; writing && n < 100; n++) {
        const result = await lftp(login(first.address), [`put ${file} -o inbox/demo/during-${n % 3}.bin`]);
        expect(result.code, result.stderr).toBe(0);
        writes++;
      }
    })();
    let report: AuditReport;
    try {
      report = await audit(false);
    } finally {
      writing = false;
      await Promise.all([direct, ftp]);
    }
    expect(writes).toBeGreaterThan(20);
    expect(report.instances.map((i) => i.instanceId).sort()).toEqual(
      serving()
        .map((i) => i.instanceId)
        .sort(),
    );
    for (const instance of report.instances) {
      expect(instance.findings, instance.instanceId).toEqual([]);
      expect(instance.verdict).toBe("clean");
      expect(instance.entries).toBeGreaterThan(40);
      expect(instance.lagMs).toBeLessThan(2_000);
    }
    expect(report.unreached).toEqual([]);
    expect(report.bucket).toEqual([]);
    expect(report.ok).toBe(true);
    // The report is in the bucket, as the latest and under its run.
    const stored = JSON.parse((await getObject(s3, fleet.world, report.reportKey)) ?? "{}") as AuditReport;
    expect(stored.runId).toBe(report.runId);
    const latest = JSON.parse((await getObject(s3, fleet.world, ".ftpfleet/audit/latest.json")) ?? "{}");
    expect(latest.runId).toBe(report.runId);
  }, 180_000);

  it("catches an instance mounted with s3fs's default cache options after a file grows in S3, takes it out of rotation, repairs it and puts it back", async () => {
    const [good, bad] = serving();
    if (!good || !bad) throw new Error("two instances expected");
    const instance = await fleet.instance(bad.instanceId);
    if (!instance) throw new Error("no sandbox instance");
    await instance.remountWithDefaultCacheOptions();

    // The bad instance serves the file, and answers a SIZE for it (s3fs keeps what a stat learns:
    // 900 s with its defaults, 1 s with the safe options); then the file grows in S3.
    await put("public/data/grows.txt", "short\n");
    const download = await lftp(login(bad.address), ["cat public/data/grows.txt"]);
    expect(download.stdout).toBe("short\n");
    await sleep(1_000);
    expect(await sizeOf(bad.address, "public/data/grows.txt")).toBe(6);
    const grown = `short\n${"and now much longer\n".repeat(20)}`;
    await put("public/data/grows.txt", grown);
    await sleep(2_500);
    // What the audit is for: the bad instance still answers the old size, the good one the new.
    expect(await sizeOf(bad.address, "public/data/grows.txt")).toBe(6);
    expect(await sizeOf(good.address, "public/data/grows.txt")).toBe(Buffer.byteLength(grown));
    // And what a client gets: a download after the SIZE it asks first, truncated at the old size.
    const truncated = await lftp(login(bad.address), [
      "quote SIZE public/data/grows.txt",
      "cat public/data/grows.txt",
    ]);
    expect(truncated.stdout).toBe("213 6\nshort\n");

    // Report only: found, nothing changed.
    const reported = await audit(false);
    const badReport = reported.instances.find((i) => i.instanceId === bad.instanceId);
    const goodReport = reported.instances.find((i) => i.instanceId === good.instanceId);
    expect(goodReport?.findings).toEqual([]);
    expect(badReport?.verdict).toBe("findings");
    // The canary, written and then grown behind its back like grows.txt: listed at its old size.
    expect(badReport?.findings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: "stale",
          key: ".ftpfleet/audit/canary",
          detail: expect.stringMatching(/^grown canary: the mount shows \d+ bytes, S3 holds \d+/),
        }),
      ]),
    );
    expect(badReport?.action).toBe("none");
    expect(reported.ok).toBe(false);
    expect(fleet.status().records.find((r) => r.instanceId === bad.instanceId)?.weight).toBe(1);
    // Repair: weight 0 while it is repaired, back at 1 once the new audit passes.
    const weights: number[] = [];
    const look = () => {
      const record = fleet.status().records.find((r) => r.instanceId === bad.instanceId);
      if (record && weights.at(-1) !== record.weight) weights.push(record.weight);
    };
    const watching = setInterval(look, 50);
    let repaired: AuditReport;
    try {
      repaired = await audit(true);
    } finally {
      clearInterval(watching);
      look();
    }
    const after = repaired.instances.find((i) => i.instanceId === bad.instanceId);
    expect(after?.action, after?.actionDetail).toBe("repaired");
    expect(repaired.instances.find((i) => i.instanceId === good.instanceId)?.action).toBe("none");
    expect(weights).toEqual([1, 0, 1]);
    expect(fleet.status().records.find((r) => r.instanceId === good.instanceId)?.weight).toBe(1);
    // Answers and serves the file as S3 holds it now, with the safe options in its s3fs.
    expect(await sizeOf(bad.address, "public/data/grows.txt")).toBe(Buffer.byteLength(grown));
    const whole = await lftp(login(bad.address), ["cat public/data/grows.txt"]);
    expect(whole.stdout).toBe(grown);
    const s3fs = await runCommand("pgrep", ["-a", "-x", "s3fs"]);
    const line = s3fs.stdout.split("\n").find((l) => l.includes(instance.bucketMount));
    expect(line).toContain("stat_cache_expire=1");

    const clean = await audit(false);
    expect(clean.instances.every((i) => i.verdict === "clean")).toBe(true);
  }, 240_000);

  it("reports an object s3fs would show as a symbolic link, with who wrote it and when", async () => {
    await put("public/data/escape", "/etc/shadow", { mode: String(0o120777), uid: "1234", gid: "1234" });
    const report = await audit(false);
    expect(report.bucket).toEqual([
      expect.objectContaining({
        kind: "symlink",
        key: "public/data/escape",
        detail: expect.stringMatching(/"\/etc\/shadow".*uid 1234/),
        metadata: expect.objectContaining({ uid: "1234" }),
      }),
    ]);
    expect(report.metrics.symlinkObjects).toBe(1);
    // Served as a link the chroot refuses, on no instance a finding of its own.
    for (const instance of report.instances) expect(instance.findings).toEqual([]);
  }, 120_000);
});
