import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCommand } from "./exec";

export interface MountEntry {
  target: string;
  fsType: string;
  /** major:minor; for FUSE the minor names the connection in /sys/fs/fuse/connections. */
  device: string;
}

/** Mounts whose target is `dir` or below it, deepest first (the order to unmount them in). */
export function mountsUnder(dir: string): MountEntry[] {
  const base = dir.replace(/\/+$/, "");
  const entries: MountEntry[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    // id parent major:minor root target options [optional fields] - fstype source superoptions
    const fields = line.split(" ");
    const separator = fields.indexOf("-");
    const device = fields[2];
    const target = fields[4];
    const fsType = fields[separator + 1];
    if (device === undefined || target === undefined || fsType === undefined || separator < 0) continue;
    const decoded = unescapeMountPath(target);
    if (decoded === base || decoded.startsWith(`${base}/`)) entries.push({ target: decoded, fsType, device });
  }
  return entries.sort((a, b) => b.target.length - a.target.length);
}

/** The kernel writes space, tab, newline and backslash in mount paths as octal escapes. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_match, octal: string) =>
    String.fromCharCode(Number.parseInt(octal, 8)),
  );
}

/**
 * Unmounts everything under `dir`, deepest first: bind mounts before the s3fs mount they show.
 * FUSE mounts go through fusermount (which also ends s3fs); a busy mount is detached lazily.
 */
export async function unmountAll(dir: string): Promise<string[]> {
  const failures: string[] = [];
  for (let round = 0; round < 3; round++) {
    const entries = mountsUnder(dir);
    if (entries.length === 0) return [];
    for (const entry of entries) {
      const fuse = entry.fsType.startsWith("fuse");
      const first = fuse
        ? await runCommand("fusermount", ["-u", "-z", entry.target])
        : await runCommand("umount", [entry.target]);
      if (first.code !== 0) await runCommand("umount", ["-l", entry.target]);
    }
  }
  for (const entry of mountsUnder(dir)) failures.push(entry.target);
  return failures;
}

/**
 * Aborts the FUSE connections of the mounts under `dir`: every request pending on them fails at
 * once. For leftovers whose S3 server is gone, where s3fs would otherwise retry and every process
 * touching the mount (even `umount`) would hang.
 */
export async function abortFuse(dir: string): Promise<void> {
  const connections = "/sys/fs/fuse/connections";
  if (!existsSync(join(connections, "."))) return;
  const fuse = mountsUnder(dir).filter((entry) => entry.fsType.startsWith("fuse"));
  if (fuse.length === 0) return;
  if (readdirSync(connections).length === 0)
    await runCommand("mount", ["-t", "fusectl", "none", connections]);
  for (const entry of fuse) {
    const minor = entry.device.split(":")[1];
    const abort = join(connections, minor ?? "", "abort");
    if (minor !== undefined && existsSync(abort)) writeFileSync(abort, "1");
  }
}
