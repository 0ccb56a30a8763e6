import { autoScalingGroup } from "../adapters/autoscaling";
import { sqsCompletionQueue } from "../adapters/completion-queue";
import { ec2Instances } from "../adapters/ec2";
import { route53RecordStore } from "../adapters/route53";
import type { FleetConfig } from "../config";
import { lifecycleEventPattern, matchesPattern } from "../events/patterns";
import { lifecycleHooks } from "../hooks";
import type { Logger } from "../log";
import type { Ports } from "../workflows/control-plane";
import { type EventBridgeEvent, type GroupSettings, SimulatedAutoScaling } from "./autoscaling";
import { SimulatedClock } from "./clock";
import { type AddressPlan, SimulatedEc2 } from "./ec2";
import { SimulatedQueue } from "./queue";
import { SimulatedRoute53, type ThrottleSettings } from "./route53";

export interface SimulationOptions {
  config: FleetConfig;
  clock?: SimulatedClock;
  zoneName?: string;
  throttle?: ThrottleSettings;
  group?: Partial<GroupSettings>;
  addresses?: AddressPlan;
  /** Another fleet's Route53 in the same account: the zone and the request rate are shared. */
  route53?: SimulatedRoute53;
  /** Simulated time every AWS API call takes. */
  apiLatencyMs?: number;
  /** At-least-once delivery: publish every lifecycle event twice. */
  duplicateEvents?: boolean;
}

/** Route53's documented account-wide rate. */
export const ROUTE53_RATE: ThrottleSettings = { requestsPerSecond: 5, burst: 5 };

/** The AWS side of the fleet, simulated: one account with an Auto Scaling group, its EC2 instances,
 * a hosted zone, the default event bus routing lifecycle events to the lifecycle queue. */
export class SimulatedAws {
  readonly clock: SimulatedClock;
  readonly ec2: SimulatedEc2;
  readonly autoscaling: SimulatedAutoScaling;
  readonly route53: SimulatedRoute53;
  readonly lifecycleQueue: SimulatedQueue;
  /** Every event published on the bus, routed or not. */
  readonly published: EventBridgeEvent[] = [];

  constructor(readonly options: SimulationOptions) {
    const { config } = options;
    this.clock = options.clock ?? new SimulatedClock();
    this.ec2 = new SimulatedEc2(this.clock, options.addresses);
    this.route53 = options.route53 ?? new SimulatedRoute53(this.clock, options.throttle);
    if (!this.route53.hasZone(config.hostedZoneId)) {
      this.route53.createZone(
        config.hostedZoneId,
        options.zoneName ?? config.recordName.split(".").slice(1).join("."),
      );
    }
    this.lifecycleQueue = new SimulatedQueue(this.clock);
    for (const service of [this.ec2, this.route53, this.lifecycleQueue])
      service.latencyMs = options.apiLatencyMs ?? 0;
    const rule = lifecycleEventPattern(config.asgName);
    const hooks = lifecycleHooks(config);
    this.autoscaling = new SimulatedAutoScaling(
      this.clock,
      this.ec2,
      {
        name: config.asgName,
        launchHook: hooks.launch,
        terminateHook: hooks.terminate,
        ...options.group,
      },
      (event) => {
        this.published.push(event);
        if (!matchesPattern(event, rule)) return;
        const copies = options.duplicateEvents ? 2 : 1;
        for (let i = 0; i < copies; i++) this.lifecycleQueue.send(JSON.stringify(event));
      },
    );
    this.autoscaling.latencyMs = options.apiLatencyMs ?? 0;
  }

  /** The real adapters, on SDK clients answered by the simulation. */
  ports(log: Logger): Ports {
    const { config } = this.options;
    return {
      config,
      log,
      clock: this.clock,
      records: route53RecordStore(this.route53.client(), {
        hostedZoneId: config.hostedZoneId,
        clock: this.clock,
        log,
      }),
      group: autoScalingGroup(this.autoscaling.client(), config.asgName, this.clock),
      instances: ec2Instances(this.ec2.client(), config.asgName, this.clock),
      completions: sqsCompletionQueue(this.lifecycleQueue.client(), "simulated://lifecycle", this.clock),
    };
  }

  /** The fleet's weighted records in the zone (owned or not), as Route53 holds them. */
  recordsAt(name = this.options.config.recordName) {
    return this.route53.records(this.options.config.hostedZoneId).filter((r) => r.Name === name);
  }
}
