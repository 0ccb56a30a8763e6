import type { GroupPort } from "../adapters/autoscaling";
import type { DeferredQueue } from "../adapters/deferred-queue";
import type { InstancePort } from "../adapters/ec2";
import type { RecordStore } from "../adapters/route53";
import type { CommandPort } from "../adapters/ssm";
import type { Clock } from "../clock";
import type { FleetConfig } from "../config";
import type { Logger } from "../log";
import { coalescedDnsSync, type DnsSync } from "./dns-sync";

/** Everything a workflow may touch, as narrow ports. Built once per process by a composition
 * root: functions/runtime.ts for AWS, sim/ for tests and local mode. */
export interface Ports {
  config: FleetConfig;
  log: Logger;
  clock: Clock;
  records: RecordStore;
  group: GroupPort;
  instances: InstancePort;
  commands: CommandPort;
  deferred: DeferredQueue;
}

export interface ControlPlane extends Ports {
  dns: DnsSync;
}

export function controlPlane(ports: Ports): ControlPlane {
  return { ...ports, dns: coalescedDnsSync(ports) };
}
