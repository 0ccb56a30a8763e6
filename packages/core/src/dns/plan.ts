import {
  type FleetRecord,
  instanceIdOf,
  ownedRecord,
  type RecordOwner,
  type RecordSet,
  sameRecord,
} from "./records";

/** Route53 allows at most this many weighted records per name and type. */
export const MAX_WEIGHTED_RECORDS = 100;

export interface RecordChanges {
  create: FleetRecord[];
  update: { from: FleetRecord; to: FleetRecord }[];
  delete: FleetRecord[];
  /** Desired records that cannot be placed, with why; reported, never forced. */
  notPlaced: { record: FleetRecord; reason: string }[];
}

export interface PlanInput {
  /** Every record set Route53 holds at the fleet's name, owned or not. */
  current: readonly RecordSet[];
  desired: readonly FleetRecord[];
  owner: RecordOwner;
}

/** Pure: what must change so that the fleet's owned records equal the desired ones.
 * Records the fleet does not own are never in the result. Planning against the result's own
 * outcome gives an empty plan. */
export function planRecordChanges({ current, desired, owner }: PlanInput): RecordChanges {
  const owned = new Map<string, FleetRecord>();
  for (const record of current) {
    const mine = ownedRecord(record, owner);
    if (mine) owned.set(mine.setIdentifier, mine);
  }
  const wanted = new Map(desired.map((record) => [record.setIdentifier, record]));

  const changes: RecordChanges = { create: [], update: [], delete: [], notPlaced: [] };
  for (const [id, record] of owned) {
    const target = wanted.get(id);
    if (!target) changes.delete.push(record);
    else if (!sameRecord(record, target)) changes.update.push({ from: record, to: target });
  }

  const atName = current.filter((record) => record.name === owner.recordName);
  // Route53 keeps one routing policy per name and type, and nothing beside a CNAME: any A record
  // there that is not weighted (simple, failover, latency, geolocation, …) makes ours impossible.
  const blocker = atName.find(
    (record) => record.type === "CNAME" || (record.type === "A" && record.weight === undefined),
  );
  const foreignWeighted = atName.filter(
    (record) => record.type === "A" && record.weight !== undefined && !ownedRecord(record, owner),
  ).length;
  let room = MAX_WEIGHTED_RECORDS - foreignWeighted - (owned.size - changes.delete.length);

  const missing = [...wanted.values()]
    .filter((record) => !owned.has(record.setIdentifier))
    .sort((a, b) => a.setIdentifier.localeCompare(b.setIdentifier));
  for (const record of missing) {
    if (blocker) {
      const reason = `a ${blocker.type} record that is not weighted exists at ${owner.recordName}`;
      changes.notPlaced.push({ record, reason });
    } else if (room <= 0) {
      changes.notPlaced.push({
        record,
        reason: `Route53 allows ${MAX_WEIGHTED_RECORDS} weighted records per name`,
      });
    } else {
      changes.create.push(record);
      room--;
    }
  }
  return changes;
}

export function hasChanges(changes: RecordChanges): boolean {
  return changes.create.length + changes.update.length + changes.delete.length > 0;
}

/** One line per change, for dry runs and logs. */
export function describeChanges(changes: RecordChanges, owner: RecordOwner): string[] {
  const show = (r: FleetRecord) =>
    `${r.name} A ${instanceIdOf(r, owner)} ${r.values.join(",")} weight=${r.weight} ttl=${r.ttl}` +
    (r.healthCheckId ? ` health-check=${r.healthCheckId}` : "");
  return [
    ...changes.create.map((r) => `+ ${show(r)}`),
    ...changes.update.map(
      ({ from, to }) => `~ ${show(from)} -> ${to.values.join(",")} weight=${to.weight} ttl=${to.ttl}`,
    ),
    ...changes.delete.map((r) => `- ${show(r)}`),
    ...changes.notPlaced.map(({ record, reason }) => `! ${show(record)} not placed: ${reason}`),
  ];
}
