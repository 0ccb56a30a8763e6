import { readdirSync, readFileSync, statSync } from "node:fs";
import { systemClock, until } from "@ftpfleet/core";
import { runCommand } from "./exec";

/**
 * A process the harness started. Ownership is checked through the network namespace, not the
 * command line: pure-ftpd rewrites its process title, and a reused PID lands elsewhere.
 */
export interface OwnedProcess {
  pid: number;
  /** The `ftpfleet-*` namespace it runs in. */
  netns: string;
  what: string;
}

function inode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

/** True when `pid` is alive and still runs in the namespace we started it in. */
export function stillOurs(owned: OwnedProcess): boolean {
  const mine = inode(`/proc/${owned.pid}/ns/net`);
  return mine !== undefined && mine === inode(`/run/netns/${owned.netns}`) && !isZombie(owned.pid);
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

/** Every live process in a namespace (what `ip netns pids` lists), with its program name. */
export async function processesIn(netns: string): Promise<{ pid: number; program: string }[]> {
  const result = await runCommand("ip", ["netns", "pids", netns]);
  if (result.code !== 0) return [];
  return result.stdout
    .split("\n")
    .filter((line) => /^\d+$/.test(line))
    .map(Number)
    .filter((pid) => !isZombie(pid))
    .map((pid) => ({ pid, program: programName(pid) }));
}

function programName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

export function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8")
      .split("\0")
      .filter((part) => part.length > 0);
  } catch {
    return undefined;
  }
}

/** PIDs of processes whose program is `program` and whose arguments contain `mark` (e.g. a path). */
export function findProcesses(program: string, mark: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const args = commandLine(Number(name));
    if (args === undefined || args.length === 0) continue;
    const exe = args[0]?.split("/").at(-1);
    if (exe === program && args.some((arg) => arg.includes(mark))) found.push(Number(name));
  }
  return found;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`, while the process is still ours. */
export async function stopProcess(owned: OwnedProcess, graceMs = 2_000): Promise<void> {
  await stopPid(owned.pid, () => stillOurs(owned), graceMs);
}

/** Stops a PID checked by `ours` before each signal; its process group too if it leads one. */
export async function stopPid(pid: number, ours: () => boolean, graceMs = 2_000): Promise<void> {
  if (!ours()) return;
  signal(pid, "SIGTERM");
  const ended = await until(systemClock, () => !isAlive(pid), { stepMs: 50, limitMs: graceMs }).then(
    () => true,
    () => false,
  );
  if (!ended && ours()) signal(pid, "SIGKILL");
}

function signal(pid: number, name: NodeJS.Signals): void {
  // A negative PID signals the process group: pure-ftpd's per-session children go with it.
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, name);
    } catch {
      // not a group leader, or already gone
    }
  }
}
