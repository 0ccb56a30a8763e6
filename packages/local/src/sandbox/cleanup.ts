import { existsSync } from "node:fs";
import { runCommand } from "./exec";
import { abortFuse, mountsUnder, unmountAll } from "./mounts";
import { deleteNamespace, listBridges, listNamespaces } from "./netns";
import { findProcesses, isAlive, processesIn, stopPid, stopProcess } from "./processes";
import { harnessPrefix, readState, sandboxDirs } from "./state";

export interface CleanupReport {
  /** Worlds left alone because the process that owns them is still running. */
  activeWorlds: string[];
  stoppedProcesses: number[];
  unmounted: string[];
  namespaces: string[];
  bridges: string[];
  removedDirs: string[];
  /** What could not be undone (e.g. a mount that stayed busy). */
  problems: string[];
}

/**
 * Removes what earlier, crashed runs of the harness left behind: the processes in their
 * `ftpfleet-*` namespaces (and any s3fs mounted into the prefix), mounts under the prefix, the
 * namespaces and bridges, and their directories. Worlds whose owning process
 * is alive are skipped unless `force` (local mode's `down` after its own process has stopped).
 */
export async function cleanupLeftovers(options: { force?: boolean } = {}): Promise<CleanupReport> {
  const report: CleanupReport = {
    activeWorlds: [],
    stoppedProcesses: [],
    unmounted: [],
    namespaces: [],
    bridges: [],
    removedDirs: [],
    problems: [],
  };
  const keepNamespaces = new Set<string>();
  const keepBridges = new Set<string>();
  const stale: string[] = [];
  const staleBridges = new Set<string>();
  for (const dir of sandboxDirs()) {
    const state = readState(dir);
    const owned = state !== undefined && state.ownerPid !== process.pid && isAlive(state.ownerPid);
    if (owned && options.force !== true) {
      report.activeWorlds.push(dir);
      for (const name of state.namespaces) keepNamespaces.add(name);
      keepBridges.add(state.bridge);
    } else {
      stale.push(dir);
      if (state !== undefined) staleBridges.add(state.bridge);
    }
  }
  const namespaces = (await listNamespaces()).filter((name) => !keepNamespaces.has(name));
  // Every process in a leftover namespace was started by the harness (or by a script it ran).
  const stopIn = async (onlyDaemons: boolean) => {
    for (const netns of namespaces) {
      for (const { pid, program } of await processesIn(netns)) {
        if (onlyDaemons && program === "s3fs") continue;
        await stopProcess({ pid, netns, what: program });
        report.stoppedProcesses.push(pid);
      }
    }
  };
  // Daemons first; s3fs only after its mount is gone (killing it first leaves a dead mount).
  await stopIn(true);
  for (const dir of stale) {
    await abortFuse(dir);
    const mounts = mountsUnder(dir).map((entry) => entry.target);
    const left = await unmountAll(dir);
    report.unmounted.push(...mounts.filter((target) => !left.includes(target)));
    report.problems.push(...left.map((target) => `still mounted: ${target}`));
  }
  await stopIn(false);
  for (const dir of stale) {
    // An s3fs whose namespace is already gone is still recognisable by its mount point.
    for (const pid of findProcesses("s3fs", dir)) {
      await stopPid(pid, () => findProcesses("s3fs", dir).includes(pid));
      report.stoppedProcesses.push(pid);
    }
    if (mountsUnder(dir).length === 0) {
      await runCommand("rm", ["-r", "--one-file-system", "-f", dir]);
      if (!existsSync(dir)) report.removedDirs.push(dir);
      else report.problems.push(`could not remove ${dir}`);
    }
  }
  for (const name of namespaces) {
    await deleteNamespace(name);
    report.namespaces.push(name);
  }
  for (const bridge of await listBridges()) {
    // A bridge no state file names may belong to a world that is starting right now (the bridge
    // is its lock, written down a moment later): only `force` removes those.
    if (keepBridges.has(bridge) || (!staleBridges.has(bridge) && options.force !== true)) continue;
    await runCommand("ip", ["link", "del", bridge]);
    report.bridges.push(bridge);
  }
  report.stoppedProcesses = [...new Set(report.stoppedProcesses)];
  return report;
}

export { harnessPrefix };
