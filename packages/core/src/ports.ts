import type { S3ListedObject } from "./audit/diff";
import type { FleetConfig } from "./config";
import type { RecordChanges } from "./dns/plan";
import type { RecordSet } from "./dns/records";
import type { Deferred } from "./events/deferred";
import type { LifecycleAction } from "./events/lifecycle";
import type { UsersManifest } from "./users/manifest";

/** Every port the workflows use, in one place. Workflows depend on these interfaces only; the AWS
 * adapters (aws/) implement them over the SDK, and the composition roots (functions/runtime.ts for
 * Lambda, the simulation for tests and local mode) choose which implementation runs. */

/** Time as the control plane sees it. Workflows never read Date.now() or setTimeout directly,
 * so the same code runs in real time (Lambda) and in simulated time (tests, bench, local mode). */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export type LogFields = Record<string, unknown>;

/** Structured logging: one JSON object per line, `msg` naming the event. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines all carry `fields` (e.g. the instance id, to follow one instance). */
  child(fields: LogFields): Logger;
}

// --- Route53 -------------------------------------------------------------------------------------

/** The part of Route53 the fleet uses: read the record sets at one name, apply planned changes. */
export interface RecordStore {
  listAt(name: string): Promise<RecordSet[]>;
  apply(changes: RecordChanges): Promise<ApplyReport>;
}

/** Route53's deep health check of one instance (HTTP GET /health on its health port). */
export interface InstanceHealthCheck {
  id: string;
  instanceId: string;
  address: string;
  /** When it was created (ms since the epoch). */
  createdAt: number;
}

/** Route53's verdict: healthy, failing, or not known yet (a new check, no report). */
export type HealthVerdict = "healthy" | "failing" | "unknown";

export interface HealthCheckPort {
  /** This fleet's health checks. */
  list(): Promise<InstanceHealthCheck[]>;
  /** A new check of the instance at this address (a retried request gets the same check). */
  create(instanceId: string, address: string): Promise<InstanceHealthCheck>;
  /** "in-use": a record still refers to it (a later sync deletes it). */
  delete(id: string): Promise<"deleted" | "in-use" | "gone">;
  verdict(id: string): Promise<HealthVerdict>;
}

export interface ApplyReport {
  applied: number;
  /** DELETEs of records that were no longer there: the goal was already reached. */
  alreadyGone: number;
  failed: RefusedChange[];
}

/** A change Route53 refused even alone: what it was, for which records, and Route53's reason. */
export interface RefusedChange {
  change: string;
  setIdentifiers: string[];
  reason: string;
}

// --- Auto Scaling --------------------------------------------------------------------------------

export interface GroupInstance {
  instanceId: string;
  /** e.g. Pending:Wait, InService, Terminating:Wait, Standby, Warmed:Running. */
  lifecycleState: string;
  healthStatus: string;
}

/** "active": the answer was taken. "closed": the action had already ended (completed before, expired,
 * or the instance left); the goal of answering it is reached either way. */
export type ActionAnswer = "active" | "closed";

/** Names one lifecycle action. Without a token, Auto Scaling finds the action by instance id. */
export type ActionRef = Pick<LifecycleAction, "instanceId" | "asgName" | "hookName"> & { token?: string };

export interface GroupPort {
  instances(): Promise<GroupInstance[]>;
  complete(action: ActionRef, result: "CONTINUE" | "ABANDON"): Promise<ActionAnswer>;
  heartbeat(action: ActionRef): Promise<ActionAnswer>;
  /** Reports the instance unhealthy: the group replaces it. */
  markUnhealthy(instanceId: string): Promise<void>;
}

// --- EC2 -----------------------------------------------------------------------------------------

export interface InstanceView {
  instanceId: string;
  state: string;
  /** Taken out of rotation by the audit, and why: its record stays, with weight 0. */
  outOfRotation?: string;
  /** Audit repairs that failed in a row. */
  failedRepairs?: number;
  /** When Route53's deep health check was first seen failing (ISO time), while it still fails. */
  failingSince?: string;
  publicIp?: string;
  privateIp?: string;
  /** The launch the instance is being prepared for (a `LaunchRef`), if one is under way. */
  launch?: string;
  /** The launch the instance was found ready for. It serves while entering service only when this
   * is its current `launch`: readiness belongs to one launch, never to the instance. */
  readyFor?: string;
}

export interface InstancePort {
  /** Every pending or running instance that the group launched (warm pool included). */
  groupInstances(): Promise<InstanceView[]>;
  /** Records the launch each instance is now prepared for; readiness of any earlier launch is gone.
   * `ready`: the instances are ready for it at once (fleets without provisioning). */
  beginLaunch(launches: ReadonlyMap<string, string>, options?: { ready: boolean }): Promise<void>;
  /** Each instance is ready for the given launch (its current one). */
  markReady(launches: ReadonlyMap<string, string>): Promise<void>;
  /** Removes launch and readiness: the instance is in service or left it, and needs neither. */
  forgetLaunch(instanceIds: readonly string[]): Promise<void>;
  /** Marks on one instance: the audit's (out of rotation, and why, or null: back in; repairs that
   * failed in a row, null: none) and the health watch's (failing since, null: passing). Fields left
   * out stay as they are. */
  mark(instanceId: string, marks: InstanceMarks): Promise<void>;
}

export interface InstanceMarks {
  outOfRotation?: string | null;
  failedRepairs?: number | null;
  failingSince?: string | null;
}

// --- SSM Run Command -----------------------------------------------------------------------------

export interface InvocationView {
  /** The document the command ran, as SSM records it. */
  document: string;
  status: string;
  /** The first step that did not succeed, if any. */
  failedStep?: string;
  /** From the request to the end of its last step, once it has ended. */
  durationMs?: number;
  /** The first lines of that step's stderr (SSM keeps 8,000 characters inline), for the log. */
  stderrHead: string;
  /** Where the full output is, when commands write to an S3 output bucket. */
  outputUrl?: string;
}

export interface SendOptions {
  /** Full outputs go here: SSM keeps only 24,000 characters of stdout inline. */
  outputBucket?: string | undefined;
  outputPrefix?: string;
  comment?: string;
}

/** Rate controls of a command sent to targets (SSM's MaxConcurrency and MaxErrors: a count or a
 * percentage of the targets). */
export interface RateControls {
  maxConcurrency: string;
  maxErrors: string;
}

/** A command's state as SSM lists it: one entry per instance it has reached so far. */
export interface CommandProgress {
  status: string;
  /** Known once SSM has resolved the targets. */
  targetCount?: number;
  invocations: { instanceId: string; status: string }[];
}

/** The part of SSM the fleet uses: is an instance's agent online, run a document, read a result. */
export interface CommandPort {
  onlineAgents(instanceIds: readonly string[]): Promise<Set<string>>;
  /** Runs `document` on the instances; returns the command id per instance and the instances SSM
   * refused (agent not registered yet). */
  send(
    document: string,
    instanceIds: readonly string[],
    parameters: Record<string, string>,
    options?: SendOptions,
  ): Promise<{ sent: Map<string, string>; refused: string[] }>;
  invocation(commandId: string, instanceId: string): Promise<InvocationView>;
  /** Runs `document` on every managed instance carrying the tag (SSM resolves the targets and paces
   * them by `rate`); returns the command id. */
  sendToTagged(
    document: string,
    tag: { key: string; value: string },
    parameters: Record<string, string>,
    options: SendOptions & RateControls,
  ): Promise<string>;
  progress(commandId: string): Promise<CommandProgress>;
}

// --- S3: the users manifest ----------------------------------------------------------------------

export interface StoredManifest {
  manifest: UsersManifest;
  /** The object's ETag: a write succeeds only while it is still the stored one. */
  etag: string;
}

/** What an instance last applied, as apply-users.sh reports it in the bucket. */
export interface AppliedReport {
  instanceId: string;
  revision: number;
  manifestKey: string;
  appliedAt: string;
  /** The enabled users it applied. */
  users: string[];
  /** Grants it refused (e.g. a link planted in the bucket at the folder), with the reason. */
  refused: { user: string; path: string; reason: string }[];
}

export interface UsersStore {
  read(): Promise<StoredManifest | undefined>;
  /** Writes `manifest` only if the stored one is still `expected` (an ETag; undefined: none stored);
   * otherwise throws ManifestChangedError and changes nothing. Returns the new ETag. */
  write(manifest: UsersManifest, expected: string | undefined): Promise<string>;
  /** Each instance's last report; a report that breaks its schema is a problem, named. */
  applied(instanceIds: readonly string[]): Promise<Map<string, AppliedReport | { problem: string }>>;
}

// --- S3: the bucket as the audit sees it --------------------------------------------------------

/** What HeadObject says of one object. Times are epoch ms. */
export interface ObjectHead {
  key: string;
  size: number;
  lastModified: number;
  etag: string;
  /** What s3fs shows as the mtime: x-amz-meta-mtime when it is valid, else LastModified. */
  mtime: number;
  /** The user metadata (x-amz-meta-*, names lowercased, without the prefix). */
  metadata: Record<string, string>;
  contentType?: string;
  /** e.g. AES256 or aws:kms: with KMS the ETag is not the content's MD5. */
  serverSideEncryption?: string;
}

export interface AuditBucket {
  readonly name: string;
  /** Up to `max` objects whose keys sort after `after` (and start with `prefix`), in S3's order. */
  list(options: {
    after: string;
    max: number;
    prefix?: string;
  }): Promise<{ objects: S3ListedObject[]; more: boolean }>;
  head(key: string): Promise<ObjectHead | undefined>;
  putText(key: string, body: string, contentType?: string): Promise<void>;
  /** The object's text, or undefined when there is none. */
  getText(key: string): Promise<string | undefined>;
  /** Multipart uploads never completed nor aborted, initiated before `before` (epoch ms). */
  incompleteUploads(before: number): Promise<{ key: string; initiated: number }[]>;
}

/** Keys of the bucket written or deleted lately, as S3 reports them (object events through
 * EventBridge to a queue): the audit's "recent changes" check. */
export interface RecentChanges {
  /** Up to `max` changes (deduplicated keys) not yet acknowledged. `done(kept)` acknowledges them
   * all but the keys in `kept`, which come back to a later run (still in flight now); until then,
   * a run that fails before `done` leaves them all to the next. */
  take(max: number): Promise<{ keys: string[]; done(kept?: ReadonlySet<string>): Promise<void> }>;
}

// --- SQS -----------------------------------------------------------------------------------------

export interface DeferredQueue {
  /** Delivers `message` back to the lifecycle queue at its `notBefore` (or 15 minutes, whichever is sooner). */
  defer(message: Deferred): Promise<void>;
}

/** Everything a workflow may touch. Built once per process by a composition root. */
export interface Ports {
  config: FleetConfig;
  log: Logger;
  clock: Clock;
  records: RecordStore;
  healthChecks: HealthCheckPort;
  group: GroupPort;
  instances: InstancePort;
  commands: CommandPort;
  deferred: DeferredQueue;
}
