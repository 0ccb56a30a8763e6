import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { OwnedProcess } from "./processes";

/**
 * Everything the harness creates lives under this prefix (fixed, so a later run can find what a
 * crashed one left): one `sandbox-<network id>` directory per running sandbox.
 */
export const harnessPrefix = "/tmp/ftpfleet-local";

/** What a world has created, written before each step that creates more, for `cleanupLeftovers`. */
export interface SandboxState {
  /** The node process that owns the world; while it lives, cleanup leaves the world alone. */
  ownerPid: number;
  networkId: number;
  bridge: string;
  namespaces: string[];
  processes: OwnedProcess[];
}

export const stateFile = (sandboxDir: string) => join(sandboxDir, "state.json");

export function writeState(sandboxDir: string, state: SandboxState): void {
  mkdirSync(sandboxDir, { recursive: true });
  const file = stateFile(sandboxDir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function readState(sandboxDir: string): SandboxState | undefined {
  const file = stateFile(sandboxDir);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as SandboxState;
  } catch {
    return undefined;
  }
}

export function sandboxDirs(): string[] {
  if (!existsSync(harnessPrefix)) return [];
  return readdirSync(harnessPrefix, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name.startsWith("sandbox-"))
    .map((entry) => join(harnessPrefix, entry.name));
}
