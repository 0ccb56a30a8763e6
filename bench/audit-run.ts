// The cache-consistency audit on real instances (local mode: namespaces running s3fs and pure-ftpd,
// the probe document's real script, the control plane on the simulated AWS in real time): what one
// run costs in S3 requests as the bucket grows — the sweep in slices beside a whole-bucket sweep
// every run — and how soon an instance serving stale data is found: by the canary, beside the
// sweep alone (a listing comparison reaching the changed file). Needs root.
import { readdir, stat } from "node:fs/promises";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  AUDIT_STATE_KEY,
  type AuditReport,
  createLogger,
  runAudit,
  systemClock,
  until,
} from "@ftpfleet/core";
import { dataPlaneSupport, type LocalFleet } from "@ftpfleet/local";
import { startLocalFleet } from "../scripts/local-fleet";
import { RequestCounter } from "./s3-requests";
import { round } from "./stats";

export interface AuditRunCost {
  /** Every request the S3 server received during the run (control plane and probes). */
  requests: number;
  byKind: Record<string, number>;
  seconds: number;
}

export interface AuditRunRow {
  objects: number;
  slice: AuditRunCost;
  whole: AuditRunCost;
}

export type AuditRunBenchResult =
  | { skipped: string }
  | {
      skipped?: undefined;
      instances: number;
      sliceKeys: number;
      rows: AuditRunRow[];
      /** A run with 1,000 keys of recent changes (each stat'ed and read on every instance). */
      recent: AuditRunCost;
      detection: {
        /** S3 overwrite of a file the stale instance had listed, until the run's report named it. */
        canarySeconds: number;
        /** The same with only the sweep comparing listings: runs until the slice reached the file. */
        sweepRuns: number;
        sweepSeconds: number;
      };
      wallSeconds: number;
    };

const FOLDER = 500;

/** Objects `bench/dNN/fNNNNN.txt`, from `from` up to `to`. */
async function grow(s3: S3Client, bucket: string, from: number, to: number): Promise<void> {
  const keys = Array.from({ length: to - from }, (_, i) => from + i);
  for (let i = 0; i < keys.length; i += 32) {
    await Promise.all(
      keys.slice(i, i + 32).map((n) =>
        s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `bench/d${String(Math.floor(n / FOLDER)).padStart(3, "0")}/f${String(n).padStart(6, "0")}.txt`,
            Body: `object ${n}\n`,
          }),
        ),
      ),
    );
  }
}

export async function auditRunBench(
  options: { sizes?: number[]; sliceKeys?: number; instances?: number } = {},
): Promise<AuditRunBenchResult> {
  const reason = dataPlaneSupport();
  if (reason !== undefined) return { skipped: reason };
  const wallStart = performance.now();
  const sizes = options.sizes ?? [1_000, 4_000, 16_000];
  const sliceKeys = options.sliceKeys ?? 2_000;
  const instances = options.instances ?? 2;
  const counter = new RequestCounter();
  const fleet = await startLocalFleet({
    instances,
    dnsPort: 0,
    log: createLogger({ level: "error" }),
    announce: false,
    onS3Request: counter.observe,
  });
  const s3 = fleet.world.s3Client();
  const bucket = fleet.world.bucket;
  try {
    await until(
      systemClock,
      () =>
        fleet.status().instances.filter((i) => i.lifecycleState === "InService" && i.inDns).length ===
        instances,
      { limitMs: 180_000, stepMs: 500, what: `${instances} instances serving` },
    );
    const run = async (
      keys: number,
      position = "",
      withRecent = false,
    ): Promise<{ cost: AuditRunCost; report: AuditReport }> => {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: AUDIT_STATE_KEY,
          Body: JSON.stringify({ version: 1, sweepAfter: position }),
        }),
      );
      counter.start();
      const started = performance.now();
      // The sweep's cost alone, unless asked: growing the bucket is setup here, not churn.
      const ports = fleet.auditPorts();
      const report = await runAudit(withRecent ? ports : { ...ports, recent: undefined }, {
        repair: false,
        sliceKeys: keys,
      });
      const seconds = round((performance.now() - started) / 1000, 2);
      const byKind = counter.stop();
      const requests = Object.values(byKind).reduce((a, b) => a + b, 0);
      return { cost: { requests, byKind, seconds }, report };
    };

    const rows: AuditRunRow[] = [];
    let stored = 0;
    for (const objects of sizes) {
      await grow(s3, bucket, stored, objects);
      stored = objects;
      // Old enough to be judged (the settle window), then a slice from the middle and the whole.
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      const slice = await run(sliceKeys, "bench/d001/");
      const whole = await run(1_000_000);
      for (const r of [slice.report, whole.report]) {
        if (!r.ok)
          throw new Error(`audit of ${objects} objects found something: ${JSON.stringify(r.instances)}`);
      }
      rows.push({ objects, slice: slice.cost, whole: whole.cost });
    }

    // One run taking 1,000 recent changes (the growth's own object events) on top of its slice.
    const recent = (await run(sliceKeys, "bench/d001/", true)).cost;
    const detection = await detect(fleet, s3, bucket, sliceKeys, stored, run);
    return {
      instances,
      sliceKeys,
      rows,
      recent,
      detection,
      wallSeconds: round((performance.now() - wallStart) / 1000, 1),
    };
  } finally {
    s3.destroy();
    await fleet.stop();
  }
}

/** One instance mounted with s3fs's defaults; a file it listed grows in S3 behind its back. */
async function detect(
  fleet: LocalFleet,
  s3: S3Client,
  bucket: string,
  sliceKeys: number,
  objects: number,
  run: (keys: number, position?: string) => Promise<{ cost: AuditRunCost; report: AuditReport }>,
): Promise<{ canarySeconds: number; sweepRuns: number; sweepSeconds: number }> {
  const [, stale] = fleet.status().instances;
  if (!stale) throw new Error("the detection needs two instances");
  await fleet.serveStale(stale.instanceId);
  const last = Math.floor((objects - 1) / FOLDER);
  const key = `bench/d${String(last).padStart(3, "0")}/zz-grows.txt`;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "short\n" }));
  // The stale instance lists it (a client's LIST), then it grows in S3.
  const instance = await fleet.instance(stale.instanceId);
  if (!instance) throw new Error("no sandbox instance");
  await readdir(`${instance.bucketMount}/${key.slice(0, key.lastIndexOf("/"))}`, { withFileTypes: true });
  await stat(`${instance.bucketMount}/${key}`);
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: `short\n${"and longer\n".repeat(20)}` }),
  );
  const changed = performance.now();
  const canary = await run(sliceKeys);
  const found = canary.report.instances.find((i) => i.instanceId === stale.instanceId)?.findings ?? [];
  if (!found.some((f) => f.key === ".ftpfleet/audit/canary"))
    throw new Error("the canary did not find the stale instance");
  const canarySeconds = round((performance.now() - changed) / 1000, 2);

  // The sweep alone: from the start of the bucket, a slice per run, until it names the file.
  let position = "";
  let sweepRuns = 0;
  let sweepSeconds = 0;
  await new Promise((resolve) => setTimeout(resolve, 6_000));
  for (;;) {
    sweepRuns++;
    const { cost, report } = await run(sliceKeys, position);
    sweepSeconds += cost.seconds;
    const named = report.instances.some((i) => i.findings.some((f) => f.key === key));
    if (named || report.slice.wrapped || sweepRuns > 50) break;
    position = report.slice.through ?? "";
  }
  return { canarySeconds, sweepRuns, sweepSeconds: round(sweepSeconds, 1) };
}
