import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { EC2Client } from "@aws-sdk/client-ec2";
import { Route53Client } from "@aws-sdk/client-route-53";
import { SQSClient } from "@aws-sdk/client-sqs";
import { SSMClient } from "@aws-sdk/client-ssm";
import type { FleetConfig } from "../config";
import type { Clock, Logger, Ports } from "../ports";
import { autoScalingGroup } from "./autoscaling";
import { ec2Instances } from "./ec2";
import { route53HealthChecks } from "./health-checks";
import { route53RecordStore } from "./route53";
import { sqsDeferredQueue } from "./sqs";
import { ssmCommands } from "./ssm";

/** Settings every SDK client of the fleet is built with, in AWS and in the simulation alike.
 * One attempt per SDK call: the adapters' `retry` (backoff with full jitter, per-call limits) is the
 * one retry layer, so a throttled Route53 call costs at most its own limit in requests rather than
 * that limit times the SDK's three attempts. */
export const SDK_CLIENT_SETTINGS = { maxAttempts: 1 } as const;

export interface AwsClients {
  route53: Route53Client;
  autoscaling: AutoScalingClient;
  ec2: EC2Client;
  ssm: SSMClient;
  sqs: SQSClient;
}

/** Real clients, with the region and credentials of the environment (Lambda's role). */
export function awsClients(): AwsClients {
  return {
    route53: new Route53Client(SDK_CLIENT_SETTINGS),
    autoscaling: new AutoScalingClient(SDK_CLIENT_SETTINGS),
    ec2: new EC2Client(SDK_CLIENT_SETTINGS),
    ssm: new SSMClient(SDK_CLIENT_SETTINGS),
    sqs: new SQSClient(SDK_CLIENT_SETTINGS),
  };
}

/** The workflows' ports over SDK clients: real ones in Lambda, simulated ones in tests and local mode. */
export function portsOverAws(
  clients: AwsClients,
  context: { config: FleetConfig; log: Logger; clock: Clock; lifecycleQueueUrl: string },
): Ports {
  const { config, log, clock } = context;
  return {
    config,
    log,
    clock,
    records: route53RecordStore(clients.route53, { hostedZoneId: config.hostedZoneId, clock, log }),
    healthChecks: route53HealthChecks(clients.route53, {
      ownerId: config.ownerId,
      port: config.healthPort,
      clock,
      log,
    }),
    group: autoScalingGroup(clients.autoscaling, config.asgName, clock, log),
    instances: ec2Instances(clients.ec2, config.asgName, clock, log),
    commands: ssmCommands(clients.ssm, clock, log),
    deferred: sqsDeferredQueue(clients.sqs, context.lifecycleQueueUrl, clock),
  };
}
