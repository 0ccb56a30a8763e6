import {
  type Change,
  type ChangeResourceRecordSetsCommandInput,
  InvalidChangeBatch,
  InvalidInput,
  type ListResourceRecordSetsCommandInput,
  NoSuchHostedZone,
  type ResourceRecordSet,
  Route53Client,
  Route53ServiceException,
} from "@aws-sdk/client-route-53";
import type { Clock } from "@ftpfleet/core";
import { CallLog, Faults } from "./faults";
import { answerFrom, offlineClientConfig } from "./sdk";

export interface ThrottleSettings {
  /** Route53 allows about five requests per second per account. */
  requestsPerSecond: number;
  burst: number;
}

const meta = { httpStatusCode: 400 };

/** A stateful Route53 that enforces the rules the fleet depends on: exact-match DELETE, no
 * duplicate CREATE, all-or-nothing batches of ≤ 1,000 changes, ≤ 100 weighted records per name and
 * type, no weighted beside non-weighted, and an account-wide request rate. */
export class SimulatedRoute53 {
  readonly calls = new CallLog();
  /** Simulated time each API call takes. */
  latencyMs = 0;
  readonly faults = new Faults();
  /** Throttling errors returned, whether or not the caller retried them away. */
  throttled = 0;
  readonly #zones = new Map<string, { name: string; records: ResourceRecordSet[] }>();
  #tokens: number;
  #refilledAt: number;
  #changeSeq = 0;

  constructor(
    readonly clock: Clock,
    readonly throttle: ThrottleSettings | undefined = undefined,
  ) {
    this.#tokens = throttle?.burst ?? 0;
    this.#refilledAt = clock.now();
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

function applyChange(records: ResourceRecordSet[], change: Change, zoneName: string): string[] {
  const set = change.ResourceRecordSet;
  if (!set?.Name || !set.Type) return ["a change needs a record set with Name and Type"];
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
  const sameName = records.filter((r, i) => i !== index && r.Name === wanted.Name && r.Type === wanted.Type);
  if (sameName.some((r) => Boolean(r.SetIdentifier) !== Boolean(wanted.SetIdentifier))) {
    return [
      `RRSet ${label} is not permitted because a conflicting RRSet of type ${wanted.Type} with the same DNS name already exists`,
    ];
  }
  if (wanted.SetIdentifier && sameName.length >= 100) {
    return [`RRSet ${label} would exceed the limit of 100 weighted record sets with the same name and type`];
  }
  if (index >= 0) records[index] = wanted;
  else records.push(wanted);
  return [];
}

function validate(set: ResourceRecordSet, zoneName: string): string | undefined {
  if (set.Name !== zoneName && !set.Name?.endsWith(`.${zoneName}`))
    return `${set.Name} is not in zone ${zoneName}`;
  if (set.AliasTarget) return undefined;
  if (set.TTL === undefined || set.TTL < 0 || set.TTL > 2147483647) return `${set.Name}: TTL is required`;
  const values = set.ResourceRecords ?? [];
  if (values.length === 0) return `${set.Name}: at least one value is required`;
  if (set.Type === "A" && values.some((v) => !isIpv4(v.Value)))
    return `${set.Name}: A values must be IPv4 addresses`;
  if (set.SetIdentifier !== undefined) {
    if (set.SetIdentifier.length < 1 || set.SetIdentifier.length > 128)
      return "SetIdentifier must be 1-128 characters";
    if (set.Weight === undefined || set.Weight < 0 || set.Weight > 255)
      return "Weight must be 0-255 for a weighted record";
  }
  return undefined;
}

function isIpv4(value: string | undefined): boolean {
  const parts = (value ?? "").split(".");
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function sameKey(a: ResourceRecordSet, b: ResourceRecordSet): boolean {
  return a.Name === b.Name && a.Type === b.Type && (a.SetIdentifier ?? "") === (b.SetIdentifier ?? "");
}

function sameValues(a: ResourceRecordSet, b: ResourceRecordSet): boolean {
  const values = (r: ResourceRecordSet) => (r.ResourceRecords ?? []).map((v) => v.Value).join(",");
  return (
    a.TTL === b.TTL &&
    a.Weight === b.Weight &&
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
