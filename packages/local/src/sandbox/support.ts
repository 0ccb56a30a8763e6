import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";

const programs = [
  ...["s3fs", "pure-ftpd", "pure-pw", "pure-ftpwho", "lftp", "nsenter", "ip", "jq", "findmnt"],
  // Each sandbox makes its own self-signed certificate (FTPS is required by default).
  "openssl",
];

/**
 * Why the real data plane (namespaces, s3fs, pure-ftpd) cannot run on this machine, or undefined
 * when it can. Tests skip with this reason; local mode prints it.
 */
export function dataPlaneSupport(): string | undefined {
  if (process.platform !== "linux") return `not Linux (${process.platform})`;
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "not root";
  if (!existsSync("/dev/fuse")) return "no /dev/fuse";
  const missing = programs.filter((program) => findProgram(program) === undefined);
  if (missing.length > 0) {
    return `missing ${missing.join(", ")} (as root: bash scripts/install-system-packages.sh)`;
  }
  if (!existsSync("/run/netns") && !canCreate("/run")) return "no `ip netns` (/run/netns unavailable)";
  return undefined;
}

export function findProgram(name: string): string | undefined {
  const dirs = (process.env.PATH ?? "").split(delimiter).concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

function canCreate(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
