import { forEachConcurrently } from "../batching";
import { describeChanges, hasChanges, planRecordChanges, type RecordChanges } from "../dns/plan";
import {
  desiredRecords,
  type FleetRecord,
  instanceIdOf,
  type RecordOwner,
  type RecordSet,
  type ServingInstance,
  setIdentifierFor,
} from "../dns/records";
import { RecordChangesFailedError } from "../errors";
import { type Membership, selectServing } from "../membership";
import type { InstanceHealthCheck, InstanceView, Logger, Ports, RefusedChange } from "../ports";

export interface SyncReport {
  membership: Membership;
  /** The group's instances as this sync read them (tags included). */
  instances: InstanceView[];
  /** The serving instances as their records show them, with their health checks. */
  serving: ServingInstance[];
  changes: RecordChanges;
  /** One line per record and health check change, as logged. */
  plan: string[];
  dryRun: boolean;
  /** Route53 changes applied (an update counts once). */
  applied: number;
  alreadyGone: number;
  /** Deep health checks created for serving instances, and deleted once no record used them. */
  healthChecks: { created: number; deleted: number };
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
    const deep = config.healthChecks === "deep";
    const [group, instances, current, checks] = await Promise.all([
      ports.group.instances(),
      ports.instances.groupInstances(),
      ports.records.listAt(config.recordName),
      deep ? ports.healthChecks.list() : Promise.resolve([]),
    ]);
    const membership = selectServing(group, instances, config.address);
    const checked = deep
      ? await attachHealthChecks(membership.serving, checks, current, owner, ports, options.dryRun)
      : { serving: membership.serving, created: [], planned: [] };
    const desired = desiredRecords(checked.serving, config);
    const changes = planRecordChanges({ current, desired, owner });
    const stale = deep
      ? staleHealthChecks([...checks, ...checked.created], desired, checked.serving, ports)
      : [];
    const plan = [
      ...describeChanges(changes, owner),
      ...checked.planned.map((i) => `+ health check ${i.instanceId} ${i.address}:${config.healthPort}`),
      ...(options.dryRun ? stale.map((c) => `- health check ${c.id} ${c.instanceId} ${c.address}`) : []),
    ];
    const report: SyncReport = {
      membership,
      instances,
      serving: checked.serving,
      changes,
      plan,
      dryRun: options.dryRun,
      applied: 0,
      alreadyGone: 0,
      healthChecks: { created: checked.created.length, deleted: 0 },
    };
    if (!options.dryRun && membership.finishedLaunches.length > 0) {
      await ports.instances.forgetLaunch(membership.finishedLaunches);
      log.debug("launch.tags-removed", { instanceIds: membership.finishedLaunches });
    }
    if (changes.notPlaced.length > 0) log.warn("dns.not-placed", { records: changes.notPlaced.length, plan });
    if (options.dryRun || !hasChanges(changes)) {
      log.info(options.dryRun ? "dns.plan" : "dns.in-sync", { serving: membership.serving.length, plan });
      if (!options.dryRun) report.healthChecks.deleted = await deleteHealthChecks(stale, ports);
      return report;
    }
    const applied = await ports.records.apply(changes);
    report.applied = applied.applied;
    report.alreadyGone = applied.alreadyGone;
    logAppliedRecords(changes, applied.failed, owner, log.child({ round }));
    log.info("dns.synced", { round, serving: membership.serving.length, plan, ...applied });
    // After the records: Route53 refuses to delete a check a record still uses.
    report.healthChecks.deleted = await deleteHealthChecks(stale, ports);
    if (applied.failed.length === 0) return report;
    if (round >= MAX_ROUNDS) throw new RecordChangesFailedError(applied.failed);
  }
}

/** Route53 requests at once when a scale-out needs many new checks (its rate is shared). */
const HEALTH_CHECK_CONCURRENCY = 2;
/** A check no record uses is kept this long while its instance serves: another sync may have
 * created it a moment ago and be about to attach it. */
const UNUSED_CHECK_GRACE_MS = 120_000;

/** Each serving instance with its health check: the one its record already uses, else the oldest
 * for its address, else a new one (a dry run only plans it). */
async function attachHealthChecks(
  serving: readonly ServingInstance[],
  checks: readonly InstanceHealthCheck[],
  current: readonly RecordSet[],
  owner: RecordOwner,
  ports: Ports,
  dryRun: boolean,
): Promise<{ serving: ServingInstance[]; created: InstanceHealthCheck[]; planned: ServingInstance[] }> {
  const inRecords = new Map(current.map((r) => [r.setIdentifier, r.healthCheckId]));
  const pick = (from: readonly InstanceHealthCheck[], instance: ServingInstance) => {
    const mine = from
      .filter((c) => c.instanceId === instance.instanceId && c.address === instance.address)
      .sort((a, b) => a.createdAt - b.createdAt);
    const used = inRecords.get(setIdentifierFor(owner.ownerId, instance.instanceId));
    return mine.find((c) => c.id === used) ?? mine[0];
  };
  const missing = serving.filter((instance) => pick(checks, instance) === undefined);
  const created: InstanceHealthCheck[] = [];
  if (!dryRun) {
    await forEachConcurrently(missing, HEALTH_CHECK_CONCURRENCY, async (instance) => {
      const check = await ports.healthChecks.create(instance.instanceId, instance.address);
      created.push(check);
      ports.log.info("health.check-created", { instanceId: instance.instanceId, healthCheckId: check.id });
    });
  }
  const all = [...checks, ...created];
  const withChecks = serving.map((instance) => {
    const check = pick(all, instance);
    return check ? { ...instance, healthCheckId: check.id } : instance;
  });
  return { serving: withChecks, created, planned: dryRun ? missing : [] };
}

/** Checks no desired record uses: those of instances that left (or moved address) at once, an
 * unused duplicate of a serving instance after the grace period. */
function staleHealthChecks(
  checks: readonly InstanceHealthCheck[],
  desired: readonly FleetRecord[],
  serving: readonly ServingInstance[],
  ports: Ports,
): InstanceHealthCheck[] {
  const used = new Set(desired.map((r) => r.healthCheckId));
  const now = ports.clock.now();
  return checks.filter((check) => {
    if (used.has(check.id)) return false;
    const serves = serving.some((i) => i.instanceId === check.instanceId && i.address === check.address);
    return !serves || now - check.createdAt >= UNUSED_CHECK_GRACE_MS;
  });
}

async function deleteHealthChecks(stale: readonly InstanceHealthCheck[], ports: Ports): Promise<number> {
  let deleted = 0;
  await forEachConcurrently(stale, HEALTH_CHECK_CONCURRENCY, async (check) => {
    const outcome = await ports.healthChecks.delete(check.id);
    if (outcome === "deleted") deleted++;
    ports.log.info("health.check-deleted", {
      instanceId: check.instanceId,
      healthCheckId: check.id,
      outcome,
    });
  });
  return deleted;
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
