import {
  describeChanges,
  desiredRecords,
  type FleetRecord,
  hasChanges,
  MAX_WEIGHTED_RECORDS,
  planRecordChanges,
  type RecordChanges,
  type RecordSet,
  setIdentifierFor,
} from "@ftpfleet/core";
import { describe, expect, it } from "vitest";

const owner = { ownerId: "test", recordName: "ftp.example.com." };
const settings = { ...owner, recordTtl: 60, recordWeight: 1 };
const serving = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    instanceId: `i-${String(i).padStart(17, "0")}`,
    address: `198.18.0.${i + 1}`,
  }));
const asSet = (r: FleetRecord): RecordSet => ({ ...r, type: "A" });

/** What the zone holds after a plan is applied (the plan's own idea of its outcome). */
function applied(current: RecordSet[], changes: RecordChanges): RecordSet[] {
  const gone = new Set([...changes.delete, ...changes.update.map((u) => u.from)].map((r) => r.setIdentifier));
  return [
    ...current.filter((r) => !r.setIdentifier || !gone.has(r.setIdentifier)),
    ...changes.update.map((u) => asSet(u.to)),
    ...changes.create.map(asSet),
  ];
}

const foreign: RecordSet[] = [
  {
    name: "ftp.example.com.",
    type: "A",
    setIdentifier: "manual-blue",
    weight: 10,
    ttl: 300,
    values: ["192.0.2.1"],
  },
  {
    name: "ftp.example.com.",
    type: "A",
    setIdentifier: "ftpfleet:other-stage:i-00000000000000001",
    weight: 1,
    ttl: 60,
    values: ["192.0.2.2"],
  },
  { name: "ftp.example.com.", type: "TXT", ttl: 300, values: ['"owner=someone"'] },
];

describe("planRecordChanges", () => {
  it("creates one weighted record per serving instance", () => {
    const changes = planRecordChanges({ current: [], desired: desiredRecords(serving(3), settings), owner });
    expect(changes.create.map((r) => [r.setIdentifier, r.values, r.weight, r.ttl])).toEqual([
      ["ftpfleet:test:i-00000000000000000", ["198.18.0.1"], 1, 60],
      ["ftpfleet:test:i-00000000000000001", ["198.18.0.2"], 1, 60],
      ["ftpfleet:test:i-00000000000000002", ["198.18.0.3"], 1, 60],
    ]);
    expect(changes.update).toEqual([]);
    expect(changes.delete).toEqual([]);
  });

  it("is idempotent: planning against its own outcome changes nothing", () => {
    const desired = desiredRecords(serving(5), settings);
    const start = [
      ...foreign,
      asSet(desiredRecords(serving(1), { ...settings, recordTtl: 30 })[0] as FleetRecord),
    ];
    const first = planRecordChanges({ current: start, desired, owner });
    expect(hasChanges(first)).toBe(true);
    const second = planRecordChanges({ current: applied(start, first), desired, owner });
    expect(hasChanges(second)).toBe(false);
    expect(second.notPlaced).toEqual([]);
  });

  it("deletes owned records of instances that no longer serve, with their live values", () => {
    const live = desiredRecords(serving(3), settings).map(asSet);
    const changes = planRecordChanges({
      current: live,
      desired: desiredRecords(serving(1), settings),
      owner,
    });
    expect(changes.delete.map((r) => r.setIdentifier)).toEqual([
      "ftpfleet:test:i-00000000000000001",
      "ftpfleet:test:i-00000000000000002",
    ]);
    expect(changes.delete[0]?.values).toEqual(["198.18.0.2"]);
  });

  it("updates a record whose address, weight, TTL or health check changed", () => {
    const live = desiredRecords(serving(1), settings).map(asSet);
    const moved = desiredRecords(
      [
        {
          instanceId: "i-00000000000000000",
          address: "198.18.9.9",
          healthCheckId: "11111111-2222-4333-8444-555555555555",
        },
      ],
      settings,
    );
    const changes = planRecordChanges({ current: live, desired: moved, owner });
    expect(changes.update).toHaveLength(1);
    expect(changes.update[0]?.from.values).toEqual(["198.18.0.1"]);
    expect(changes.update[0]?.to.healthCheckId).toBe("11111111-2222-4333-8444-555555555555");
  });

  it("never touches a record it does not own, even with no instances at all", () => {
    const changes = planRecordChanges({ current: foreign, desired: [], owner });
    expect(hasChanges(changes)).toBe(false);
    const withFleet = planRecordChanges({
      current: foreign,
      desired: desiredRecords(serving(2), settings),
      owner,
    });
    const touched = [...withFleet.create, ...withFleet.delete, ...withFleet.update.map((u) => u.from)];
    expect(touched.every((r) => r.setIdentifier.startsWith("ftpfleet:test:"))).toBe(true);
  });

  it("keeps within Route53's 100 weighted records per name and reports the rest", () => {
    const changes = planRecordChanges({
      current: foreign,
      desired: desiredRecords(serving(120), settings),
      owner,
    });
    expect(changes.create).toHaveLength(MAX_WEIGHTED_RECORDS - 2);
    expect(changes.notPlaced).toHaveLength(22);
    expect(changes.notPlaced[0]?.reason).toMatch(/100 weighted records/);
  });

  it("does not try to create beside a non-weighted record of the same name", () => {
    const simple: RecordSet = { name: "ftp.example.com.", type: "A", ttl: 300, values: ["192.0.2.9"] };
    const changes = planRecordChanges({
      current: [simple],
      desired: desiredRecords(serving(2), settings),
      owner,
    });
    expect(changes.create).toEqual([]);
    expect(changes.notPlaced.map((n) => n.reason)).toEqual([
      expect.stringMatching(/not weighted/),
      expect.stringMatching(/not weighted/),
    ]);
  });

  it.each([
    ["a CNAME", { type: "CNAME", ttl: 300, values: ["elsewhere.example.com."] }],
    ["a failover record", { type: "A", setIdentifier: "primary", ttl: 60, values: ["192.0.2.10"] }],
    ["a latency record", { type: "A", setIdentifier: "eu", ttl: 60, values: ["192.0.2.11"] }],
  ])(
    "does not try to create beside %s, and counts only weighted records against the limit",
    (_what, other) => {
      const changes = planRecordChanges({
        current: [{ name: "ftp.example.com.", ...other } as RecordSet],
        desired: desiredRecords(serving(1), settings),
        owner,
      });
      expect(changes.create).toEqual([]);
      expect(changes.notPlaced.map((n) => n.reason)).toEqual([expect.stringMatching(/not weighted/)]);
    },
  );

  it("describes each change on one line for dry runs", () => {
    const live = desiredRecords(serving(2), settings).map(asSet);
    const changes = planRecordChanges({
      current: live,
      desired: desiredRecords(serving(1), settings).concat(),
      owner,
    });
    expect(describeChanges(changes, owner)).toEqual([
      "- ftp.example.com. A i-00000000000000001 198.18.0.2 weight=1 ttl=60",
    ]);
  });

  it("names records by owner and instance", () => {
    expect(setIdentifierFor("prod", "i-0abc12345")).toBe("ftpfleet:prod:i-0abc12345");
  });
});
