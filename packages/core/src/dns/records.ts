/** A record set as Route53 holds it, with every field a DELETE must repeat. */
export interface RecordSet {
  name: string;
  type: string;
  setIdentifier?: string;
  weight?: number;
  ttl?: number;
  values: string[];
  healthCheckId?: string;
  /** Alias records carry no TTL or values of their own. */
  alias?: boolean;
}

/** A weighted A record of this fleet: one per serving instance. */
export interface FleetRecord {
  name: string;
  setIdentifier: string;
  weight: number;
  ttl: number;
  values: string[];
  healthCheckId?: string;
}

export interface RecordOwner {
  ownerId: string;
  recordName: string;
}

/** An instance that passed every readiness check and has the address clients must reach. */
export interface ServingInstance {
  instanceId: string;
  address: string;
  /** Taken out of rotation by the audit: its record stays with weight 0. Route53 answers a weight-0
   * record only when every record at the name has weight 0, so a fleet the audit wrongly flagged
   * whole keeps serving, and a single bad instance gets no new clients. */
  outOfRotation?: boolean;
  /** Route53's deep health check of this instance, attached to its record. */
  healthCheckId?: string;
}

export interface RecordSettings extends RecordOwner {
  recordTtl: number;
  recordWeight: number;
}

const prefix = (ownerId: string) => `ftpfleet:${ownerId}:`;

/** SetIdentifier convention: ownership is proven by the prefix, the instance by the rest. */
export function setIdentifierFor(ownerId: string, instanceId: string): string {
  return `${prefix(ownerId)}${instanceId}`;
}

export function instanceIdOf(record: FleetRecord, owner: RecordOwner): string {
  return record.setIdentifier.slice(prefix(owner.ownerId).length);
}

/** Only records this fleet can prove it created are ever changed. */
export function ownedRecord(record: RecordSet, owner: RecordOwner): FleetRecord | undefined {
  if (record.name !== owner.recordName || record.type !== "A" || record.alias) return undefined;
  if (!record.setIdentifier?.startsWith(prefix(owner.ownerId))) return undefined;
  if (record.weight === undefined || record.ttl === undefined) return undefined;
  return {
    name: record.name,
    setIdentifier: record.setIdentifier,
    weight: record.weight,
    ttl: record.ttl,
    values: record.values,
    ...(record.healthCheckId ? { healthCheckId: record.healthCheckId } : {}),
  };
}

export function desiredRecords(
  instances: readonly ServingInstance[],
  settings: RecordSettings,
): FleetRecord[] {
  return instances.map((instance) => ({
    name: settings.recordName,
    setIdentifier: setIdentifierFor(settings.ownerId, instance.instanceId),
    weight: instance.outOfRotation ? 0 : settings.recordWeight,
    ttl: settings.recordTtl,
    values: [instance.address],
    ...(instance.healthCheckId ? { healthCheckId: instance.healthCheckId } : {}),
  }));
}

export function sameRecord(a: FleetRecord, b: FleetRecord): boolean {
  return (
    a.weight === b.weight &&
    a.ttl === b.ttl &&
    a.healthCheckId === b.healthCheckId &&
    a.values.length === b.values.length &&
    a.values.every((value, i) => value === b.values[i])
  );
}
