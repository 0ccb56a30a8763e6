// Provisioning and transfer figures of the real data plane on this machine: one local S3 server,
// instances as network namespaces, the provisioning scripts, s3fs and pure-ftpd. Needs root,
// /dev/fuse and `ip netns`; otherwise it returns the reason and measures nothing.
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import {
  dataPlaneSupport,
  probeLogin,
  runChecked,
  runCommand,
  Sandbox,
  type SandboxInstance,
} from "@ftpfleet/local";

export interface ProvisionBenchFigures {
  /** Launch to "answers a login", compiling pure-ftpd and s3fs (packages already installed). */
  coldProvisionMs: number;
  /** The same with both daemons' artifacts already in the bucket. */
  cachedArtifactProvisionMs: number;
  /** Per-step times of the cold run, e.g. { "mount-bucket": 120 }. */
  coldStepsMs: Record<string, number>;
  transferMB: number;
  ftpUploadMBps: number;
  ftpDownloadMBps: number;
  s3PutMBps: number;
  s3GetMBps: number;
  /** FTPS throughput through s3fs divided by direct S3 on the same server, same run. */
  uploadRatio: number;
  downloadRatio: number;
  /** One FTPS login (connect, AUTH TLS → 230) with each password hash kind. */
  loginSha512CryptMs: number;
  loginArgon2idMs: number;
}

export type ProvisionBenchResult = { skipped: string } | ({ skipped?: undefined } & ProvisionBenchFigures);

const PASSIVE = "30000:30019";

export async function provisionBench(options: { transferMB?: number } = {}): Promise<ProvisionBenchResult> {
  const reason = dataPlaneSupport();
  if (reason !== undefined) return { skipped: reason };
  const transferMB = options.transferMB ?? 20;
  const scratch = await mkdtemp(join(tmpdir(), "ftpfleet-bench-"));
  const world = await Sandbox.create();
  try {
    const s3 = world.s3Client();
    const hash = (await runChecked("openssl", ["passwd", "-6", "bench-pass"])).trim();
    const manifest = {
      version: 1,
      users: [{ name: "bench", passwordHash: hash, grants: [{ path: "bench", access: "rw" }] }],
    };
    await s3.send(
      new PutObjectCommand({
        Bucket: world.bucket,
        Key: ".ftpfleet/users.json",
        Body: JSON.stringify(manifest),
      }),
    );

    const cold = await world.addInstance();
    const coldMs = await untilLogin(cold, () => cold.provision({ passivePorts: PASSIVE }));
    const coldStepsMs = Object.fromEntries(cold.lastSteps.map((step) => [step.script, Math.round(step.ms)]));

    // The first instance compiled both daemons and cached them; the next one installs them.
    const fresh = await world.addInstance();
    const cachedMs = await untilLogin(fresh, () => fresh.provision({ passivePorts: PASSIVE }));

    // Throughput: the same bytes over FTP (through s3fs) and straight to S3.
    const bytes = new Uint8Array(transferMB * 1024 * 1024).map((_, i) => (i * 31) & 0xff);
    const local = join(scratch, "payload.bin");
    await writeFile(local, bytes);
    // FTPS, as the fleet requires by default (the sandbox's certificate is self-signed).
    const tls = "set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set ssl:verify-certificate no";
    const login = `${tls}; set cmd:fail-exit yes; open -u bench,bench-pass ftp://${cold.address}`;
    const upload = await timed(() => runChecked("lftp", ["-c", `${login}; put ${local} -o bench/ftp.bin`]));
    const download = await timed(() =>
      runChecked("lftp", ["-c", `${login}; get bench/ftp.bin -o ${join(scratch, "back.bin")}`]),
    );
    const put = await timed(() =>
      s3.send(new PutObjectCommand({ Bucket: world.bucket, Key: "bench/direct.bin", Body: bytes })),
    );
    const get = await timed(async () => {
      const out = await s3.send(new GetObjectCommand({ Bucket: world.bucket, Key: "bench/direct.bin" }));
      await out.Body?.transformToByteArray();
    });
    const mbps = (ms: number) => round(transferMB / (ms / 1000));

    // Logins: SHA-512 crypt (what manifests carry) against pure-pw's default argon2id.
    const loginSha512CryptMs = await median(() => probeLogin(cold.address, "bench", "bench-pass"));
    await addArgon2User(cold, "argon", "argon-pass");
    const loginArgon2idMs = await median(() => probeLogin(cold.address, "argon", "argon-pass"));

    return {
      coldProvisionMs: Math.round(coldMs),
      cachedArtifactProvisionMs: Math.round(cachedMs),
      coldStepsMs,
      transferMB,
      ftpUploadMBps: mbps(upload),
      ftpDownloadMBps: mbps(download),
      s3PutMBps: mbps(put),
      s3GetMBps: mbps(get),
      uploadRatio: round(put / upload),
      downloadRatio: round(get / download),
      loginSha512CryptMs: round(loginSha512CryptMs),
      loginArgon2idMs: round(loginArgon2idMs),
    };
  } finally {
    await world.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

async function untilLogin(instance: SandboxInstance, provision: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await provision();
  await probeLogin(instance.address, "bench", "bench-pass");
  return performance.now() - started;
}

/** A virtual user hashed the way `pure-pw useradd` does by default (argon2id), added by hand. */
async function addArgon2User(instance: SandboxInstance, name: string, password: string): Promise<void> {
  const conf = join(instance.root, "etc/ftpfleet/pure-ftpd");
  const scratchPasswd = join(conf, "argon.passwd");
  await runCommand(
    "pure-pw",
    ["useradd", name, "-u", "2121", "-g", "2121", "-d", "/nonexistent", "-f", scratchPasswd],
    {
      input: `${password}\n${password}\n`,
    },
  );
  const line = (await readFile(scratchPasswd, "utf8")).trim();
  const [, hash] = line.split(":");
  if (!hash?.startsWith("$argon2id$")) throw new Error(`pure-pw did not make an argon2id hash: ${hash}`);
  const home = join(instance.root, "srv/ftpfleet/home/bench");
  await appendFile(join(conf, "pureftpd.passwd"), `${name}:${hash}:2121:2121::${home}/./::::::::::::\n`);
  await runChecked("pure-pw", ["mkdb", join(conf, "pureftpd.pdb"), "-f", join(conf, "pureftpd.passwd")]);
  await rm(scratchPasswd, { force: true });
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

async function median(run: () => Promise<number>, times = 3): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < times; i++) values.push(await run());
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)] ?? Number.NaN;
}

const round = (value: number) => Math.round(value * 100) / 100;
