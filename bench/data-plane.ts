// The data plane against direct S3, on this machine: one sandbox (the local S3 server, instances
// as network namespaces running the provision document's scripts, s3fs and pure-ftpd), FTPS
// through lftp, and the direct-S3 baseline from a process of its own (direct-s3-worker.ts), both
// against the same server in the same run. Every transfer figure is paired: FTP and the direct
// operations back to back, their order alternating from round to round; medians and the range of
// the per-round ratios are reported. Needs root, /dev/fuse and `ip netns`; otherwise it returns
// the reason and measures nothing.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { dataPlaneSupport, runChecked, Sandbox } from "@ftpfleet/local";
import { DirectS3 } from "./direct-s3";
import {
  between,
  calibrateMarks,
  type LftpRun,
  type LftpTarget,
  lftp,
  lftpChecked,
  mark,
  STOR_ONLY,
} from "./lftp";
import {
  BENCH_USER,
  loginFigures,
  type ProvisionBenchFigures,
  provisionFigures,
  untilLogin,
} from "./provision";
import { RequestCounter } from "./s3-requests";
import { median, range, repeat, round } from "./stats";

const MiB = 1024 * 1024;

/** s3fs 1.95's defaults, which mount-bucket.sh leaves as they are: multipart_size 10 MB,
 * parallel_count 5. */
export const S3FS_PATTERN = { partSize: 10 * MiB, parallel: 5 } as const;

/**
 * The parts s3fs 1.95 uploads a new file in (its default "mix multipart" flush,
 * `parse_partsize_fdpage_list`): from multipart_size on, parts of multipart_size while more than
 * two remain, then the rest in one (so 20 MB is one part of 20 MB, 200 MB 18 of 10 and one of
 * 20), parallel_count at once; below multipart_size one PutObject (undefined here).
 * multipart_threshold (25 MB) only decides how s3fs copies (CopyObject or a multipart copy).
 */
export function s3fsUploadParts(bytes: number): number[] | undefined {
  const size = S3FS_PATTERN.partSize;
  if (bytes < size) return undefined;
  const parts: number[] = [];
  let rest = bytes;
  while (rest > 2 * size) {
    parts.push(size);
    rest -= size;
  }
  parts.push(rest);
  return parts;
}

/** s3fs keeps what it learnt of an object for stat_cache_expire=1 s (mount-bucket.sh): FTP
 * listings wait this long first, so that none is served from what the previous one cached. */
const STAT_CACHE_PAUSE_MS = 1_200;

/** The transfer instance: the provision document's 100 passive ports (pure-ftpd allows half as
 * many sessions, so 50, the default MaxClients; the sandbox's own default of 20 ports would allow
 * 10) and 25 sessions per address instead of the default 10, for 20 at once from the bench's one
 * address. */
export const TRANSFER_INSTANCE = { passivePorts: "30000:30099", maxClientsPerIp: 25 } as const;

export interface DataPlaneBenchOptions {
  /** Sizes of the paired transfers, MB (2^20 bytes). */
  sizesMB?: number[];
  /** Paired rounds per size (≥ 5 for the issue's figures). */
  rounds?: number;
  smallFiles?: number;
  smallFileKB?: number;
  listingEntries?: number;
  listingRounds?: number;
  sessions?: number;
  sessionMB?: number;
  sessionRounds?: number;
}

/** One operation over FTP beside its direct-S3 baselines, ms per round. */
export interface PairedFigures {
  /** Median ms. */
  ftpMs: number;
  singleMs: number;
  patternMs: number;
  ftpMBps: number;
  singleMBps: number;
  patternMBps: number;
  /** FTP throughput ÷ direct throughput (direct ms ÷ FTP ms), of the medians. */
  ratioSingle: number;
  ratioPattern: number;
  /** The per-round ratios' lowest and highest. */
  ratioSingleRange: [number, number];
  ratioPatternRange: [number, number];
  /** What "same pattern" was here (s3fs's requests for this size). */
  pattern: string;
  samples: { ftpMs: number[]; singleMs: number[]; patternMs: number[] };
  /** Requests the S3 server received during one FTP transfer (the first round), by kind. */
  ftpS3Requests: Record<string, number>;
}

export interface TransferFigures {
  sizeMB: number;
  rounds: number;
  /** STOR alone (lftp without FEAT, so no MFMT afterwards). */
  upload: PairedFigures;
  /** lftp as it comes: STOR, then MFMT to the local file's time, which s3fs applies as a
   * server-side copy of the whole object. Same direct samples as `upload`. */
  uploadWithMtime: PairedFigures;
  download: PairedFigures;
}

export interface DataPlaneFigures {
  /** Cost of one lftp timestamp (two marks with nothing between), subtracted from every FTP time. */
  markCostMs: number;
  /** FTPS login as lftp does it (connect, AUTH TLS, USER/PASS, PBSZ/PROT, CWD), never part of a
   * transfer's time: median and range over every timed session alone (not the concurrent ones). */
  ftpLoginMs: number;
  ftpLoginRangeMs: [number, number];
  transfers: TransferFigures[];
  /** FTP DELE of one file ÷ one DeleteObject of an object as large (goal ≤ 2). */
  delete: {
    sizeMB: number;
    rounds: number;
    ftpMs: number;
    directMs: number;
    ratio: number;
    ratioRange: [number, number];
    samples: { ftpMs: number[]; directMs: number[] };
    ftpS3Requests: Record<string, number>;
  };
  /** Small files uploaded one after another in one session (lftp mput) against as many
   * PutObjects one after another, then the folder listed (LIST against ListObjects, as s3fs lists). */
  smallFiles: {
    files: number;
    fileKB: number;
    ftpUploadMs: number;
    directUploadMs: number;
    uploadRatio: number;
    listRounds: number;
    ftpListMs: number;
    directListMs: number;
    listRatio: number;
    listRatioRange: [number, number];
    /** Upload plus the median listing, FTP ÷ direct. */
    totalRatio: number;
    ftpListed: number;
    ftpUploadS3Requests: Record<string, number>;
    ftpListS3Requests: Record<string, number>;
  };
  /** LIST of one folder of `entries` objects (put there directly). */
  listing: {
    entries: number;
    rounds: number;
    ftpMs: number;
    directMs: number;
    ratio: number;
    ratioRange: [number, number];
    samples: { ftpMs: number[]; directMs: number[] };
    /** Lines the FTP listing returned, and pure-ftpd's final reply to it. */
    ftpListed: number;
    ftpReply: string;
    directEntries: number;
    directPages: number;
    ftpS3Requests: Record<string, number>;
    /** Putting the objects there: `entries` PutObjects, 16 at once, direct. */
    populateMs: number;
  };
  /** `sessions` FTP sessions on one instance at once, each moving `sessionMB`, logged in first;
   * aggregate MB/s from the first start to the last end, beside as many GET/PUTs at once. */
  concurrent: {
    sessions: number;
    sessionMB: number;
    rounds: number;
    maxClientsPerIp: number;
    /** The sessions' logins, all at once (not in the MB/s): median and range. */
    loginMs: number;
    loginRangeMs: [number, number];
    upload: ConcurrentFigures;
    download: ConcurrentFigures;
  };
  /** Provision to serving of the transfer instance (cached artifacts, its own options). */
  transferInstanceProvisionMs: number;
  wallSeconds: number;
}

export interface ConcurrentFigures {
  /** Medians of the rounds. */
  ftpMBps: number;
  directMBps: number;
  ratio: number;
  ratioRange: [number, number];
  samples: { ftpMBps: number[]; directMBps: number[] };
  /** Sessions that failed (login refused, transfer failed), over every round. */
  failures: number;
  failureMessages: string[];
}

export type DataPlaneBenchResult =
  | { skipped: string }
  | { skipped?: undefined; provision: ProvisionBenchFigures; dataPlane: DataPlaneFigures };

interface Context {
  target: LftpTarget;
  direct: DirectS3;
  scratch: string;
  markCostMs: number;
  requests: RequestCounter;
  logins: number[];
}

interface FtpTimedOptions {
  /** Count the S3 requests between the marks (switched on and off as the marks arrive). */
  count?: boolean;
  /** Commands after the login, before the first mark. */
  before?: string[];
  /** lftp settings, before the connection (e.g. STOR_ONLY). */
  settings?: string[];
}

/** One FTP session: login, `before`, then `commands` between two marks. */
async function ftpTimed(
  ctx: Context,
  commands: string[],
  options: FtpTimedOptions = {},
): Promise<{ ms: number; run: LftpRun; requests: Record<string, number> }> {
  let requests: Record<string, number> = {};
  const body = [...(options.before ?? []), mark("a"), ...commands, mark("b")];
  const run = await lftpChecked(ctx.target, body, {
    settings: options.settings ?? [],
    onLine: (line) => {
      if (!options.count) return;
      if (line.startsWith("@a:")) ctx.requests.start();
      if (line.startsWith("@b:")) requests = ctx.requests.stop();
    },
  });
  ctx.logins.push(between(run, "login-start", "login-end", ctx.markCostMs));
  return { ms: between(run, "a", "b", ctx.markCostMs), run, requests };
}

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the steps in order on even rounds and in reverse order on odd ones. */
async function alternate(round: number, steps: (() => Promise<void>)[]): Promise<void> {
  for (const step of round % 2 === 0 ? steps : [...steps].reverse()) await step();
}

function paired(
  sizeMB: number,
  ftpMs: number[],
  singleMs: number[],
  patternMs: number[],
  pattern: string,
  ftpS3Requests: Record<string, number>,
): PairedFigures {
  const mbps = (ms: number) => round(sizeMB / (ms / 1000), 1);
  const ratios = (direct: number[]) => ftpMs.map((ms, i) => (direct[i] as number) / ms);
  const [ftp, single, same] = [median(ftpMs), median(singleMs), median(patternMs)];
  const ms = (values: number[]) => values.map((v) => round(v, 1));
  return {
    ftpMs: round(ftp, 1),
    singleMs: round(single, 1),
    patternMs: round(same, 1),
    ftpMBps: mbps(ftp),
    singleMBps: mbps(single),
    patternMBps: mbps(same),
    ratioSingle: round(single / ftp),
    ratioPattern: round(same / ftp),
    ratioSingleRange: range(ratios(singleMs)),
    ratioPatternRange: range(ratios(patternMs)),
    pattern,
    samples: { ftpMs: ms(ftpMs), singleMs: ms(singleMs), patternMs: ms(patternMs) },
    ftpS3Requests,
  };
}

async function transfers(ctx: Context, sizeMB: number, rounds: number): Promise<TransferFigures> {
  const { direct, scratch } = ctx;
  const bytes = sizeMB * MiB;
  const payload = join(scratch, `payload-${sizeMB}.bin`);
  const parts = s3fsUploadParts(bytes);
  const { partSize, parallel } = S3FS_PATTERN;
  const up = { stor: [] as number[], lftp: [] as number[], single: [] as number[], pattern: [] as number[] };
  const down = { ftp: [] as number[], single: [] as number[], pattern: [] as number[] };
  const requests = { stor: {}, lftp: {}, down: {} } as Record<
    "stor" | "lftp" | "down",
    Record<string, number>
  >;
  const back = (name: string) => join(scratch, `back-${name}.bin`);
  for (let i = 0; i < rounds; i++) {
    const ftpName = `ftp-${sizeMB}-${i}.bin`;
    const count = i === 0;
    await alternate(i, [
      async () => {
        const run = await ftpTimed(ctx, [`put ${payload} -o ${ftpName}`], { count, settings: STOR_ONLY });
        up.stor.push(run.ms);
        if (count) requests.stor = run.requests;
      },
      async () => {
        const run = await ftpTimed(ctx, [`put ${payload} -o lftp-${sizeMB}-${i}.bin`], { count });
        up.lftp.push(run.ms);
        if (count) requests.lftp = run.requests;
      },
      async () => {
        up.single.push(await direct.ms({ op: "put", key: `bench/single-${sizeMB}-${i}.bin`, file: payload }));
      },
      async () => {
        const key = `bench/parts-${sizeMB}-${i}.bin`;
        up.pattern.push(
          await direct.ms(
            parts === undefined
              ? { op: "put", key, file: payload }
              : { op: "putParts", key, file: payload, parts, parallel },
          ),
        );
      },
    ]);
    const ftpKey = `${BENCH_USER.home}/${ftpName}`;
    await alternate(i + 1, [
      async () => {
        const run = await ftpTimed(ctx, [`get ${ftpName} -o ${back("ftp")}`], { count });
        down.ftp.push(run.ms);
        if (count) requests.down = run.requests;
      },
      async () => {
        down.single.push(await direct.ms({ op: "get", key: ftpKey, file: back("single") }));
      },
      async () => {
        const op = { op: "getRanges", key: ftpKey, file: back("ranges"), size: bytes, partSize } as const;
        down.pattern.push(await direct.ms({ ...op, perBatch: parallel }));
      },
    ]);
    if (i === 0) {
      // What went up and came back is what was sent, on every path.
      const want = await sha256(payload);
      for (const name of ["ftp", "single", "ranges"]) {
        if ((await sha256(back(name))) !== want) throw new Error(`${sizeMB} MB ${name} download differs`);
      }
    }
  }
  const uploadPattern =
    parts === undefined
      ? "one PutObject"
      : parts.length === 1
        ? `multipart, one part of ${sizeMB} MB`
        : `multipart, ${parts.length} parts (${parts.length - 1} of 10 MB, one of ${(parts.at(-1) as number) / MiB} MB), ${parallel} at once`;
  const ranges = Math.ceil(bytes / partSize);
  const batches = Math.ceil(ranges / parallel);
  const downloadPattern = `${ranges} ranged GETs of 10 MB, ${batches === 1 ? "all at once" : `${batches} batches of ${parallel}`}`;
  return {
    sizeMB,
    rounds,
    upload: paired(sizeMB, up.stor, up.single, up.pattern, uploadPattern, requests.stor),
    uploadWithMtime: paired(sizeMB, up.lftp, up.single, up.pattern, uploadPattern, requests.lftp),
    download: paired(sizeMB, down.ftp, down.single, down.pattern, downloadPattern, requests.down),
  };
}

async function deletes(ctx: Context, sizeMB: number, rounds: number): Promise<DataPlaneFigures["delete"]> {
  const ftp: number[] = [];
  const directMs: number[] = [];
  let ftpS3Requests: Record<string, number> = {};
  for (let i = 0; i < rounds; i++) {
    await alternate(i, [
      async () => {
        const run = await ftpTimed(ctx, [`rm ftp-${sizeMB}-${i}.bin`], { count: i === 0 });
        ftp.push(run.ms);
        if (i === 0) ftpS3Requests = run.requests;
      },
      async () => {
        directMs.push(await ctx.direct.ms({ op: "delete", key: `bench/single-${sizeMB}-${i}.bin` }));
      },
    ]);
  }
  // The rest of this size's objects, untimed: the server's disk and page cache stay small.
  for (let i = 0; i < rounds; i++) {
    for (const name of [`lftp-${sizeMB}-${i}`, `parts-${sizeMB}-${i}`]) {
      await ctx.direct.run({ op: "delete", key: `bench/${name}.bin` });
    }
  }
  return {
    sizeMB,
    rounds,
    ftpMs: round(median(ftp), 1),
    directMs: round(median(directMs), 1),
    ratio: round(median(ftp) / median(directMs)),
    ratioRange: range(ftp.map((ms, i) => ms / (directMs[i] as number))),
    samples: { ftpMs: ftp.map((ms) => round(ms, 1)), directMs: directMs.map((ms) => round(ms, 1)) },
    ftpS3Requests,
  };
}

/** Lines of a listing (lftp's `ls`: pure-ftpd's LIST, one line per entry). */
const entriesListed = (run: LftpRun) => run.lines.filter((line) => line.trim().length > 0).length;

async function smallFiles(
  ctx: Context,
  files: number,
  fileKB: number,
  listRounds: number,
): Promise<DataPlaneFigures["smallFiles"]> {
  const local = join(ctx.scratch, "small");
  await mkdir(local);
  for (let i = 0; i < files; i++) {
    await writeFile(join(local, `${String(i).padStart(5, "0")}.bin`), randomBytes(fileKB * 1024));
  }
  // One sample each (the heaviest figure): FTP first, then direct. STOR alone, as `upload`.
  const upload = await ftpTimed(ctx, [`mput -O small-ftp ${local}/*`], {
    count: true,
    before: ["mkdir -p small-ftp"],
    settings: STOR_ONLY,
  });
  const directUploadMs = await ctx.direct.ms({
    op: "putMany",
    prefix: "bench/small-direct/",
    count: files,
    bytes: fileKB * 1024,
    concurrency: 1,
  });
  const ftpList: number[] = [];
  const directList: number[] = [];
  let listed = 0;
  let listRequests: Record<string, number> = {};
  for (let i = 0; i < listRounds; i++) {
    await alternate(i, [
      async () => {
        await sleep(STAT_CACHE_PAUSE_MS);
        const run = await ftpTimed(ctx, ["ls small-ftp"], { count: i === 0 });
        ftpList.push(run.ms);
        listed = entriesListed(run.run);
        if (i === 0) listRequests = run.requests;
      },
      async () => {
        directList.push(await ctx.direct.ms({ op: "list", prefix: "bench/small-direct/" }));
      },
    ]);
  }
  if (listed !== files) throw new Error(`FTP listed ${listed} of ${files} small files`);
  const [ftpListMs, directListMs] = [median(ftpList), median(directList)];
  return {
    files,
    fileKB,
    ftpUploadMs: Math.round(upload.ms),
    directUploadMs: Math.round(directUploadMs),
    uploadRatio: round(upload.ms / directUploadMs),
    listRounds,
    ftpListMs: round(ftpListMs, 1),
    directListMs: round(directListMs, 1),
    listRatio: round(ftpListMs / directListMs),
    listRatioRange: range(ftpList.map((ms, i) => ms / (directList[i] as number))),
    totalRatio: round((upload.ms + ftpListMs) / (directUploadMs + directListMs)),
    ftpListed: listed,
    ftpUploadS3Requests: upload.requests,
    ftpListS3Requests: listRequests,
  };
}

async function listing(ctx: Context, entries: number, rounds: number): Promise<DataPlaneFigures["listing"]> {
  const prefix = "bench/listing/";
  const populateMs = await ctx.direct.ms({
    op: "putMany",
    prefix,
    count: entries,
    bytes: 10,
    concurrency: 16,
  });
  const ftp: number[] = [];
  const directMs: number[] = [];
  let ftpListed = 0;
  let directEntries = 0;
  let directPages = 0;
  let ftpS3Requests: Record<string, number> = {};
  const protocolLog = join(ctx.scratch, "listing-protocol.log");
  for (let i = 0; i < rounds; i++) {
    await alternate(i, [
      async () => {
        await sleep(STAT_CACHE_PAUSE_MS);
        // The first round logs the control connection (to read pure-ftpd's final reply).
        const before = i === 0 ? [`debug -o ${protocolLog} 9`] : [];
        const run = await ftpTimed(ctx, ["ls listing"], { count: i === 0, before });
        ftp.push(run.ms);
        ftpListed = entriesListed(run.run);
        if (i === 0) ftpS3Requests = run.requests;
      },
      async () => {
        const result = await ctx.direct.run({ op: "list", prefix });
        directMs.push(result.ms);
        directEntries = result.entries ?? 0;
        directPages = result.pages ?? 0;
      },
    ]);
  }
  const protocol = await readFile(protocolLog, "utf8").catch(() => "");
  const replies = protocol.split("\n").filter((line) => line.includes("<--- 226"));
  return {
    entries,
    rounds,
    ftpMs: Math.round(median(ftp)),
    directMs: round(median(directMs), 1),
    ratio: round(median(ftp) / median(directMs)),
    ratioRange: range(ftp.map((ms, i) => ms / (directMs[i] as number))),
    samples: { ftpMs: ftp.map((ms) => Math.round(ms)), directMs: directMs.map((ms) => round(ms, 1)) },
    ftpListed,
    ftpReply: replies.map((line) => line.replace(/^.*<--- /, "").trim()).join(" / "),
    directEntries,
    directPages,
    ftpS3Requests,
    populateMs: Math.round(populateMs),
  };
}

/** A lock the bench holds while the sessions log in: each waits for it (`flock -s`, no polling)
 * after its login, so all transfers start together when it is released. */
async function holdBarrier(path: string): Promise<() => Promise<void>> {
  const holder = spawn("flock", ["-x", path, "-c", "echo held; cat >/dev/null"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => holder.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once("data", () => resolve());
    holder.once("error", reject);
    holder.once("close", (code) => reject(new Error(`flock exited ${code}`)));
  });
  return async () => {
    holder.stdin.end();
    await exited;
  };
}

async function concurrentFtp(
  ctx: Context,
  sessions: number,
  name: string,
  command: (session: number) => string,
  settings: string[] = [],
): Promise<{ ms: number; ok: number; failures: string[]; logins: number[] }> {
  const barrier = join(ctx.scratch, `barrier-${name}`);
  await writeFile(barrier, "");
  const release = await holdBarrier(barrier);
  let arrived = 0;
  let allArrived: () => void = () => undefined;
  const everyone = new Promise<void>((resolve) => {
    allArrived = resolve;
  });
  const arrive = () => {
    arrived += 1;
    if (arrived === sessions) allArrived();
  };
  const runs = Array.from({ length: sessions }, (_, s) => {
    let ready = false;
    const body = [mark("ready"), `!flock -s ${barrier} true`, mark("start"), command(s), mark("end")];
    const onLine = (line: string) => {
      if (line.startsWith("@ready:")) {
        ready = true;
        arrive();
      }
    };
    return lftp(ctx.target, body, { onLine, settings }).finally(() => {
      // A session that failed before its login counts as arrived, or nothing would ever start.
      if (!ready) arrive();
    });
  });
  await everyone;
  await release();
  const done = await Promise.all(runs);
  await rm(barrier, { force: true });
  const good = done.filter((run) => run.code === 0 && run.marks.has("start") && run.marks.has("end"));
  const failures = done
    .filter((run) => !good.includes(run))
    .map((run) => `exit ${run.code}: ${run.stderr.trim().split("\n").at(-1) ?? ""}`);
  const logins = good.map((run) => between(run, "login-start", "login-end", ctx.markCostMs));
  if (good.length === 0) return { ms: Number.NaN, ok: 0, failures, logins };
  // Microseconds since the epoch: exact as numbers.
  const micros = (run: LftpRun, name: string) => Number((run.marks.get(name) as bigint) / 1000n);
  const first = Math.min(...good.map((run) => micros(run, "start")));
  const last = Math.max(...good.map((run) => micros(run, "end")));
  return { ms: (last - first) / 1000 - ctx.markCostMs, ok: good.length, failures, logins };
}

async function concurrent(
  ctx: Context,
  sessions: number,
  sessionMB: number,
  rounds: number,
): Promise<DataPlaneFigures["concurrent"]> {
  const payload = join(ctx.scratch, `payload-${sessionMB}.bin`);
  const ids = Array.from({ length: sessions }, (_, s) => s);
  const up = { ftp: [] as number[], direct: [] as number[], failures: [] as string[] };
  const down = { ftp: [] as number[], direct: [] as number[], failures: [] as string[] };
  const mbps = (ok: number, ms: number) => round((ok * sessionMB) / (ms / 1000), 1);
  const logins: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const name = (s: number) => `concurrent-${r}-${s}.bin`;
    await alternate(r, [
      async () => {
        const put = (s: number) => `put ${payload} -o ${name(s)}`;
        const run = await concurrentFtp(ctx, sessions, `up-${r}`, put, STOR_ONLY);
        up.ftp.push(mbps(run.ok, run.ms));
        up.failures.push(...run.failures);
        logins.push(...run.logins);
      },
      async () => {
        const items = ids.map((s) => ({ key: `bench/concurrent-direct-${r}-${s}.bin`, file: payload }));
        up.direct.push(mbps(sessions, await ctx.direct.ms({ op: "putAll", items })));
      },
    ]);
    await alternate(r + 1, [
      async () => {
        const get = (s: number) => `get ${name(s)} -o ${join(ctx.scratch, `concurrent-ftp-${s}.bin`)}`;
        const run = await concurrentFtp(ctx, sessions, `down-${r}`, get);
        down.ftp.push(mbps(run.ok, run.ms));
        down.failures.push(...run.failures);
        logins.push(...run.logins);
      },
      async () => {
        const items = ids.map((s) => ({
          key: `${BENCH_USER.home}/${name(s)}`,
          file: join(ctx.scratch, `concurrent-direct-${s}.bin`),
        }));
        down.direct.push(mbps(sessions, await ctx.direct.ms({ op: "getAll", items })));
      },
    ]);
  }
  const figures = (side: typeof up): ConcurrentFigures => ({
    ftpMBps: round(median(side.ftp), 1),
    directMBps: round(median(side.direct), 1),
    ratio: round(median(side.ftp) / median(side.direct)),
    ratioRange: range(side.ftp.map((v, i) => v / (side.direct[i] as number))),
    samples: { ftpMBps: side.ftp, directMBps: side.direct },
    failures: side.failures.length,
    failureMessages: side.failures.slice(0, 5),
  });
  return {
    sessions,
    sessionMB,
    rounds,
    maxClientsPerIp: TRANSFER_INSTANCE.maxClientsPerIp,
    loginMs: round(median(logins), 1),
    loginRangeMs: range(logins, 1),
    upload: figures(up),
    download: figures(down),
  };
}

export async function dataPlaneBench(options: DataPlaneBenchOptions = {}): Promise<DataPlaneBenchResult> {
  const reason = dataPlaneSupport();
  if (reason !== undefined) return { skipped: reason };
  const wallStart = performance.now();
  const sizesMB = options.sizesMB ?? [20, 200];
  const rounds = options.rounds ?? 7;
  const scratch = await mkdtemp(join(tmpdir(), "ftpfleet-bench-"));
  const requests = new RequestCounter();
  const world = await Sandbox.create({ onS3Request: requests.observe });
  let direct: DirectS3 | undefined;
  try {
    const s3 = world.s3Client();
    const hash = (await runChecked("openssl", ["passwd", "-6", BENCH_USER.password])).trim();
    const manifest = {
      version: 1,
      users: [
        { name: BENCH_USER.name, passwordHash: hash, grants: [{ path: BENCH_USER.home, access: "rw" }] },
      ],
    };
    const Body = JSON.stringify(manifest);
    await s3.send(new PutObjectCommand({ Bucket: world.bucket, Key: ".ftpfleet/users.json", Body }));
    s3.destroy();

    const provisioning = await provisionFigures(world);
    const instance = await world.addInstance();
    const transferInstanceProvisionMs = await untilLogin(instance, TRANSFER_INSTANCE);

    direct = await DirectS3.start(world.s3.endpoint, world.region, world.bucket);
    const ctx: Context = {
      target: {
        address: instance.address,
        user: BENCH_USER.name,
        password: BENCH_USER.password,
        scratch,
        home: BENCH_USER.home,
      },
      direct,
      scratch,
      markCostMs: await calibrateMarks(scratch),
      requests,
      logins: [],
    };
    const sessionMB = options.sessionMB ?? 20;
    for (const sizeMB of new Set([...sizesMB, sessionMB])) {
      await writeFile(join(scratch, `payload-${sizeMB}.bin`), randomBytes(sizeMB * MiB));
    }
    // Warm-up, not counted: the first FTPS session and the first direct transfer.
    const warm = join(scratch, `payload-${Math.min(...sizesMB)}.bin`);
    await ftpTimed(ctx, [`put ${warm} -o warm-up.bin`, `get warm-up.bin -o ${join(scratch, "warm.bin")}`], {
      settings: STOR_ONLY,
    });
    await direct.ms({ op: "put", key: "bench/warm-up-direct.bin", file: warm });
    await direct.ms({ op: "get", key: "bench/warm-up-direct.bin", file: join(scratch, "warm.bin") });
    ctx.logins.length = 0;

    const transferFigures = await repeat(sizesMB.length, (i) => transfers(ctx, sizesMB[i] as number, rounds));
    const largest = Math.max(...sizesMB);
    const deleteFigures = await deletes(ctx, largest, rounds);
    const small = await smallFiles(ctx, options.smallFiles ?? 1000, options.smallFileKB ?? 10, rounds);
    const big = await listing(ctx, options.listingEntries ?? 10_000, options.listingRounds ?? 3);
    const sessions = await concurrent(ctx, options.sessions ?? 20, sessionMB, options.sessionRounds ?? 3);
    const logins = await loginFigures(instance);
    return {
      provision: { ...provisioning, ...logins },
      dataPlane: {
        markCostMs: round(ctx.markCostMs),
        ftpLoginMs: round(median(ctx.logins), 1),
        ftpLoginRangeMs: range(ctx.logins, 1),
        transfers: transferFigures,
        delete: deleteFigures,
        smallFiles: small,
        listing: big,
        concurrent: sessions,
        transferInstanceProvisionMs: Math.round(transferInstanceProvisionMs),
        wallSeconds: round((performance.now() - wallStart) / 1000, 1),
      },
    };
  } finally {
    await direct?.close();
    await world.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}
