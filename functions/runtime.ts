import type { Metrics } from "@aws-lambda-powertools/metrics";
import { S3Client } from "@aws-sdk/client-s3";
import {
  type AuditPorts,
  awsClients,
  type ControlPlane,
  controlPlane,
  createLogger,
  InvalidInputError,
  loadFunctionConfig,
  portsOverAws,
  SDK_CLIENT_SETTINGS,
  sqsRecentChanges,
  systemClock,
  withMetrics,
} from "@ftpfleet/core";
import { s3AuditBucket } from "@ftpfleet/core/s3";

/** The composition root for AWS: real clients, configuration from the environment. Built on first
 * use, once per execution environment, so importing a handler has no side effects. */
let built: ControlPlane | undefined;

export function awsControlPlane(
  env: Record<string, string | undefined> = process.env,
  /** The function's metrics: the events the control plane logs, counted (METRIC_EVENTS). */
  metrics?: Metrics,
): ControlPlane {
  if (built) return built;
  const { fleet: config, logLevel, lifecycleQueueUrl } = loadFunctionConfig(env);
  const logger = createLogger({ level: logLevel, base: { fleet: config.ownerId } });
  metrics?.setDefaultDimensions({ Fleet: config.ownerId });
  const log = metrics
    ? withMetrics(logger, (name, unit, value) => metrics.addMetric(name, unit, value))
    : logger;
  built = controlPlane(portsOverAws(awsClients(), { config, log, clock: systemClock, lifecycleQueueUrl }));
  return built;
}

let auditPorts: AuditPorts | undefined;

/** The audit's composition root: the control plane and the fleet's bucket. */
export function awsAuditPorts(env: Record<string, string | undefined> = process.env): AuditPorts {
  if (auditPorts) return auditPorts;
  const cp = awsControlPlane(env);
  const { bucket, bucketRegion, s3Endpoint } = cp.config;
  if (!bucket)
    throw new InvalidInputError("invalid ftpfleet configuration", ["FTPFLEET_BUCKET: required by the audit"]);
  const s3 = new S3Client({
    ...SDK_CLIENT_SETTINGS,
    region: bucketRegion,
    ...(s3Endpoint ? { endpoint: s3Endpoint, forcePathStyle: true } : {}),
  });
  const { recentChangesQueueUrl } = loadFunctionConfig(env);
  auditPorts = {
    ...cp,
    bucket: s3AuditBucket(s3, bucket, systemClock),
    ...(recentChangesQueueUrl
      ? { recent: sqsRecentChanges(awsClients().sqs, recentChangesQueueUrl, systemClock, cp.log) }
      : {}),
  };
  return auditPorts;
}
