import {
  type Change,
  type ChangeResourceRecordSetsCommandInput,
  type CreateHealthCheckCommandInput,
  type DeleteHealthCheckCommandInput,
  type GetHealthCheckStatusCommandInput,
  InvalidChangeBatch,
  InvalidInput,
  type ListHealthChecksCommandInput,
  type ListResourceRecordSetsCommandInput,
  NoSuchHealthCheck,
  NoSuchHostedZone,
  type ResourceRecordSet,
  Route53Client,
  Route53ServiceException,
} from "@aws-sdk/client-route-53";
import type { Clock } from "@ftpfleet/core";
import { CallLog, Faults } from "./faults";
import { ipv4, SimulatedHealthChecks } from "./health-checks";
import { answerFrom, offlineClientConfig } from "./sdk";

export interface ThrottleSettings {
  /** Route53 allows about five requests per second per account. */
  requestsPerSecond: number;
  burst: number;
}

const meta = { httpStatusCode: 400 };

/** A stateful Route53 that enforces the rules the fleet depends on: exact-match DELETE, no
 * duplicate CREATE, all-or-nothing batches of ≤ 1,000 changes, a CNAME alone at its name, one
 * routing policy per name and type (a SetIdentifier exactly when there is a routing policy; only
 * records with `Weight` are weighted), ≤ 100 weighted records per name and type, and an
 * account-wide request rate. Malformed changes fail the request as InvalidInput; changes the zone's
 * records refuse fail it as InvalidChangeBatch, with Route53's wording where it is known. */
export class SimulatedRoute53 {
  readonly calls = new CallLog();
  /** Simulated time each API call takes. */
  latencyMs = 0;
  readonly faults = new Faults();
  /** Throttling errors returned, whether or not the caller retried them away. */
  throttled = 0;
  readonly #zones = new Map<string, { name: string; records: ResourceRecordSet[] }>();
  /** The account's health checks, which records refer to by id. */
  readonly healthChecks: SimulatedHealthChecks;
  #tokens: number;
  #refilledAt: number;
  #changeSeq = 0;

  constructor(
    readonly clock: Clock,
    readonly throttle: ThrottleSettings | undefined = undefined,
  ) {
    this.#tokens = throttle?.burst ?? 0;
    this.#refilledAt = clock.now();
    this.healthChecks = new SimulatedHealthChecks(clock);
  }

  createZone(id: string, name: string): void {
    this.#zones.set(id, { name: canonical(name), records: [] });
  }

  hasZone(id: string): boolean {
    return this.#zones.has(id);
  }

  /** The zone's record sets, as Route53 would list them. */
  records(zoneId: string): ResourceRecordSet[] {
    return structuredClone(this.#zone(zoneId).records);
  }

  client(): Route53Client {
    return answerFrom(
      new Route53Client(offlineClientConfig),
      "Route53",
      {
        ListResourceRecordSets: (input: ListResourceRecordSetsCommandInput) =>
          this.#call("ListResourceRecordSets", () => this.#list(input)),
        ChangeResourceRecordSets: (input: ChangeResourceRecordSetsCommandInput) =>
          this.#call("ChangeResourceRecordSets", () => this.#change(input)),
        CreateHealthCheck: (input: CreateHealthCheckCommandInput) =>
          this.#call("CreateHealthCheck", () => this.healthChecks.create(input)),
        DeleteHealthCheck: (input: DeleteHealthCheckCommandInput) =>
          this.#call("DeleteHealthCheck", () =>
            this.healthChecks.delete(input.HealthCheckId, (id) => this.#referenced(id)),
          ),
        GetHealthCheckStatus: (input: GetHealthCheckStatusCommandInput) =>
          this.#call("GetHealthCheckStatus", () => this.healthChecks.status(input.HealthCheckId)),
        ListHealthChecks: (input: ListHealthChecksCommandInput) =>
          this.#call("ListHealthChecks", () => this.healthChecks.list(input)),
      },
      this,
    );
  }

  #call<T>(command: string, run: () => T): T {
    this.calls.count(command);
    this.#takeToken();
    this.faults.check(command);
    return run();
  }

  #takeToken(): void {
    if (!this.throttle) return;
    const now = this.clock.now();
    const { requestsPerSecond, burst } = this.throttle;
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#refilledAt) / 1000) * requestsPerSecond);
    this.#refilledAt = now;
    if (this.#tokens < 1) {
      this.throttled++;
      throw new Route53ServiceException({
        name: "Throttling",
        $fault: "client",
        $metadata: meta,
        message: "Rate exceeded",
      });
    }
    this.#tokens -= 1;
  }

  #zone(id: string | undefined) {
    const zone = this.#zones.get((id ?? "").replace(/^\/hostedzone\//, ""));
    if (!zone)
      throw new NoSuchHostedZone({ $metadata: meta, message: `No hosted zone found with ID: ${id}` });
    return zone;
  }

  #list(input: ListResourceRecordSetsCommandInput) {
    const zone = this.#zone(input.HostedZoneId);
    const max = Math.min(Number(input.MaxItems ?? 300), 300);
    const sorted = [...zone.records].sort(compareRecords);
    const start = input.StartRecordName
      ? sorted.findIndex(
          (r) =>
            compareRecords(r, {
              Name: canonical(input.StartRecordName ?? ""),
              Type: input.StartRecordType ?? (undefined as never),
              SetIdentifier: input.StartRecordIdentifier,
            }) >= 0,
        )
      : 0;
    const from = start < 0 ? sorted.length : start;
    const page = sorted.slice(from, from + max);
    const next = sorted[from + max];
    return {
      ResourceRecordSets: structuredClone(page),
      IsTruncated: next !== undefined,
      MaxItems: max,
      ...(next
        ? { NextRecordName: next.Name, NextRecordType: next.Type, NextRecordIdentifier: next.SetIdentifier }
        : {}),
    };
  }

  /** The record sets of one name Route53 picks an answer from: the healthy ones of nonzero weight;
   * failing those, the healthy ones of zero weight; when none is healthy, all of them (Route53 then
   * answers as if every record were healthy). */
  answerable(zoneId: string, name: string, type = "A"): ResourceRecordSet[] {
    const sets = this.#zone(zoneId).records.filter((r) => r.Name === canonical(name) && r.Type === type);
    const healthy = sets.filter((r) => !r.HealthCheckId || this.healthChecks.isHealthy(r.HealthCheckId));
    const weighted = healthy.filter((r) => (r.Weight ?? 1) > 0);
    const chosen = weighted.length > 0 ? weighted : healthy.length > 0 ? healthy : sets;
    return structuredClone(chosen);
  }

  #referenced(id: string): boolean {
    return [...this.#zones.values()].some((zone) => zone.records.some((r) => r.HealthCheckId === id));
  }

  #change(input: ChangeResourceRecordSetsCommandInput) {
    const zone = this.#zone(input.HostedZoneId);
    const changes = input.ChangeBatch?.Changes ?? [];
    const weight = changes.reduce((n, c) => n + (c.Action === "UPSERT" ? 2 : 1), 0);
    if (changes.length === 0 || weight > 1000) {
      throw new InvalidInput({
        $metadata: meta,
        message: `a change batch holds 1 to 1000 changes, got ${weight}`,
      });
    }
    // A malformed change fails the whole request before any record is looked at.
    for (const change of changes) {
      const malformed = invalidInput(change);
      if (malformed) throw new InvalidInput({ $metadata: meta, message: `Invalid request: ${malformed}` });
    }
    for (const change of changes) {
      const id = change.ResourceRecordSet?.HealthCheckId;
      if (change.Action !== "DELETE" && id !== undefined && !this.healthChecks.has(id)) {
        throw new NoSuchHealthCheck({
          $metadata: { httpStatusCode: 404 },
          message: `No health check exists with the ID ${id}`,
        });
      }
    }
    // All or nothing: apply to a copy, keep it only if every change is valid.
    const records = structuredClone(zone.records);
    const errors = changes.flatMap((change) => applyChange(records, change, zone.name));
    if (errors.length > 0) {
      throw new InvalidChangeBatch({ $metadata: meta, message: errors.join("; "), messages: errors });
    }
    zone.records = records;
    this.#changeSeq++;
    return {
      ChangeInfo: {
        Id: `/change/C${String(this.#changeSeq).padStart(12, "0")}`,
        Status: "PENDING",
        SubmittedAt: new Date(this.clock.now()),
      },
    };
  }
}

/** The fields that give a record set a routing policy other than simple; a record set has at most
 * one of them, and has one exactly when it has a SetIdentifier. Only `Weight` makes it weighted. */
const ROUTING_POLICIES = [
  "Weight",
  "Region",
  "Failover",
  "GeoLocation",
  "MultiValueAnswer",
  "GeoProximityLocation",
  "CidrRoutingConfig",
] as const;

type RoutingPolicy = (typeof ROUTING_POLICIES)[number] | "simple";

function policyFields(set: ResourceRecordSet): RoutingPolicy[] {
  return ROUTING_POLICIES.filter((field) => set[field] !== undefined);
}

/** Weighted, latency (Region), failover, geolocation, multivalue answer, geoproximity, IP-based, or
 * simple: the policy every record set of one name and type must share. */
function routingPolicy(set: ResourceRecordSet): RoutingPolicy {
  return policyFields(set)[0] ?? "simple";
}

/** What Route53 refuses as an invalid request (InvalidInput), whatever the zone holds. */
function invalidInput(change: Change): string | undefined {
  const set = change.ResourceRecordSet;
  if (!set?.Name || !set.Type) return "a change needs a record set with Name and Type";
  const where = `in Change with [Action=${change.Action}, Name=${set.Name}, Type=${set.Type}, SetIdentifier=${set.SetIdentifier ?? "null"}]`;
  const policies = policyFields(set);
  if (policies.length > 0 && set.SetIdentifier === undefined) return `Missing field 'SetIdentifier' ${where}`;
  if (set.SetIdentifier !== undefined && policies.length !== 1) {
    const found = policies.length === 0 ? "none" : policies.join(" and ");
    return `Expected exactly one of [${ROUTING_POLICIES.join(", ")}], but found ${found} ${where}`;
  }
  const plain = set.TTL !== undefined || set.ResourceRecords !== undefined;
  if (set.AliasTarget ? plain : set.TTL === undefined || !set.ResourceRecords?.length) {
    return `Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found ${set.AliasTarget ? "more than one" : "none"} ${where}`;
  }
  if (set.TTL !== undefined && (set.TTL < 0 || set.TTL > 2147483647))
    return `TTL must be 0 to 2147483647 ${where}`;
  if (set.SetIdentifier !== undefined && (set.SetIdentifier.length < 1 || set.SetIdentifier.length > 128))
    return `SetIdentifier must be 1 to 128 characters ${where}`;
  if (set.Weight !== undefined && (set.Weight < 0 || set.Weight > 255))
    return `Weight must be 0 to 255 ${where}`;
  return undefined;
}

function applyChange(records: ResourceRecordSet[], change: Change, zoneName: string): string[] {
  const set = change.ResourceRecordSet as ResourceRecordSet & { Name: string; Type: string };
  const wanted = { ...set, Name: canonical(set.Name) };
  const label = `[name='${wanted.Name}', type='${wanted.Type}'${wanted.SetIdentifier ? `, set-identifier='${wanted.SetIdentifier}'` : ""}]`;
  const invalid = validate(wanted, zoneName);
  if (invalid) return [invalid];
  const index = records.findIndex((r) => sameKey(r, wanted));
  if (change.Action === "DELETE") {
    if (index < 0) return [`Tried to delete resource record set ${label} but it was not found`];
    if (!sameValues(records[index] as ResourceRecordSet, wanted)) {
      return [
        `Tried to delete resource record set ${label} but the values provided do not match the current values`,
      ];
    }
    records.splice(index, 1);
    return [];
  }
  if (change.Action === "CREATE" && index >= 0) {
    return [`Tried to create resource record set ${label} but it already exists`];
  }
  const conflict = conflictAtName(
    records.filter((r, i) => i !== index && r.Name === wanted.Name),
    wanted,
    zoneName,
  );
  if (conflict) return [conflict];
  if (index >= 0) records[index] = wanted;
  else records.push(wanted);
  return [];
}

/** A CNAME is alone at its name; the record sets of one name and type share one routing policy;
 * at most 100 of them are weighted. */
function conflictAtName(
  others: ResourceRecordSet[],
  wanted: ResourceRecordSet,
  zoneName: string,
): string | undefined {
  const name = wanted.Name;
  if (wanted.Type === "CNAME" && others.some((r) => r.Type !== "CNAME")) {
    return `RRSet of type CNAME with DNS name ${name} is not permitted as it conflicts with other records with the same DNS name in zone ${zoneName}`;
  }
  if (wanted.Type !== "CNAME" && others.some((r) => r.Type === "CNAME")) {
    return `RRSet of type ${wanted.Type} with DNS name ${name} is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists in zone ${zoneName}`;
  }
  const sameType = others.filter((r) => r.Type === wanted.Type);
  const policy = routingPolicy(wanted);
  const other = sameType.find((r) => routingPolicy(r) !== policy);
  if (other) {
    const rrset = `RRSet with DNS name ${name}, type ${wanted.Type}`;
    if (policy === "simple")
      return `${rrset} cannot be created as other RRSets exist with the same name and type`;
    const existing = routingPolicy(other);
    if (existing === "simple") {
      return `${rrset}, SetIdentifier ${wanted.SetIdentifier} is not permitted because a conflicting RRSet of type ${wanted.Type} without SetIdentifier already exists with the same DNS name`;
    }
    const set =
      existing === "Weight"
        ? "a weighted set"
        : policy === "Weight"
          ? "a non-weighted set"
          : `a set with routing policy ${existing}`;
    return `${rrset}, SetIdentifier ${wanted.SetIdentifier} cannot be created as ${set} exists with the same name and type`;
  }
  if (policy === "Weight" && sameType.length >= 100) {
    return `RRSet with DNS name ${name}, type ${wanted.Type}, SetIdentifier ${wanted.SetIdentifier} would exceed the limit of 100 weighted record sets with the same name and type`;
  }
  return undefined;
}

function validate(set: ResourceRecordSet, zoneName: string): string | undefined {
  if (set.Name !== zoneName && !set.Name?.endsWith(`.${zoneName}`))
    return `${set.Name} is not in zone ${zoneName}`;
  if (set.Type === "A" && (set.ResourceRecords ?? []).some((v) => !isIpv4(v.Value)))
    return `${set.Name}: A values must be IPv4 addresses`;
  return undefined;
}

function isIpv4(value: string | undefined): boolean {
  return ipv4(value ?? "") !== undefined;
}

function sameKey(a: ResourceRecordSet, b: ResourceRecordSet): boolean {
  return a.Name === b.Name && a.Type === b.Type && (a.SetIdentifier ?? "") === (b.SetIdentifier ?? "");
}

function sameValues(a: ResourceRecordSet, b: ResourceRecordSet): boolean {
  const values = (r: ResourceRecordSet) => (r.ResourceRecords ?? []).map((v) => v.Value).join(",");
  return (
    a.TTL === b.TTL &&
    ROUTING_POLICIES.every(
      (field) => JSON.stringify(a[field] ?? null) === JSON.stringify(b[field] ?? null),
    ) &&
    (a.HealthCheckId ?? "") === (b.HealthCheckId ?? "") &&
    values(a) === values(b) &&
    JSON.stringify(a.AliasTarget ?? null) === JSON.stringify(b.AliasTarget ?? null)
  );
}

function canonical(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower : `${lower}.`;
}

/** Route53's list order: names by reversed labels, then type, then set identifier. */
function compareRecords(a: ResourceRecordSet, b: ResourceRecordSet): number {
  const key = (r: ResourceRecordSet) => (r.Name ?? "").split(".").reverse().join(".");
  return (
    key(a).localeCompare(key(b)) ||
    (a.Type ?? "").localeCompare(b.Type ?? "") ||
    (a.SetIdentifier ?? "").localeCompare(b.SetIdentifier ?? "")
  );
}
