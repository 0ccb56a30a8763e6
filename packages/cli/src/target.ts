import { existsSync, readFileSync } from "node:fs";
import { S3Client } from "@aws-sdk/client-s3";
import {
  type AuditBucket,
  type AwsClients,
  awsClients,
  type Clock,
  type FleetConfig,
  InvalidInputError,
  type Logger,
  loadFleetConfig,
  type Ports,
  portsOverAws,
  SDK_CLIENT_SETTINGS,
  systemClock,
  type UsersStore,
} from "@ftpfleet/core";
import { s3AuditBucket, s3UsersStore } from "@ftpfleet/core/s3";
import { findLocalMode, localModeClients } from "@ftpfleet/local/control";

/** What a command works on: the fleet's ports and its users manifest, in AWS or in local mode. */
export interface Target {
  kind: "aws" | "local";
  config: FleetConfig;
  ports: Ports;
  users: UsersStore;
  /** The bucket as the audit reads it. */
  bucket: AuditBucket;
  /** The DNS server to ask for the fleet's name (local mode's responder), or the system's. */
  dnsServer?: string;
  close(): void;
}

export interface TargetOptions {
  local?: boolean;
  aws?: boolean;
  /** SST's stage outputs (.sst/outputs.json by default) naming the fleet. */
  outputs?: string;
}

/** AWS when asked, or when FTPFLEET_* variables or stage outputs name a fleet; otherwise a running
 * local mode. The fleet's configuration goes through the one config loader either way. */
export function openTarget(options: TargetOptions, log: Logger, clock: Clock = systemClock): Target {
  if (options.local && options.aws) throw new InvalidInputError("choose one target", ["--local, --aws"]);
  const awsEnvironment = stageEnvironment(options.outputs);
  const named = awsEnvironment !== undefined || process.env.FTPFLEET_ASG_NAME !== undefined;
  if (options.local || (!options.aws && !named)) {
    const local = findLocalMode(process.env.FTPFLEET_LOCAL_MODE_FILE || undefined);
    if (!local) {
      throw new Error(
        options.local
          ? "no local mode is running (start it with `npm run local`)"
          : "no fleet named: set FTPFLEET_* variables, pass --outputs, or start `npm run local`",
      );
    }
    const config = loadFleetConfig(local.environment);
    const s3 = new S3Client({
      ...SDK_CLIENT_SETTINGS,
      endpoint: local.s3.endpoint,
      region: local.s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: local.s3.accessKeyId, secretAccessKey: local.s3.secretAccessKey },
    });
    const clients = localModeClients(local.socket);
    return build("local", config, clients, s3, log, clock, `${local.dns.address}:${local.dns.port}`);
  }
  const config = loadFleetConfig({ ...awsEnvironment, ...process.env });
  if (!config.bucket) throw new InvalidInputError("the fleet has no bucket", ["FTPFLEET_BUCKET: required"]);
  const s3 = new S3Client({
    ...SDK_CLIENT_SETTINGS,
    region: config.bucketRegion,
    ...(config.s3Endpoint ? { endpoint: config.s3Endpoint, forcePathStyle: true } : {}),
  });
  return build("aws", config, awsClients(), s3, log, clock);
}

function build(
  kind: Target["kind"],
  config: FleetConfig,
  clients: AwsClients,
  s3: S3Client,
  log: Logger,
  clock: Clock,
  dnsServer?: string,
): Target {
  if (!config.bucket) throw new InvalidInputError("the fleet has no bucket", ["FTPFLEET_BUCKET: required"]);
  return {
    kind,
    config,
    // The CLI never defers lifecycle messages; the queue URL is not needed.
    ports: portsOverAws(clients, { config, log, clock, lifecycleQueueUrl: "" }),
    users: s3UsersStore(s3, config.bucket, clock),
    bucket: s3AuditBucket(s3, config.bucket, clock),
    ...(dnsServer ? { dnsServer } : {}),
    close() {
      s3.destroy();
      for (const client of Object.values(clients)) client.destroy();
    },
  };
}

/** The stack's `cliEnvironment` output (FTPFLEET_* variables) from SST's outputs file. */
function stageEnvironment(file: string | undefined): Record<string, string> | undefined {
  const path = file ?? ".sst/outputs.json";
  if (!existsSync(path)) {
    if (file) throw new InvalidInputError("cannot read stage outputs", [`--outputs: ${file} does not exist`]);
    return undefined;
  }
  const outputs = JSON.parse(readFileSync(path, "utf8")) as { cliEnvironment?: Record<string, string> };
  if (!outputs.cliEnvironment) {
    if (file)
      throw new InvalidInputError("cannot read stage outputs", [`--outputs: ${file} has no cliEnvironment`]);
    return undefined;
  }
  return outputs.cliEnvironment;
}
