import {
  describeChanges,
  describeExclusion,
  desiredRecords,
  type FleetRecord,
  hasChanges,
  MAX_WEIGHTED_RECORDS,
  ownedRecord,
  planRecordChanges,
  type RecordSet,
  sameRecord,
  selectServing,
} from "@ftpfleet/core";
import { describe, expect, it } from "vitest";

const owner = { ownerId: "test", recordName: "ftp.example.com." };
const settings = { ...owner, recordTtl: 60, recordWeight: 1 };
const ours: RecordSet = {
  name: "ftp.example.com.",
  type: "A",
  setIdentifier: "ftpfleet:test:i-0000000000000000a",
  weight: 1,
  ttl: 60,
  values: ["198.18.0.1"],
};
const record = (n: number, address = `198.18.1.${n}`): FleetRecord => ({
  name: "ftp.example.com.",
  setIdentifier: `ftpfleet:test:i-${String(n).padStart(17, "0")}`,
  weight: 1,
  ttl: 60,
  values: [address],
});
const asSet = (r: FleetRecord): RecordSet => ({ ...r, type: "A" });
const foreignWeighted = (n: number, type = "A"): RecordSet[] =>
  Array.from({ length: n }, (_, i) => ({
    name: "ftp.example.com.",
    type,
    setIdentifier: `manual-${i}`,
    weight: 1,
    ttl: 60,
    values: [type === "A" ? `192.0.2.${i}` : `2001:db8::${i}`],
  }));

describe("ownedRecord", () => {
  it("owns a weighted A record at the fleet's name with the fleet's SetIdentifier, keeping its health check", () => {
    expect(ownedRecord({ ...ours, healthCheckId: "hc-1" }, owner)).toEqual({
      name: "ftp.example.com.",
      setIdentifier: "ftpfleet:test:i-0000000000000000a",
      weight: 1,
      ttl: 60,
      values: ["198.18.0.1"],
      healthCheckId: "hc-1",
    });
  });

  it.each<[string, RecordSet]>([
    ["at another name", { ...ours, name: "www.example.com." }],
    ["of another type", { ...ours, type: "AAAA", values: ["2001:db8::1"] }],
    ["an alias", { ...ours, alias: true }],
    ["of another owner", { ...ours, setIdentifier: "ftpfleet:other:i-0000000000000000a" }],
    ["without a weight", { ...ours, weight: undefined }],
    ["without a TTL", { ...ours, ttl: undefined }],
  ])("does not own a record %s", (_what, other) => {
    expect(ownedRecord(other, owner)).toBeUndefined();
  });
});

describe("sameRecord", () => {
  const base = { ...record(1), healthCheckId: "hc-1" };
  it("is the same record when every served field matches", () => {
    expect(sameRecord(base, { ...base, values: [...base.values] })).toBe(true);
  });

  it.each<[string, FleetRecord]>([
    ["weight", { ...base, weight: 2 }],
    ["TTL", { ...base, ttl: 30 }],
    ["health check", { ...base, healthCheckId: "hc-2" }],
    ["number of values", { ...base, values: [...base.values, "198.18.1.9"] }],
    ["a value", { ...base, values: ["198.18.1.9"] }],
  ])("differs when the %s differs", (_what, other) => {
    expect(sameRecord(base, other)).toBe(false);
  });

  it("compares every value, not just one of them", () => {
    const two = { ...base, values: ["198.18.1.1", "198.18.1.2"] };
    expect(sameRecord(two, { ...two, values: ["198.18.1.1", "198.18.1.3"] })).toBe(false);
  });
});

describe("planRecordChanges at the edges", () => {
  it("creates nothing for records it already holds unchanged", () => {
    const live = [record(1), record(2)];
    const changes = planRecordChanges({ current: live.map(asSet), desired: live, owner });
    expect(changes).toEqual({ create: [], update: [], delete: [], notPlaced: [] });
    expect(hasChanges(changes)).toBe(false);
  });

  it("ignores records at other names: a CNAME or simple A record elsewhere blocks nothing", () => {
    const elsewhere: RecordSet[] = [
      { name: "www.example.com.", type: "CNAME", ttl: 300, values: ["ftp.example.com."] },
      { name: "old.example.com.", type: "A", ttl: 300, values: ["192.0.2.1"] },
      ...foreignWeighted(MAX_WEIGHTED_RECORDS).map((r) => ({ ...r, name: "api.example.com." })),
    ];
    const changes = planRecordChanges({ current: elsewhere, desired: [record(1)], owner });
    expect(changes.create).toEqual([record(1)]);
    expect(changes.notPlaced).toEqual([]);
  });

  it("counts only weighted A records of others against the limit, not weighted AAAA records", () => {
    const changes = planRecordChanges({
      current: [...foreignWeighted(MAX_WEIGHTED_RECORDS - 1), ...foreignWeighted(5, "AAAA")],
      desired: [record(1), record(2)],
      owner,
    });
    expect(changes.create).toEqual([record(1)]);
    expect(changes.notPlaced).toEqual([
      { record: record(2), reason: "Route53 allows 100 weighted records per name" },
    ]);
  });

  it("makes room for new records with the owned records it deletes, counting the ones it keeps", () => {
    const current = [...foreignWeighted(96), ...[1, 2, 3].map((n) => asSet(record(n)))];
    // Keeps 1, deletes 2 and 3: 96 + 1 leaves room for 3 of the 4 new records.
    const changes = planRecordChanges({
      current,
      desired: [record(1), record(7), record(6), record(5), record(4)],
      owner,
    });
    expect(changes.delete.map((r) => r.setIdentifier)).toEqual(
      [record(2), record(3)].map((r) => r.setIdentifier),
    );
    expect(changes.create).toEqual([record(4), record(5), record(6)]);
    expect(changes.notPlaced.map((n) => n.record)).toEqual([record(7)]);
  });

  it("has changes when it only creates and updates", () => {
    const changes = planRecordChanges({
      current: [asSet(record(1))],
      desired: [record(1, "198.18.9.9"), record(2)],
      owner,
    });
    expect(changes.create).toHaveLength(1);
    expect(changes.update).toHaveLength(1);
    expect(hasChanges(changes)).toBe(true);
  });

  it("describes creates, updates, deletes and records not placed, one line each", () => {
    const hc = "11111111-2222-4333-8444-555555555555";
    const current = [asSet(record(1)), asSet(record(2)), { ...asSet(record(3)), healthCheckId: hc }];
    const changes = planRecordChanges({
      current,
      desired: [
        record(1, "198.18.9.9"),
        record(3),
        ...desiredRecords([{ instanceId: "i-4", address: "198.18.1.4" }], settings),
      ],
      owner,
    });
    expect(
      describeChanges({ ...changes, notPlaced: [{ record: record(5), reason: "no room" }] }, owner),
    ).toEqual([
      "+ ftp.example.com. A i-4 198.18.1.4 weight=1 ttl=60",
      "~ ftp.example.com. A i-00000000000000001 198.18.1.1 weight=1 ttl=60 -> 198.18.9.9 weight=1 ttl=60",
      "~ ftp.example.com. A i-00000000000000003 198.18.1.3 weight=1 ttl=60 health-check=11111111-2222-4333-8444-555555555555 -> 198.18.1.3 weight=1 ttl=60",
      "- ftp.example.com. A i-00000000000000002 198.18.1.2 weight=1 ttl=60",
      "! ftp.example.com. A i-00000000000000005 198.18.1.5 weight=1 ttl=60 not placed: no room",
    ]);
  });
});

it("lists every value of a record with several, comma-separated", () => {
  const two = { ...record(1), values: ["198.18.1.1", "198.18.1.2"] };
  const lines = describeChanges(
    {
      create: [],
      update: [{ from: two, to: { ...two, values: ["198.18.2.1", "198.18.2.2"] } }],
      delete: [],
      notPlaced: [],
    },
    owner,
  );
  expect(lines).toEqual([
    "~ ftp.example.com. A i-00000000000000001 198.18.1.1,198.18.1.2 weight=1 ttl=60 -> 198.18.2.1,198.18.2.2 weight=1 ttl=60",
  ]);
});

describe("selectServing details", () => {
  it("lists an instance carrying only a launch tag, or only a ready tag, as a finished launch once in service", () => {
    const membership = selectServing(
      [
        { instanceId: "i-1", lifecycleState: "InService", healthStatus: "Healthy" },
        { instanceId: "i-2", lifecycleState: "InService", healthStatus: "Healthy" },
      ],
      [
        { instanceId: "i-1", state: "running", publicIp: "203.0.113.1", launch: "a1/cmd-1" },
        { instanceId: "i-2", state: "running", publicIp: "203.0.113.2", readyFor: "a1/cmd-1" },
      ],
      "public",
    );
    expect(membership.finishedLaunches).toEqual(["i-1", "i-2"]);
  });

  it("excludes a member EC2 no longer lists as not running, in an unknown state", () => {
    const membership = selectServing(
      [{ instanceId: "i-1", lifecycleState: "InService", healthStatus: "Healthy" }],
      [],
      "public",
    );
    expect(membership.excluded).toEqual([
      { instanceId: "i-1", reason: { kind: "not-running", ec2State: "unknown" } },
    ]);
    expect(describeExclusion({ kind: "not-ready" })).toBe("not ready yet");
  });

  it("publishes the private address when configured to, and the public one otherwise", () => {
    const group = [{ instanceId: "i-1", lifecycleState: "InService", healthStatus: "Healthy" }];
    const views = [{ instanceId: "i-1", state: "running", publicIp: "203.0.113.1", privateIp: "10.0.0.1" }];
    expect(selectServing(group, views, "private").serving).toEqual([
      { instanceId: "i-1", address: "10.0.0.1" },
    ]);
    expect(selectServing(group, views, "public").serving).toEqual([
      { instanceId: "i-1", address: "203.0.113.1" },
    ]);
  });

  it("lets an instance serve from Pending:Proceed once ready, and never while unhealthy", () => {
    const ready = { launch: "a1/cmd-1", readyFor: "a1/cmd-1" };
    const membership = selectServing(
      [
        { instanceId: "i-1", lifecycleState: "Pending:Proceed", healthStatus: "Healthy" },
        { instanceId: "i-2", lifecycleState: "Pending:Proceed", healthStatus: "Unhealthy" },
      ],
      [
        { instanceId: "i-1", state: "running", publicIp: "203.0.113.1", ...ready },
        { instanceId: "i-2", state: "running", publicIp: "203.0.113.2", ...ready },
      ],
      "public",
    );
    expect(membership.serving).toEqual([{ instanceId: "i-1", address: "203.0.113.1" }]);
    expect(membership.excluded).toEqual([
      { instanceId: "i-2", reason: { kind: "unhealthy", healthStatus: "Unhealthy" } },
    ]);
    // Entering, so its launch tags are still needed.
    expect(membership.finishedLaunches).toEqual([]);
  });
});
