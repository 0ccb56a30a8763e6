import { execFileSync } from "node:child_process";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import {
  type AuditPorts,
  type BatchResult,
  type Clock,
  type ControlPlane,
  controlPlane,
  type FleetConfig,
  fleetEnvironment,
  type Logger,
  loadFleetConfig,
  type QueueMessage,
  sqsRecentChanges,
  type UsersManifest,
} from "@ftpfleet/core";
import { s3AuditBucket } from "@ftpfleet/core/s3";
import {
  type CommandExecutor,
  type CommandStep,
  type HealthProbe,
  RECENT_CHANGES_QUEUE_URL,
  SimulatedAws,
  type StepResult,
} from "@ftpfleet/simulated-aws";
import { ftpGreets } from "../sandbox/ftp";
import { httpGet } from "../sandbox/http";
import { processesIn } from "../sandbox/processes";
import { localS3Credentials, objectChange, type S3RequestRecord } from "../sandbox/s3-server";
import { type DataPlaneScript, Sandbox, type SandboxInstance, VENDORED_SOURCES } from "../sandbox/sandbox";
import { serveLocalMode } from "./control";
import { type DnsResponder, startDnsResponder } from "./dns-responder";

export const LOCAL_ZONE = "fleet.local";
export const LOCAL_RECORD = `ftp.${LOCAL_ZONE}.`;
export const DEMO_USER = { name: "demo", password: "demo-password" } as const;
/** Where full SSM command outputs go in local mode, as the output bucket on AWS. */
export const LOCAL_OUTPUT_BUCKET = "ftpfleet-local-output";
export const LOCAL_BUCKET = "ftpfleet-local";

export interface LocalFleetOptions {
  /** Instances to start with. */
  instances: number;
  dnsPort: number;
  log: Logger;
  /** The lifecycle function's handler, as deployed (the composition root passes it in). */
  lifecycleHandler: (cp: ControlPlane) => (messages: QueueMessage[]) => Promise<BatchResult>;
  /** The reconcile function's handler. */
  reconcileHandler: (cp: ControlPlane) => () => Promise<unknown>;
  reconcileEveryMs?: number;
  /** Interval of the group's health check (TCP 21 answering with an FTP greeting); two failures in a
   * row make an instance unhealthy, and the group replaces it. */
  healthCheckMs?: number;
  /** Where to announce the fleet to the ftpfleet CLI (`LOCAL_MODE_FILE` by default); false: nowhere. */
  announce?: string | false | undefined;
  /** The audit function's handler, as deployed; run every `auditEveryMs` (0 or absent: never). */
  auditHandler?: ((ports: AuditPorts) => () => Promise<unknown>) | undefined;
  auditEveryMs?: number | undefined;
  /** Every request the local S3 server receives (the bench counts them). */
  onS3Request?: ((request: S3RequestRecord) => void) | undefined;
  /** Each scheduled audit's result (or its error), for the console. */
  onAudit?: ((result: unknown, error?: unknown) => void) | undefined;
}

export interface InstanceStatus {
  instanceId: string;
  address: string;
  lifecycleState: string;
  health: string;
  /** It has a record. */
  inDns: boolean;
  /** Route53 would answer its record now (its health check passes, or none passes). */
  answered: boolean;
}

/** What `breakInstance` does to an instance: its mount dies (s3fs killed), hangs (s3fs stopped), or
 * its FTP server stops. Deep health is what notices the first two: pure-ftpd still greets. */
export const BREAKAGES = ["mount", "hang", "ftpd"] as const;
export type Breakage = (typeof BREAKAGES)[number];

/** The whole system on this machine: the control plane's workflows and handlers against the
 * simulated AWS in real time, and each simulated EC2 instance backed by a real one — a network
 * namespace provisioned by the same SSM document scripts, running s3fs and pure-ftpd against a
 * local S3 server. A DNS responder answers the fleet's name from the simulated zone. */
export class LocalFleet {
  readonly #instances = new Map<string, Promise<SandboxInstance>>();
  #creation: Promise<unknown> = Promise.resolve();
  #reconcileTimer: NodeJS.Timeout | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  readonly #failedChecks = new Map<string, number>();
  #auditTimer: NodeJS.Timeout | undefined;
  #auditing: Promise<unknown> | undefined;
  /** s3fs processes `breakInstance` stopped. */
  readonly #hung: number[] = [];
  #control: { close(): Promise<void> } | undefined;
  #stopped = false;

  private constructor(
    readonly world: Sandbox,
    readonly aws: SimulatedAws<StoppableClock>,
    readonly cp: ControlPlane,
    readonly dns: DnsResponder,
    readonly options: LocalFleetOptions,
  ) {}

  static async start(options: LocalFleetOptions): Promise<LocalFleet> {
    let events: Pick<SimulatedAws, "objectChanged"> | undefined;
    // Every instance gets the world's self-signed certificate (FTPS is required by default, as on
    // AWS with the operator's) and its artifact key, where the provisioning steps look for them.
    const world = await Sandbox.create({
      bucket: LOCAL_BUCKET,
      region: "us-east-1",
      logger: options.log,
      certificateName: "ftp.fleet.local",
      // The bucket's object events, as S3 sends them through EventBridge to the audit's queue.
      onS3Request: (request) => {
        const changed = objectChange(request, LOCAL_BUCKET);
        if (changed) events?.objectChanged(changed.key, changed.change);
        options.onS3Request?.(request);
      },
    });
    try {
      await seedBucket(world);
      const config = localConfig(world);
      let fleet: LocalFleet | undefined;
      const executor: CommandExecutor = (step) => {
        if (!fleet) throw new Error("local fleet not started");
        return fleet.#runStep(step);
      };
      const aws: SimulatedAws<StoppableClock> = new SimulatedAws({
        config,
        clock: stoppableClock(),
        zoneName: LOCAL_ZONE,
        // As the world numbers its namespaces (netns.ts): both addresses are on the instance.
        addresses: (n) => ({
          privateIp: `10.231.${world.network.id}.${n + 1}`,
          publicIp: `198.18.${world.network.id}.${n + 1}`,
        }),
        commandExecutor: executor,
        ssm: { agentDelayMs: 1_000, registrationDelayMs: 200, deliveryDelayMs: 200 },
      });
      events = aws;
      // The agent's upload of full outputs, into the local S3 server as into S3.
      const outputs = world.s3Client();
      aws.ssm.outputSink = async (Bucket, Key, Body) => {
        await outputs.send(new PutObjectCommand({ Bucket, Key, Body }));
      };
      const cp = controlPlane(aws.ports(options.log));
      // Route53's checkers, for real: HTTP to each instance's deep health endpoint.
      aws.route53.healthChecks.probe = httpProbe;
      aws.route53.healthChecks.start();
      const dns = await startDnsResponder({
        port: options.dnsPort,
        // What Route53 would answer from: healthy records first (see SimulatedRoute53.answerable).
        lookup: (name) =>
          aws.route53.answerable(config.hostedZoneId, name).map((r) => ({
            values: (r.ResourceRecords ?? []).map((v) => v.Value ?? ""),
            weight: r.Weight ?? 0,
            ttl: r.TTL ?? 0,
          })),
      });
      fleet = new LocalFleet(world, aws, cp, dns, options);
      fleet.#wire();
      if (options.announce !== false) {
        // The CLI in another terminal reaches this fleet's simulated AWS and its bucket.
        fleet.#control = await serveLocalMode(
          aws.clients(),
          {
            environment: fleetEnvironment(config),
            s3: {
              endpoint: world.s3.endpoint,
              region: world.region,
              accessKeyId: localS3Credentials.accessKeyId,
              secretAccessKey: localS3Credentials.secretAccessKey,
            },
            dns: { address: "127.0.0.1", port: dns.port },
          },
          options.announce,
        );
      }
      return fleet;
    } catch (error) {
      await world.stop().catch(() => undefined);
      throw error;
    }
  }

  /** Sets the group's desired capacity; the control plane does the rest. */
  scale(capacity: number): void {
    this.aws.autoscaling.setDesired(capacity);
  }

  /** Kills an instance's FTP server as a crash would. Nothing else is told: the group's health
   * check finds out, as an FTP health check on port 21 would on AWS. */
  async kill(instanceId: string): Promise<void> {
    const instance = await this.#instances.get(instanceId);
    if (!instance || !this.aws.autoscaling.members.has(instanceId))
      throw new Error(`no instance ${instanceId}`);
    await instance.crash();
  }

  /** Breaks one instance as a failure would, telling nobody. A hung s3fs is let go (SIGCONT) when
   * the fleet stops, so that its mount can be undone. */
  async breakInstance(instanceId: string, how: Breakage): Promise<void> {
    const instance = await this.#instances.get(instanceId);
    if (!instance || !this.aws.autoscaling.members.has(instanceId))
      throw new Error(`no instance ${instanceId}`);
    if (how === "ftpd") return instance.stopFtpd();
    const s3fs = (await processesIn(instance.namespace.name)).find((p) => p.program === "s3fs");
    if (!s3fs) throw new Error(`no s3fs runs on ${instanceId}`);
    if (how === "hang") this.#hung.push(s3fs.pid);
    process.kill(s3fs.pid, how === "hang" ? "SIGSTOP" : "SIGKILL");
  }

  /** The addresses Route53 would answer the fleet's name with now (healthy records first). */
  answerable(): string[] {
    return this.aws.route53
      .answerable(this.cp.config.hostedZoneId, this.cp.config.recordName)
      .flatMap((r) => (r.ResourceRecords ?? []).map((v) => v.Value ?? ""));
  }

  status(): {
    instances: InstanceStatus[];
    records: { instanceId: string; address: string; weight: number }[];
  } {
    const records = this.aws
      .recordsAt()
      .filter((r) => r.SetIdentifier?.startsWith(`ftpfleet:${this.cp.config.ownerId}:`))
      .map((r) => ({
        instanceId: (r.SetIdentifier ?? "").split(":").at(-1) ?? "",
        address: r.ResourceRecords?.[0]?.Value ?? "",
        weight: r.Weight ?? 0,
      }));
    const answerable = this.answerable();
    const instances = [...this.aws.autoscaling.members.values()].map((m) => ({
      instanceId: m.instanceId,
      // The address clients are given (the fleet's records hold public addresses).
      address: this.aws.ec2.instances.get(m.instanceId)?.publicIp ?? "",
      lifecycleState: m.lifecycleState,
      health: m.healthStatus,
      inDns: records.some((r) => r.instanceId === m.instanceId),
      answered: answerable.includes(this.aws.ec2.instances.get(m.instanceId)?.publicIp ?? "-"),
    }));
    return { instances, records };
  }

  /** The ports the audit works with here: the control plane and the local bucket. */
  auditPorts(): AuditPorts {
    const { aws, cp, world } = this;
    return {
      ...cp,
      bucket: s3AuditBucket(world.s3Client(), world.bucket, aws.clock),
      recent: sqsRecentChanges(aws.clients().sqs, RECENT_CHANGES_QUEUE_URL, aws.clock, cp.log),
    };
  }

  /** Mounts one instance's bucket again with s3fs's default cache options, as a hand-edited fstab
   * would: stale listings and truncated downloads for the audit to catch and repair. */
  async serveStale(instanceId: string): Promise<void> {
    const instance = await this.#instances.get(instanceId);
    if (!instance || !this.aws.autoscaling.members.has(instanceId))
      throw new Error(`no instance ${instanceId}`);
    await instance.remountWithDefaultCacheOptions();
  }

  /** Runs the audit now, unless one is running (then waits for that one). */
  auditNow(): Promise<unknown> {
    const handler = this.options.auditHandler;
    if (!handler) return Promise.reject(new Error("local mode runs without the audit"));
    this.#auditing ??= handler(this.auditPorts())().finally(() => {
      this.#auditing = undefined;
    });
    return this.#auditing;
  }

  /** The real instance behind a simulated one (for tests and the console). */
  instance(instanceId: string): Promise<SandboxInstance> | undefined {
    return this.#instances.get(instanceId);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    // Whatever fails here, the instances, mounts and namespaces below must still go.
    await this.#control?.close().catch(() => undefined);
    clearInterval(this.#reconcileTimer);
    clearInterval(this.#healthTimer);
    clearInterval(this.#auditTimer);
    for (const pid of this.#hung) {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // Gone with its instance.
      }
    }
    this.aws.route53.healthChecks.stop();
    await this.#auditing?.catch(() => undefined);
    await this.aws.lifecycleQueue.stop();
    await this.dns.close();
    await this.#creation.catch(() => undefined);
    await this.world.stop();
    // The simulation's long waits (hook expiry, command timeouts) must not keep the process alive.
    this.aws.clock.stop();
  }

  #wire(): void {
    const { aws, cp, options } = this;
    aws.ec2.watch((simulated) => {
      if (simulated.state === "running" && !this.#instances.has(simulated.instanceId)) {
        // Launch order is address order: the world numbers its namespaces as EC2 numbers launches.
        const created = this.#creation.then(() =>
          this.world.addInstance({ instanceId: simulated.instanceId }),
        );
        this.#creation = created.catch(() => undefined);
        this.#instances.set(simulated.instanceId, created);
      } else if (simulated.state === "terminated") {
        void this.#instances
          .get(simulated.instanceId)
          ?.then((instance) => instance.stop())
          .catch((error: unknown) =>
            options.log.error("local.instance-stop-failed", { instanceId: simulated.instanceId, error }),
          );
      }
    });
    const consume = options.lifecycleHandler(cp);
    aws.lifecycleQueue.consume(consume, { batchSize: 100, batchWindowMs: 1_000, concurrency: 2 });
    const reconcile = options.reconcileHandler(cp);
    this.#reconcileTimer = setInterval(() => {
      reconcile().catch((error: unknown) => options.log.error("local.reconcile-failed", { error }));
    }, options.reconcileEveryMs ?? 30_000);
    this.#reconcileTimer.unref();
    this.#healthTimer = setInterval(() => void this.#checkHealth(), options.healthCheckMs ?? 2_000);
    this.#healthTimer.unref();
    if (options.auditHandler && options.auditEveryMs) {
      this.#auditTimer = setInterval(() => {
        if (this.#auditing || this.#stopped) return;
        this.auditNow().then(
          (result) => options.onAudit?.(result),
          (error: unknown) => options.onAudit?.(undefined, error),
        );
      }, options.auditEveryMs);
      this.#auditTimer.unref();
    }
    aws.autoscaling.setDesired(options.instances);
  }

  /** The group's health check: in-service instances must answer on port 21. */
  async #checkHealth(): Promise<void> {
    for (const member of [...this.aws.autoscaling.members.values()]) {
      if (member.lifecycleState !== "InService" || member.healthStatus !== "Healthy") continue;
      const instance = await this.#instances.get(member.instanceId);
      if (!instance) continue;
      const healthy = await ftpGreets(instance.address);
      const failures = healthy ? 0 : (this.#failedChecks.get(member.instanceId) ?? 0) + 1;
      this.#failedChecks.set(member.instanceId, failures);
      if (failures >= 2 && !this.#stopped && this.aws.autoscaling.members.has(member.instanceId)) {
        this.options.log.warn("local.health-check-failed", {
          instanceId: member.instanceId,
          address: instance.address,
        });
        this.aws.autoscaling.crash(member.instanceId);
      }
    }
  }

  /** Plays the SSM agent for one step of a document: runs the step's scripts on the instance. The
   * simulated SSM decides, as SSM does, what runs next (its timeout, onFailure: exit). */
  async #runStep(step: CommandStep): Promise<StepResult> {
    const instance = await this.#instances.get(step.instanceId);
    if (!instance) return { exitCode: 1, stdout: "", stderr: `unknown instance ${step.instanceId}` };
    const parameters = Object.fromEntries(
      Object.entries(step.environment).map(([key, value]) => [key.replace(/^SSM_/, ""), value]),
    );
    // A namespace has no instance metadata service: the agent announces what IMDS would.
    if (parameters.PublicAddress === "") parameters.PublicAddress = instance.namespace.publicAddress;
    let stdout = "";
    let stderr = "";
    for (const line of step.runCommand) {
      const script = /^@script ([a-z0-9-]+)\.sh$/.exec(line)?.[1] as DataPlaneScript | undefined;
      if (!script) {
        return {
          exitCode: 1,
          stdout,
          stderr: `${stderr}local mode runs only the documents' scripts: ${line}\n`,
        };
      }
      const result = await instance.runScript(script, parameters);
      stdout += result.stdout;
      stderr += result.stderr;
      if (result.code !== 0) return { exitCode: result.code ?? 1, stdout, stderr };
      // On AWS systemd units start the daemons; in the sandbox the harness does.
      if (script === "configure-pure-ftpd") await instance.restartFtpd();
      if (script === "configure-health") {
        await instance.restartHealthAgent();
        if (!(await instance.untilHealthy())) {
          return {
            exitCode: 1,
            stdout,
            stderr: `${stderr}the health endpoint did not answer 200 within 60 s\n`,
          };
        }
      }
    }
    return { exitCode: 0, stdout, stderr };
  }
}

export interface StoppableClock extends Clock {
  /** Drops every pending sleep: they never resolve. */
  stop(): void;
}

/** Real time whose pending timers can all be dropped when the local fleet stops. */
export function stoppableClock(): StoppableClock {
  const timers = new Set<NodeJS.Timeout>();
  return {
    now: () => Date.now(),
    sleep: (ms) =>
      new Promise((resolve) => {
        const timer = setTimeout(
          () => {
            timers.delete(timer);
            resolve();
          },
          Math.max(0, ms),
        );
        timers.add(timer);
      }),
    stop() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}

function localConfig(world: Sandbox): FleetConfig {
  return loadFleetConfig({
    FTPFLEET_OWNER_ID: "local",
    FTPFLEET_ASG_NAME: "ftpfleet-local",
    FTPFLEET_HOSTED_ZONE_ID: "Z0LOCAL",
    FTPFLEET_RECORD_NAME: LOCAL_RECORD,
    // Short, so that scaling is quick to watch.
    FTPFLEET_RECORD_TTL: "5",
    FTPFLEET_DRAIN_SECONDS: "20",
    FTPFLEET_ADDRESS: "public",
    // The shortest allowed: a broken instance is replaced while one watches.
    FTPFLEET_HEALTH_REPLACE_SECONDS: "30",
    FTPFLEET_BUCKET: world.bucket,
    FTPFLEET_BUCKET_REGION: world.region,
    FTPFLEET_S3_ENDPOINT: world.s3.endpoint,
    FTPFLEET_AGENT_TIMEOUT_SECONDS: "60",
    // Something real to fix (`stale N` in the console): repair, not only report.
    FTPFLEET_AUDIT_MODE: "repair",
    FTPFLEET_OUTPUT_BUCKET: LOCAL_OUTPUT_BUCKET,
    // Both daemons built as on AWS, from the vendored sources the sandbox put in its bucket.
    FTPFLEET_PUREFTPD_SOURCE_URL: `bucket:${VENDORED_SOURCES.pureFtpd.key}`,
    FTPFLEET_PUREFTPD_SOURCE_SHA256: VENDORED_SOURCES.pureFtpd.sha256,
    FTPFLEET_S3FS_SOURCE_URL: `bucket:${VENDORED_SOURCES.s3fs.key}`,
    FTPFLEET_S3FS_SOURCE_SHA256: VENDORED_SOURCES.s3fs.sha256,
  });
}

/** The demo user and a few folders, in the bucket, as an operator would have them. */
async function seedBucket(world: Sandbox): Promise<void> {
  const s3 = world.s3Client();
  const hash = execFileSync("openssl", ["passwd", "-6", "-stdin"], {
    input: DEMO_USER.password,
    encoding: "utf8",
  }).trim();
  const manifest: UsersManifest = {
    version: 1,
    layout: "bind",
    revision: 1,
    users: [
      {
        name: DEMO_USER.name,
        passwordHash: hash,
        disabled: false,
        grants: [
          { path: "public", access: "ro" },
          { path: "inbox/demo", access: "rw" },
        ],
      },
    ],
  };
  const put = (Key: string, Body: string) =>
    // The length given: the SDK cannot tell an empty string's and warns about streams.
    s3.send(
      new PutObjectCommand({ Bucket: world.bucket, Key, Body, ContentLength: Buffer.byteLength(Body) }),
    );
  await s3.send(new CreateBucketCommand({ Bucket: LOCAL_OUTPUT_BUCKET }));
  await put(".ftpfleet/users.json", JSON.stringify(manifest, null, 2));
  await put("public/README.txt", "Files here are read-only for the demo user.\n");
  await put("inbox/demo/.keep", "");
  s3.destroy();
}

/** Route53's HTTP check: a connection within 4 s, then a 2xx or 3xx status within 2 s. */
const httpProbe: HealthProbe = async ({ ipAddress, port, resourcePath }) => {
  const answer = await httpGet(ipAddress, port, resourcePath, 6_000);
  if ("error" in answer) return { ok: false, reason: answer.error };
  return answer.status >= 200 && answer.status < 400
    ? { ok: true }
    : { ok: false, reason: `HTTP Status Code ${answer.status}, ${answer.message}` };
};
