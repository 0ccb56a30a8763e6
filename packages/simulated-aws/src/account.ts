import { randomUUID } from "node:crypto";
import {
  type AwsClients,
  type Clock,
  commandStatusPattern,
  documentName,
  type FleetConfig,
  type Logger,
  lifecycleEventPattern,
  lifecycleHooks,
  matchesPattern,
  type Ports,
  portsOverAws,
} from "@ftpfleet/core";
import { DOCUMENT_NAMES, readDocument } from "@ftpfleet/core/documents";
import { type EventBridgeEvent, type GroupSettings, SimulatedAutoScaling } from "./autoscaling";
import { SimulatedClock } from "./clock";
import { type AddressPlan, SimulatedEc2 } from "./ec2";
import { type QueueSettings, SimulatedQueue, sqsClient } from "./queue";
import { SimulatedRoute53, type ThrottleSettings } from "./route53";
import { type CommandExecutor, SimulatedSsm, type SsmSettings, succeedsAfter } from "./ssm";

export interface SimulationOptions<C extends Clock = SimulatedClock> {
  config: FleetConfig;
  /** Simulated time by default; local mode runs the same simulation in real time. */
  clock?: C;
  zoneName?: string;
  throttle?: ThrottleSettings;
  group?: Partial<GroupSettings>;
  addresses?: AddressPlan;
  /** Another fleet's Route53 in the same account: the zone and the request rate are shared. */
  route53?: SimulatedRoute53;
  /** Simulated time every AWS API call takes. */
  apiLatencyMs?: number;
  /** At-least-once delivery: publish every event twice. */
  duplicateEvents?: boolean;
  /** What runs SSM commands, step by step; by default every step succeeds after 10 s (provision's
   * six steps take a minute). */
  commandExecutor?: CommandExecutor;
  ssm?: Partial<SsmSettings>;
  /** The lifecycle queue: visibility timeout, receives before dead-lettering, and at-least-once
   * redelivery of handled messages (opt-in). */
  queue?: Partial<QueueSettings>;
}

/** Route53's documented account-wide rate. */
export const ROUTE53_RATE: ThrottleSettings = { requestsPerSecond: 5, burst: 5 };

/** The AWS side of the fleet, simulated: one account with an Auto Scaling group, its EC2 instances
 * and their SSM agents, a hosted zone, and the default event bus routing the fleet's lifecycle and
 * command-status events to the lifecycle queue. */
export const LIFECYCLE_QUEUE_URL = "simulated://lifecycle";
export const RECENT_CHANGES_QUEUE_URL = "simulated://recent-changes";

export class SimulatedAws<C extends Clock = SimulatedClock> {
  readonly clock: C;
  readonly ec2: SimulatedEc2;
  readonly autoscaling: SimulatedAutoScaling;
  readonly route53: SimulatedRoute53;
  readonly ssm: SimulatedSsm;
  readonly lifecycleQueue: SimulatedQueue;
  /** The bucket's object events (EventBridge → SQS) the audit takes its recent changes from. */
  readonly recentChangesQueue: SimulatedQueue;
  /** Every event published on the bus, routed or not. */
  readonly published: EventBridgeEvent[] = [];

  constructor(readonly options: SimulationOptions<C>) {
    const { config } = options;
    const latency = options.apiLatencyMs ?? 0;
    this.clock = options.clock ?? (new SimulatedClock() as Clock as C);
    this.ec2 = new SimulatedEc2(this.clock, options.addresses);
    this.route53 = options.route53 ?? new SimulatedRoute53(this.clock, options.throttle);
    if (!this.route53.hasZone(config.hostedZoneId)) {
      this.route53.createZone(
        config.hostedZoneId,
        options.zoneName ?? config.recordName.split(".").slice(1).join("."),
      );
    }
    this.lifecycleQueue = new SimulatedQueue(this.clock, options.queue);
    this.recentChangesQueue = new SimulatedQueue(this.clock, { visibilityTimeoutMs: 900_000 });
    const rules = [lifecycleEventPattern(config.asgName), commandStatusPattern(config)];
    const publish = (event: EventBridgeEvent) => {
      this.published.push(event);
      if (!rules.some((rule) => matchesPattern(event, rule))) return;
      const copies = options.duplicateEvents ? 2 : 1;
      for (let i = 0; i < copies; i++) this.lifecycleQueue.send(JSON.stringify(event));
    };
    const hooks = lifecycleHooks(config);
    this.autoscaling = new SimulatedAutoScaling(
      this.clock,
      this.ec2,
      { name: config.asgName, launchHook: hooks.launch, terminateHook: hooks.terminate, ...options.group },
      publish,
    );
    this.ssm = new SimulatedSsm(
      this.clock,
      this.ec2,
      publish,
      options.commandExecutor ?? succeedsAfter(this.clock, 10_000),
      { agentDelayMs: 20_000, registrationDelayMs: 500, deliveryDelayMs: 1_000, ...options.ssm },
      { account: options.group?.account ?? "123456789012", region: options.group?.region ?? "us-east-1" },
    );
    for (const name of DOCUMENT_NAMES) this.ssm.documents.set(documentName(config, name), readDocument(name));
    for (const service of [this.ec2, this.route53, this.lifecycleQueue, this.autoscaling, this.ssm]) {
      service.latencyMs = latency;
    }
  }

  /** SDK clients answered by the simulation. */
  clients(): AwsClients {
    return {
      route53: this.route53.client(),
      autoscaling: this.autoscaling.client(),
      ec2: this.ec2.client(),
      ssm: this.ssm.client(),
      sqs: sqsClient(
        { [LIFECYCLE_QUEUE_URL]: this.lifecycleQueue, [RECENT_CHANGES_QUEUE_URL]: this.recentChangesQueue },
        this.lifecycleQueue,
      ),
    };
  }

  /** An object written or deleted in the fleet's bucket, as S3 tells EventBridge and the rule
   * forwards it to the recent-changes queue (`detail.object.key` is the key itself, not encoded). */
  objectChanged(key: string, change: "Object Created" | "Object Deleted"): void {
    const { config } = this.options;
    this.recentChangesQueue.send(
      JSON.stringify({
        version: "0",
        id: randomUUID(),
        "detail-type": change,
        source: "aws.s3",
        account: "123456789012",
        time: new Date(this.clock.now()).toISOString(),
        region: config.bucketRegion ?? "us-east-1",
        resources: [`arn:aws:s3:::${config.bucket}`],
        detail: { version: "0", bucket: { name: config.bucket }, object: { key } },
      }),
    );
  }

  /** The real adapters, on SDK clients answered by the simulation. */
  ports(log: Logger): Ports {
    const { config } = this.options;
    return portsOverAws(this.clients(), {
      config,
      log,
      clock: this.clock,
      lifecycleQueueUrl: LIFECYCLE_QUEUE_URL,
    });
  }

  /** The fleet's weighted records in the zone (owned or not), as Route53 holds them. */
  recordsAt(name = this.options.config.recordName) {
    return this.route53.records(this.options.config.hostedZoneId).filter((r) => r.Name === name);
  }
}
