// The cache-consistency audit: proves that every in-service instance serves what S3 holds, and (in
// repair mode) takes a bad one out of rotation, mounts its bucket again and returns it only when it
// passes. One workflow behind the scheduled function and `ftpfleet audit`.
//
// A run, cheapest first:
// 1. canary, written: a new canary object; every instance reads it back through its mount.
// 2. canary, grown: the canary overwritten with longer content (what a stale stat cache serves
//    truncated), read back again — together with the sweep: this run's slice of the bucket (keys
//    after the stored position, at most `sliceKeys`), listed by every instance through its mount
//    and diffed against S3's listing (audit/diff.ts). The next run continues after the slice's last
//    key, so every run costs the same whatever the bucket's size, and the whole bucket is covered
//    in ceil(objects / sliceKeys) runs.
// 3. confirm: candidates (diff findings with nothing in flight) looked at again, HeadObject and a
//    stat through the mount; only findings both looks agree on are reported.
// Bucket findings come from the same reads: links (objects s3fs shows as symbolic links, with who
// wrote them and when), pure-ftpd's leftover temporary files, and multipart uploads never finished.
import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import {
  AUDIT_SKIPPED_PREFIX,
  auditDiff,
  compareKeys,
  DEFAULT_MTIME_TOLERANCE_MS,
  type S3ListedObject,
} from "../audit/diff";
import {
  AUDIT_LATEST_KEY,
  AUDIT_REPORTS_PREFIX,
  AUDIT_STATE_KEY,
  answerKey,
  CANARY_KEY,
  type CanaryAnswer,
  type CanarySpec,
  type ProbeAnswer,
  type ProbeRequest,
  parseProbeAnswer,
  requestKey,
  type StatAnswer,
} from "../audit/probe";
import { chunks, forEachConcurrently } from "../batching";
import { until } from "../clock";
import { documentName } from "../config";
import { isTerminal } from "../events/ssm";
import type { AuditBucket, InstanceView, ObjectHead, Ports, RecentChanges } from "../ports";
import type { DnsSync } from "./dns-sync";

export interface AuditOptions {
  /** Take failing instances out of rotation and repair them; otherwise only report. */
  repair: boolean;
  /** Objects per run's slice of the bucket. */
  sliceKeys?: number;
  /** How long an instance may take to serve the canary whole. */
  canaryWaitMs?: number;
  /** Lag above this is a finding (the safe mount options serve a change within about 1 s). */
  lagThresholdMs?: number;
  /** Added to each look's own duration to judge what is in flight: s3fs's 1 s stat cache, S3's
   * LastModified in whole seconds, clock skew. */
  settleExtraMs?: number;
  /** Repairs that may fail in a row before the instance is marked unhealthy (and replaced). */
  maxFailedRepairs?: number;
  /** Recent changes (S3's object events) looked at per run. */
  recentKeys?: number;
  /** Small files are hashed on the second look and compared with a plain MD5 ETag. */
  hashMaxBytes?: number;
  /** pure-ftpd's temporary upload files older than this are reported as leftovers. */
  leftoverAgeMs?: number;
  /** Multipart uploads older than this are reported. */
  uploadAgeMs?: number;
  pollMs?: number;
  /** Longest wait for one probe command. */
  probeTimeoutMs?: number;
}

export type InstanceFindingKind = "stale" | "missing" | "unexpected" | "type-mismatch" | "unreadable" | "lag";

export interface InstanceFinding {
  kind: InstanceFindingKind;
  /** The key concerned (the canary's for canary findings); none for a probe that failed. */
  key?: string;
  detail: string;
}

export type InstanceAction =
  | "none"
  | "taken-out"
  | "repaired"
  | "repair-failed"
  | "marked-unhealthy"
  | "returned"
  | "kept-out";

export interface InstanceAudit {
  instanceId: string;
  /** clean: no finding; findings: at least one; the instance was not probed when unreached. */
  verdict: "clean" | "findings";
  findings: InstanceFinding[];
  /** From the canary read back after the write: ms from the probe's first read until it was whole. */
  lagMs?: number;
  /** Entries the instance listed in the slice, and candidates the second look did not confirm. */
  entries: number;
  unconfirmed: number;
  inFlight: number;
  /** Before this run's actions, and what the run did. */
  wasOutOfRotation: boolean;
  action: InstanceAction;
  actionDetail?: string;
}

export type BucketFindingKind = "symlink" | "leftover-temp-file" | "incomplete-upload" | "unrepresentable";

export interface BucketFinding {
  kind: BucketFindingKind;
  key: string;
  detail: string;
  lastModified?: string;
  /** For links: the metadata s3fs reads (mode, uid, gid, mtime) — who wrote it, as far as S3 knows. */
  metadata?: Record<string, string>;
}

export interface AuditReport {
  runId: string;
  mode: "report" | "repair";
  startedAt: string;
  finishedAt: string;
  slice: { after: string; through: string | null; objects: number; wrapped: boolean };
  /** Keys S3 reported changed lately, stat'ed and read through every mount; in flight: left for the next run. */
  recent: { keys: number; inFlight: number };
  instances: InstanceAudit[];
  /** In service, but the probe did not run there (SSM could not reach it). */
  unreached: string[];
  bucket: BucketFinding[];
  metrics: AuditMetrics;
  reportKey: string;
  /** No finding anywhere (bucket findings included) and every instance reached. */
  ok: boolean;
}

export interface AuditMetrics {
  instancesAudited: number;
  instancesWithFindings: number;
  staleObjects: number;
  maxLagMs: number;
  instancesOutOfRotation: number;
  symlinkObjects: number;
  bucketFindings: number;
}

export type AuditPorts = Pick<Ports, "config" | "log" | "clock" | "group" | "instances" | "commands"> & {
  bucket: AuditBucket;
  /** Where S3's object events arrive; without it, only the canary and the sweep run. */
  recent?: RecentChanges | undefined;
  dns: Pick<DnsSync, "sync">;
};

/** HeadObject requests in flight at once (S3 takes thousands per second per prefix). */
const HEAD_CONCURRENCY = 10;

/** s3fs with the safe options caches a stat for 1 s; the kernel caches nothing. */
const CANARY_SETTLE_MS = 1_500;

const stateSchema = z.object({ version: z.literal(1), sweepAfter: z.string() });

const DEFAULTS = {
  sliceKeys: 5_000,
  recentKeys: 1_000,
  canaryWaitMs: 5_000,
  lagThresholdMs: 2_000,
  settleExtraMs: 5_000,
  maxFailedRepairs: 2,
  hashMaxBytes: 1024 * 1024,
  leftoverAgeMs: 3600_000,
  uploadAgeMs: 24 * 3600_000,
  pollMs: 1_000,
  probeTimeoutMs: 15 * 60_000,
};

type Settings = typeof DEFAULTS & { repair: boolean };

interface Look {
  /** Per instance: its answer, or why there is none. */
  answers: Map<string, ProbeAnswer | { problem: string }>;
  unreached: string[];
}

/** One audit run over the in-service instances of the group. */
export async function runAudit(ports: AuditPorts, options: AuditOptions): Promise<AuditReport> {
  const settings: Settings = { ...DEFAULTS, ...definedOnly(options), repair: options.repair };
  const { clock, log, bucket } = ports;
  const started = clock.now();
  const runId = `${new Date(started)
    .toISOString()
    .replace(/[-:.TZ]/g, "")
    .slice(0, 14)}-${randomBytes(4).toString("hex")}`;
  const audit = log.child({ runId });

  const [members, views] = await Promise.all([ports.group.instances(), ports.instances.groupInstances()]);
  const viewOf = new Map(views.map((v) => [v.instanceId, v]));
  const targets = members
    .filter((m) => m.lifecycleState === "InService" && m.healthStatus === "Healthy")
    .filter((m) => viewOf.get(m.instanceId)?.state === "running")
    .map((m) => m.instanceId);
  const state = await readState(bucket, audit);
  audit.info("audit.started", { instances: targets.length, after: state.sweepAfter, mode: mode(settings) });

  // The slice, listed before the instances look: what changes after the listing is in flight.
  const listStarted = clock.now();
  const slice = await listSlice(bucket, state.sweepAfter, settings.sliceKeys);
  const through = slice.more ? (slice.objects.at(-1)?.key ?? null) : null;

  // Lately changed keys (S3's object events), at most recentKeys a run; the fleet's own skipped.
  const recent = ports.recent ? await ports.recent.take(settings.recentKeys) : undefined;
  const recentKeys = (recent?.keys ?? [])
    .filter((key) => !key.startsWith(AUDIT_SKIPPED_PREFIX))
    .sort(compareKeys);
  const judged = await judgeInstances(
    ports,
    settings,
    runId,
    targets,
    { objects: slice.objects, after: state.sweepAfter, through, listStarted },
    "",
    recentKeys,
  );

  const bucketFindings = await findInBucket(
    ports,
    settings,
    slice.objects,
    judged.linkKeys,
    judged.unrepresentable,
  );

  const results: InstanceAudit[] = [];
  for (const instanceId of targets) {
    const result = judged.results.get(instanceId);
    if (!result) continue;
    result.wasOutOfRotation = viewOf.get(instanceId)?.outOfRotation !== undefined;
    results.push(result);
  }
  if (settings.repair) {
    await repairInstances(ports, settings, runId, results, viewOf, {
      objects: slice.objects,
      after: state.sweepAfter,
      through,
    });
  }

  // Judged (or found wrong): acknowledged; still in flight: looked at again next run.
  await recent?.done(judged.recentInFlight);
  // The next run continues after this slice; past the end, from the start again.
  await bucket.putText(AUDIT_STATE_KEY, `${JSON.stringify({ version: 1, sweepAfter: through ?? "" })}\n`);
  const report: AuditReport = {
    runId,
    mode: mode(settings),
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(clock.now()).toISOString(),
    slice: { after: state.sweepAfter, through, objects: slice.objects.length, wrapped: through === null },
    recent: { keys: recentKeys.length, inFlight: judged.recentInFlight.size },
    instances: results,
    unreached: judged.unreached,
    bucket: bucketFindings,
    metrics: metricsOf(results, bucketFindings, viewOf),
    reportKey: `${AUDIT_REPORTS_PREFIX}${runId}.json`,
    ok: false,
  };
  report.ok =
    judged.unreached.length === 0 &&
    bucketFindings.length === 0 &&
    results.every((r) => r.verdict === "clean" || r.action === "repaired");
  const body = `${JSON.stringify(report, null, 2)}\n`;
  await bucket.putText(report.reportKey, body);
  await bucket.putText(AUDIT_LATEST_KEY, body);
  audit.info("audit.done", { ok: report.ok, reportKey: report.reportKey, ...report.metrics });
  for (const result of results) {
    if (result.findings.length === 0) continue;
    audit.warn("audit.instance-findings", {
      instanceId: result.instanceId,
      findings: result.findings.slice(0, 20),
      total: result.findings.length,
      action: result.action,
    });
  }
  for (const finding of bucketFindings.slice(0, 50)) audit.warn("audit.bucket-finding", { ...finding });
  return report;
}

const mode = (settings: Settings) => (settings.repair ? "repair" : "report");

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

async function readState(bucket: AuditBucket, log: AuditPorts["log"]): Promise<z.infer<typeof stateSchema>> {
  const text = await bucket.getText(AUDIT_STATE_KEY);
  if (text === undefined) return { version: 1, sweepAfter: "" };
  try {
    return stateSchema.parse(JSON.parse(text));
  } catch {
    // The bucket is input: a damaged position only costs a sweep from the start.
    log.warn("audit.state-invalid", { key: AUDIT_STATE_KEY });
    return { version: 1, sweepAfter: "" };
  }
}

/** Past every key under the reserved prefix in S3's order (U+10FFFF is the largest code point). */
const AFTER_RESERVED = `${AUDIT_SKIPPED_PREFIX}\u{10FFFF}`;

/** Up to `max` objects after `after`, the reserved prefix (the fleet's own objects, the audit's
 * requests and answers among them) skipped in S3 rather than listed and dropped. */
async function listSlice(
  bucket: AuditBucket,
  after: string,
  max: number,
): Promise<{ objects: S3ListedObject[]; more: boolean }> {
  const objects: S3ListedObject[] = [];
  let from = after;
  for (;;) {
    const page = await bucket.list({ after: from, max: max - objects.length });
    for (const object of page.objects) if (!object.key.startsWith(AUDIT_SKIPPED_PREFIX)) objects.push(object);
    const last = page.objects.at(-1)?.key;
    if (!page.more || last === undefined) return { objects, more: false };
    if (objects.length >= max) return { objects, more: true };
    from =
      last.startsWith(AUDIT_SKIPPED_PREFIX) && compareKeys(last, AFTER_RESERVED) < 0 ? AFTER_RESERVED : last;
  }
}

interface Slice {
  objects: S3ListedObject[];
  after: string;
  through: string | null;
  listStarted?: number;
}

interface Judged {
  results: Map<string, InstanceAudit>;
  /** Recent changes still in flight on some instance or in S3: left for the next run. */
  recentInFlight: Set<string>;
  unreached: string[];
  /** Keys some instance shows as links: the bucket's symlink check reads their metadata. */
  linkKeys: Set<string>;
  unrepresentable: Map<string, string>;
}

/** The three looks (canary written; canary grown + sweep; confirm) over `targets`. */
async function judgeInstances(
  ports: AuditPorts,
  settings: Settings,
  runId: string,
  targets: readonly string[],
  slice: Slice,
  /** Names this round's requests (repairs audit again within the run). */
  round = "",
  /** Keys changed lately in S3 (its object events): stat and read through every mount. */
  recentKeys: readonly string[] = [],
): Promise<Judged> {
  const { clock, bucket } = ports;
  const judged: Judged = {
    results: new Map(),
    recentInFlight: new Set(),
    unreached: [],
    linkKeys: new Set(),
    unrepresentable: new Map(),
  };
  const findings = new Map<string, InstanceFinding[]>(targets.map((id) => [id, []]));
  const add = (instanceId: string, finding: InstanceFinding) => findings.get(instanceId)?.push(finding);
  const lags = new Map<string, number>();
  let reachable = [...targets];

  const canaryLook = async (phase: "written" | "grown", content: string, extra: Partial<ProbeRequest>) => {
    await bucket.putText(CANARY_KEY, content, "text/plain");
    const spec = {
      key: CANARY_KEY,
      size: Buffer.byteLength(content),
      sha256: createHash("sha256").update(content).digest("hex"),
      notBefore: clock.now() + CANARY_SETTLE_MS,
      waitMs: settings.canaryWaitMs,
    };
    const look = await probe(ports, settings, runId, `${round}${phase}`, reachable, {
      canary: spec,
      ...extra,
    });
    for (const id of look.unreached) judged.unreached.push(id);
    reachable = reachable.filter((id) => !look.unreached.includes(id));
    for (const [instanceId, answer] of look.answers) {
      if ("problem" in answer) {
        add(instanceId, { kind: "unreadable", detail: `${phase} canary look: ${answer.problem}` });
        continue;
      }
      const canary = answer.canary;
      const problem = canaryProblem(phase, canary, spec);
      if (problem) {
        add(instanceId, { kind: "stale", key: CANARY_KEY, detail: problem });
        continue;
      }
      if (phase === "written" && canary?.seenAt !== undefined) {
        const lag = Math.max(0, canary.seenAt - Math.max(answer.startedAt, spec.notBefore));
        lags.set(instanceId, lag);
        if (lag > settings.lagThresholdMs) {
          add(instanceId, { kind: "lag", key: CANARY_KEY, detail: `served the new canary after ${lag} ms` });
        }
      }
    }
    return look;
  };

  const canary = `ftpfleet audit canary\nrun ${runId}\nwritten ${new Date(clock.now()).toISOString()}\n`;
  await canaryLook("written", canary, {});
  // Longer than before: an instance that keeps the old size serves it truncated.
  const grown = `${canary}grown ${"#".repeat(200)}\n`;
  const sweep = {
    after: slice.after,
    through: slice.through,
    maxEntries: settings.sliceKeys * 4 + 1_000,
    skip: AUDIT_SKIPPED_PREFIX,
  };
  const recent = recentKeys.length > 0 ? { stat: [...recentKeys], hashMaxBytes: settings.hashMaxBytes } : {};
  const lookStarted = clock.now();
  const look = await canaryLook("grown", grown, { sweep, ...recent });
  const listedAt = clock.now();
  const settleMs = listedAt - (slice.listStarted ?? listedAt) + settings.settleExtraMs;

  // Candidates per instance (keys), from the diff of the slice against its listing and from the
  // recent changes that differ.
  const candidates = new Map<string, Set<string>>();
  const candidate = (instanceId: string, key: string) =>
    candidates.set(instanceId, (candidates.get(instanceId) ?? new Set()).add(key));
  if (recentKeys.length > 0) {
    const heads = await s3Sides(bucket, recentKeys);
    const recentFrom = listedAt - (listedAt - lookStarted + settings.settleExtraMs);
    for (const [instanceId, answer] of look.answers) {
      if ("problem" in answer) continue;
      for (const stat of answer.stat ?? []) {
        const s3 = heads.get(stat.key);
        if (isRecent(s3, stat, recentFrom)) judged.recentInFlight.add(stat.key);
        else if (secondLook(s3, stat, { recentFrom })) candidate(instanceId, stat.key);
      }
    }
  }
  const counts = new Map<string, { entries: number; inFlight: number }>();
  for (const [instanceId, answer] of look.answers) {
    if ("problem" in answer || !answer.sweep) continue;
    if (answer.sweep.errors.length > 0) {
      const first = answer.sweep.errors[0];
      add(instanceId, {
        kind: "unreadable",
        ...(first ? { key: first.key } : {}),
        detail: `${answer.sweep.errors.length} folder(s) could not be listed through the mount: ${first?.error ?? ""}`,
      });
    }
    if (!answer.sweep.complete) {
      add(instanceId, {
        kind: "unexpected",
        detail: `the listing of the slice exceeded ${sweep.maxEntries} entries`,
      });
    }
    for (const entry of answer.sweep.entries) if (entry.type === "link") judged.linkKeys.add(entry.path);
    const diff = await auditDiff(slice.objects, answer.sweep.entries, {
      listedAt,
      settleMs,
      maxFindings: 10_000,
    });
    counts.set(instanceId, { entries: answer.sweep.entries.length, inFlight: diff.summary.inFlight });
    for (const finding of diff.findings) {
      if (finding.kind === "unrepresentable") judged.unrepresentable.set(finding.key, finding.detail);
      else candidate(instanceId, finding.key);
    }
  }

  // The second look: only what both looks agree on, with nothing in flight, is a finding.
  const unconfirmed = new Map<string, number>();
  if (candidates.size > 0) {
    const keys = [...new Set([...candidates.values()].flatMap((own) => [...own]))].sort(compareKeys);
    const confirmStarted = clock.now();
    const heads = await s3Sides(bucket, keys);
    const second = await probe(ports, settings, runId, `${round}confirm`, [...candidates.keys()], {
      stat: keys,
      hashMaxBytes: settings.hashMaxBytes,
    });
    const now = clock.now();
    const settle = now - confirmStarted + settings.settleExtraMs;
    for (const [instanceId, own] of candidates) {
      const answer = second.answers.get(instanceId);
      if (!answer || "problem" in answer) {
        add(instanceId, {
          kind: "unreadable",
          detail: `confirm look: ${answer ? answer.problem : "unreached"}`,
        });
        continue;
      }
      const stats = new Map((answer.stat ?? []).map((s) => [s.key, s]));
      let dropped = 0;
      for (const key of own) {
        const verdict = secondLook(heads.get(key), stats.get(key), { recentFrom: now - settle });
        if (verdict) add(instanceId, { kind: verdict.kind, key, detail: verdict.detail });
        else dropped++;
      }
      unconfirmed.set(instanceId, dropped);
    }
  }

  for (const instanceId of reachable) {
    const own = findings.get(instanceId) ?? [];
    const lag = lags.get(instanceId);
    judged.results.set(instanceId, {
      instanceId,
      verdict: own.length === 0 ? "clean" : "findings",
      findings: own,
      ...(lag !== undefined ? { lagMs: lag } : {}),
      entries: counts.get(instanceId)?.entries ?? 0,
      unconfirmed: unconfirmed.get(instanceId) ?? 0,
      inFlight: counts.get(instanceId)?.inFlight ?? 0,
      wasOutOfRotation: false,
      action: "none",
    });
  }
  return judged;
}

/** What a client would have been served wrong: the size a listing shows, the first read, or no
 * whole read within the wait. Undefined: served right. */
export function canaryProblem(
  phase: string,
  canary: CanaryAnswer | undefined,
  spec: Pick<CanarySpec, "size" | "sha256">,
): string | undefined {
  if (!canary) return `${phase} canary: no answer`;
  if (canary.statSize !== spec.size) {
    return `${phase} canary: the mount shows ${canary.statSize ?? "no"} bytes, S3 holds ${spec.size} (stale stat cache: listings and SIZE lie)`;
  }
  const { first } = canary;
  if (first.sha256 !== spec.sha256) {
    const what =
      first.size !== null && first.size < spec.size
        ? `truncated: ${first.size} of ${spec.size} bytes`
        : `other content (${first.size ?? "no"} bytes)`;
    return `${phase} canary: the first read served ${what}${canary.ok ? "" : "; never served whole"}`;
  }
  return undefined;
}

// --- probes ----------------------------------------------------------------------------------------

/** Sends the probe document with one request to `instanceIds` and collects their answers. */
async function probe(
  ports: AuditPorts,
  settings: Settings,
  runId: string,
  phase: string,
  instanceIds: readonly string[],
  request: Omit<ProbeRequest, "version" | "runId">,
): Promise<Look> {
  const look: Look = { answers: new Map(), unreached: [] };
  if (instanceIds.length === 0) return look;
  const { bucket, commands, config, clock } = ports;
  const key = requestKey(runId, phase);
  await bucket.putText(key, JSON.stringify({ version: 1, runId, ...request } satisfies ProbeRequest));
  const document = documentName(config, "audit-probe");
  const pending = new Map<string, string>();
  // SendCommand takes at most 50 instance ids.
  for (const batch of chunks(instanceIds, 50)) {
    const { sent, refused } = await commands.send(
      document,
      batch,
      { RequestKey: key },
      {
        outputBucket: config.outputBucket,
        outputPrefix: "ssm/audit-probe",
        comment: `ftpfleet audit ${runId} ${phase}`,
      },
    );
    for (const [instanceId, commandId] of sent) pending.set(instanceId, commandId);
    look.unreached.push(...refused);
  }
  // One listing per command a poll (not one call per instance): SSM's read APIs are rate-limited.
  const finished = new Map<string, string>();
  await until(
    clock,
    async () => {
      for (const commandId of new Set(pending.values())) {
        for (const { instanceId, status } of (await commands.progress(commandId)).invocations) {
          if (pending.get(instanceId) === commandId && isTerminal(status)) finished.set(instanceId, status);
        }
      }
      return finished.size === pending.size;
    },
    { stepMs: settings.pollMs, limitMs: settings.probeTimeoutMs, what: `audit probe ${phase}` },
  );
  for (const [instanceId, status] of finished) {
    if (status !== "Success") {
      const view = await commands.invocation(pending.get(instanceId) ?? "", instanceId);
      const detail = [view.failedStep, view.stderrHead.split("\n")[0], view.outputUrl]
        .filter(Boolean)
        .join(": ");
      look.answers.set(instanceId, { problem: `probe ${view.status}${detail ? ` (${detail})` : ""}` });
      continue;
    }
    const body = await bucket.getText(answerKey(runId, phase, instanceId));
    look.answers.set(
      instanceId,
      body === undefined
        ? { problem: "the probe wrote no answer" }
        : parseProbeAnswer(body, { instanceId, runId }),
    );
  }
  return look;
}

// --- the second look -------------------------------------------------------------------------------

/** What S3 says of one key on the second look. */
type S3Side = { shows: "file"; head: ObjectHead } | { shows: "dir"; since?: number } | { shows: "nothing" };

/** What S3 says of each key, a few requests at a time. */
async function s3Sides(bucket: AuditBucket, keys: readonly string[]): Promise<Map<string, S3Side>> {
  const sides = new Map<string, S3Side>();
  await forEachConcurrently(keys, HEAD_CONCURRENCY, async (key) => {
    sides.set(key, await s3Side(bucket, key));
  });
  return sides;
}

async function s3Side(bucket: AuditBucket, key: string): Promise<S3Side> {
  if (!key.endsWith("/")) {
    const head = await bucket.head(key);
    return head ? { shows: "file", head } : { shows: "nothing" };
  }
  const marker = await bucket.head(key);
  if (marker) return { shows: "dir", since: marker.lastModified };
  const under = await bucket.list({ after: "", max: 1, prefix: key });
  return under.objects.length > 0 ? { shows: "dir" } : { shows: "nothing" };
}

/** Whether either side of a key changed at or after `recentFrom` (no verdict yet). */
function isRecent(s3: S3Side | undefined, stat: StatAnswer, recentFrom: number): boolean {
  const recent = (t: number | undefined) => t !== undefined && t >= recentFrom;
  return (
    (s3?.shows === "file" && (recent(s3.head.lastModified) || recent(s3.head.mtime))) || recent(stat.mtime)
  );
}

/** Judges one key from its second look; undefined when the two sides agree or a side is in flight. */
export function secondLook(
  s3: S3Side | undefined,
  stat: StatAnswer | undefined,
  options: { recentFrom: number; mtimeToleranceMs?: number },
): { kind: InstanceFindingKind; detail: string } | undefined {
  if (!s3 || !stat) return undefined;
  if (stat.type === "error")
    return { kind: "unreadable", detail: `stat through the mount: ${stat.error ?? "error"}` };
  if (isRecent(s3, stat, options.recentFrom)) return undefined;
  const shown = stat.type === "link" || stat.type === "other" ? "file" : stat.type;
  if (s3.shows === "nothing") {
    return shown === "nothing"
      ? undefined
      : { kind: "unexpected", detail: `shows a ${stat.type} S3 does not hold` };
  }
  if (shown === "nothing")
    return { kind: "missing", detail: `S3 holds a ${s3.shows} the mount does not show` };
  if (shown !== s3.shows)
    return { kind: "type-mismatch", detail: `S3 holds a ${s3.shows}, the mount shows a ${stat.type}` };
  if (s3.shows !== "file") return undefined;
  const { head } = s3;
  if (stat.size !== head.size) {
    return { kind: "stale", detail: `size ${stat.size} through the mount, ${head.size} in S3` };
  }
  const tolerance = options.mtimeToleranceMs ?? DEFAULT_MTIME_TOLERANCE_MS;
  if (stat.mtime !== undefined && Math.abs(stat.mtime - head.mtime) > tolerance) {
    return {
      kind: "stale",
      detail: `mtime ${new Date(stat.mtime).toISOString()} through the mount, ${new Date(head.mtime).toISOString()} in S3`,
    };
  }
  // A plain ETag is the content's MD5 (not with SSE-KMS, not for multipart uploads).
  const md5 = /^"?([0-9a-f]{32})"?$/.exec(head.etag)?.[1];
  if (stat.type === "file" && stat.readSize !== undefined && stat.readSize !== head.size) {
    return { kind: "stale", detail: `read ${stat.readSize} bytes through the mount, ${head.size} in S3` };
  }
  if (md5 && head.serverSideEncryption !== "aws:kms" && stat.md5 && stat.md5 !== md5) {
    return { kind: "stale", detail: "content through the mount differs from S3's (MD5)" };
  }
  return undefined;
}

// --- the bucket's own findings ---------------------------------------------------------------------

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

async function findInBucket(
  ports: AuditPorts,
  settings: Settings,
  objects: readonly S3ListedObject[],
  linkKeys: ReadonlySet<string>,
  unrepresentable: ReadonlyMap<string, string>,
): Promise<BucketFinding[]> {
  const { bucket, clock } = ports;
  const found: BucketFinding[] = [];
  for (const key of [...linkKeys].sort(compareKeys)) {
    const head = await bucket.head(key);
    const mode = Number(head?.metadata.mode);
    if (!head || !Number.isInteger(mode) || (mode & S_IFMT) !== S_IFLNK) continue;
    const target = head.size <= 4096 ? await bucket.getText(key) : undefined;
    found.push({
      kind: "symlink",
      key,
      detail: `s3fs shows it as a symbolic link${target !== undefined ? ` to ${JSON.stringify(target.slice(0, 256))}` : ""}; written with uid ${shown(head.metadata.uid)}, gid ${shown(head.metadata.gid)}`,
      lastModified: new Date(head.lastModified).toISOString(),
      metadata: Object.fromEntries(
        Object.entries(pick(head.metadata, ["mode", "uid", "gid", "mtime"])).map(([k, v]) => [k, shown(v)]),
      ),
    });
  }
  const now = clock.now();
  for (const object of objects) {
    if (object.key.startsWith(AUDIT_SKIPPED_PREFIX)) continue;
    const name = object.key.slice(object.key.lastIndexOf("/") + 1);
    if (name.startsWith(".pureftpd-") && object.lastModified < now - settings.leftoverAgeMs) {
      found.push({
        kind: "leftover-temp-file",
        key: object.key,
        detail: `pure-ftpd's temporary file (${object.size} bytes), left by an interrupted upload, rename or delete`,
        lastModified: new Date(object.lastModified).toISOString(),
      });
    }
  }
  for (const [key, detail] of unrepresentable) found.push({ kind: "unrepresentable", key, detail });
  for (const upload of await bucket.incompleteUploads(now - settings.uploadAgeMs)) {
    found.push({
      kind: "incomplete-upload",
      key: upload.key,
      detail: "a multipart upload never completed nor aborted: its parts are stored and billed",
      lastModified: new Date(upload.initiated).toISOString(),
    });
  }
  return found;
}

/** Metadata is written by whoever writes the bucket: shown short and without control characters. */
function shown(value: string | undefined): string {
  if (value === undefined) return "?";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const printable = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
  return printable.length > 64 ? `${printable.slice(0, 64)}…` : printable;
}

function pick(record: Record<string, string>, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    names.flatMap((name) => (record[name] !== undefined ? [[name, record[name]]] : [])),
  );
}

// --- repair ----------------------------------------------------------------------------------------

/** Out of rotation (weight 0), the bucket mounted again, audited again on its own; back in only when
 * it passes. After `maxFailedRepairs` failures in a row the group is told it is unhealthy. */
async function repairInstances(
  ports: AuditPorts,
  settings: Settings,
  runId: string,
  results: InstanceAudit[],
  viewOf: ReadonlyMap<string, InstanceView>,
  slice: Slice,
): Promise<void> {
  const { instances, dns, commands, config, clock, log } = ports;
  let repairs = 0;
  for (const result of results) {
    const { instanceId } = result;
    if (result.verdict === "clean") {
      if (result.wasOutOfRotation) {
        await instances.mark(instanceId, { outOfRotation: null, failedRepairs: null });
        result.action = "returned";
      }
      continue;
    }
    const reason = `audit ${runId}: ${result.findings[0]?.kind ?? "findings"}`;
    await instances.mark(instanceId, { outOfRotation: reason });
    await dns.sync();
    result.action = "taken-out";
    log.warn("audit.out-of-rotation", { runId, instanceId, reason });

    const sent = await commands.send(
      documentName(config, "audit-repair"),
      [instanceId],
      repairParameters(config),
      {
        outputBucket: config.outputBucket,
        outputPrefix: "ssm/audit-repair",
        comment: `ftpfleet audit ${runId} repair`,
      },
    );
    const commandId = sent.sent.get(instanceId);
    let repaired = false;
    let detail = "SSM did not run the repair (agent offline)";
    if (commandId) {
      let status = "Pending";
      let view: Awaited<ReturnType<typeof commands.invocation>> | undefined;
      await until(
        clock,
        async () => {
          view = await commands.invocation(commandId, instanceId);
          status = view.status;
          return isTerminal(status);
        },
        { stepMs: settings.pollMs, limitMs: settings.probeTimeoutMs, what: `audit repair of ${instanceId}` },
      );
      if (status === "Success") {
        repairs++;
        // The same slice, listed again: what changed since the run's listing is not a finding.
        const listStarted = clock.now();
        const listed = await listSlice(ports.bucket, slice.after, settings.sliceKeys);
        const objects = listed.objects.filter(
          (o) => slice.through === null || compareKeys(o.key, slice.through) <= 0,
        );
        const again = await judgeInstances(
          ports,
          settings,
          runId,
          [instanceId],
          { ...slice, objects, listStarted },
          `repair${repairs}-`,
        );
        const after = again.results.get(instanceId);
        repaired = after?.verdict === "clean";
        detail = repaired
          ? "mounted again; the new audit passed"
          : `mounted again, but the new audit found: ${after?.findings[0]?.detail ?? "no answer"}`;
      } else {
        detail = `repair ${status}: ${[view?.failedStep, view?.stderrHead.split("\n")[0]].filter(Boolean).join(": ")}`;
      }
    }
    if (repaired) {
      await instances.mark(instanceId, { outOfRotation: null, failedRepairs: null });
      await dns.sync();
      result.action = "repaired";
      result.actionDetail = detail;
      log.info("audit.repaired", { runId, instanceId });
      continue;
    }
    const failures = (viewOf.get(instanceId)?.failedRepairs ?? 0) + 1;
    await instances.mark(instanceId, { failedRepairs: failures });
    result.actionDetail = `${detail} (${failures} failed repair(s) in a row)`;
    if (failures >= settings.maxFailedRepairs) {
      await ports.group.markUnhealthy(instanceId);
      result.action = "marked-unhealthy";
      log.error("audit.marked-unhealthy", { runId, instanceId, failures });
    } else {
      result.action = "repair-failed";
      log.error("audit.repair-failed", { runId, instanceId, failures, detail });
    }
  }
}

/** The repair document's parameters. */
export function repairParameters(config: AuditPorts["config"]): Record<string, string> {
  return {
    BucketName: config.bucket ?? "",
    BucketRegion: config.bucketRegion ?? "",
    S3Endpoint: config.s3Endpoint ?? "",
    UsersManifestKey: ".ftpfleet/users.json",
    // As provision gave it: the repair lays out the health account's view again.
    HealthPort: String(config.healthPort),
  };
}

function metricsOf(
  results: readonly InstanceAudit[],
  bucketFindings: readonly BucketFinding[],
  viewOf: ReadonlyMap<string, InstanceView>,
): AuditMetrics {
  const out = results.filter(
    (r) =>
      r.action === "taken-out" ||
      r.action === "repair-failed" ||
      r.action === "marked-unhealthy" ||
      (r.action === "none" && viewOf.get(r.instanceId)?.outOfRotation !== undefined),
  );
  return {
    instancesAudited: results.length,
    instancesWithFindings: results.filter((r) => r.verdict === "findings").length,
    staleObjects: results.reduce((n, r) => n + r.findings.filter((f) => f.kind === "stale").length, 0),
    maxLagMs: Math.max(0, ...results.map((r) => r.lagMs ?? 0)),
    instancesOutOfRotation: out.length,
    symlinkObjects: bucketFindings.filter((f) => f.kind === "symlink").length,
    bucketFindings: bucketFindings.length,
  };
}
