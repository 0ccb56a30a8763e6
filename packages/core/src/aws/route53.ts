import {
  type Change,
  ChangeResourceRecordSetsCommand,
  ListResourceRecordSetsCommand,
  type ListResourceRecordSetsCommandOutput,
  type ResourceRecordSet,
  type Route53Client,
} from "@aws-sdk/client-route-53";
import type { RecordChanges } from "../dns/plan";
import type { FleetRecord, RecordSet } from "../dns/records";
import type { ApplyReport, Clock, Logger, RecordStore } from "../ports";
import { retry } from "../retry";
import { isTransientAwsError } from "./errors";

export interface Route53StoreOptions {
  hostedZoneId: string;
  clock: Clock;
  log: Logger;
  /** Route53 accepts at most 1,000 changes per batch. */
  maxChangesPerBatch?: number;
  maxAttempts?: number;
}

export function route53RecordStore(client: Route53Client, options: Route53StoreOptions): RecordStore {
  const { hostedZoneId, clock, log } = options;
  const maxChanges = Math.min(options.maxChangesPerBatch ?? 1000, 1000);
  const call = <T>(what: string, operation: () => Promise<T>) =>
    retry(operation, {
      clock,
      isRetryable: isTransientAwsError,
      maxAttempts: options.maxAttempts ?? 12,
      baseDelayMs: 200,
      maxDelayMs: 20_000,
      log,
      what: `route53:${what}`,
    });

  /** The SDK has no paginator for this call: it pages by name, type and set identifier together. */
  async function listAt(name: string): Promise<RecordSet[]> {
    const found: RecordSet[] = [];
    let start: { name: string; type?: string; identifier?: string } | undefined = { name };
    while (start) {
      const from = start;
      const page: ListResourceRecordSetsCommandOutput = await call("ListResourceRecordSets", () =>
        client.send(
          new ListResourceRecordSetsCommand({
            HostedZoneId: hostedZoneId,
            StartRecordName: from.name,
            StartRecordType: from.type as never,
            StartRecordIdentifier: from.identifier,
            MaxItems: 300,
          }),
        ),
      );
      const sets = page.ResourceRecordSets ?? [];
      for (const set of sets) if (normalizeName(set.Name) === name) found.push(toRecordSet(set));
      // Records are listed in name order: the next page is still ours only if it starts at our name.
      start =
        page.IsTruncated && normalizeName(page.NextRecordName) === name
          ? { name, type: page.NextRecordType, identifier: page.NextRecordIdentifier }
          : undefined;
    }
    return found;
  }

  async function apply(changes: RecordChanges): Promise<ApplyReport> {
    // An update is a DELETE of the exact live record and a CREATE, kept in one batch so that it is atomic.
    const units: Change[][] = [
      ...changes.delete.map((record) => [change("DELETE", record)]),
      ...changes.update.map(({ from, to }) => [change("DELETE", from), change("CREATE", to)]),
      ...changes.create.map((record) => [change("CREATE", record)]),
    ];
    const report: ApplyReport = { applied: 0, alreadyGone: 0, failed: [] };
    for (const batch of batches(units, maxChanges)) await submit(batch, report);
    return report;
  }

  /** All-or-nothing per batch: when Route53 refuses one, halve it so one bad change cannot hold back the rest. */
  async function submit(units: Change[][], report: ApplyReport): Promise<void> {
    try {
      await call("ChangeResourceRecordSets", () =>
        client.send(
          new ChangeResourceRecordSetsCommand({
            HostedZoneId: hostedZoneId,
            ChangeBatch: { Comment: "ftpfleet", Changes: units.flat() },
          }),
        ),
      );
      report.applied += units.length;
    } catch (error) {
      if (!(error instanceof Error) || error.name !== "InvalidChangeBatch") throw error;
      if (units.length > 1) {
        const half = Math.ceil(units.length / 2);
        await submit(units.slice(0, half), report);
        await submit(units.slice(half), report);
        return;
      }
      const unit = units[0] ?? [];
      if (unit.length === 1 && unit[0]?.Action === "DELETE" && /was not found/.test(error.message)) {
        report.alreadyGone++;
        return;
      }
      report.failed.push({
        change: unit.map(describe).join(" + "),
        setIdentifiers: unit.map((c) => c.ResourceRecordSet?.SetIdentifier ?? ""),
        reason: error.message,
      });
    }
  }

  return { listAt, apply };
}

function change(action: "CREATE" | "DELETE", record: FleetRecord): Change {
  return {
    Action: action,
    ResourceRecordSet: {
      Name: record.name,
      Type: "A",
      SetIdentifier: record.setIdentifier,
      Weight: record.weight,
      TTL: record.ttl,
      ResourceRecords: record.values.map((Value) => ({ Value })),
      ...(record.healthCheckId ? { HealthCheckId: record.healthCheckId } : {}),
    },
  };
}

function describe(c: Change): string {
  return `${c.Action} ${c.ResourceRecordSet?.SetIdentifier ?? c.ResourceRecordSet?.Name}`;
}

function batches(units: Change[][], maxChanges: number): Change[][][] {
  const out: Change[][][] = [];
  let current: Change[][] = [];
  let size = 0;
  for (const unit of units) {
    if (size + unit.length > maxChanges && current.length > 0) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(unit);
    size += unit.length;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** Route53 answers with lowercase-insensitive names ending in a dot, escaping '*' as \052. */
export function normalizeName(name: string | undefined): string {
  const lower = (name ?? "").toLowerCase().replace(/\\052/g, "*");
  return lower.endsWith(".") ? lower : `${lower}.`;
}

function toRecordSet(set: ResourceRecordSet): RecordSet {
  return {
    name: normalizeName(set.Name),
    type: set.Type ?? "",
    values: (set.ResourceRecords ?? []).map((r) => r.Value ?? ""),
    ...(set.SetIdentifier !== undefined ? { setIdentifier: set.SetIdentifier } : {}),
    ...(set.Weight !== undefined ? { weight: set.Weight } : {}),
    ...(set.TTL !== undefined ? { ttl: set.TTL } : {}),
    ...(set.HealthCheckId ? { healthCheckId: set.HealthCheckId } : {}),
    ...(set.AliasTarget ? { alias: true } : {}),
  };
}
