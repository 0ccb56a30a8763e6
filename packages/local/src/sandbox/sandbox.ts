import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { createLogger, type Logger, systemClock, until } from "@ftpfleet/core";
import { readDocument, resolveParameters } from "@ftpfleet/core/documents";
import { type CommandResult, runChecked, runCommand } from "./exec";
import { ftpGreets } from "./ftp";
import { httpGet } from "./http";
import { unmountAll } from "./mounts";
import {
  createNamespace,
  createNetwork,
  deleteNamespace,
  deleteNetwork,
  type InstanceNamespace,
  type LocalNetwork,
} from "./netns";
import { type OwnedProcess, processesIn, stopProcess } from "./processes";
import {
  type LocalS3Server,
  localS3Client,
  localS3Credentials,
  type S3RequestRecord,
  startLocalS3,
} from "./s3-server";
import { harnessPrefix, type SandboxState, writeState } from "./state";

/** The provisioning scripts that SSM documents carry, as files in the repository. */
export const scriptsDir = fileURLToPath(new URL("../../../../documents/scripts/", import.meta.url));

export type DataPlaneScript =
  | "install-packages"
  | "build-daemons"
  | "fetch-certificate"
  | "mount-bucket"
  | "configure-pure-ftpd"
  | "apply-users"
  | "drain"
  | "audit-probe"
  | "unmount-bucket"
  | "configure-health";

export interface ScriptRun extends CommandResult {
  script: string;
}

export type TlsMode = "off" | "optional" | "required";

/**
 * Where the sandbox finds the pinned releases' sources: `FTPFLEET_VENDOR_DIR`, else `shared/vendor`
 * beside the repository, else the workplace's `/work/shared/vendor` (a clone made elsewhere, as CI's
 * may be). Nothing here downloads them: there is no internet, so the vendored tarballs go through
 * the same build step as on AWS.
 */
export function vendorDir(): string {
  if (process.env.FTPFLEET_VENDOR_DIR) return resolve(process.env.FTPFLEET_VENDOR_DIR);
  const candidates = [
    fileURLToPath(new URL("../../../../../shared/vendor/", import.meta.url)),
    "/work/shared/vendor",
  ];
  return resolve(candidates.find((dir) => existsSync(dir)) ?? (candidates[0] as string));
}

/** A vendored source tarball, with the checksum its README gives, and where the sandbox puts it
 * in its bucket for the build step (`bucket:` source URLs, verified by checksum as on AWS). */
export interface VendoredSource {
  /** Under vendorDir(). */
  file: string;
  sha256: string;
  key: string;
}

export const VENDORED_SOURCES = {
  /** Not byte-identical to the official tarball (dc914042…, packed separately), the same release. */
  pureFtpd: {
    file: "pure-ftpd/pure-ftpd-1.0.54.tar.gz",
    sha256: "2fa0bd4c72bbef7dfb42a597a456f2f81a2efb85c42650587c28d7fc9ccf8339",
    key: ".ftpfleet/sources/pure-ftpd-1.0.54.tar.gz",
  },
  /** Byte-identical to the official release archive. */
  s3fs: {
    file: "s3fs/s3fs-fuse-1.95.tar.gz",
    sha256: "0c97b8922f005500d36f72aee29a1345c94191f61d795e2a7b79fb7e3e6f5517",
    key: ".ftpfleet/sources/s3fs-fuse-1.95.tar.gz",
  },
} as const satisfies Record<string, VendoredSource>;

/** The provision document's source parameters that feed the vendored tarballs from the bucket. */
export function vendoredSourceParameters(): Record<string, string> {
  const { pureFtpd, s3fs } = VENDORED_SOURCES;
  return {
    PureFtpdSourceUrl: `bucket:${pureFtpd.key}`,
    PureFtpdSourceSha256: pureFtpd.sha256,
    S3fsSourceUrl: `bucket:${s3fs.key}`,
    S3fsSourceSha256: s3fs.sha256,
  };
}

/** Options of `provision()`; what is not given takes the provision document's default, as on AWS
 * (both daemons built), except the sources: the vendored tarballs in the sandbox's bucket. */
export interface ProvisionOptions {
  pureFtpdSource?: "distro" | "build";
  s3fsSource?: "distro" | "build";
  passivePorts?: string;
  /** The document's default is `required` (FTPS only). */
  tlsMode?: TlsMode;
  maxClients?: number;
  maxClientsPerIp?: number;
  /** Skip apply-users (e.g. no manifest in the bucket yet). */
  applyUsers?: boolean;
  usersManifestKey?: string;
  /** Other parameters of the provision document (e.g. another source URL and checksum). */
  parameters?: Record<string, string>;
  /** Extra environment for every step (e.g. PATH). */
  env?: Record<string, string>;
}

export interface ProvisionReport {
  /** Milliseconds per step, in order. */
  steps: { script: string; ms: number }[];
  /** From the first step to pure-ftpd greeting on port 21. */
  totalMs: number;
}

export interface SandboxOptions {
  bucket?: string;
  region?: string;
  logger?: Logger;
  /** Sees every request the local S3 server receives. */
  onS3Request?: (request: S3RequestRecord) => void;
  /** The common name of the self-signed certificate every instance gets. */
  certificateName?: string;
}

/** Options of `Sandbox.addInstance()`. */
export interface SandboxInstanceOptions {
  /** The id the SSM agent would give the instance's scripts as AWS_SSM_INSTANCE_ID (`i-…`, `mi-…`);
   * without one, the scripts run as by hand, and apply-users writes no report. */
  instanceId?: string;
}

/** Where each instance finds the TLS PEM (key + certificate), as fetch-certificate.sh puts it. */
export const TLS_PEM_PATH = "etc/ftpfleet/tls/pure-ftpd.pem";
/** Where each instance finds the fleet's artifact key, when no ArtifactKeyParameter names one. */
export const ARTIFACT_KEY_PATH = "etc/ftpfleet/artifact.key";

/**
 * A local S3 server plus instances that are network namespaces on one bridge. Everything it
 * creates is recorded in `<harnessPrefix>/sandbox-<id>/state.json` before it exists, so
 * `cleanupLeftovers()` can remove what a crashed run left. Like a fleet on AWS, it holds one
 * artifact key and one TLS certificate (self-signed here), which every instance gets.
 */
export class Sandbox {
  readonly instances: SandboxInstance[] = [];
  private constructor(
    readonly dir: string,
    readonly network: LocalNetwork,
    readonly s3: LocalS3Server,
    readonly bucket: string,
    readonly region: string,
    readonly log: Logger,
    private readonly state: SandboxState,
    /** The fleet's artifact key (64 hex digits): what the SecureString parameter holds on AWS. */
    readonly artifactKey: string,
    /** Private key and self-signed certificate, PEM. */
    readonly tlsPem: string,
  ) {}

  static async create(options: SandboxOptions = {}): Promise<Sandbox> {
    const log = options.logger ?? createLogger({ level: "warn" });
    const bucket = options.bucket ?? "ftpfleet-local";
    const network = await createNetwork();
    const dir = join(harnessPrefix, `sandbox-${network.id}`);
    try {
      await runCommand("rm", ["-r", "--one-file-system", "-f", dir]);
      // Recorded before anything else exists, so a crash from here on can be cleaned up.
      const state: SandboxState = {
        ownerPid: process.pid,
        networkId: network.id,
        bridge: network.bridge,
        namespaces: [],
        processes: [],
      };
      writeState(dir, state);
      const pem = await selfSignedPem(dir, options.certificateName ?? "ftpfleet.sandbox");
      const key = randomBytes(32).toString("hex");
      const s3 = await startLocalS3({
        address: network.hostAddress,
        directory: join(dir, "s3"),
        buckets: [bucket],
        ...(options.onS3Request === undefined ? {} : { onRequest: options.onS3Request }),
      });
      const world = new Sandbox(
        dir,
        network,
        s3,
        bucket,
        options.region ?? "us-east-1",
        log,
        state,
        key,
        pem,
      );
      await world.putVendoredSources().catch(async (error: unknown) => {
        await s3.close().catch(() => undefined);
        throw error;
      });
      return world;
    } catch (error) {
      await deleteNetwork(network);
      throw error;
    }
  }

  /** A new instance: namespace, sandbox root, the S3 keys s3fs needs for the local server, the
   * fleet's TLS PEM and artifact key where the provisioning steps look for them. */
  async addInstance(options: SandboxInstanceOptions = {}): Promise<SandboxInstance> {
    const index = this.instances.length + 1;
    const name = `ftpfleet-${this.network.id}-${index}`;
    this.state.namespaces.push(name);
    writeState(this.dir, this.state);
    const namespace = await createNamespace(this.network, index);
    const root = join(this.dir, `instance-${index}`, "root");
    mkdirSync(join(root, "etc/ftpfleet"), { recursive: true });
    writeFileSync(
      join(root, "etc/ftpfleet/s3fs.passwd"),
      `${localS3Credentials.accessKeyId}:${localS3Credentials.secretAccessKey}\n`,
      { mode: 0o600 },
    );
    mkdirSync(join(root, TLS_PEM_PATH, ".."), { recursive: true, mode: 0o700 });
    writeFileSync(join(root, TLS_PEM_PATH), this.tlsPem, { mode: 0o600 });
    writeFileSync(join(root, ARTIFACT_KEY_PATH), `${this.artifactKey}\n`, { mode: 0o600 });
    const instance = new SandboxInstance(
      this,
      index,
      namespace,
      root,
      this.log.child({ instance: name }),
      options.instanceId,
    );
    this.instances.push(instance);
    return instance;
  }

  /** An SDK client for this sandbox's S3 server; the caller destroys it. */
  s3Client(): S3Client {
    return localS3Client(this.s3.endpoint, this.region);
  }

  /** The SSM parameters that point mount-bucket.sh at this world's bucket and S3 server. */
  mountParameters(): Record<string, string> {
    return { BucketName: this.bucket, BucketRegion: this.region, S3Endpoint: this.s3.endpoint };
  }

  /** The parameters build-daemons.sh needs here: the bucket, and the vendored sources in it. */
  buildParameters(): Record<string, string> {
    return { ...this.mountParameters(), ...vendoredSourceParameters() };
  }

  /** Puts the vendored source tarballs into the bucket (`VENDORED_SOURCES`), where the build
   * step fetches them by `bucket:` URL and checks them against their checksums. Missing files are
   * an error, never a reason to skip the build path. */
  private async putVendoredSources(): Promise<void> {
    const dir = vendorDir();
    const s3 = this.s3Client();
    try {
      for (const source of Object.values(VENDORED_SOURCES)) {
        const path = join(dir, source.file);
        if (!existsSync(path)) {
          throw new Error(
            `vendored source ${path} is missing: the sandbox builds s3fs and pure-ftpd from ` +
              "../shared/vendor beside the repository (or FTPFLEET_VENDOR_DIR)",
          );
        }
        const body = await readFile(path);
        await s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: source.key, Body: body }));
      }
    } finally {
      s3.destroy();
    }
  }

  /** @internal */
  recordProcess(owned: OwnedProcess): void {
    this.state.processes.push(owned);
    writeState(this.dir, this.state);
  }

  /** @internal */
  forgetProcess(pid: number): void {
    this.state.processes = this.state.processes.filter((owned) => owned.pid !== pid);
    writeState(this.dir, this.state);
  }

  /** Stops every instance, the S3 server and the network, and removes the world's directory. */
  async stop(): Promise<void> {
    const problems: string[] = [];
    for (const instance of [...this.instances].reverse()) {
      problems.push(...(await instance.stop()));
    }
    await this.s3.close().catch(() => undefined);
    await deleteNetwork(this.network);
    const leftover = await unmountAll(this.dir);
    if (leftover.length > 0) problems.push(`still mounted: ${leftover.join(", ")}`);
    else await runCommand("rm", ["-r", "--one-file-system", "-f", this.dir]);
    if (problems.length > 0) throw new Error(`local world cleanup: ${problems.join("; ")}`);
  }
}

export class SandboxInstance {
  /** The step times of the last `provision()`. */
  lastSteps: ProvisionReport["steps"] = [];
  private ftpd: OwnedProcess | undefined;
  private healthAgent: OwnedProcess | undefined;
  private stopped = false;

  /** @internal */
  constructor(
    readonly world: Sandbox,
    readonly index: number,
    readonly namespace: InstanceNamespace,
    /** The instance's FTPFLEET_ROOT. */
    readonly root: string,
    private readonly log: Logger,
    /** What the SSM agent would export as AWS_SSM_INSTANCE_ID; undefined: not exported. */
    readonly instanceId?: string,
  ) {}

  get address(): string {
    return this.namespace.address;
  }

  get bucketMount(): string {
    return join(this.root, "mnt/ftpfleet/bucket");
  }

  /**
   * Runs a provisioning script the way the SSM agent would on an instance: as root, with its
   * parameters as SSM_<Name> variables (and AWS_SSM_INSTANCE_ID when the instance has an id), in
   * the instance's network. nsenter joins only the network namespace, so the mounts the script
   * makes are visible to the host (and to tests); `ip netns exec` would hide them in a private
   * mount namespace.
   */
  async runScript(
    script: DataPlaneScript,
    parameters: Record<string, string> = {},
    extraEnv: Record<string, string> = {},
  ): Promise<ScriptRun> {
    const result = await this.runScriptFile(join(scriptsDir, `${script}.sh`), parameters, extraEnv);
    if (script === "mount-bucket" && result.code === 0) await this.recordS3fs();
    return result;
  }

  /** `runScript` for a script file anywhere (e.g. a variant made by a test). */
  async runScriptFile(
    path: string,
    parameters: Record<string, string> = {},
    extraEnv: Record<string, string> = {},
  ): Promise<ScriptRun> {
    const env: NodeJS.ProcessEnv = {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      LANG: "C.UTF-8",
      HOME: "/root",
      FTPFLEET_ROOT: this.root,
      ...(this.instanceId === undefined ? {} : { AWS_SSM_INSTANCE_ID: this.instanceId }),
      ...extraEnv,
    };
    for (const [name, value] of Object.entries(parameters)) env[`SSM_${name}`] = value;
    const result = await runCommand("nsenter", [`--net=${this.namespace.netnsPath}`, "--", "bash", path], {
      env,
      timeoutMs: 600_000,
    });
    const script = basename(path, ".sh");
    this.log.debug("script finished", { script, code: result.code, ms: Math.round(result.ms) });
    return { ...result, script };
  }

  /** `runScript`, but a non-zero exit throws with the script's output. */
  async runScriptChecked(
    script: DataPlaneScript,
    parameters: Record<string, string> = {},
    extraEnv: Record<string, string> = {},
  ): Promise<ScriptRun> {
    const result = await this.runScript(script, parameters, extraEnv);
    if (result.code !== 0) {
      throw new Error(`${script} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
    }
    return result;
  }

  /**
   * The launch provisioning sequence the SSM documents run, then pure-ftpd started the way the
   * systemd unit would. Parameters are checked and completed with the provision document's
   * defaults as SSM does, and every step sees all of them. Throws with the failing step's output.
   */
  async provision(options: ProvisionOptions = {}): Promise<ProvisionReport> {
    const started = performance.now();
    const steps: ProvisionReport["steps"] = [];
    const env = options.env ?? {};
    const given: Record<string, string> = {
      ...this.world.buildParameters(),
      PassivePorts: options.passivePorts ?? "30000:30019",
      PublicAddress: this.address,
    };
    if (options.pureFtpdSource !== undefined) given.PureFtpdSource = options.pureFtpdSource;
    if (options.s3fsSource !== undefined) given.S3fsSource = options.s3fsSource;
    if (options.tlsMode !== undefined) given.TlsMode = options.tlsMode;
    if (options.maxClients !== undefined) given.MaxClients = String(options.maxClients);
    if (options.maxClientsPerIp !== undefined) given.MaxClientsPerIp = String(options.maxClientsPerIp);
    if (options.usersManifestKey !== undefined) given.UsersManifestKey = options.usersManifestKey;
    Object.assign(given, options.parameters);
    const document = readDocument("provision");
    const parameters = resolveParameters(document, given);
    // The document's steps in its order, as the SSM agent runs them (fetch-certificate finds no
    // TlsCertificateParameter: every instance already has the sandbox's PEM).
    for (const { inputs } of document.mainSteps) {
      for (const line of inputs.runCommand) {
        const script = /^@script ([a-z0-9-]+)\.sh$/.exec(line)?.[1] as DataPlaneScript | undefined;
        if (script === undefined) throw new Error(`the provision document runs more than a script: ${line}`);
        if (script === "apply-users" && options.applyUsers === false) continue;
        const result = await this.runScriptChecked(script, parameters, env);
        steps.push({ script, ms: result.ms });
      }
    }
    await this.restartFtpd();
    await this.restartHealthAgent();
    this.lastSteps = steps;
    return { steps, totalMs: performance.now() - started };
  }

  /**
   * Mounts the bucket again with s3fs's default cache options (stat cache of 900 s, kernel
   * attribute and entry caches, negative cache), as a hand-edited fstab or an old image would, and
   * binds the homes to it: an instance serving stale and truncated files, for the audit to catch
   * and repair (tests, local mode's console). Uses the real scripts, only those option lines removed.
   */
  async remountWithDefaultCacheOptions(): Promise<void> {
    await this.runScriptChecked("unmount-bucket");
    const dir = join(this.world.dir, "variants");
    mkdirSync(dir, { recursive: true });
    if (!existsSync(join(dir, "lib"))) symlinkSync(join(scriptsDir, "lib"), join(dir, "lib"));
    const original = readFileSync(join(scriptsDir, "mount-bucket.sh"), "utf8");
    const safeOptions = [
      /options\+=",stat_cache_expire=1,attr_timeout=0,entry_timeout=0,negative_timeout=0"/,
      /options\+=",disable_negative_cache"/,
      /options\+=",disable_noobj_cache"/,
    ];
    let variant = original;
    for (const option of safeOptions) {
      if (!option.test(variant)) throw new Error(`mount-bucket.sh no longer sets ${option.source}`);
      variant = variant.replace(option, ":");
    }
    const path = join(dir, "mount-bucket-default-cache.sh");
    writeFileSync(path, variant);
    const mounted = await this.runScriptFile(path, this.world.mountParameters());
    if (mounted.code !== 0)
      throw new Error(`mount with default options exited ${mounted.code}\n${mounted.stderr}`);
    await this.recordS3fs();
    await this.runScriptChecked("apply-users");
  }

  private async recordS3fs(): Promise<void> {
    for (const { pid, program } of await processesIn(this.namespace.name)) {
      if (program === "s3fs") this.world.recordProcess({ pid, netns: this.namespace.name, what: "s3fs" });
    }
  }

  /**
   * Starts pure-ftpd with the command line configure-pure-ftpd.sh wrote (the same one the systemd
   * unit runs on AWS), in the instance's network, and waits for its greeting.
   */
  async startFtpd(): Promise<void> {
    if (this.ftpd !== undefined) return;
    const argsFile = join(this.root, "etc/ftpfleet/pure-ftpd/args");
    const args = readFileSync(argsFile, "utf8")
      .split("\n")
      .filter((line) => line.length > 0);
    const runDir = join(this.root, "run/ftpfleet");
    mkdirSync(runDir, { recursive: true });
    const logFd = openSync(join(runDir, "pure-ftpd.log"), "a");
    const child = spawn("nsenter", [`--net=${this.namespace.netnsPath}`, "--", ...args], {
      detached: true,
      stdio: ["ignore", logFd, logFd],
    });
    closeSync(logFd);
    const pid = child.pid;
    if (pid === undefined) throw new Error("pure-ftpd did not start");
    child.unref();
    // nsenter execs pure-ftpd in place, so this PID is the daemon's.
    this.ftpd = { pid, netns: this.namespace.name, what: "pure-ftpd" };
    this.world.recordProcess(this.ftpd);
    const exited = new Promise<never>((_resolve, reject) => {
      child.once("exit", (code) =>
        reject(new Error(`pure-ftpd exited ${code}; see ${runDir}/pure-ftpd.log`)),
      );
    });
    exited.catch(() => undefined);
    const greeted = until(systemClock, () => ftpGreets(this.address), {
      what: `pure-ftpd greeting on ${this.address}`,
      limitMs: 10_000,
      stepMs: 25,
    });
    await Promise.race([greeted, exited]);
  }

  /** The instance dies as far as clients can tell: its FTP server and health endpoint are gone.
   * What is left (mounts, the namespace) is removed when the group terminates it, as on AWS. */
  async crash(): Promise<void> {
    await this.stopHealthAgent();
    await this.stopFtpd();
  }

  async stopFtpd(): Promise<void> {
    if (this.ftpd === undefined) return;
    await stopProcess(this.ftpd);
    this.world.forgetProcess(this.ftpd.pid);
    this.ftpd = undefined;
  }

  async restartFtpd(): Promise<void> {
    await this.stopFtpd();
    await this.startFtpd();
  }

  /** The health agent's PID while the sandbox runs it. */
  get healthAgentPid(): number | undefined {
    return this.healthAgent?.pid;
  }

  /**
   * Starts the health agent with the command line configure-health.sh wrote (the one its systemd
   * unit runs on AWS), in the instance's network, as the agent's own uid and gid, as the unit's
   * User= does. Its output goes beside the instance's root, not into it. Nothing to start when
   * configure-health has not run.
   */
  async startHealthAgent(): Promise<void> {
    if (this.healthAgent !== undefined) return;
    const dir = join(this.root, "etc/ftpfleet/health");
    if (!existsSync(join(dir, "args"))) return;
    const args = readFileSync(join(dir, "args"), "utf8")
      .split("\n")
      .filter((line) => line.length > 0);
    const [, uid, gid] = readFileSync(join(dir, "account"), "utf8").trim().split(" ");
    const logFd = openSync(join(this.root, "..", "health-agent.log"), "a");
    const child = spawn(
      "nsenter",
      [
        `--net=${this.namespace.netnsPath}`,
        "--",
        ...["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--no-new-privs", "--"],
        ...args,
      ],
      { detached: true, stdio: ["ignore", logFd, logFd] },
    );
    closeSync(logFd);
    const pid = child.pid;
    if (pid === undefined) throw new Error("the health agent did not start");
    child.unref();
    // nsenter and setpriv exec in place: this PID is the agent's.
    this.healthAgent = { pid, netns: this.namespace.name, what: "health-agent" };
    this.world.recordProcess(this.healthAgent);
  }

  async stopHealthAgent(): Promise<void> {
    if (this.healthAgent === undefined) return;
    await stopProcess(this.healthAgent);
    this.world.forgetProcess(this.healthAgent.pid);
    this.healthAgent = undefined;
  }

  async restartHealthAgent(): Promise<void> {
    await this.stopHealthAgent();
    await this.startHealthAgent();
  }

  /** Waits until the health agent answers 200, as configure-health.sh does on AWS after starting
   * its unit (an instance enters DNS only once it passes its own check). False if it never did. */
  async untilHealthy(limitMs = 60_000): Promise<boolean> {
    const args = readFileSync(join(this.root, "etc/ftpfleet/health/args"), "utf8").split("\n");
    const port = Number(args[args.indexOf("--port") + 1]);
    const healthy = async () => {
      const answer = await httpGet(this.address, port, "/health", 2_000);
      return "status" in answer && answer.status === 200;
    };
    return until(systemClock, healthy, { limitMs, stepMs: 500 }).then(
      () => true,
      () => false,
    );
  }

  /**
   * Stops pure-ftpd, unmounts everything under the sandbox root (bind mounts first, then s3fs),
   * deletes the namespace and the root. Returns what it could not undo.
   */
  async stop(): Promise<string[]> {
    if (this.stopped) return [];
    this.stopped = true;
    const problems: string[] = [];
    await this.stopHealthAgent().catch((error: unknown) => problems.push(String(error)));
    await this.stopFtpd().catch((error: unknown) => problems.push(String(error)));
    const leftover = await unmountAll(this.root);
    if (leftover.length > 0) problems.push(`still mounted: ${leftover.join(", ")}`);
    // Whatever still runs in the namespace is ours: s3fs after its unmount, stray sessions.
    for (const { pid, program } of await processesIn(this.namespace.name)) {
      await stopProcess({ pid, netns: this.namespace.name, what: program });
      this.world.forgetProcess(pid);
    }
    await deleteNamespace(this.namespace.name);
    if (leftover.length === 0) {
      await runChecked("rm", ["-r", "--one-file-system", "-f", join(this.root, "..")]).catch(
        (error: unknown) => problems.push(String(error)),
      );
    }
    return problems;
  }
}

/** A self-signed certificate and its key in one PEM, as an operator's SecureString would hold. */
async function selfSignedPem(dir: string, commonName: string): Promise<string> {
  const path = join(dir, "tls.pem");
  await runChecked("openssl", [
    ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "7", "-subj", `/CN=${commonName}`],
    ...["-keyout", path, "-out", path],
  ]);
  return readFileSync(path, "utf8");
}
