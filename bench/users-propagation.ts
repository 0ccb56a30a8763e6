// Time from `ftpfleet users add` (the real CLI, as an operator runs it) until the new user logs in
// on every one of N local instances, beside the same change applied one instance at a time
// (`--max-concurrency 1`, what a hand-written loop over the instances does). One local fleet, grown
// by scale(), real namespaces, the real apply-users script in each. Needs root.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@ftpfleet/core";
import type { LocalFleet } from "@ftpfleet/local";
import { type CommandResult, dataPlaneSupport, probeLogin, runCommand } from "@ftpfleet/local";
import { startLocalFleet } from "../scripts/local-fleet";

/** One `users add` until the user logs in everywhere, split where the time goes. */
export interface PropagationSample {
  /** Spawn until a login succeeded on every instance. */
  seconds: number;
  /** Spawn until the CLI said the manifest was written and it was applying it (process start-up,
   * password hash, the conditional manifest write). */
  writtenSeconds: number;
  /** Spawn until the CLI exited (it waits for apply-users to finish on every instance). */
  cliSeconds: number;
  /** Logins refused before the first success, over all instances (0: none was tried too early). */
  refusedLogins: number;
  /** Spawn until the CLI reported apply-users' Success on each instance, in order (it polls SSM
   * every 250 ms in local mode, so these come in steps of about that). */
  appliedSeconds: number[];
}

export interface PropagationRow {
  instances: number;
  samples: number;
  /** Medians, seconds: default rate controls (--max-concurrency 10) and one instance at a time. */
  ftpfleetSeconds: number;
  oneAtATimeSeconds: number;
  /** oneAtATime / ftpfleet. */
  ratio: number;
  ftpfleetCliSeconds: number;
  oneAtATimeCliSeconds: number;
  /** Median over both kinds: spawn until the manifest was written, before any instance is asked. */
  writtenSeconds: number;
  ftpfleet: PropagationSample[];
  oneAtATime: PropagationSample[];
}

export type UsersPropagationResult =
  | { skipped: string }
  | {
      skipped?: undefined;
      /** Median wall time of `ftpfleet users list` against the same fleet: process start-up, tsx,
       * reaching local mode and one S3 read; part of every figure below. */
      cliStartupSeconds: number;
      rows: PropagationRow[];
      /** The whole scenario: the fleet's start (building both daemons once), scaling, samples. */
      wallSeconds: number;
    };

const PROBE_PAUSE_MS = 200;
const PASSWORD = "propagation-bench-pass";

const round = (seconds: number) => Math.round(seconds * 100) / 100;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

const serving = (fleet: LocalFleet) =>
  fleet.status().instances.filter((i) => i.lifecycleState === "InService" && i.inDns);

async function untilServing(fleet: LocalFleet, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (serving(fleet).length !== n || fleet.status().records.length !== n) {
    if (Date.now() > deadline) throw new Error(`local fleet did not reach ${n} serving instances`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The real bin, as an operator runs it from a second terminal; `onStderrLine` sees its progress. */
function ftpfleet(
  announce: string,
  args: string[],
  stdin?: string,
  onStderrLine?: (line: string) => void,
): Promise<CommandResult> {
  return runCommand(join(process.cwd(), "node_modules/.bin/ftpfleet"), args, {
    env: { ...process.env, FTPFLEET_LOCAL_MODE_FILE: announce },
    ...(stdin === undefined ? {} : { input: stdin }),
    ...(onStderrLine ? { onStderrLine } : {}),
  });
}

async function timedCli(announce: string, args: string[]): Promise<number> {
  const start = performance.now();
  const run = await ftpfleet(announce, args);
  if (run.code !== 0) throw new Error(`ftpfleet ${args.join(" ")}: exit ${run.code}: ${run.stderr}`);
  return (performance.now() - start) / 1000;
}

/** Probes until a login succeeds; a refused one (pure-ftpd answers it after a deliberate delay)
 * counts as not yet. Resolves with when the login succeeded and how many were refused before. */
async function untilLogin(
  address: string,
  user: string,
  deadline: number,
): Promise<{ at: number; refused: number }> {
  let refused = 0;
  for (;;) {
    try {
      await probeLogin(address, user, PASSWORD);
      return { at: performance.now(), refused };
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${user} never logged in on ${address}: ${error}`);
      if (String(error).includes("login refused")) refused += 1;
      await new Promise((resolve) => setTimeout(resolve, PROBE_PAUSE_MS));
    }
  }
}

/** `users add` until the user logs in on every serving instance. Each instance is probed from the
 * moment the CLI reports that apply-users succeeded there (its progress line), or from the CLI's
 * exit if it reported none: probing earlier only adds pure-ftpd's delayed refusals to the figure.
 * All instances are probed in parallel. */
async function addUntilEverywhere(
  fleet: LocalFleet,
  announce: string,
  user: string,
  extra: string[],
): Promise<PropagationSample> {
  const addresses = new Map(serving(fleet).map((i) => [i.instanceId, i.address]));
  const deadline = Date.now() + 120_000;
  const probes = new Map<string, Promise<{ at: number; refused: number }>>();
  const probe = (instanceId: string) => {
    const address = addresses.get(instanceId);
    if (address === undefined || probes.has(instanceId)) return;
    probes.set(instanceId, untilLogin(address, user, deadline));
  };
  const start = performance.now();
  let written = Number.NaN;
  const applied: number[] = [];
  const run = await ftpfleet(
    announce,
    ["users", "add", user, "--grant", `inbox/${user}:rw`, "--password-stdin", ...extra],
    `${PASSWORD}\n`,
    (line) => {
      if (line.endsWith("applying to the fleet …")) written = performance.now();
      const progress = /^\s+(\S+)\s+Success$/.exec(line);
      if (progress?.[1]) {
        applied.push(round((performance.now() - start) / 1000));
        probe(progress[1]);
      }
    },
  );
  const cliSeconds = (performance.now() - start) / 1000;
  if (run.code !== 0) throw new Error(`ftpfleet users add ${user}: exit ${run.code}: ${run.stderr}`);
  for (const instanceId of addresses.keys()) probe(instanceId);
  const logins = await Promise.all(probes.values());
  return {
    seconds: round((Math.max(...logins.map((l) => l.at)) - start) / 1000),
    writtenSeconds: round((written - start) / 1000),
    cliSeconds: round(cliSeconds),
    refusedLogins: logins.reduce((sum, l) => sum + l.refused, 0),
    appliedSeconds: applied,
  };
}

export async function usersPropagationBench(
  sizes: number[] = [1, 3, 6],
  samples = 5,
): Promise<UsersPropagationResult> {
  const missing = dataPlaneSupport();
  if (missing) return { skipped: missing };
  const wallStart = performance.now();
  // Announced in a folder of its own: the CLI finds this fleet, and a local mode a person is
  // running keeps its announcement.
  const dir = await mkdtemp(join(tmpdir(), "ftpfleet-bench-users-"));
  const announce = join(dir, "local-mode.json");
  const fleet = await startLocalFleet({
    instances: 0,
    dnsPort: 0,
    log: createLogger({ level: "error" }),
    announce,
  });
  try {
    const rows: PropagationRow[] = [];
    let cliStartupSeconds = 0;
    for (const n of sizes) {
      fleet.scale(n);
      await untilServing(fleet, n, 180_000);
      if (cliStartupSeconds === 0) {
        const startups: number[] = [];
        for (let i = 0; i < 3; i++) startups.push(await timedCli(announce, ["users", "list"]));
        cliStartupSeconds = round(median(startups));
      }
      const fast: PropagationSample[] = [];
      const slow: PropagationSample[] = [];
      for (let i = 0; i < samples; i++) {
        // Alternating which goes first, so neither always meets a warmer fleet or a longer manifest.
        const runFast = async () => fast.push(await addUntilEverywhere(fleet, announce, `u${n}f${i}`, []));
        const runSlow = async () =>
          slow.push(await addUntilEverywhere(fleet, announce, `u${n}s${i}`, ["--max-concurrency", "1"]));
        if (i % 2 === 0) {
          await runFast();
          await runSlow();
        } else {
          await runSlow();
          await runFast();
        }
      }
      const ftpfleetSeconds = round(median(fast.map((s) => s.seconds)));
      const oneAtATimeSeconds = round(median(slow.map((s) => s.seconds)));
      rows.push({
        instances: n,
        samples,
        ftpfleetSeconds,
        oneAtATimeSeconds,
        ratio: round(oneAtATimeSeconds / ftpfleetSeconds),
        ftpfleetCliSeconds: round(median(fast.map((s) => s.cliSeconds))),
        oneAtATimeCliSeconds: round(median(slow.map((s) => s.cliSeconds))),
        writtenSeconds: round(median([...fast, ...slow].map((s) => s.writtenSeconds))),
        ftpfleet: fast,
        oneAtATime: slow,
      });
    }
    return { cliStartupSeconds, rows, wallSeconds: round((performance.now() - wallStart) / 1000) };
  } finally {
    await fleet.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
