import { z } from "zod";
import { InvalidInputError, parseOrThrow } from "./errors";

const dnsName = z
  .string()
  .trim()
  .toLowerCase()
  .transform((name) => (name.endsWith(".") ? name : `${name}.`))
  .refine((name) => name.length <= 254 && /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+$/.test(name), {
    message: "must be a DNS name such as ftp.example.com",
  });

/** A source tarball: an https URL, or an object in the fleet's bucket under .ftpfleet/sources/. */
const sourceUrl = z
  .string()
  .regex(
    /^(https:\/\/[A-Za-z0-9.-]+\/[A-Za-z0-9._/%+~-]+|bucket:\.ftpfleet\/sources\/[A-Za-z0-9._-]{1,100})$/,
    "https://host/path or bucket:.ftpfleet/sources/<name>",
  )
  .refine((url) => !url.includes(".."), "no '..'");
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, "a SHA-256 in 64 lowercase hex digits");

export const fleetConfigSchema = z
  .object({
    /** Names this fleet's records (SetIdentifier prefix); unique per stage. */
    ownerId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,47}$/, "lowercase letters, digits and '-', at most 48"),
    asgName: z
      .string()
      .regex(/^[\w.\-@+=]{1,255}$/, "an Auto Scaling group name of letters, digits and ._-@+="),
    hostedZoneId: z
      .string()
      .regex(/^(\/hostedzone\/)?Z[A-Z0-9]{1,32}$/, "a Route53 hosted zone id such as Z0123456789ABC")
      .transform((id) => id.replace(/^\/hostedzone\//, "")),
    recordName: dnsName,
    /** Short, so that clients follow scale-in quickly (passive FTP: clients must follow scale-in within a minute). */
    recordTtl: z.coerce.number().int().min(0).max(300).default(60),
    recordWeight: z.coerce.number().int().min(0).max(255).default(1),
    /** deep: a Route53 health check per instance on its deep health endpoint (the provision document
     * installs it), attached to its record, so a broken mount leaves DNS within 30 s and a lasting
     * failure gets the instance replaced. Default: deep with a bucket, off without one. */
    healthChecks: z.enum(["deep", "off"]).optional(),
    /** The deep health endpoint's port on every instance (HTTP GET /health). */
    healthPort: z.coerce.number().int().min(1024).max(65535).default(8021),
    /** How long Route53 must find an instance failing before the group is told to replace it. */
    healthReplaceSeconds: z.coerce.number().int().min(30).max(3600).default(120),
    address: z.enum(["public", "private"]).default("public"),
    /** Time between leaving DNS and letting the instance terminate; at least the TTL. */
    drainSeconds: z.coerce.number().int().min(0).max(7200).optional(),
    /** With a bucket, new instances are provisioned by the provision document before they serve;
     * without one, instances are assumed ready at launch (a pre-built image). */
    bucket: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "an S3 bucket name")
      .optional(),
    bucketRegion: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-[0-9]$/, "an AWS region such as eu-west-1")
      .optional(),
    /** Only for an S3-compatible server (local mode). */
    s3Endpoint: z
      .string()
      .regex(/^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?$/, "http(s)://host[:port]")
      .optional(),
    /** build (default): pinned upstream sources compiled once and cached in the bucket; distro: the
     * distribution's packages (pure-ftpd with quotas: every delete is a server-side copy; s3fs 1.90). */
    pureFtpdSource: z.enum(["distro", "build"]).default("build"),
    /** Where the sources come from and their SHA-256; unset, the documents' pinned official release. */
    pureFtpdSourceUrl: sourceUrl.optional(),
    pureFtpdSourceSha256: sha256.optional(),
    s3fsSource: z.enum(["distro", "build"]).default("build"),
    s3fsSourceUrl: sourceUrl.optional(),
    s3fsSourceSha256: sha256.optional(),
    passivePorts: z
      .string()
      .regex(/^[0-9]{4,5}:[0-9]{4,5}$/, "first:last")
      .refine((range) => {
        const [first, last] = range.split(":").map(Number);
        return first !== undefined && last !== undefined && 1024 <= first && first < last && last <= 65535;
      }, "an ascending range of at least two ports within 1024-65535 (pure-ftpd drops its session limit on one)")
      .default("30000:30099"),
    /** FTPS only by default: with `optional`, passwords may cross the network in clear text. */
    tlsMode: z.enum(["off", "optional", "required"]).default("required"),
    tlsCertificateParameter: z
      .string()
      .regex(/^(\/[A-Za-z0-9_.-]+)+$/, "an SSM parameter name such as /ftpfleet/tls")
      .optional(),
    /** FTP sessions at once per instance (pure-ftpd allows at most half the passive ports). */
    maxClients: z.coerce.number().int().min(1).max(9999).default(50),
    /** FTP sessions at once per instance from one client address. */
    maxClientsPerIp: z.coerce.number().int().min(1).max(9999).default(10),
    /** SecureString parameter holding the key (64 hex digits) that seals build artifacts cached in
     * the bucket; without it, instances neither trust nor write the cache. */
    artifactKeyParameter: z
      .string()
      .regex(/^(\/[A-Za-z0-9_.-]+)+$/, "an SSM parameter name such as /ftpfleet/artifact-key")
      .optional(),
    /** Where full command outputs go (SSM keeps only 24,000 characters inline). */
    outputBucket: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "an S3 bucket name")
      .optional(),
    /** How long a new instance's SSM agent may take to come online before it is abandoned. */
    agentTimeoutSeconds: z.coerce.number().int().min(60).max(3600).default(600),
    /** The scheduled audit: report only (default), or take failing instances out and repair them. */
    auditMode: z.enum(["report", "repair"]).default("report"),
    /** Objects of the bucket compared per run: a run's cost stays flat, the bucket is covered over
     * ceil(objects / auditSliceKeys) runs. */
    auditSliceKeys: z.coerce.number().int().min(100).max(100_000).default(5_000),
    /** EventBridge Scheduler expression of the audit. */
    auditSchedule: z
      .string()
      .regex(
        /^(rate\([1-9][0-9]{0,3} (minute|minutes|hour|hours|day|days)\)|cron\([0-9*?,/ LW#A-Z-]{9,100}\))$/,
        "rate(15 minutes) or cron(...)",
      )
      .default("rate(15 minutes)"),
  })
  .transform((config) => ({
    ...config,
    drainSeconds: config.drainSeconds ?? config.recordTtl + 30,
    healthChecks: config.healthChecks ?? (config.bucket ? "deep" : "off"),
  }))
  .refine((config) => config.healthChecks === "off" || config.bucket, {
    message: "deep health checks need a bucket: the provision document installs the health endpoint",
    path: ["healthChecks"],
  })
  .refine((config) => config.healthChecks === "off" || config.address === "public", {
    message: "deep health checks need public addresses: Route53's checkers cannot reach private ones",
    path: ["healthChecks"],
  })
  .refine((config) => config.drainSeconds >= config.recordTtl, {
    message: "drainSeconds must be at least recordTtl, or clients still resolve a leaving instance",
    path: ["drainSeconds"],
  })
  .refine((config) => config.maxClientsPerIp <= config.maxClients, {
    message: "maxClientsPerIp must be at most maxClients",
    path: ["maxClientsPerIp"],
  })
  // Another source with the pinned checksum could never pass: each URL comes with its own.
  .refine((config) => !config.pureFtpdSourceUrl === !config.pureFtpdSourceSha256, {
    message: "pureFtpdSourceUrl and pureFtpdSourceSha256 go together",
    path: ["pureFtpdSourceSha256"],
  })
  .refine((config) => !config.s3fsSourceUrl === !config.s3fsSourceSha256, {
    message: "s3fsSourceUrl and s3fsSourceSha256 go together",
    path: ["s3fsSourceSha256"],
  })
  .refine((config) => !config.bucket || config.bucketRegion, {
    message: "bucketRegion is required with a bucket",
    path: ["bucketRegion"],
  });

export type FleetConfig = z.output<typeof fleetConfigSchema>;

const envNames = {
  ownerId: "FTPFLEET_OWNER_ID",
  asgName: "FTPFLEET_ASG_NAME",
  hostedZoneId: "FTPFLEET_HOSTED_ZONE_ID",
  recordName: "FTPFLEET_RECORD_NAME",
  recordTtl: "FTPFLEET_RECORD_TTL",
  recordWeight: "FTPFLEET_RECORD_WEIGHT",
  healthChecks: "FTPFLEET_HEALTH_CHECKS",
  healthPort: "FTPFLEET_HEALTH_PORT",
  healthReplaceSeconds: "FTPFLEET_HEALTH_REPLACE_SECONDS",
  address: "FTPFLEET_ADDRESS",
  drainSeconds: "FTPFLEET_DRAIN_SECONDS",
  bucket: "FTPFLEET_BUCKET",
  bucketRegion: "FTPFLEET_BUCKET_REGION",
  s3Endpoint: "FTPFLEET_S3_ENDPOINT",
  pureFtpdSource: "FTPFLEET_PUREFTPD_SOURCE",
  pureFtpdSourceUrl: "FTPFLEET_PUREFTPD_SOURCE_URL",
  pureFtpdSourceSha256: "FTPFLEET_PUREFTPD_SOURCE_SHA256",
  s3fsSource: "FTPFLEET_S3FS_SOURCE",
  s3fsSourceUrl: "FTPFLEET_S3FS_SOURCE_URL",
  s3fsSourceSha256: "FTPFLEET_S3FS_SOURCE_SHA256",
  passivePorts: "FTPFLEET_PASSIVE_PORTS",
  tlsMode: "FTPFLEET_TLS_MODE",
  tlsCertificateParameter: "FTPFLEET_TLS_CERTIFICATE_PARAMETER",
  maxClients: "FTPFLEET_MAX_CLIENTS",
  maxClientsPerIp: "FTPFLEET_MAX_CLIENTS_PER_IP",
  artifactKeyParameter: "FTPFLEET_ARTIFACT_KEY_PARAMETER",
  outputBucket: "FTPFLEET_OUTPUT_BUCKET",
  agentTimeoutSeconds: "FTPFLEET_AGENT_TIMEOUT_SECONDS",
  auditMode: "FTPFLEET_AUDIT_MODE",
  auditSliceKeys: "FTPFLEET_AUDIT_SLICE_KEYS",
  auditSchedule: "FTPFLEET_AUDIT_SCHEDULE",
} as const satisfies Record<keyof z.input<typeof fleetConfigSchema>, string>;

/** The project's one config loader: every FTPFLEET_* variable, validated once at start-up. */
export function loadFleetConfig(env: Record<string, string | undefined> = process.env): FleetConfig {
  const raw = Object.fromEntries(
    Object.entries(envNames)
      .map(([key, name]) => [key, env[name] === "" ? undefined : env[name]] as const)
      .filter(([, value]) => value !== undefined),
  );
  return parseOrThrow(fleetConfigSchema, raw, "invalid ftpfleet configuration", (path) => {
    const key = path[0] as keyof typeof envNames | undefined;
    return key ? envNames[key] : "config";
  });
}

export function fleetEnvironment(config: z.input<typeof fleetConfigSchema>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => [envNames[key as keyof typeof envNames], String(value)]),
  );
}

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const sqsQueueUrl = (what: string) =>
  z
    .url({ protocol: /^https$/, error: `the ${what}'s https URL` })
    .refine(
      (url) => /^https:\/\/sqs\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/\d{12}\/[\w-]{1,80}(\.fifo)?$/.test(url),
      {
        message: "an SQS queue URL such as https://sqs.eu-west-1.amazonaws.com/123456789012/queue",
      },
    );

const functionSettingsSchema = z.object({
  LOG_LEVEL: z
    .string()
    .toLowerCase()
    .pipe(z.enum(LOG_LEVELS, { error: `one of ${LOG_LEVELS.join(", ")}` }))
    .default("info"),
  FTPFLEET_LIFECYCLE_QUEUE_URL: sqsQueueUrl("lifecycle queue"),
  /** The bucket's object events (the audit's recent changes); set by the stack for the audit. */
  FTPFLEET_RECENT_CHANGES_QUEUE_URL: sqsQueueUrl("recent-changes queue").optional(),
});

export interface FunctionConfig {
  fleet: FleetConfig;
  logLevel: LogLevel;
  lifecycleQueueUrl: string;
  recentChangesQueueUrl?: string | undefined;
}

/** What a Lambda function reads at start-up: the fleet's configuration, its log level and the
 * lifecycle queue. Every problem in any of them is named in one error. */
export function loadFunctionConfig(env: Record<string, string | undefined> = process.env): FunctionConfig {
  const issues: string[] = [];
  let fleet: FleetConfig | undefined;
  try {
    fleet = loadFleetConfig(env);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    issues.push(...error.issues);
  }
  const settings = functionSettingsSchema.safeParse({
    LOG_LEVEL: env.LOG_LEVEL === "" ? undefined : env.LOG_LEVEL,
    FTPFLEET_LIFECYCLE_QUEUE_URL: env.FTPFLEET_LIFECYCLE_QUEUE_URL,
    FTPFLEET_RECENT_CHANGES_QUEUE_URL: env.FTPFLEET_RECENT_CHANGES_QUEUE_URL || undefined,
  });
  if (!settings.success) {
    issues.push(...settings.error.issues.map((issue) => `${String(issue.path[0])}: ${issue.message}`));
  }
  if (issues.length > 0 || !fleet || !settings.success) {
    throw new InvalidInputError("invalid ftpfleet configuration", issues);
  }
  return {
    fleet,
    logLevel: settings.data.LOG_LEVEL,
    lifecycleQueueUrl: settings.data.FTPFLEET_LIFECYCLE_QUEUE_URL,
    recentChangesQueueUrl: settings.data.FTPFLEET_RECENT_CHANGES_QUEUE_URL,
  };
}

/** The name an SSM document of this fleet is deployed under. */
export function documentName(config: Pick<FleetConfig, "ownerId">, document: string): string {
  return `${config.ownerId}-${document}`;
}
