// The audit's diff of a bucket listing against one instance's listing (issue 9: 1,000,000 objects
// under 10 s and 512 MB), at 100k, 300k and 1M objects: the streaming merge-join (`auditDiff`) beside
// the naive approach (load both listings into Maps, then look each key up), same synthetic data, same
// run. Each measurement runs in a fresh process (this file, forked through tsx), so its peak RSS is
// its own (the kernel's maxRSS), not what an earlier measurement left behind.
//
// The data: realistic keys (top folders, client folders, months, 50 files each; accents, CJK, emoji,
// "+", "%" and spaces in names; a folder marker for one client folder in seven; `.ftpfleet/` objects),
// generated lazily in S3's order and handed over as async pages of 1,000 entries — as ListObjectsV2
// pages and a streamed probe output arrive. Planted: 3 missing, 3 stale, 2 unexpected, 1 type
// mismatch, 1 unrepresentable key; and 5 objects replaced during the audit plus 1 file uploaded
// during it, which must not be findings. Each row says whether exactly the planted findings came out.

import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
// The engine's own module, not the package index: the index loads every AWS SDK client, which would
// sit in each child's baseline memory; an audit function's bundle carries only what it uses.
import {
  AUDIT_FINDING_KINDS,
  type AuditFindingKind,
  auditDiff,
  compareKeys,
  type InstanceEntry,
  instanceKey,
  type S3ListedObject,
  whyUnrepresentable,
} from "../packages/core/src/audit/diff";

export const AUDIT_DIFF_SIZES = [100_000, 300_000, 1_000_000];
const CHILD_FLAG = "--audit-diff-child";
const PAGE = 1_000;
const FILES_PER_FOLDER = 50;
const LISTED_AT = Date.UTC(2025, 0, 15, 12, 0, 0);
const SETTLE_MS = 120_000;
const OLD = LISTED_AT - 30 * 86_400_000;
const RECENT = LISTED_AT - 20_000;

type Variant = "input" | "streaming" | "naive";

export interface AuditDiffMeasure {
  objects: number;
  instanceEntries: number;
  /** Wall time of the whole pass, generating the input included. */
  ms: number;
  /** The kernel's peak resident set of the process (Node and tsx included). */
  peakRssMB: number;
  /** Resident set before the pass: Node and tsx alone. */
  baselineRssMB: number;
  /** Highest V8 heap in use, sampled at every page. */
  peakHeapMB: number;
  findings: Record<AuditFindingKind, number>;
  /** Exactly the planted findings, nothing from the objects changed during the audit. */
  correct: boolean;
}

export interface AuditDiffRow {
  objects: number;
  /** Producing both inputs alone (what the network and the probe's parser cost in a real audit). */
  input: AuditDiffMeasure;
  streaming: AuditDiffMeasure;
  naive: AuditDiffMeasure;
}

export interface AuditDiffBenchResult {
  target: { objects: number; ms: number; peakRssMB: number };
  rows: AuditDiffRow[];
  planted: Record<AuditFindingKind, number>;
  /** Largest size over smallest: how time and memory above the baseline grow. */
  growth: {
    objects: number;
    streamingMs: number;
    naiveMs: number;
    streamingRss: number;
    naiveRss: number;
  };
  /** The largest size, streaming: within the aim. */
  meetsTarget: boolean;
}

export const PLANTED: Record<AuditFindingKind, number> = {
  missing: 3,
  unexpected: 2,
  stale: 3,
  "type-mismatch": 1,
  unrepresentable: 1,
};

/** Runs every size with the three variants, one fresh process each, one after another. */
export async function auditDiffBench(
  sizes: readonly number[] = AUDIT_DIFF_SIZES,
): Promise<AuditDiffBenchResult> {
  const rows: AuditDiffRow[] = [];
  for (const objects of sizes) {
    const input = await measureInChild("input", objects);
    const streaming = await measureInChild("streaming", objects);
    const naive = await measureInChild("naive", objects);
    rows.push({ objects, input, streaming, naive });
  }
  const first = rows[0] as AuditDiffRow;
  const last = rows[rows.length - 1] as AuditDiffRow;
  const above = (m: AuditDiffMeasure) => Math.max(1, m.peakRssMB - m.baselineRssMB);
  const ratio = (a: number, b: number) => Math.round((a / b) * 10) / 10;
  return {
    target: { objects: 1_000_000, ms: 10_000, peakRssMB: 512 },
    rows,
    planted: PLANTED,
    growth: {
      objects: ratio(last.objects, first.objects),
      streamingMs: ratio(last.streaming.ms, first.streaming.ms),
      naiveMs: ratio(last.naive.ms, first.naive.ms),
      streamingRss: ratio(above(last.streaming), above(first.streaming)),
      naiveRss: ratio(above(last.naive), above(first.naive)),
    },
    meetsTarget:
      last.objects >= 1_000_000 &&
      last.streaming.correct &&
      last.streaming.ms < 10_000 &&
      last.streaming.peakRssMB < 512,
  };
}

function measureInChild(variant: Variant, objects: number): Promise<AuditDiffMeasure> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [CHILD_FLAG, variant, String(objects)], {
      execArgv: ["--import", "tsx"],
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let result: AuditDiffMeasure | undefined;
    child.on("message", (message: AuditDiffMeasure) => {
      result = message;
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (result) resolve(result);
      else
        reject(
          new Error(`audit-diff ${variant} ${objects}: child exited (${code ?? signal}) without a result`),
        );
    });
  });
}

// --- the synthetic bucket ------------------------------------------------------------------------

const TOPS = ["archive", "clients", "données", "inbox", "projects", "写真"].sort((a, b) =>
  compareKeys(`${a}/`, `${b}/`),
);
const MONTHS = Array.from({ length: 12 }, (_, m) => `2024-${String(m + 1).padStart(2, "0")}`);
/** 50 names, none a prefix of another, in byte order. */
const NAMES = Array.from({ length: FILES_PER_FOLDER }, (_, i) => {
  const n = String(i).padStart(3, "0");
  const forms = [
    `IMG_${n}.jpg`,
    `report ${n}.pdf`,
    `naïve-${n}.txt`,
    `契約書-${n}.pdf`,
    `a+b ${n}.csv`,
    `50%-${n}.log`,
    `données-${n}.xlsx`,
    `🎉-${n}.png`,
    `Ｆｕｌｌ-${n}.doc`,
    `zz-${n}.bin`,
  ];
  return forms[i % forms.length] as string;
}).sort(compareKeys);

interface Node {
  key: string;
  dir: boolean;
  /** Index of the object among files (files only). */
  index: number;
}

/** Every folder and file of the bucket with `objects` files, in S3's order. */
function* tree(objects: number): Generator<Node> {
  const folders = Math.ceil(objects / FILES_PER_FOLDER);
  const clients = Math.ceil(folders / (TOPS.length * MONTHS.length));
  let index = 0;
  for (const top of TOPS) {
    if (index >= objects) return;
    yield { key: `${top}/`, dir: true, index: -1 };
    for (let c = 0; c < clients; c++) {
      const client = `${top}/c${String(c).padStart(5, "0")}/`;
      if (index >= objects) return;
      yield { key: client, dir: true, index: -1 };
      for (const month of MONTHS) {
        if (index >= objects) return;
        yield { key: `${client}${month}/`, dir: true, index: -1 };
        for (const name of NAMES) {
          if (index >= objects) return;
          yield { key: `${client}${month}/${name}`, dir: false, index: index++ };
        }
      }
    }
  }
}

/** Plants at fixed fractions of the bucket. */
function plants(objects: number) {
  const at = (f: number) => Math.floor(objects * f);
  return {
    missing: new Set([at(0.11), at(0.52), at(0.93)]),
    stale: new Set([at(0.23), at(0.61), at(0.87)]),
    replaced: new Set([0, 1, 2, 3, 4].map((k) => at(0.3) + k)),
    typeMismatch: at(0.45),
    unexpected: new Set([at(0.71), at(0.77)]),
    uploading: at(0.8),
    unrepresentable: at(0.5),
  };
}

const hash = (n: number) => {
  let x = (n + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
};

function* s3Side(objects: number): Generator<S3ListedObject> {
  const p = plants(objects);
  for (let i = 0; i < 20; i++)
    yield {
      key: `.ftpfleet/applied/i-${String(i).padStart(17, "0")}.json`,
      size: 300,
      lastModified: OLD,
      etag: '"a"',
    };
  let folders = 0;
  for (const node of tree(objects)) {
    if (node.dir) {
      // A marker for one client folder in seven.
      if (node.key.split("/").length === 3 && folders++ % 7 === 0)
        yield { key: node.key, size: 0, lastModified: OLD, etag: '"d41d8cd98f00b204e9800998ecf8427e"' };
      continue;
    }
    const h = hash(node.index);
    const replaced = p.replaced.has(node.index);
    yield {
      key: node.key,
      size: h % 5_000_000,
      lastModified: replaced ? RECENT : OLD - (h % 1_000_000_000),
      etag: `"${h.toString(16)}"`,
    };
    if (node.index === p.unrepresentable)
      yield { key: `${node.key}-${"x".repeat(300)}`, size: 1, lastModified: OLD, etag: '"x"' };
  }
}

function* instanceSide(objects: number): Generator<InstanceEntry> {
  const p = plants(objects);
  yield { path: ".ftpfleet", type: "dir", size: 0, mtime: OLD };
  yield { path: ".ftpfleet/applied", type: "dir", size: 0, mtime: OLD };
  for (const node of tree(objects)) {
    if (node.dir) {
      yield { path: node.key.slice(0, -1), type: "dir", size: 0, mtime: OLD };
      continue;
    }
    const i = node.index;
    if (p.missing.has(i)) continue;
    const h = hash(i);
    const mtime = OLD - (h % 2_000_000_000);
    if (i === p.typeMismatch) {
      yield { path: node.key, type: "dir", size: 0, mtime: OLD };
      continue;
    }
    // Replaced during the audit: the instance still shows the old version.
    const size = p.stale.has(i) || p.replaced.has(i) ? (h % 5_000_000) + 1 : h % 5_000_000;
    yield { path: node.key, type: "file", size, mtime };
    if (p.unexpected.has(i)) yield { path: `${node.key}.orphan`, type: "file", size: 7, mtime: OLD };
    if (i === p.uploading) yield { path: `${node.key}.uploading`, type: "file", size: 7, mtime: RECENT };
  }
}

/** Pages of `size`, sampling the heap at each one. */
async function* pages<T>(items: Iterable<T>, memory: { peakHeap: number }): AsyncGenerator<T[]> {
  let page: T[] = [];
  for (const item of items) {
    page.push(item);
    if (page.length === PAGE) {
      memory.peakHeap = Math.max(memory.peakHeap, process.memoryUsage().heapUsed);
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}

// --- the naive alternative -----------------------------------------------------------------------

/** Both listings in Maps, every implied folder in a Set, then one lookup per key. Same rules for the
 * window; no shadowing, no deferred judgement of folders. */
async function naiveDiff(
  s3Pages: AsyncIterable<S3ListedObject[]>,
  instancePages: AsyncIterable<InstanceEntry[]>,
): Promise<{ findings: Record<AuditFindingKind, number>; s3: number; instance: number }> {
  const since = LISTED_AT - SETTLE_MS;
  const recent = (t: number) => t >= since;
  const reserved = (k: string) => k === ".ftpfleet" || k.startsWith(".ftpfleet/");
  const s3 = new Map<string, S3ListedObject>();
  for await (const page of s3Pages) for (const o of page) s3.set(o.key, o);
  const instance = new Map<string, InstanceEntry>();
  for await (const page of instancePages) for (const e of page) instance.set(instanceKey(e), e);
  const implied = new Set<string>();
  for (const key of s3.keys())
    for (let slash = key.indexOf("/"); slash >= 0; slash = key.indexOf("/", slash + 1))
      implied.add(key.slice(0, slash + 1));
  const findings: Record<AuditFindingKind, number> = {
    missing: 0,
    unexpected: 0,
    stale: 0,
    "type-mismatch": 0,
    unrepresentable: 0,
  };
  for (const [key, o] of s3) {
    if (reserved(key)) continue;
    if (whyUnrepresentable(key)) {
      findings.unrepresentable++;
      continue;
    }
    const e = instance.get(key);
    if (e) {
      if (!recent(o.lastModified) && !recent(e.mtime) && e.type !== "dir" && e.size !== o.size)
        findings.stale++;
      continue;
    }
    const other = instance.get(key.endsWith("/") ? key.slice(0, -1) : `${key}/`);
    if (recent(o.lastModified) || (other && recent(other.mtime))) continue;
    if (other) findings["type-mismatch"]++;
    else findings.missing++;
  }
  for (const [key, e] of instance) {
    if (reserved(e.path) || s3.has(key)) continue;
    if (e.type === "dir" ? implied.has(key) || s3.has(e.path) : s3.has(`${key}/`) || implied.has(`${key}/`)) {
      if (e.type !== "dir" && !recent(e.mtime)) findings["type-mismatch"]++;
      continue;
    }
    if (!recent(e.mtime)) findings.unexpected++;
  }
  return { findings, s3: s3.size, instance: instance.size };
}

// --- one measurement, in the child --------------------------------------------------------------

async function measure(variant: Variant, objects: number): Promise<AuditDiffMeasure> {
  const baselineRssMB = process.memoryUsage().rss / 2 ** 20;
  const memory = { peakHeap: process.memoryUsage().heapUsed };
  const started = performance.now();
  let findings: Record<AuditFindingKind, number>;
  let instanceEntries = 0;
  if (variant === "input") {
    let s3Entries = 0;
    for await (const page of pages(s3Side(objects), memory)) s3Entries += page.length;
    if (s3Entries < objects) throw new Error(`generated ${s3Entries} S3 entries for ${objects} objects`);
    for await (const page of pages(instanceSide(objects), memory)) instanceEntries += page.length;
    findings = { missing: 0, unexpected: 0, stale: 0, "type-mismatch": 0, unrepresentable: 0 };
  } else if (variant === "streaming") {
    const result = await auditDiff(pages(s3Side(objects), memory), pages(instanceSide(objects), memory), {
      listedAt: LISTED_AT,
      settleMs: SETTLE_MS,
    });
    findings = result.summary.findings;
    instanceEntries = result.summary.instanceEntries;
  } else {
    const result = await naiveDiff(pages(s3Side(objects), memory), pages(instanceSide(objects), memory));
    findings = result.findings;
    instanceEntries = result.instance;
  }
  const ms = performance.now() - started;
  memory.peakHeap = Math.max(memory.peakHeap, process.memoryUsage().heapUsed);
  return {
    objects,
    instanceEntries,
    ms: Math.round(ms),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    baselineRssMB: Math.round(baselineRssMB),
    peakHeapMB: Math.round(memory.peakHeap / 2 ** 20),
    findings,
    correct: variant === "input" || AUDIT_FINDING_KINDS.every((kind) => findings[kind] === PLANTED[kind]),
  };
}

if (process.argv[2] === CHILD_FLAG && process.send) {
  const send = process.send.bind(process);
  measure(process.argv[3] as Variant, Number(process.argv[4])).then(
    (result) => send(result, () => process.exit(0)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
