import {
  type Change,
  ChangeResourceRecordSetsCommand,
  PriorRequestNotComplete,
} from "@aws-sdk/client-route-53";
import {
  desiredRecords,
  memoryLogger,
  normalizeName,
  route53RecordStore,
  type ServingInstance,
} from "@ftpfleet/core";
import { ROUTE53_RATE, SimulatedClock, SimulatedRoute53 } from "@ftpfleet/simulated-aws";
import { describe, expect, it } from "vitest";

const zone = "Z0TESTZONE";
const owner = { ownerId: "test", recordName: "ftp.example.com." };
const settings = { ...owner, recordTtl: 60, recordWeight: 1 };
const serving = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({
    instanceId: `i-${String(from + i).padStart(17, "0")}`,
    address: `198.18.${(from + i) >> 8}.${(from + i) & 255}`,
  }));
const weighted = (id: string, value: string, ttl = 60): Change => ({
  Action: "CREATE",
  ResourceRecordSet: {
    Name: "ftp.example.com.",
    Type: "A",
    SetIdentifier: id,
    Weight: 1,
    TTL: ttl,
    ResourceRecords: [{ Value: value }],
  },
});

const plain = (Name: string, Type: "A" | "TXT", Value: string): Change => ({
  Action: "CREATE",
  ResourceRecordSet: { Name, Type, TTL: 60, ResourceRecords: [{ Value }] },
});

function setup(throttle = ROUTE53_RATE) {
  const clock = new SimulatedClock();
  const route53 = new SimulatedRoute53(clock, throttle);
  route53.createZone(zone, "example.com");
  const client = route53.client();
  const send = (...changes: Change[]) =>
    client.send(
      new ChangeResourceRecordSetsCommand({ HostedZoneId: zone, ChangeBatch: { Changes: changes } }),
    );
  const store = route53RecordStore(client, { hostedZoneId: zone, clock, log: memoryLogger() });
  return { clock, route53, send, store };
}

describe("SimulatedRoute53 enforces Route53's rules", () => {
  it("refuses to create a record that exists", async () => {
    const { send } = setup(undefined);
    await send(weighted("a", "192.0.2.1"));
    await expect(send(weighted("a", "192.0.2.1"))).rejects.toMatchObject({
      name: "InvalidChangeBatch",
      message: /already exists/,
    });
  });

  it("refuses a DELETE whose values do not match, and one of a missing record", async () => {
    const { send } = setup(undefined);
    await send(weighted("a", "192.0.2.1"));
    const wrong = { ...weighted("a", "192.0.2.99"), Action: "DELETE" as const };
    await expect(send(wrong)).rejects.toMatchObject({ message: /do not match/ });
    const missing = { ...weighted("b", "192.0.2.1"), Action: "DELETE" as const };
    await expect(send(missing)).rejects.toMatchObject({ message: /was not found/ });
  });

  it("applies a batch all or nothing", async () => {
    const { send, route53 } = setup(undefined);
    await send(weighted("a", "192.0.2.1"));
    await expect(send(weighted("b", "192.0.2.2"), weighted("a", "192.0.2.1"))).rejects.toMatchObject({
      name: "InvalidChangeBatch",
    });
    expect(route53.records(zone).map((r) => r.SetIdentifier)).toEqual(["a"]);
  });

  it("allows at most 100 weighted records per name and type", async () => {
    const { send } = setup(undefined);
    await send(...Array.from({ length: 100 }, (_, i) => weighted(`w${i}`, "192.0.2.1")));
    await expect(send(weighted("w100", "192.0.2.1"))).rejects.toMatchObject({ message: /limit of 100/ });
  });

  it("refuses a weighted record beside a non-weighted one", async () => {
    const { send } = setup(undefined);
    await send({
      Action: "CREATE",
      ResourceRecordSet: {
        Name: "ftp.example.com.",
        Type: "A",
        TTL: 60,
        ResourceRecords: [{ Value: "192.0.2.1" }],
      },
    });
    await expect(send(weighted("a", "192.0.2.2"))).rejects.toMatchObject({ message: /conflicting RRSet/ });
  });

  it("refuses batches over 1,000 changes and records outside the zone", async () => {
    const { send } = setup(undefined);
    await expect(
      send(...Array.from({ length: 1001 }, (_, i) => weighted(`w${i}`, "192.0.2.1"))),
    ).rejects.toMatchObject({ name: "InvalidInput" });
    const outside = weighted("a", "192.0.2.1");
    if (outside.ResourceRecordSet) outside.ResourceRecordSet.Name = "ftp.example.org.";
    await expect(send(outside)).rejects.toMatchObject({ message: /not in zone/ });
  });

  it("throttles beyond the account's request rate", async () => {
    const { send, route53 } = setup();
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => send(weighted(`t${i}`, "192.0.2.1"))),
    );
    expect(results.filter((r) => r.status === "rejected")).toHaveLength(3);
    expect(route53.throttled).toBe(3);
  });
});

describe("route53RecordStore", () => {
  it("lists every record set at the fleet's name and nothing else", async () => {
    const { send, store, clock } = setup(undefined);
    await send(...serving(100).map((s) => weighted(s.instanceId, s.address)));
    await send(plain("a.example.com.", "A", "192.0.2.1"), plain("zz.example.com.", "A", "192.0.2.1"));
    await send(plain("ftp.example.com.", "TXT", '"x"'));
    const found = await clock.run(store.listAt("ftp.example.com."));
    expect(found).toHaveLength(101);
    expect(found.every((r) => r.name === "ftp.example.com.")).toBe(true);
  });

  it("pages through more than 300 record sets at one name", async () => {
    const { send, store, clock } = setup(undefined);
    for (let i = 0; i < 4; i++) {
      const batch = Array.from({ length: 100 }, (_, j) => ({
        Action: "CREATE" as const,
        ResourceRecordSet: {
          Name: `h${i}-${j}.ftp.example.com.`,
          Type: "A" as const,
          TTL: 60,
          ResourceRecords: [{ Value: "192.0.2.1" }],
        },
      }));
      await send(...batch);
    }
    await send(...Array.from({ length: 50 }, (_, i) => weighted(`w${i}`, "192.0.2.1")));
    const found = await clock.run(store.listAt("ftp.example.com."));
    expect(found).toHaveLength(50);
  });

  it("splits changes into batches of at most maxChangesPerBatch, keeping updates atomic", async () => {
    const { store, route53, clock } = setup(undefined);
    const small = route53RecordStore(route53.client(), {
      hostedZoneId: zone,
      clock,
      log: memoryLogger(),
      maxChangesPerBatch: 3,
    });
    const records = desiredRecords(serving(7), settings);
    const report = await clock.run(small.apply({ create: records, update: [], delete: [], notPlaced: [] }));
    expect(report).toEqual({ applied: 7, alreadyGone: 0, failed: [] });
    expect(route53.calls.get("ChangeResourceRecordSets")).toBe(3);
    const live = await clock.run(store.listAt("ftp.example.com."));
    expect(live).toHaveLength(7);
  });

  it("treats a DELETE of a record that is already gone as done, and still applies the rest", async () => {
    const { store, clock, route53 } = setup(undefined);
    const [a, b, c] = desiredRecords(serving(3), settings);
    if (!a || !b || !c) throw new Error("three records");
    await clock.run(store.apply({ create: [a], update: [], delete: [], notPlaced: [] }));
    const report = await clock.run(store.apply({ create: [c], update: [], delete: [a, b], notPlaced: [] }));
    expect(report.applied).toBe(2);
    expect(report.alreadyGone).toBe(1);
    expect(report.failed).toEqual([]);
    expect(route53.records(zone).map((r) => r.SetIdentifier)).toEqual([c.setIdentifier]);
  });

  it("reports a change Route53 refuses without dropping the others", async () => {
    const { store, clock, send } = setup(undefined);
    const [a, b] = desiredRecords(serving(2), settings);
    if (!a || !b) throw new Error("two records");
    await send(weighted(a.setIdentifier, "192.0.2.77"));
    const report = await clock.run(store.apply({ create: [a, b], update: [], delete: [], notPlaced: [] }));
    expect(report.applied).toBe(1);
    expect(report.failed).toEqual([
      {
        change: `CREATE ${a.setIdentifier}`,
        setIdentifiers: [a.setIdentifier],
        reason: expect.stringMatching(/already exists/),
      },
    ]);
  });

  it("retries Throttling and PriorRequestNotComplete with backoff until the change lands", async () => {
    const { store, clock, route53 } = setup();
    route53.faults.inject(
      "ChangeResourceRecordSets",
      () => new PriorRequestNotComplete({ $metadata: {}, message: "busy" }),
      3,
    );
    const records = desiredRecords(serving(1), settings);
    const started = clock.now();
    // Use up the rate first so that throttling happens too.
    const results = await clock.run(
      Promise.all([
        store.listAt("ftp.example.com."),
        store.listAt("ftp.example.com."),
        store.listAt("ftp.example.com."),
        store.listAt("ftp.example.com."),
        store.listAt("ftp.example.com."),
        store.listAt("ftp.example.com."),
        store.apply({ create: records, update: [], delete: [], notPlaced: [] }),
      ]),
    );
    expect(results.at(-1)).toEqual({ applied: 1, alreadyGone: 0, failed: [] });
    expect(route53.throttled).toBeGreaterThan(0);
    expect(route53.records(zone)).toHaveLength(1);
    expect(clock.now()).toBeGreaterThan(started);
  });
});

describe("route53RecordStore applying and reading", () => {
  const update = (from: ReturnType<typeof desiredRecords>[number], address: string) => ({
    from,
    to: { ...from, values: [address] },
  });

  it("keeps an update atomic: when Route53 refuses its new record, the old record stays", async () => {
    const { store, clock, route53 } = setup(undefined);
    const [a] = desiredRecords(serving(1), settings);
    if (!a) throw new Error("one record");
    await clock.run(store.apply({ create: [a], update: [], delete: [], notPlaced: [] }));
    const report = await clock.run(
      store.apply({ create: [], update: [update(a, "198.18.0.300")], delete: [], notPlaced: [] }),
    );
    expect(report.applied).toBe(0);
    expect(report.failed).toEqual([
      {
        change: `DELETE ${a.setIdentifier} + CREATE ${a.setIdentifier}`,
        setIdentifiers: [a.setIdentifier, a.setIdentifier],
        reason: expect.stringMatching(/IPv4/),
      },
    ]);
    expect(route53.records(zone).map((r) => r.ResourceRecords?.[0]?.Value)).toEqual([a.values[0]]);
  });

  it("moves a record to its new address in one change, even one change per batch", async () => {
    const { store, clock, route53 } = setup(undefined);
    const single = route53RecordStore(route53.client(), {
      hostedZoneId: zone,
      clock,
      log: memoryLogger(),
      maxChangesPerBatch: 1,
    });
    const [a, b] = desiredRecords(serving(2), settings);
    if (!a || !b) throw new Error("two records");
    await clock.run(store.apply({ create: [a], update: [], delete: [], notPlaced: [] }));
    const report = await clock.run(
      single.apply({ create: [b], update: [update(a, "198.18.7.7")], delete: [], notPlaced: [] }),
    );
    expect(report).toEqual({ applied: 2, alreadyGone: 0, failed: [] });
    expect(route53.records(zone).map((r) => [r.SetIdentifier, r.ResourceRecords?.[0]?.Value])).toEqual([
      [a.setIdentifier, "198.18.7.7"],
      [b.setIdentifier, b.values[0]],
    ]);
  });

  it("reports an update of a record someone else removed as failed, not as already gone", async () => {
    const { store, clock, route53 } = setup(undefined);
    const [a] = desiredRecords(serving(1), settings);
    if (!a) throw new Error("one record");
    const report = await clock.run(
      store.apply({ create: [], update: [update(a, "198.18.7.7")], delete: [], notPlaced: [] }),
    );
    expect(report.alreadyGone).toBe(0);
    expect(report.failed).toEqual([
      expect.objectContaining({ reason: expect.stringMatching(/was not found/) }),
    ]);
    expect(route53.records(zone)).toEqual([]);
  });

  it("sends nothing for an empty plan", async () => {
    const { store, clock } = setup(undefined);
    const report = await clock.run(store.apply({ create: [], update: [], delete: [], notPlaced: [] }));
    expect(report).toEqual({ applied: 0, alreadyGone: 0, failed: [] });
  });

  it("creates records with their instance's health check, and refuses one that does not exist", async () => {
    const { store, clock, route53 } = setup(undefined);
    const { HealthCheck } = route53.healthChecks.create({
      CallerReference: "test-1",
      HealthCheckConfig: { Type: "HTTP", IPAddress: "198.18.0.1", Port: 8021, ResourcePath: "/health" },
    });
    const id = HealthCheck?.Id ?? "";
    const [instance] = serving(1);
    const records = desiredRecords([{ ...(instance as ServingInstance), healthCheckId: id }], settings);
    await clock.run(store.apply({ create: records, update: [], delete: [], notPlaced: [] }));
    expect(route53.records(zone).map((r) => r.HealthCheckId)).toEqual([id]);
    expect(await clock.run(store.listAt("ftp.example.com."))).toEqual([
      expect.objectContaining({ healthCheckId: id }),
    ]);
    const missing = desiredRecords(
      [{ instanceId: "i-2", address: "198.18.0.2", healthCheckId: "nope" }],
      settings,
    );
    await expect(
      clock.run(store.apply({ create: missing, update: [], delete: [], notPlaced: [] })),
    ).rejects.toMatchObject({ name: "NoSuchHealthCheck" });
  });

  it("lets an error other than a refused batch reach the caller", async () => {
    const { route53, clock } = setup(undefined);
    const elsewhere = route53RecordStore(route53.client(), {
      hostedZoneId: "Z0NOSUCHZONE",
      clock,
      log: memoryLogger(),
    });
    const records = desiredRecords(serving(2), settings);
    await expect(
      clock.run(elsewhere.apply({ create: records, update: [], delete: [], notPlaced: [] })),
    ).rejects.toMatchObject({ name: "NoSuchHostedZone" });
  });

  it("gives up after the configured number of attempts, and logs each retry with the call and error", async () => {
    const { route53, clock } = setup(undefined);
    const log = memoryLogger("debug", clock);
    const impatient = route53RecordStore(route53.client(), {
      hostedZoneId: zone,
      clock,
      log,
      maxAttempts: 2,
    });
    route53.faults.inject(
      "ChangeResourceRecordSets",
      () => new PriorRequestNotComplete({ $metadata: {}, message: "busy" }),
      3,
    );
    const records = desiredRecords(serving(1), settings);
    await expect(
      clock.run(impatient.apply({ create: records, update: [], delete: [], notPlaced: [] })),
    ).rejects.toMatchObject({ name: "PriorRequestNotComplete" });
    expect(route53.records(zone)).toEqual([]);
    expect(log.lines.filter((l) => l.msg === "retry")).toEqual([
      expect.objectContaining({
        call: "route53:ChangeResourceRecordSets",
        error: "PriorRequestNotComplete",
        attempt: 1,
      }),
    ]);
  });

  it("names the listing call when it retries one", async () => {
    const { route53, clock } = setup(undefined);
    const log = memoryLogger("debug", clock);
    const store = route53RecordStore(route53.client(), { hostedZoneId: zone, clock, log });
    route53.faults.inject(
      "ListResourceRecordSets",
      () => new PriorRequestNotComplete({ $metadata: {}, message: "busy" }),
      1,
    );
    expect(await clock.run(store.listAt("ftp.example.com."))).toEqual([]);
    expect(log.lines.filter((l) => l.msg === "retry").map((l) => l.call)).toEqual([
      "route53:ListResourceRecordSets",
    ]);
  });

  it("pages past more than 300 record sets before the fleet's name", async () => {
    const { send, store, clock } = setup(undefined);
    for (let i = 0; i < 4; i++) {
      await send(
        ...Array.from({ length: 100 }, (_, j) => plain(`a${i}-${j}.example.com.`, "A", "192.0.2.1")),
      );
    }
    await send(weighted("w1", "192.0.2.2"));
    const found = await clock.run(store.listAt("ftp.example.com."));
    expect(found.map((r) => r.setIdentifier)).toEqual(["w1"]);
  });

  it("pages through more than 300 record sets at the fleet's name itself", async () => {
    const { send, store, clock } = setup(undefined);
    const typed = (type: "A" | "AAAA" | "TXT" | "MX", n: number, value: (i: number) => string) =>
      Array.from({ length: n }, (_, i) => ({
        Action: "CREATE" as const,
        ResourceRecordSet: {
          Name: "ftp.example.com.",
          Type: type,
          SetIdentifier: `${type}-${i}`,
          Weight: 1,
          TTL: 60,
          ResourceRecords: [{ Value: value(i) }],
        },
      }));
    await send(...typed("A", 100, (i) => `192.0.2.${i}`));
    await send(...typed("AAAA", 100, (i) => `2001:db8::${i}`));
    await send(...typed("MX", 100, (i) => `10 mx${i}.example.com.`));
    await send(...typed("TXT", 50, (i) => `"t${i}"`));
    const found = await clock.run(store.listAt("ftp.example.com."));
    expect(found).toHaveLength(350);
  });

  it("reads a record set with only the fields it has, marking aliases", async () => {
    const { send, store, clock } = setup(undefined);
    await send(plain("ftp.example.com.", "TXT", '"owner=someone"'), {
      Action: "CREATE",
      ResourceRecordSet: {
        Name: "ftp.example.com.",
        Type: "AAAA",
        AliasTarget: { HostedZoneId: zone, DNSName: "other.example.com.", EvaluateTargetHealth: false },
      },
    });
    const found = await clock.run(store.listAt("ftp.example.com."));
    expect(found).toStrictEqual([
      { name: "ftp.example.com.", type: "AAAA", values: [], alias: true },
      { name: "ftp.example.com.", type: "TXT", values: ['"owner=someone"'], ttl: 60 },
    ]);
  });

  it("normalizes names as Route53 writes them: lower case, a final dot, wildcards unescaped", () => {
    expect(normalizeName("FTP.Example.com")).toBe("ftp.example.com.");
    expect(normalizeName("ftp.example.com.")).toBe("ftp.example.com.");
    expect(normalizeName("\\052.example.com.")).toBe("*.example.com.");
    expect(normalizeName(undefined)).toBe(".");
  });
});
