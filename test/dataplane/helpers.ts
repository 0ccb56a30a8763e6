import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Sandbox } from "@ftpfleet/local";
import { type CommandResult, dataPlaneSupport, runChecked, runCommand } from "@ftpfleet/local";

/** The reason the data-plane suite of `file` cannot run here (printed once), or undefined. */
export function dataPlaneSkip(file: string): string | undefined {
  const reason = dataPlaneSupport();
  if (reason !== undefined) console.warn(`SKIPPED data-plane tests (${file}): ${reason}`);
  return reason;
}

export async function putObject(
  s3: S3Client,
  world: Sandbox,
  key: string,
  body: string | Uint8Array,
  metadata?: Record<string, string>,
): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: world.bucket, Key: key, Body: body, Metadata: metadata }));
}

export async function getObject(s3: S3Client, world: Sandbox, key: string): Promise<string | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: world.bucket, Key: key }));
    return await out.Body?.transformToString();
  } catch (error) {
    if (error instanceof Error && error.name === "NoSuchKey") return undefined;
    throw error;
  }
}

/** A SHA-512 crypt hash, as the users manifest carries them. */
export async function sha512Crypt(password: string): Promise<string> {
  return (await runChecked("openssl", ["passwd", "-6", password])).trim();
}

export interface Grant {
  path: string;
  access: "ro" | "rw";
}

/** A user of the manifest: a password is hashed with a new salt on every call (a changed hash, which
 * ends the user's sessions); a given hash is kept. `disabled` is written only when given. */
export type ManifestUser = { name: string; grants: Grant[]; disabled?: boolean } & (
  | { password: string }
  | { passwordHash: string }
);

export async function putManifest(
  s3: S3Client,
  world: Sandbox,
  users: ManifestUser[],
  options: { layout?: "bind" | "symlink"; key?: string; revision?: number } = {},
): Promise<void> {
  const manifest = {
    version: 1,
    layout: options.layout ?? "bind",
    ...(options.revision === undefined ? {} : { revision: options.revision }),
    users: await Promise.all(
      users.map(async (user) => ({
        name: user.name,
        passwordHash: "passwordHash" in user ? user.passwordHash : await sha512Crypt(user.password),
        ...(user.disabled === undefined ? {} : { disabled: user.disabled }),
        grants: user.grants,
      })),
    ),
  };
  await putObject(s3, world, options.key ?? ".ftpfleet/users.json", JSON.stringify(manifest));
}

export interface FtpLogin {
  host: string;
  user: string;
  password: string;
  tls?: boolean;
}

/** Runs lftp commands in one session; `cmd:fail-exit` makes the first failing command the exit. */
export async function lftp(login: FtpLogin, commands: string[]): Promise<CommandResult> {
  const tls = login.tls
    ? ["set ftp:ssl-force yes", "set ftp:ssl-protect-data yes", "set ssl:verify-certificate no"]
    : ["set ftp:ssl-allow no"];
  const script = [
    "set cmd:fail-exit yes",
    "set net:max-retries 1",
    "set net:timeout 10",
    "set net:reconnect-interval-base 1",
    "set ftp:passive-mode yes",
    "set xfer:clobber yes",
    ...tls,
    `open -u ${login.user},${login.password} ftp://${login.host}`,
    ...commands,
  ].join("\n");
  const dir = scratchDir();
  try {
    return await runCommand("lftp", ["-f", writeScratch(dir, "commands.lftp", `${script}\n`)], {
      timeoutMs: 60_000,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function scratchDir(): string {
  return mkdtempSync(join(tmpdir(), "ftpfleet-test-"));
}

export function writeScratch(dir: string, name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** The access (`ro` or `rw`) of each mount stacked at exactly `target`, as the kernel has it now. */
export function mountAccess(target: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" "))
    .filter(
      (fields) =>
        fields[4]?.replace(/\\([0-7]{3})/g, (_, octal: string) =>
          String.fromCharCode(Number.parseInt(octal, 8)),
        ) === target,
    )
    .map((fields) => fields[5]?.split(",")[0] ?? "");
}
