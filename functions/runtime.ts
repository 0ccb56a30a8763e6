import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { EC2Client } from "@aws-sdk/client-ec2";
import { Route53Client } from "@aws-sdk/client-route-53";
import { SQSClient } from "@aws-sdk/client-sqs";
import { SSMClient } from "@aws-sdk/client-ssm";
import { autoScalingGroup } from "@ftpfleet/core/adapters/autoscaling";
import { sqsDeferredQueue } from "@ftpfleet/core/adapters/deferred-queue";
import { ec2Instances } from "@ftpfleet/core/adapters/ec2";
import { route53RecordStore } from "@ftpfleet/core/adapters/route53";
import { ssmCommands } from "@ftpfleet/core/adapters/ssm";
import { systemClock } from "@ftpfleet/core/clock";
import { loadFleetConfig } from "@ftpfleet/core/config";
import { InvalidInputError } from "@ftpfleet/core/errors";
import { createLogger, type LogLevel } from "@ftpfleet/core/log";
import { type ControlPlane, controlPlane } from "@ftpfleet/core/workflows/control-plane";

/** The composition root for AWS: real clients, configuration from the environment. Built on first
 * use, once per execution environment, so importing a handler has no side effects. */
let built: ControlPlane | undefined;

export function awsControlPlane(env: Record<string, string | undefined> = process.env): ControlPlane {
  if (built) return built;
  const log = createLogger({
    level: (env.LOG_LEVEL as LogLevel | undefined) ?? "info",
    base: { fleet: env.FTPFLEET_OWNER_ID },
  });
  const config = loadFleetConfig(env);
  const queueUrl = env.FTPFLEET_LIFECYCLE_QUEUE_URL;
  if (!queueUrl?.startsWith("https://")) {
    throw new InvalidInputError("invalid ftpfleet configuration", [
      "FTPFLEET_LIFECYCLE_QUEUE_URL: must be the queue's https URL",
    ]);
  }
  const clock = systemClock;
  built = controlPlane({
    config,
    log,
    clock,
    records: route53RecordStore(new Route53Client({}), { hostedZoneId: config.hostedZoneId, clock, log }),
    group: autoScalingGroup(new AutoScalingClient({}), config.asgName, clock),
    instances: ec2Instances(new EC2Client({}), config.asgName, clock),
    commands: ssmCommands(new SSMClient({}), clock),
    deferred: sqsDeferredQueue(new SQSClient({}), queueUrl, clock),
  });
  return built;
}
