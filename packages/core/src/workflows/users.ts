import { until } from "../clock";
import { documentName } from "../config";
import { instanceIdOf, ownedRecord } from "../dns/records";
import type { AppliedReport, Ports, RateControls, UsersStore } from "../ports";

/** The tag Auto Scaling puts on every instance it launches: SSM targets the group by it. */
export const GROUP_TAG = "aws:autoscaling:groupName";

const FINAL = new Set(["Success", "Failed", "TimedOut", "Cancelled", "Incomplete", "Terminated"]);

export interface InstanceApply {
  instanceId: string;
  status: string;
  failedStep?: string;
  /** The first lines of the failed step's stderr. */
  stderrHead?: string;
  /** Where SSM put the full output. */
  outputUrl?: string;
}

export interface FleetApply {
  commandId: string;
  /** SSM's status of the whole command. */
  status: string;
  instances: InstanceApply[];
  /** In service, but SSM did not run the command there (its agent was not online). */
  unreached: string[];
  /** Every in-service instance applied it. */
  ok: boolean;
}

/** Runs apply-users on every instance of the group now, through SSM Run Command targeting the
 * group's tag with rate controls; reports each instance as SSM finishes it. */
export async function applyUsersToFleet(
  ports: Pick<Ports, "config" | "commands" | "group" | "clock" | "log">,
  options: RateControls & {
    onProgress?: (instanceId: string, status: string) => void;
    pollMs?: number;
    timeoutMs?: number;
  },
): Promise<FleetApply> {
  const { config, commands, clock, log } = ports;
  const document = documentName(config, "apply-users");
  const commandId = await commands.sendToTagged(
    document,
    { key: GROUP_TAG, value: config.asgName },
    {},
    {
      maxConcurrency: options.maxConcurrency,
      maxErrors: options.maxErrors,
      outputBucket: config.outputBucket,
      outputPrefix: "ssm/apply-users",
      comment: "ftpfleet users apply",
    },
  );
  log.info("users.apply.sent", { commandId, document });
  const seen = new Map<string, string>();
  let status = "Pending";
  await until(
    clock,
    async () => {
      const progress = await commands.progress(commandId);
      status = progress.status;
      for (const { instanceId, status: now } of progress.invocations) {
        if (seen.get(instanceId) === now) continue;
        seen.set(instanceId, now);
        options.onProgress?.(instanceId, now);
      }
      return FINAL.has(status);
    },
    {
      stepMs: options.pollMs ?? 1_000,
      limitMs: options.timeoutMs ?? 15 * 60_000,
      what: `command ${commandId}`,
    },
  );
  const instances: InstanceApply[] = [];
  for (const [instanceId, final] of seen) {
    if (final === "Success") {
      instances.push({ instanceId, status: final });
      continue;
    }
    const view = await commands.invocation(commandId, instanceId);
    instances.push({
      instanceId,
      status: view.status,
      ...(view.failedStep ? { failedStep: view.failedStep } : {}),
      ...(view.stderrHead ? { stderrHead: view.stderrHead } : {}),
      ...(view.outputUrl ? { outputUrl: view.outputUrl } : {}),
    });
  }
  const inService = (await ports.group.instances()).filter((i) => i.lifecycleState === "InService");
  const unreached = inService.map((i) => i.instanceId).filter((id) => !seen.has(id));
  const ok = unreached.length === 0 && instances.every((i) => i.status === "Success");
  log.info("users.apply.done", { commandId, status, instances: instances.length, unreached, ok });
  return { commandId, status, instances, unreached, ok };
}

export interface InstanceStatus {
  instanceId: string;
  lifecycleState: string;
  health: string;
  address?: string;
  /** The instance's weighted record at the fleet's name, if it has one. */
  record?: { address: string; weight: number };
  /** What it last applied of the users manifest, or why its report cannot be read. */
  users?: AppliedReport | { problem: string };
}

export interface FleetStatus {
  recordName: string;
  /** The manifest's revision in the bucket (0: none written yet). */
  manifestRevision: number;
  instances: InstanceStatus[];
  /** The fleet's records whose instance is no longer in the group. */
  strayRecords: { instanceId: string; address: string; weight: number }[];
}

/** Where the fleet stands: each instance's lifecycle state, health, record and applied manifest. */
export async function fleetStatus(
  ports: Pick<Ports, "config" | "group" | "instances" | "records">,
  users: UsersStore,
): Promise<FleetStatus> {
  const { config } = ports;
  const [members, views, records, stored] = await Promise.all([
    ports.group.instances(),
    ports.instances.groupInstances(),
    ports.records.listAt(config.recordName),
    users.read(),
  ]);
  const owned = records.flatMap((record) => {
    const fleet = ownedRecord(record, config);
    return fleet
      ? [{ instanceId: instanceIdOf(fleet, config), address: fleet.values[0] ?? "", weight: fleet.weight }]
      : [];
  });
  const applied = await users.applied(members.map((m) => m.instanceId));
  const instances = members.map((member): InstanceStatus => {
    const view = views.find((v) => v.instanceId === member.instanceId);
    const address = config.address === "public" ? view?.publicIp : view?.privateIp;
    const record = owned.find((r) => r.instanceId === member.instanceId);
    const report = applied.get(member.instanceId);
    return {
      instanceId: member.instanceId,
      lifecycleState: member.lifecycleState,
      health: member.healthStatus,
      ...(address ? { address } : {}),
      ...(record ? { record: { address: record.address, weight: record.weight } } : {}),
      ...(report ? { users: report } : {}),
    };
  });
  return {
    recordName: config.recordName,
    manifestRevision: stored?.manifest.revision ?? 0,
    instances,
    strayRecords: owned.filter((r) => !members.some((m) => m.instanceId === r.instanceId)),
  };
}
