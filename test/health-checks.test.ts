import {
  ChangeResourceRecordSetsCommand,
  CreateHealthCheckCommand,
  DeleteHealthCheckCommand,
  type HealthCheckConfig,
} from "@aws-sdk/client-route-53";
import { FAILING_SINCE_TAG, until } from "@ftpfleet/core";
import { SimulatedClock, SimulatedRoute53 } from "@ftpfleet/simulated-aws";
import { afterEach, describe, expect, it } from "vitest";
import { createReconcileHandler } from "../functions/reconcile";
import {
  type Fleet,
  lambdaContext,
  provisionedEnv,
  recordInstanceIds,
  simulatedFleet,
  states,
} from "./support";

const http = (IPAddress: string, extra: Partial<HealthCheckConfig> = {}): HealthCheckConfig => ({
  Type: "HTTP",
  IPAddress,
  Port: 8021,
  ResourcePath: "/health",
  RequestInterval: 10,
  FailureThreshold: 1,
  ...extra,
});

describe("simulated Route53 health checks (the rules the fleet relies on)", () => {
  const setup = () => {
    const route53 = new SimulatedRoute53(new SimulatedClock());
    route53.createZone("Z0TESTZONE", "example.com");
    return { route53, client: route53.client() };
  };

  it("gives the same check back for a repeated request, and refuses its reference with other settings or once deleted", async () => {
    const { client } = setup();
    const create = (config: HealthCheckConfig) =>
      client.send(new CreateHealthCheckCommand({ CallerReference: "ref-1", HealthCheckConfig: config }));
    const first = await create(http("198.18.0.1"));
    const again = await create(http("198.18.0.1"));
    expect(again.HealthCheck?.Id).toBe(first.HealthCheck?.Id);
    await expect(create(http("198.18.0.2"))).rejects.toMatchObject({ name: "HealthCheckAlreadyExists" });
    await client.send(new DeleteHealthCheckCommand({ HealthCheckId: first.HealthCheck?.Id }));
    await expect(create(http("198.18.0.1"))).rejects.toMatchObject({ name: "HealthCheckAlreadyExists" });
  });

  it.each([
    ["10.0.0.5", "10.0.0.0/8"],
    ["172.20.1.1", "172.16.0.0/12"],
    ["192.168.1.1", "192.168.0.0/16"],
    ["127.0.0.1", "loopback"],
    ["169.254.169.254", "link-local"],
    ["100.64.0.1", "shared address space"],
  ])("refuses to check %s (%s): Route53's checkers cannot reach it", async (ip, range) => {
    const { client } = setup();
    await expect(
      client.send(new CreateHealthCheckCommand({ CallerReference: ip, HealthCheckConfig: http(ip) })),
    ).rejects.toMatchObject({ name: "InvalidInput", message: expect.stringContaining(range) });
  });

  it.each([
    [{ RequestInterval: 5 }, "RequestInterval is 10 or 30"],
    [{ FailureThreshold: 0 }, "FailureThreshold is 1 to 10"],
    [{ FailureThreshold: 11 }, "FailureThreshold is 1 to 10"],
    [{ Port: 70000 }, "Port is 1 to 65535"],
    [{ ResourcePath: "health" }, "ResourcePath starts with /"],
  ])("refuses settings Route53 refuses: %o", async (extra, message) => {
    const { client } = setup();
    await expect(
      client.send(
        new CreateHealthCheckCommand({
          CallerReference: "bad",
          HealthCheckConfig: http("198.18.0.1", extra),
        }),
      ),
    ).rejects.toMatchObject({ name: "InvalidInput", message: expect.stringContaining(message) });
  });

  it("refuses a record naming a check that does not exist, and deleting a check a record uses", async () => {
    const { client } = setup();
    const record = (HealthCheckId: string) => ({
      Name: "ftp.example.com.",
      Type: "A" as const,
      SetIdentifier: "one",
      Weight: 1,
      TTL: 60,
      ResourceRecords: [{ Value: "198.18.0.1" }],
      HealthCheckId,
    });
    const change = (Action: "CREATE" | "DELETE", HealthCheckId: string) =>
      client.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: "Z0TESTZONE",
          ChangeBatch: { Changes: [{ Action, ResourceRecordSet: record(HealthCheckId) }] },
        }),
      );
    await expect(change("CREATE", "no-such-check")).rejects.toMatchObject({ name: "NoSuchHealthCheck" });
    const { HealthCheck } = await client.send(
      new CreateHealthCheckCommand({ CallerReference: "used", HealthCheckConfig: http("198.18.0.1") }),
    );
    const id = HealthCheck?.Id ?? "";
    await change("CREATE", id);
    await expect(client.send(new DeleteHealthCheckCommand({ HealthCheckId: id }))).rejects.toMatchObject({
      name: "HealthCheckInUse",
    });
    await change("DELETE", id);
    await client.send(new DeleteHealthCheckCommand({ HealthCheckId: id }));
    await expect(client.send(new DeleteHealthCheckCommand({ HealthCheckId: id }))).rejects.toMatchObject({
      name: "NoSuchHealthCheck",
    });
  });

  it("answers from healthy records of nonzero weight, then healthy zero-weight ones, then all of them", async () => {
    const { route53 } = setup();
    const down = new Set<string>();
    route53.healthChecks.probe = ({ ipAddress }) =>
      down.has(ipAddress) ? { ok: false, reason: "HTTP 503" } : { ok: true };
    const ids = ["198.18.0.1", "198.18.0.2", "198.18.0.3"].map(
      (ip) =>
        route53.healthChecks.create({ CallerReference: ip, HealthCheckConfig: http(ip) }).HealthCheck?.Id,
    );
    const client = route53.client();
    await client.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: "Z0TESTZONE",
        ChangeBatch: {
          Changes: ids.map((HealthCheckId, n) => ({
            Action: "CREATE" as const,
            ResourceRecordSet: {
              Name: "ftp.example.com.",
              Type: "A" as const,
              SetIdentifier: `r${n}`,
              // The third is out of rotation (weight 0).
              Weight: n === 2 ? 0 : 1,
              TTL: 60,
              ResourceRecords: [{ Value: `198.18.0.${n + 1}` }],
              HealthCheckId,
            },
          })),
        },
      }),
    );
    const answered = () =>
      route53
        .answerable("Z0TESTZONE", "ftp.example.com")
        .map((r) => r.ResourceRecords?.[0]?.Value)
        .sort();
    expect(answered()).toEqual(["198.18.0.1", "198.18.0.2"]);
    down.add("198.18.0.1");
    await route53.healthChecks.checkAll();
    expect(answered()).toEqual(["198.18.0.2"]);
    down.add("198.18.0.2");
    await route53.healthChecks.checkAll();
    expect(answered()).toEqual(["198.18.0.3"]);
    down.add("198.18.0.3");
    await route53.healthChecks.checkAll();
    expect(answered()).toEqual(["198.18.0.1", "198.18.0.2", "198.18.0.3"]);
  });

  it("flips a check after FailureThreshold results in a row, either way", async () => {
    const { route53 } = setup();
    let ok = true;
    route53.healthChecks.probe = () => (ok ? { ok: true } : { ok: false, reason: "timeout" });
    const id =
      route53.healthChecks.create({
        CallerReference: "t3",
        HealthCheckConfig: http("198.18.0.9", { FailureThreshold: 3 }),
      }).HealthCheck?.Id ?? "";
    ok = false;
    await route53.healthChecks.checkAll();
    await route53.healthChecks.checkAll();
    expect(route53.healthChecks.isHealthy(id)).toBe(true);
    await route53.healthChecks.checkAll();
    expect(route53.healthChecks.isHealthy(id)).toBe(false);
    expect(route53.healthChecks.status(id).HealthCheckObservations?.[0]?.StatusReport?.Status).toBe(
      "Failure: timeout",
    );
    ok = true;
    await route53.healthChecks.checkAll();
    await route53.healthChecks.checkAll();
    expect(route53.healthChecks.isHealthy(id)).toBe(false);
    await route53.healthChecks.checkAll();
    expect(route53.healthChecks.isHealthy(id)).toBe(true);
  });
});

describe("deep health checks on the fleet's records (control plane, simulated AWS)", () => {
  let fleet: Fleet | undefined;
  afterEach(async () => {
    fleet?.aws.route53.healthChecks.stop();
    await fleet?.stop();
    fleet = undefined;
  });

  const down = new Set<string>();
  async function servingFleet(n: number, env: Record<string, string> = {}) {
    down.clear();
    fleet = simulatedFleet({ env: { ...provisionedEnv, ...env } });
    const f = fleet;
    f.aws.route53.healthChecks.probe = ({ ipAddress, port, resourcePath }) =>
      port === 8021 && resourcePath === "/health" && !down.has(ipAddress)
        ? { ok: true }
        : { ok: false, reason: "HTTP Status Code 503" };
    f.aws.route53.healthChecks.start();
    f.aws.autoscaling.setDesired(n);
    await f.run(
      until(f.aws.clock, () => Object.values(states(f.aws)).filter((s) => s === "InService").length === n),
    );
    await f.advance(30_000);
    return f;
  }
  const addressOf = (f: Fleet, instanceId: string) => f.aws.ec2.instances.get(instanceId)?.publicIp ?? "";
  const answered = (f: Fleet) =>
    f.aws.route53
      .answerable("Z0TESTZONE", "ftp.example.com")
      .map((r) => r.ResourceRecords?.[0]?.Value ?? "")
      .sort();

  it("attaches to every record a check of its own instance's endpoint, and deletes it with the record", async () => {
    const f = await servingFleet(3);
    const records = f.aws.recordsAt();
    expect(records).toHaveLength(3);
    const checks = f.aws.route53.healthChecks.list({}).HealthChecks ?? [];
    expect(checks).toHaveLength(3);
    for (const record of records) {
      const check = checks.find((c) => c.Id === record.HealthCheckId);
      expect(check?.HealthCheckConfig).toMatchObject({
        Type: "HTTP",
        IPAddress: record.ResourceRecords?.[0]?.Value,
        Port: 8021,
        ResourcePath: "/health",
        RequestInterval: 10,
        FailureThreshold: 1,
      });
    }
    f.aws.autoscaling.setDesired(1);
    await f.run(until(f.aws.clock, () => recordInstanceIds(f.aws).length === 1, { limitMs: 15 * 60_000 }));
    await f.advance(60_000);
    const left = f.aws.route53.healthChecks.list({}).HealthChecks ?? [];
    expect(left.map((c) => c.Id)).toEqual(f.aws.recordsAt().map((r) => r.HealthCheckId));
  });

  it("stops answering an instance whose endpoint fails within one check interval, and answers it again once it passes", async () => {
    const f = await servingFleet(3);
    const [sick] = recordInstanceIds(f.aws);
    const sickAddress = addressOf(f, sick ?? "");
    expect(answered(f)).toContain(sickAddress);
    down.add(sickAddress);
    await f.advance(10_000);
    expect(answered(f)).not.toContain(sickAddress);
    expect(answered(f)).toHaveLength(2);
    down.delete(sickAddress);
    await f.advance(10_000);
    expect(answered(f)).toContain(sickAddress);
  });

  it("has the group replace an instance that keeps failing, and leaves one that recovers in time", async () => {
    const f = await servingFleet(3);
    const [broken, flaky] = recordInstanceIds(f.aws);
    const reconcile = createReconcileHandler(() => f.cp);
    down.add(addressOf(f, broken ?? ""));
    down.add(addressOf(f, flaky ?? ""));
    await f.advance(10_000);
    const first = await f.run(reconcile({}, lambdaContext));
    expect(first.replaced).toEqual([]);
    const tagged = (id: string | undefined) => f.aws.ec2.instances.get(id ?? "")?.tags.get(FAILING_SINCE_TAG);
    expect(tagged(broken)).toBeDefined();
    expect(tagged(flaky)).toBeDefined();
    // The flaky one passes again before the replacement delay (120 s) is over.
    down.delete(addressOf(f, flaky ?? ""));
    await f.advance(60_000);
    expect((await f.run(reconcile({}, lambdaContext))).replaced).toEqual([]);
    expect(tagged(flaky)).toBeUndefined();
    await f.advance(60_000);
    expect((await f.run(reconcile({}, lambdaContext))).replaced).toEqual([broken]);
    // The group replaces it: a new instance serves, the broken one and its check are gone.
    await f.run(
      until(
        f.aws.clock,
        () => !recordInstanceIds(f.aws).includes(broken ?? "") && recordInstanceIds(f.aws).length === 3,
        { limitMs: 30 * 60_000 },
      ),
    );
    await f.advance(60_000);
    expect(recordInstanceIds(f.aws)).toContain(flaky);
    const checks = f.aws.route53.healthChecks.list({}).HealthChecks ?? [];
    expect(checks.map((c) => c.HealthCheckConfig?.IPAddress).sort()).toEqual(answered(f));
  });

  it("replaces nobody while every instance fails: the check or what they share is broken, not them", async () => {
    const f = await servingFleet(2);
    for (const id of recordInstanceIds(f.aws)) down.add(addressOf(f, id));
    const reconcile = createReconcileHandler(() => f.cp);
    for (let minute = 0; minute < 5; minute++) {
      await f.advance(60_000);
      expect((await f.run(reconcile({}, lambdaContext))).replaced).toEqual([]);
    }
    // Route53 answers every record when none is healthy.
    expect(answered(f)).toHaveLength(2);
    expect(f.log.lines.some((l) => l.msg === "health.fleet-failing")).toBe(true);
  });

  it("plans a missing check in a dry run without creating it; the next run creates and attaches it", async () => {
    const f = await servingFleet(2);
    const [record] = f.aws.recordsAt();
    if (!record?.HealthCheckId) throw new Error("records carry checks");
    const client = f.aws.route53.client();
    const { HealthCheckId, ...bare } = record;
    await f.run(
      client.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: "Z0TESTZONE",
          ChangeBatch: {
            Changes: [
              { Action: "DELETE", ResourceRecordSet: record },
              { Action: "CREATE", ResourceRecordSet: bare },
            ],
          },
        }),
      ),
    );
    await f.run(client.send(new DeleteHealthCheckCommand({ HealthCheckId })));
    const reconcile = createReconcileHandler(() => f.cp);
    const created = f.aws.route53.calls.get("CreateHealthCheck");
    const dry = await f.run(reconcile({ dryRun: true }, lambdaContext));
    const instanceId = record.SetIdentifier?.split(":").at(-1);
    expect(dry.plan).toEqual([
      expect.stringMatching(new RegExp(`^\\+ health check ${instanceId} 198\\.18\\.`)),
    ]);
    expect(f.aws.route53.calls.get("CreateHealthCheck")).toBe(created);
    const applied = await f.run(reconcile({}, lambdaContext));
    expect(applied.plan).toEqual([expect.stringMatching(new RegExp(`^~ ftp.example.com. A ${instanceId} `))]);
    expect(f.aws.recordsAt().every((r) => r.HealthCheckId !== undefined)).toBe(true);
  });

  it("creates no check when turned off", async () => {
    const f = await servingFleet(2, { FTPFLEET_HEALTH_CHECKS: "off" });
    expect(f.aws.route53.healthChecks.list({}).HealthChecks).toEqual([]);
    expect(f.aws.recordsAt().every((r) => r.HealthCheckId === undefined)).toBe(true);
  });
});
