import { describeChanges, hasChanges, planRecordChanges, type RecordChanges } from "../dns/plan";
import { desiredRecords, type FleetRecord, instanceIdOf, type RecordOwner } from "../dns/records";
import { RecordChangesFailedError } from "../errors";
import { type Membership, selectServing } from "../membership";
import type { Logger, Ports, RefusedChange } from "../ports";

export interface SyncReport {
  membership: Membership;
  changes: RecordChanges;
  dryRun: boolean;
  /** Route53 changes applied (an update counts once). */
  applied: number;
  alreadyGone: number;
}

export interface DnsSync {
  /** Makes the fleet's records match the group now. Concurrent callers share one run. */
  sync(): Promise<SyncReport>;
  /** Computes the same plan without changing anything. */
  plan(): Promise<SyncReport>;
}

const MAX_ROUNDS = 3;

/** Level-triggered: reads the truth (group, instances, records), plans, applies. Events only say
 * when to look. If Route53 refused part of a plan because the zone changed under us, re-read and
 * re-plan; what still fails after that is an error for the caller to retry. */
export async function syncFleetDns(ports: Ports, options: { dryRun: boolean }): Promise<SyncReport> {
  const { config, log } = ports;
  const owner = { ownerId: config.ownerId, recordName: config.recordName };
  for (let round = 1; ; round++) {
    const [group, instances, current] = await Promise.all([
      ports.group.instances(),
      ports.instances.groupInstances(),
      ports.records.listAt(config.recordName),
    ]);
    const membership = selectServing(group, instances, config.address);
    const changes = planRecordChanges({
      current,
      desired: desiredRecords(membership.serving, config),
      owner,
    });
    const report: SyncReport = { membership, changes, dryRun: options.dryRun, applied: 0, alreadyGone: 0 };
    const plan = describeChanges(changes, owner);
    if (!options.dryRun && membership.finishedLaunches.length > 0) {
      await ports.instances.forgetLaunch(membership.finishedLaunches);
      log.debug("launch.tags-removed", { instanceIds: membership.finishedLaunches });
    }
    if (changes.notPlaced.length > 0) log.warn("dns.not-placed", { records: changes.notPlaced.length, plan });
    if (options.dryRun || !hasChanges(changes)) {
      log.info(options.dryRun ? "dns.plan" : "dns.in-sync", { serving: membership.serving.length, plan });
      return report;
    }
    const applied = await ports.records.apply(changes);
    report.applied = applied.applied;
    report.alreadyGone = applied.alreadyGone;
    logAppliedRecords(changes, applied.failed, owner, log.child({ round }));
    log.info("dns.synced", { round, serving: membership.serving.length, plan, ...applied });
    if (applied.failed.length === 0) return report;
    if (round >= MAX_ROUNDS) throw new RecordChangesFailedError(applied.failed);
  }
}

/** One line per record that changed, carrying its instance id, so one instance's story can be
 * followed in the logs (docs/operations.md). */
function logAppliedRecords(
  changes: RecordChanges,
  refused: readonly RefusedChange[],
  owner: RecordOwner,
  log: Logger,
): void {
  const failed = new Set(refused.flatMap((r) => r.setIdentifiers));
  const line = (change: "create" | "update" | "delete", record: FleetRecord) => {
    if (failed.has(record.setIdentifier)) return;
    log.info("dns.applied", {
      instanceId: instanceIdOf(record, owner),
      change,
      address: record.values.join(","),
    });
  };
  for (const record of changes.create) line("create", record);
  for (const { to } of changes.update) line("update", to);
  for (const record of changes.delete) line("delete", record);
}

/** Single flight per hosted zone: while a sync runs, every new request joins the one queued run
 * after it. A burst of N events costs at most two syncs, and each still sees all of them. */
export function coalescedDnsSync(ports: Ports): DnsSync {
  let running: Promise<SyncReport> | undefined;
  let queued: Promise<SyncReport> | undefined;
  const start = (): Promise<SyncReport> => {
    const run: Promise<SyncReport> = syncFleetDns(ports, { dryRun: false }).finally(() => {
      if (running === run) running = undefined;
    });
    running = run;
    return run;
  };
  return {
    sync() {
      if (queued) return queued;
      if (!running) return start();
      const settled = running.then(ignore, ignore);
      queued = settled.then(() => {
        queued = undefined;
        return start();
      });
      return queued;
    },
    plan: () => syncFleetDns(ports, { dryRun: true }),
  };
}

const ignore = () => undefined;
