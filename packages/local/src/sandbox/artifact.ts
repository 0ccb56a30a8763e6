import { runChecked } from "./exec";
import type { SandboxInstance } from "./sandbox";

/**
 * Puts a pure-ftpd artifact into the bucket's cache where build-pure-ftpd.sh looks for it, made
 * of the distribution's binaries: pure-ftpd's source cannot be downloaded offline, so local mode
 * and tests exercise the build path's cache hit with these. Returns the artifact's path (through
 * `instance`'s bucket mount, which must be mounted).
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
     tar -czf "$1/artifact.tar.gz" -C "$tree" usr
     mkdir -p "$(dirname "$2")"
     cp "$1/artifact.tar.gz" "$2"
     sha256sum "$1/artifact.tar.gz" | cut -d" " -f1 > "$2.sha256"`,
    "seed-artifact",
    scratch,
    artifact,
  ]);
  return artifact;
}
