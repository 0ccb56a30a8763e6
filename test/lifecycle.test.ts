import {
  ChangeResourceRecordSetsCommand,
  InvalidInput,
  PriorRequestNotComplete,
} from "@aws-sdk/client-route-53";
import { LAUNCH_TAG, launchRef, parseLifecycleEvent, until } from "@ftpfleet/core";
import { ROUTE53_RATE } from "@ftpfleet/simulated-aws";
import { afterEach, describe, expect, it } from "vitest";
import { createLifecycleHandler } from "../functions/lifecycle";
import {
  type Fleet,
  fixture,
  lambdaContext,
  recordInstanceIds,
  simulatedFleet,
  sqsEvent,
  states,
} from "./support";

let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
});

function start(options: Parameters<typeof simulatedFleet>[0] = {}): Fleet {
  fleet = simulatedFleet(options);
  return fleet;
}

const allInService = (f: Fleet, n: number) => () =>
  Object.values(states(f.aws)).filter((s) => s === "InService").length === n &&
  f.aws.autoscaling.members.size === n;

const messagesOf = (f: Fleet, msg: string) => f.log.lines.filter((l) => l.msg === msg);
/** At-least-once delivery: the same event twice in one batch, as messages "a" and "b". */
const deliverTwiceInOneBatch = (f: Fleet, event: unknown) => {
  const body = JSON.stringify(event);
  const handler = createLifecycleHandler(() => f.cp);
  const batch = sqsEvent([
    { messageId: "a", body },
    { messageId: "b", body },
  ]);
  return f.run(handler(batch, lambdaContext));
};

describe("launch", () => {
  it("registers one weighted record per new instance, then lets it continue into service", async () => {
    const f = start();
    f.aws.autoscaling.setDesired(3);
    await f.run(until(f.aws.clock, allInService(f, 3)));
    const ids = [...f.aws.autoscaling.members.keys()].sort();
    expect(recordInstanceIds(f.aws)).toEqual(ids);
    const records = f.aws.recordsAt();
    expect(records.map((r) => [r.Type, r.Weight, r.TTL])).toEqual(Array(3).fill(["A", 1, 60]));
    expect(records.map((r) => r.ResourceRecords?.[0]?.Value).sort()).toEqual(
      ids.map((id) => f.aws.ec2.instances.get(id)?.publicIp).sort(),
    );
    // The record existed before the action was answered.
    for (const id of ids) {
      const trail = f.log.lines.filter((l) => l.instanceId === id).map((l) => l.msg);
      expect(trail.indexOf("dns.joined")).toBeLessThan(trail.indexOf("lifecycle.completed"));
    }
  });

  it("handles every event twice (at-least-once delivery) with the same result", async () => {
    const f = start({ duplicateEvents: true });
    f.aws.autoscaling.setDesired(3);
    await f.run(until(f.aws.clock, allInService(f, 3)));
    await f.advance(60_000);
    expect(recordInstanceIds(f.aws)).toHaveLength(3);
    expect(f.aws.lifecycleQueue.deadLetters).toEqual([]);
    expect(messagesOf(f, "lifecycle.complete-failed")).toEqual([]);
  });

  it("abandons an instance that has no address to publish, and never lists it", async () => {
    const f = start({ addresses: (n) => ({ privateIp: `10.0.0.${n}` }) });
    f.aws.autoscaling.setDesired(1);
    await f.run(until(f.aws.clock, () => messagesOf(f, "launch.unaddressable").length > 0));
    await f.advance(5_000);
    expect(recordInstanceIds(f.aws)).toEqual([]);
    expect(Object.values(states(f.aws))).not.toContain("InService");
    expect(messagesOf(f, "lifecycle.completed").find((l) => l.result === "ABANDON")).toMatchObject({
      transition: "launch",
      reason: "no public IPv4 address",
    });
  });

  it("answers a launch INTO the warm pool CONTINUE: the instance ends warm in the pool, published nowhere", async () => {
    const f = start({
      consumer: { concurrency: 0 },
      group: { warmPool: { reuseOnScaleIn: false, minSize: 1 } },
    });
    const handler = createLifecycleHandler(() => f.cp);
    f.aws.autoscaling.setDesired(0);
    const [event] = f.aws.published;
    const id = String(event?.detail.EC2InstanceId);
    expect(event?.detail.Destination).toBe("WarmPool");
    const result = await f.run(
      handler(sqsEvent([{ messageId: "w", body: JSON.stringify(event) }]), lambdaContext),
    );
    expect(result.batchItemFailures).toEqual([]);
    await f.advance(5_000);
    expect(f.aws.autoscaling.warmPool.get(id)?.lifecycleState).toBe("Warmed:Running");
    expect(f.aws.ec2.instances.get(id)?.state).toBe("running");
    expect(recordInstanceIds(f.aws)).toEqual([]);
    expect(messagesOf(f, "lifecycle.completed")).toEqual([
      expect.objectContaining({ instanceId: id, transition: "launch", result: "CONTINUE", warmPool: true }),
    ]);
  });

  it("retries a warm-pool launch whose answer Auto Scaling could not take", async () => {
    const f = start({ consumer: { concurrency: 0 } });
    const handler = createLifecycleHandler(() => f.cp);
    f.aws.autoscaling.faults.inject("CompleteLifecycleAction", () => new Error("ServiceUnavailable"), 1);
    const event = fixture("launch-into-warm-pool");
    const result = await f.run(
      handler(sqsEvent([{ messageId: "w", body: JSON.stringify(event) }]), lambdaContext),
    );
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: "w" }]);
  });

  it("answers the same launch delivered twice in one batch once", async () => {
    const f = start({ consumer: { concurrency: 0 } });
    f.aws.autoscaling.setDesired(1);
    const [launch] = f.aws.published;
    const result = await deliverTwiceInOneBatch(f, launch);
    expect(result.batchItemFailures).toEqual([]);
    expect(messagesOf(f, "lifecycle.completed")).toHaveLength(1);
    expect(messagesOf(f, "lifecycle.already-closed")).toEqual([]);
    expect(recordInstanceIds(f.aws)).toEqual([String(launch?.detail.EC2InstanceId)]);
  });

  it("retries every copy of a duplicated launch, once each, when the DNS sync fails", async () => {
    const f = start({ consumer: { concurrency: 0 } });
    f.aws.autoscaling.setDesired(1);
    const [launch] = f.aws.published;
    f.aws.route53.faults.inject(
      "ChangeResourceRecordSets",
      () => new InvalidInput({ $metadata: {}, message: "refused" }),
      1,
    );
    const result = await deliverTwiceInOneBatch(f, launch);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: "a" }, { itemIdentifier: "b" }]);
    expect(messagesOf(f, "dns.sync-failed")).toHaveLength(1);
    expect(recordInstanceIds(f.aws)).toEqual([]);
    expect(states(f.aws)[String(launch?.detail.EC2InstanceId)]).toBe("Pending:Wait");
  });

  it("ignores test notifications and other groups' events without failing the batch", async () => {
    const f = start({ consumer: { concurrency: 0 } });
    const handler = createLifecycleHandler(() => f.cp);
    const result = await f.run(
      handler(
        sqsEvent([
          { messageId: "t", body: JSON.stringify(fixture("test-notification")) },
          { messageId: "o", body: JSON.stringify(fixture("launch-other-group")) },
        ]),
        lambdaContext,
      ),
    );
    expect(result.batchItemFailures).toEqual([]);
    expect(messagesOf(f, "event.ignored")).toHaveLength(2);
    expect(f.aws.autoscaling.calls.total()).toBe(0);
  });

  it("continues a warm-pool launch without publishing anything", async () => {
    const f = start({ consumer: { concurrency: 0 } });
    const handler = createLifecycleHandler(() => f.cp);
    const event = fixture("launch-into-warm-pool");
    await f.run(handler(sqsEvent([{ messageId: "m1", body: JSON.stringify(event) }]), lambdaContext));
    expect(f.aws.ec2.calls.get("CreateTags")).toBe(0);
    expect(f.aws.route53.calls.get("ChangeResourceRecordSets")).toBe(0);
    expect(f.aws.autoscaling.calls.get("CompleteLifecycleAction")).toBe(1);
  });
});

describe("launch answers", () => {
  it("answers each launch of a batch by its own instance: CONTINUE the addressable one, ABANDON the other", async () => {
    const f = start({
      consumer: { concurrency: 0 },
      addresses: (n) =>
        n === 2 ? { privateIp: "10.0.0.2" } : { privateIp: `10.0.0.${n}`, publicIp: `203.0.113.${n}` },
    });
    const handler = createLifecycleHandler(() => f.cp);
    f.aws.autoscaling.setDesired(2);
    const [first = "", second = ""] = [...f.aws.autoscaling.members.keys()];
    const bodies = f.aws.published.map((e, n) => ({ messageId: `m${n}`, body: JSON.stringify(e) }));
    const result = await f.run(handler(sqsEvent(bodies), lambdaContext));
    expect(result.batchItemFailures).toEqual([]);
    const answers = Object.fromEntries(
      messagesOf(f, "lifecycle.completed").map((l) => [String(l.instanceId), l.result]),
    );
    expect(answers).toEqual({ [first]: "CONTINUE", [second]: "ABANDON" });
    expect(recordInstanceIds(f.aws)).toEqual([first]);
  });

  it("tags every launch of a batch with one shared reference, whatever the order of the events", async () => {
    const f = start({ consumer: { concurrency: 0 } });
    const handler = createLifecycleHandler(() => f.cp);
    f.aws.autoscaling.setDesired(2);
    const events = [...f.aws.published].sort((a, b) =>
      String(b.detail.LifecycleActionToken).localeCompare(String(a.detail.LifecycleActionToken)),
    );
    const tokens = events.map((e) => String(e.detail.LifecycleActionToken)).sort();
    await f.run(
      handler(
        sqsEvent(events.map((e, n) => ({ messageId: `m${n}`, body: JSON.stringify(e) }))),
        lambdaContext,
      ),
    );
    const refs = [...f.aws.autoscaling.members.keys()].map((id) =>
      f.aws.ec2.instances.get(id)?.tags.get(LAUNCH_TAG),
    );
    expect(refs).toEqual([launchRef(tokens.join(" ")), launchRef(tokens.join(" "))]);
  });

  it("retries a launch whose instance is not running yet rather than abandoning it", async () => {
    const f = start({ consumer: { concurrency: 0 } });
    const handler = createLifecycleHandler(() => f.cp);
    f.aws.autoscaling.setDesired(1);
    const [id = ""] = [...f.aws.autoscaling.members.keys()];
    f.aws.ec2.setState(id, "stopped");
    const [launch] = f.aws.published;
    const result = await f.run(
      handler(sqsEvent([{ messageId: "l", body: JSON.stringify(launch) }]), lambdaContext),
    );
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: "l" }]);
    expect(states(f.aws)[id]).toBe("Pending:Wait");
    expect(messagesOf(f, "lifecycle.completed")).toEqual([]);
  });

  it("answers a launch of an instance that has left the group CONTINUE, as closed, without retrying", async () => {
    const f = start({ consumer: { concurrency: 0 } });
    const handler = createLifecycleHandler(() => f.cp);
    f.aws.autoscaling.setDesired(1);
    const [id = ""] = [...f.aws.autoscaling.members.keys()];
    const [launch] = f.aws.published;
    f.aws.autoscaling.setDesired(0);
    await f.run(until(f.aws.clock, () => !f.aws.autoscaling.members.has(id), { stepMs: 10_000 }));
    const result = await f.run(
      handler(sqsEvent([{ messageId: "l", body: JSON.stringify(launch) }]), lambdaContext),
    );
    expect(result.batchItemFailures).toEqual([]);
    expect(messagesOf(f, "launch.no-longer-entering")).toEqual([
      expect.objectContaining({ instanceId: id, state: "not in group" }),
    ]);
    expect(recordInstanceIds(f.aws)).toEqual([]);
  });
});

describe("terminate", () => {
  it("leaves DNS first, drains at least the configured time, then lets the instance go", async () => {
    const f = start();
    f.aws.autoscaling.setDesired(3);
    await f.run(until(f.aws.clock, allInService(f, 3)));
    f.aws.autoscaling.setDesired(2);
    const leaving = Object.entries(states(f.aws)).find(([, s]) => s === "Terminating:Wait")?.[0] ?? "";
    const asked = f.aws.clock.now();
    await f.run(until(f.aws.clock, () => !recordInstanceIds(f.aws).includes(leaving)));
    const left = f.aws.clock.now();
    expect(left - asked).toBeLessThan(10_000);
    await f.advance(60_000);
    expect(states(f.aws)[leaving]).toBe("Terminating:Wait");
    await f.run(until(f.aws.clock, () => !f.aws.autoscaling.members.has(leaving)));
    expect(f.aws.clock.now() - left).toBeGreaterThanOrEqual(90_000);
    expect(recordInstanceIds(f.aws)).toHaveLength(2);
    // Without provisioning the drain is a fixed wait: no drain command, then one answer.
    expect(messagesOf(f, "drain.started")).toEqual([]);
    expect(
      messagesOf(f, "lifecycle.completed").filter(
        (l) => l.instanceId === leaving && l.transition === "terminate",
      ),
    ).toEqual([expect.objectContaining({ transition: "terminate", result: "CONTINUE", drained: true })]);
    expect(messagesOf(f, "lifecycle.already-closed")).toEqual([]);
  });

  it("keeps a long drain alive with heartbeats across SQS's 15-minute delay limit", async () => {
    const f = start({
      env: { FTPFLEET_DRAIN_SECONDS: "1500" },
      group: {
        terminateHook: {
          name: "ftpfleet-terminate",
          heartbeatTimeoutSeconds: 1000,
          defaultResult: "CONTINUE",
        },
      },
    });
    f.aws.autoscaling.setDesired(1);
    await f.run(until(f.aws.clock, allInService(f, 1)));
    const [id] = [...f.aws.autoscaling.members.keys()];
    f.aws.autoscaling.setDesired(0);
    const asked = f.aws.clock.now();
    await f.run(until(f.aws.clock, () => f.aws.autoscaling.members.size === 0, { stepMs: 1000 }));
    expect(f.aws.clock.now() - asked).toBeGreaterThanOrEqual(1_500_000);
    expect(f.aws.autoscaling.calls.get("RecordLifecycleActionHeartbeat")).toBeGreaterThan(0);
    expect(
      f.log.lines.find((l) => l.instanceId === id && l.msg === "lifecycle.completed" && l.drained),
    ).toBeDefined();
  });

  it("ends right when terminate is processed before the launch it overtook", async () => {
    const f = start({ consumer: { concurrency: 0 } });
    const handler = createLifecycleHandler(() => f.cp);
    f.aws.autoscaling.setDesired(1);
    f.aws.autoscaling.setDesired(0);
    const [launch, terminate] = f.aws.published;
    expect(launch?.["detail-type"]).toMatch(/launch/);
    expect(terminate?.["detail-type"]).toMatch(/terminate/);
    await f.run(handler(sqsEvent([{ messageId: "t", body: JSON.stringify(terminate) }]), lambdaContext));
    const late = await f.run(
      handler(sqsEvent([{ messageId: "l", body: JSON.stringify(launch) }]), lambdaContext),
    );
    expect(late.batchItemFailures).toEqual([]);
    expect(recordInstanceIds(f.aws)).toEqual([]);
    expect(f.aws.ec2.calls.get("CreateTags")).toBe(0);
    expect(messagesOf(f, "launch.no-longer-entering")).toHaveLength(1);
    expect(messagesOf(f, "lifecycle.already-closed")).toHaveLength(1);
  });
});

describe("lifecycle tokens", () => {
  it("retries a deferred step whose call to Auto Scaling failed", async () => {
    const f = start({ consumer: { concurrency: 0 } });
    const handler = createLifecycleHandler(() => f.cp);
    const actionOf = (name: string) => {
      const parsed = parseLifecycleEvent(fixture(name), "ftpfleet-test");
      if (parsed.kind !== "action") throw new Error("an action");
      return parsed.action;
    };
    const now = f.aws.clock.now();
    const drained = { kind: "ftpfleet.complete-after-drain", action: actionOf("terminate"), notBefore: now };
    const awaiting = {
      kind: "ftpfleet.await-agent",
      action: actionOf("launch"),
      notBefore: now,
      deadline: now + 60_000,
    };
    f.aws.autoscaling.faults.inject("CompleteLifecycleAction", () => new Error("unavailable"), 1);
    f.aws.autoscaling.faults.inject("RecordLifecycleActionHeartbeat", () => new Error("unavailable"), 1);
    const result = await f.run(
      handler(
        sqsEvent([
          { messageId: "drained", body: JSON.stringify(drained) },
          { messageId: "awaiting", body: JSON.stringify(awaiting) },
        ]),
        lambdaContext,
      ),
    );
    expect(result.batchItemFailures.map((i) => i.itemIdentifier).sort()).toEqual(["awaiting", "drained"]);
  });

  it("stops waiting on a drain whose action has already ended, instead of deferring it again", async () => {
    const f = start({ consumer: { concurrency: 0 } });
    const handler = createLifecycleHandler(() => f.cp);
    const parsed = parseLifecycleEvent(fixture("terminate"), "ftpfleet-test");
    if (parsed.kind !== "action") throw new Error("a terminate action");
    const step = {
      kind: "ftpfleet.complete-after-drain",
      action: parsed.action,
      notBefore: f.aws.clock.now() + 3_600_000,
    };
    const result = await f.run(
      handler(sqsEvent([{ messageId: "d", body: JSON.stringify(step) }]), lambdaContext),
    );
    expect(result.batchItemFailures).toEqual([]);
    expect(f.aws.lifecycleQueue.depth).toBe(0);
    expect(messagesOf(f, "lifecycle.already-closed")).toEqual([
      expect.objectContaining({ while: "ftpfleet.complete-after-drain" }),
    ]);
  });

  it("treats an expired launch action as done and leaves no record behind", async () => {
    const f = start({
      consumer: { concurrency: 0 },
      group: {
        launchHook: { name: "ftpfleet-launch", heartbeatTimeoutSeconds: 30, defaultResult: "ABANDON" },
      },
    });
    const handler = createLifecycleHandler(() => f.cp);
    f.aws.autoscaling.setDesired(1);
    const [launch] = f.aws.published;
    await f.advance(31_000);
    const late = await f.run(
      handler(sqsEvent([{ messageId: "l", body: JSON.stringify(launch) }]), lambdaContext),
    );
    expect(late.batchItemFailures).toEqual([]);
    expect(recordInstanceIds(f.aws)).toEqual([]);
    expect(messagesOf(f, "launch.no-longer-entering")).toHaveLength(1);
  });
});

describe("Route53 throttling", () => {
  it("gets every record in despite throttling and injected PriorRequestNotComplete", async () => {
    const f = start({ throttle: ROUTE53_RATE, consumer: { batchSize: 10, batchWindowMs: 0 } });
    f.aws.route53.faults.inject(
      "ChangeResourceRecordSets",
      () => new PriorRequestNotComplete({ $metadata: {}, message: "busy" }),
      5,
    );
    f.aws.autoscaling.setDesired(30);
    await f.run(until(f.aws.clock, allInService(f, 30)));
    expect(recordInstanceIds(f.aws)).toHaveLength(30);
    expect(f.aws.lifecycleQueue.deadLetters).toEqual([]);
  });
});

describe("foreign records", () => {
  it("are never modified, whatever the fleet does", async () => {
    const f = start();
    const route53 = f.aws.route53.client();
    const foreign = [
      {
        Name: "ftp.example.com.",
        Type: "A" as const,
        SetIdentifier: "manual-blue",
        Weight: 5,
        TTL: 300,
        ResourceRecords: [{ Value: "192.0.2.1" }],
      },
      {
        Name: "ftp.example.com.",
        Type: "A" as const,
        SetIdentifier: "ftpfleet:other:i-00000000000000abc",
        Weight: 1,
        TTL: 60,
        ResourceRecords: [{ Value: "192.0.2.2" }],
      },
      { Name: "www.example.com.", Type: "A" as const, TTL: 300, ResourceRecords: [{ Value: "192.0.2.3" }] },
    ];
    await f.run(
      route53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: "Z0TESTZONE",
          ChangeBatch: {
            Changes: foreign.map((ResourceRecordSet) => ({ Action: "CREATE", ResourceRecordSet })),
          },
        }),
      ),
    );
    f.aws.autoscaling.setDesired(3);
    await f.run(until(f.aws.clock, allInService(f, 3)));
    f.aws.autoscaling.setDesired(0);
    await f.run(until(f.aws.clock, () => f.aws.autoscaling.members.size === 0));
    await f.run(f.cp.dns.sync());
    expect(f.aws.route53.records("Z0TESTZONE")).toEqual(expect.arrayContaining(foreign));
    expect(f.aws.route53.records("Z0TESTZONE")).toHaveLength(3);
  });
});

describe("malformed input", () => {
  it("is rejected with a clear log line, not retried, and changes nothing", async () => {
    const f = start();
    const badToken = fixture("launch");
    (badToken.detail as Record<string, unknown>).LifecycleActionToken = "$(curl evil)";
    for (const body of [
      "not json",
      "{}",
      JSON.stringify(badToken),
      JSON.stringify({ kind: "ftpfleet.complete-after-drain" }),
    ]) {
      f.aws.lifecycleQueue.send(body);
    }
    await f.advance(30_000);
    const rejected = messagesOf(f, "event.rejected");
    expect(rejected).toHaveLength(4);
    expect(rejected.map((l) => l.error)).toEqual([
      expect.stringMatching(/not JSON: .+/),
      expect.stringMatching(/malformed Auto Scaling lifecycle event/),
      expect.stringMatching(/LifecycleActionToken/),
      expect.stringMatching(/malformed deferred message/),
    ]);
    expect(f.aws.route53.calls.total()).toBe(0);
    expect(f.aws.ec2.calls.total()).toBe(0);
    expect(f.aws.autoscaling.calls.total()).toBe(0);
    expect(f.aws.lifecycleQueue.depth).toBe(0);
  });

  it("names the missing field of a lifecycle action", async () => {
    const f = start();
    const noInstance = fixture("launch");
    delete (noInstance.detail as Record<string, unknown>).EC2InstanceId;
    f.aws.lifecycleQueue.send(JSON.stringify(noInstance));
    await f.advance(30_000);
    expect(messagesOf(f, "event.rejected").map((l) => l.error)).toEqual([
      expect.stringMatching(/detail\.EC2InstanceId: /),
    ]);
  });

  it("ignores status events of documents that are not the fleet's, without answering anything", async () => {
    const f = start({ consumer: { concurrency: 0 } });
    const handler = createLifecycleHandler(() => f.cp);
    const event = fixture("ssm-invocation-success");
    const foreign = {
      ...event,
      detail: { ...(event.detail as object), "document-name": "AWS-RunShellScript" },
    };
    const result = await f.run(
      handler(sqsEvent([{ messageId: "s", body: JSON.stringify(foreign) }]), lambdaContext),
    );
    expect(result.batchItemFailures).toEqual([]);
    expect(messagesOf(f, "event.ignored")).toEqual([
      expect.objectContaining({ reason: "AWS-RunShellScript Success" }),
    ]);
    expect(f.aws.autoscaling.calls.total()).toBe(0);
  });

  it("ignores a command-level SSM status event at info level: a known shape, not malformed", async () => {
    const f = start();
    f.aws.lifecycleQueue.send(
      JSON.stringify({
        version: "0",
        id: "51c0891d-8a5b-4a4f-9f7e-8a0a0b9f6c21",
        "detail-type": "EC2 Command Status-change Notification",
        source: "aws.ssm",
        account: "123456789012",
        time: "2026-01-01T00:00:00Z",
        region: "eu-west-1",
        resources: ["arn:aws:ec2:eu-west-1:123456789012:instance/i-1234567890abcdef0"],
        detail: {
          "command-id": "e8d3c0e4-EXAMPLE",
          "document-name": "test-provision",
          "expire-after": "2026-01-01T02:00:00.000Z",
          parameters: {},
          "requested-date-time": "2026-01-01T00:00:00.000Z",
          status: "Success",
        },
      }),
    );
    await f.advance(30_000);
    expect(messagesOf(f, "event.rejected")).toEqual([]);
    expect(messagesOf(f, "event.ignored")).toEqual([expect.objectContaining({ level: "info" })]);
  });
});

describe("crash", () => {
  it("removes the crashed instance's record and publishes its replacement", async () => {
    const f = start();
    f.aws.autoscaling.setDesired(2);
    await f.run(until(f.aws.clock, allInService(f, 2)));
    const [victim] = [...f.aws.autoscaling.members.keys()];
    f.aws.autoscaling.crash(victim ?? "");
    await f.run(
      until(f.aws.clock, () => !f.aws.autoscaling.members.has(victim ?? "") && allInService(f, 2)()),
    );
    expect(recordInstanceIds(f.aws)).toEqual([...f.aws.autoscaling.members.keys()].sort());
    expect(recordInstanceIds(f.aws)).not.toContain(victim);
  });
});
