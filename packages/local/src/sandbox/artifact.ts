import { createHmac } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { runChecked } from "./exec";
import type { SandboxInstance } from "./sandbox";

/**
 * An artifact as documents/scripts/lib/artifacts.sh publishes and verifies it: the line
 * `ftpfleet-artifact v1 hmac-sha256 <hex>`, then the payload. The MAC is HMAC-SHA256 under the
 * fleet's key (hex) of the artifact's file name and the payload. Computed here with node's crypto,
 * independently of the scripts' shell implementation, so each checks the other.
 */
export function sealArtifact(key: string, name: string, payload: Buffer): Buffer {
  const mac = createHmac("sha256", Buffer.from(key, "hex"))
    .update(`ftpfleet-artifact v1\n${name}\n`)
    .update(payload)
    .digest("hex");
  return Buffer.concat([Buffer.from(`ftpfleet-artifact v1 hmac-sha256 ${mac}\n`), payload]);
}

/** Puts the local file `payload` into the bucket at `artifact` (a path through a bucket mount),
 * sealed with `key`: what a builder holding the fleet's key publishes. */
export async function publishArtifact(artifact: string, payload: string, key: string): Promise<void> {
  // Asynchronous only: the S3 server behind the mount answers from this very process.
  const sealed = sealArtifact(key, basename(artifact), await readFile(payload));
  await mkdir(dirname(artifact), { recursive: true });
  await writeFile(artifact, sealed);
}

/**
 * Puts a pure-ftpd artifact into the bucket's cache where build-pure-ftpd.sh looks for it, made
 * of the distribution's binaries and sealed with the sandbox's artifact key: pure-ftpd's source
 * cannot be downloaded offline, so local mode and tests exercise the build path's cache hit with
 * these. Returns the artifact's path (through `instance`'s bucket mount, which must be mounted).
 */
export async function seedPureFtpdArtifact(instance: SandboxInstance, scratch: string): Promise<string> {
  // A run without a reachable source names the artifact it looked for, then fails the download.
  const miss = await instance.runScript(
    "build-pure-ftpd",
    { PureFtpdSource: "build" },
    { FTPFLEET_PUREFTPD_SOURCE_URL: `file://${scratch}/no-source.tar.gz` },
  );
  const artifact = /cache miss: (\S+)/.exec(miss.stdout)?.[1];
  if (artifact === undefined) {
    if (/installed from cached artifact|already installed/.test(miss.stdout)) return "";
    throw new Error(`build-pure-ftpd named no artifact:\n${miss.stdout}\n${miss.stderr}`);
  }
  await runChecked("bash", [
    "-c",
    `set -euo pipefail
     tree="$1/artifact-tree"; rm -rf "$tree"; mkdir -p "$tree/usr/local/sbin" "$tree/usr/local/bin"
     cp /usr/sbin/pure-ftpd /usr/sbin/pure-ftpd-virtualchroot /usr/sbin/pure-ftpwho "$tree/usr/local/sbin/"
     cp /usr/bin/pure-pw "$tree/usr/local/bin/"
     tar -czf "$1/artifact.tar.gz" -C "$tree" usr`,
    "seed-artifact",
    scratch,
  ]);
  await publishArtifact(artifact, `${scratch}/artifact.tar.gz`, instance.world.artifactKey);
  return artifact;
}
