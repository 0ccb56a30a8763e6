// Provisioning figures of the real data plane on this machine: instances as network namespaces of
// one sandbox, running the provision document's scripts (packages already installed on the host,
// which every namespace shares), timed until the instance answers an FTPS login. Also the login
// cost of each password hash kind. Used by data-plane.ts, inside its sandbox.
import { appendFile, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  type ProvisionOptions,
  probeLogin,
  runChecked,
  runCommand,
  type Sandbox,
  type SandboxInstance,
} from "@ftpfleet/local";
import { median, round } from "./stats";

export interface ProvisionBenchFigures {
  /** Launch to "answers a login", compiling pure-ftpd and s3fs (one sample: the first instance). */
  coldProvisionMs: number;
  /** The same with both daemons' artifacts already in the bucket: median of the samples. */
  cachedArtifactProvisionMs: number;
  cachedArtifactProvisionSamplesMs: number[];
  /** Per-step times of the cold run, e.g. { "build-daemons": 36000 }. */
  coldStepsMs: Record<string, number>;
  /** Per-step medians of the cached runs. */
  cachedStepsMs: Record<string, number>;
  /** One FTPS login (connect, AUTH TLS → 230; basic-ftp, in the bench's process) with each
   * password hash kind: medians of 3. */
  loginSha512CryptMs: number;
  loginArgon2idMs: number;
}

export const BENCH_USER = { name: "bench", password: "bench-pass", home: "bench" } as const;

/** Provisions until the instance answers a login as the bench user; its wall time in ms. */
export async function untilLogin(instance: SandboxInstance, options: ProvisionOptions = {}): Promise<number> {
  const started = performance.now();
  await instance.provision(options);
  await probeLogin(instance.address, BENCH_USER.name, BENCH_USER.password);
  return performance.now() - started;
}

const stepsOf = (instance: SandboxInstance) =>
  Object.fromEntries(instance.lastSteps.map((step) => [step.script, Math.round(step.ms)]));

/** The first instance of a fresh sandbox (compiles both daemons and publishes the artifacts),
 * then `cachedSamples` more (install the artifacts); all of them stopped afterwards. */
export async function provisionFigures(
  world: Sandbox,
  cachedSamples = 3,
): Promise<Omit<ProvisionBenchFigures, "loginSha512CryptMs" | "loginArgon2idMs">> {
  const cold = await world.addInstance();
  const coldMs = await untilLogin(cold);
  const coldStepsMs = stepsOf(cold);
  await cold.stop();
  const cachedMs: number[] = [];
  const cachedSteps: Record<string, number>[] = [];
  for (let i = 0; i < cachedSamples; i++) {
    const instance = await world.addInstance();
    cachedMs.push(await untilLogin(instance));
    cachedSteps.push(stepsOf(instance));
    await instance.stop();
  }
  const names = Object.keys(cachedSteps[0] ?? {});
  return {
    coldProvisionMs: Math.round(coldMs),
    cachedArtifactProvisionMs: Math.round(median(cachedMs)),
    cachedArtifactProvisionSamplesMs: cachedMs.map((ms) => Math.round(ms)),
    coldStepsMs,
    cachedStepsMs: Object.fromEntries(
      names.map((name) => [name, Math.round(median(cachedSteps.map((s) => s[name] ?? Number.NaN)))]),
    ),
  };
}

/** Logins: SHA-512 crypt (what manifests carry) against pure-pw's default argon2id. Adds an
 * argon2id user to the instance. */
export async function loginFigures(
  instance: SandboxInstance,
): Promise<Pick<ProvisionBenchFigures, "loginSha512CryptMs" | "loginArgon2idMs">> {
  const sha = await medianOf(3, () => probeLogin(instance.address, BENCH_USER.name, BENCH_USER.password));
  await addArgon2User(instance, "argon", "argon-pass");
  const argon = await medianOf(3, () => probeLogin(instance.address, "argon", "argon-pass"));
  return { loginSha512CryptMs: round(sha), loginArgon2idMs: round(argon) };
}

async function medianOf(times: number, run: () => Promise<number>): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < times; i++) values.push(await run());
  return median(values);
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
