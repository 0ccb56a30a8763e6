import { until } from "@ftpfleet/core";
import type { EventBridgeEvent } from "@ftpfleet/simulated-aws";
import { afterEach, describe, expect, it } from "vitest";
import { type Fleet, provisionedEnv, recordInstanceIds, simulatedFleet, states } from "./support";

/** At-least-once, out-of-order delivery, and messages nobody sent: each ends in the right state. */

let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
});

/** A fleet whose provision runs take 60 s (the simulated SSM's default executor). */
function start(options: Parameters<typeof simulatedFleet>[0] = {}): Fleet {
  fleet = simulatedFleet({ ...options, env: provisionedEnv });
  return fleet;
}

const lines = (f: Fleet, msg: string) => f.log.lines.filter((l) => l.msg === msg);
const onlyInstance = (f: Fleet) => [...f.aws.autoscaling.members.keys()][0] ?? "";
const provisionRuns = (f: Fleet, instanceId: string) =>
  [...f.aws.ssm.invocations.values()].filter(
    (i) => i.instanceId === instanceId && i.document.endsWith("-provision"),
  ).length;
const published = (f: Fleet, match: (e: EventBridgeEvent) => boolean) => f.aws.published.filter(match);
const isLaunchEvent = (e: EventBridgeEvent) => e["detail-type"] === "EC2 Instance-launch Lifecycle Action";
const redeliver = (f: Fleet, event: EventBridgeEvent | undefined, detail: Record<string, unknown> = {}) => {
  if (!event) throw new Error("no event to redeliver");
  f.aws.lifecycleQueue.send(JSON.stringify({ ...event, detail: { ...event.detail, ...detail } }));
};

/** One instance whose provision has started (and runs for 60 s), with its first SSM status event. */
async function provisionRunning() {
  const f = start();
  f.aws.autoscaling.setDesired(1);
  await f.run(until(f.aws.clock, () => lines(f, "provision.started").length === 1));
  const [running] = published(f, (e) => e.source === "aws.ssm");
  return { f, id: onlyInstance(f), running };
}

describe("provision status events", () => {
  it("a Success that arrives while provision is still running lets nothing into DNS", async () => {
    const { f, id, running } = await provisionRunning();
    // Replayed out of order, or forged by anyone who can send to the queue.
    redeliver(f, running, { status: "Success" });
    await f.advance(20_000);
    expect(recordInstanceIds(f.aws)).toEqual([]);
    expect(states(f.aws)[id]).toBe("Pending:Wait");
    expect(lines(f, "provision.status-ignored")).toHaveLength(1);
    // The real result still completes the launch.
    await f.run(until(f.aws.clock, () => states(f.aws)[id] === "InService"));
    expect(recordInstanceIds(f.aws)).toEqual([id]);
  });

  it("a Failed that SSM does not confirm abandons nothing", async () => {
    const { f, id, running } = await provisionRunning();
    redeliver(f, running, { status: "Failed" });
    await f.run(until(f.aws.clock, () => states(f.aws)[id] === "InService"));
    expect(lines(f, "provision.failed")).toEqual([]);
    expect(recordInstanceIds(f.aws)).toEqual([id]);
  });

  it("a status of a command never sent for the instance's launch changes nothing", async () => {
    const { f, id, running } = await provisionRunning();
    redeliver(f, running, { status: "Success", "command-id": "6f1c2a4e-0b7d-4c1e-9a3f-2d5b8e7c9a10" });
    await f.advance(20_000);
    expect(recordInstanceIds(f.aws)).toEqual([]);
    expect(states(f.aws)[id]).toBe("Pending:Wait");
    // Checked against the instance's launch before SSM is asked anything: ignored at once, not retried.
    expect(lines(f, "provision.status-ignored")).toEqual([
      expect.objectContaining({ instanceId: id, commandId: "6f1c2a4e-0b7d-4c1e-9a3f-2d5b8e7c9a10" }),
    ]);
    expect(f.aws.lifecycleQueue.deadLetters).toEqual([]);
  });
});

describe("launch events that arrive late or twice", () => {
  it("do not provision an instance that is already in service again", async () => {
    const f = start();
    f.aws.autoscaling.setDesired(1);
    const id = onlyInstance(f);
    await f.run(until(f.aws.clock, () => states(f.aws)[id] === "InService"));
    redeliver(f, published(f, isLaunchEvent)[0]);
    await f.advance(120_000);
    expect(provisionRuns(f, id)).toBe(1);
    expect(recordInstanceIds(f.aws)).toEqual([id]);
    expect(lines(f, "launch.action-closed")).toHaveLength(1);
  });

  it("do not provision an instance that is leaving", async () => {
    const f = start();
    f.aws.autoscaling.setDesired(1);
    const id = onlyInstance(f);
    await f.run(until(f.aws.clock, () => states(f.aws)[id] === "InService"));
    f.aws.autoscaling.setDesired(0);
    await f.run(until(f.aws.clock, () => recordInstanceIds(f.aws).length === 0));
    redeliver(f, published(f, isLaunchEvent)[0]);
    await f.advance(5_000);
    expect(provisionRuns(f, id)).toBe(1);
  });

  it("provision once when the same launch event comes again while provision runs", async () => {
    const f = start();
    f.aws.autoscaling.setDesired(1);
    const id = onlyInstance(f);
    await f.run(until(f.aws.clock, () => lines(f, "provision.started").length === 1));
    redeliver(f, published(f, isLaunchEvent)[0]);
    await f.run(until(f.aws.clock, () => states(f.aws)[id] === "InService"));
    expect(provisionRuns(f, id)).toBe(1);
    expect(lines(f, "provision.already-started")).toHaveLength(1);
  });
});

describe("an instance that comes back from a warm pool", () => {
  const warmPoolFleet = () => start({ group: { warmPool: { reuseOnScaleIn: true } } });

  it("is not published before it is provisioned again, by any sync or by its old provision's status", async () => {
    const f = warmPoolFleet();
    f.aws.autoscaling.setDesired(1);
    const id = onlyInstance(f);
    await f.run(until(f.aws.clock, () => states(f.aws)[id] === "InService"));
    const [firstSuccess] = published(
      f,
      (e) => e.source === "aws.ssm" && e.detail.status === "Success" && e.detail["instance-id"] === id,
    );
    f.aws.autoscaling.setDesired(0);
    await f.run(until(f.aws.clock, () => f.aws.autoscaling.warmPool.has(id)));
    expect(recordInstanceIds(f.aws)).toEqual([]);

    f.aws.autoscaling.setDesired(1);
    expect(states(f.aws)[id]).toBe("Pending:Wait");
    // A scheduled reconcile, and the earlier launch's Success delivered again, before provision ends.
    await f.run(f.cp.dns.sync());
    redeliver(f, firstSuccess);
    await f.advance(20_000);
    expect(recordInstanceIds(f.aws)).toEqual([]);
    expect(states(f.aws)[id]).toBe("Pending:Wait");

    await f.run(until(f.aws.clock, () => states(f.aws)[id] === "InService"));
    expect(recordInstanceIds(f.aws)).toEqual([id]);
    expect(provisionRuns(f, id)).toBe(2);
  });
});
