// FTP sessions of the data-plane bench: lftp (a real client, a process of its own, as an FTP user
// would run it) over FTPS, with timestamps between its commands. A script logs in first (`cd` to
// the home's folder forces the connection, AUTH TLS and the login), so every transfer is timed
// alone: `!date` prints a mark before and after it. Each mark costs a fork of sh and date; the gap
// between two marks with nothing between them (`calibrateMarks`) is subtracted from each interval.
import { spawn } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface LftpTarget {
  address: string;
  user: string;
  password: string;
  /** A folder for the scripts (they hold the password, so 0600). */
  scratch: string;
  /** The folder `cd` enters after the login (the user's grant). */
  home: string;
}

export interface LftpRun {
  code: number;
  /** Mark name → nanoseconds since the epoch. */
  marks: Map<string, bigint>;
  /** Standard output without the marks (e.g. a listing). */
  lines: string[];
  stderr: string;
}

/** A script line printing the mark `name` with the current time. */
export const mark = (name: string): string => `!date +@${name}:%s%N`;

const settings = [
  // FTPS as the fleet requires by default; the sandbox's certificate is self-signed.
  "set ftp:ssl-force yes",
  "set ftp:ssl-protect-data yes",
  "set ssl:verify-certificate no",
  "set cmd:fail-exit yes",
  "set cache:enable no",
  "set xfer:clobber on",
  // A refused or failed operation fails the session instead of being retried later (lftp retries
  // by default, which would turn a refused session into a slow one).
  "set net:max-retries 1",
  "set net:timeout 120",
];

/**
 * Settings for an upload that is only STOR. After every upload lftp sets the file's modification
 * time to the local file's (MFMT when the server lists it in FEAT, as pure-ftpd does; SITE UTIME
 * otherwise), and s3fs applies that as a server-side copy of the whole object. lftp has no setting
 * for MFMT alone: without FEAT it does not know MFMT, and the SITE UTIME fallbacks are off.
 */
export const STOR_ONLY = ["set ftp:use-feat no", "set ftp:use-site-utime no", "set ftp:use-site-utime2 no"];

export interface LftpOptions {
  /** Sees standard output line by line as it comes (marks included). */
  onLine?: (line: string) => void;
  /** More settings, before the connection is opened. */
  settings?: string[];
}

let scripts = 0;

/** Runs an lftp script: settings, the login between the marks `login-start` and `login-end`, then
 * `body`. */
export async function lftp(target: LftpTarget, body: string[], options: LftpOptions = {}): Promise<LftpRun> {
  const script = join(target.scratch, `session-${process.pid}-${++scripts}.lftp`);
  const lines = [
    ...settings,
    ...(options.settings ?? []),
    `open ftp://${target.address}`,
    `user ${target.user} ${target.password}`,
    mark("login-start"),
    `cd ${target.home}`,
    mark("login-end"),
    ...body,
  ];
  await writeFile(script, `${lines.join("\n")}\n`, { mode: 0o600 });
  try {
    return await runLftp(["-f", script], options.onLine);
  } finally {
    await rm(script, { force: true });
  }
}

/** `lftp` checked: a non-zero exit throws with its stderr. */
export async function lftpChecked(
  target: LftpTarget,
  body: string[],
  options: LftpOptions = {},
): Promise<LftpRun> {
  const run = await lftp(target, body, options);
  if (run.code !== 0) throw new Error(`lftp exited ${run.code}: ${run.stderr.trim()}`);
  return run;
}

function runLftp(args: string[], onLine?: (line: string) => void): Promise<LftpRun> {
  return new Promise((resolve, reject) => {
    const child = spawn("lftp", args, { stdio: ["ignore", "pipe", "pipe"] });
    const marks = new Map<string, bigint>();
    const lines: string[] = [];
    let pending = "";
    let stderr = "";
    const take = (line: string) => {
      const found = /^@([\w.-]+):(\d+)$/.exec(line);
      if (found?.[1] !== undefined && found[2] !== undefined) marks.set(found[1], BigInt(found[2]));
      else lines.push(line);
      onLine?.(line);
    };
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      pending += chunk;
      const complete = pending.split("\n");
      pending = complete.pop() ?? "";
      for (const line of complete) take(line);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (pending.length > 0) take(pending);
      resolve({ code: code ?? 1, marks, lines, stderr });
    });
  });
}

/** Milliseconds from mark `from` to mark `to`, less the cost of a mark (`calibrateMarks`). */
export function between(run: LftpRun, from: string, to: string, markCostMs: number): number {
  const a = run.marks.get(from);
  const b = run.marks.get(to);
  if (a === undefined || b === undefined)
    throw new Error(`lftp printed no mark ${a === undefined ? from : to}`);
  return Number(b - a) / 1e6 - markCostMs;
}

/** The median gap between two consecutive marks in an lftp script (nothing between them). */
export async function calibrateMarks(scratch: string, samples = 15): Promise<number> {
  const script = join(scratch, `calibrate-${process.pid}.lftp`);
  await writeFile(script, `${Array.from({ length: samples + 1 }, (_, i) => mark(`m${i}`)).join("\n")}\n`);
  try {
    const run = await runLftp(["-f", script]);
    const gaps: number[] = [];
    for (let i = 0; i < samples; i++) gaps.push(between(run, `m${i}`, `m${i + 1}`, 0));
    gaps.sort((x, y) => x - y);
    return gaps[Math.floor(gaps.length / 2)] ?? 0;
  } finally {
    await rm(script, { force: true });
  }
}
