import { InvalidInput } from "@aws-sdk/client-route-53";
import { GetCommandInvocationCommand, SendCommandCommand } from "@aws-sdk/client-ssm";
import { READY_TAG, until } from "@ftpfleet/core";
import type { SimulatedClock } from "@ftpfleet/simulated-aws";
import { type CommandExecutor, INLINE_STDOUT_LIMIT } from "@ftpfleet/simulated-aws";
import { afterEach, describe, expect, it } from "vitest";
import { type Fleet, provisionedEnv, recordInstanceIds, simulatedFleet, states } from "./support";

let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
});

type Behaviour = (
  doc: "provision" | "drain",
  instanceId: string,
) => Promise<{ exitCode: number; stdout: string; stderr: string }>;

function start(
  behaviour: (clock: SimulatedClock) => Behaviour,
  options: Parameters<typeof simulatedFleet>[0] = {},
): Fleet {
  let clockRef: SimulatedClock | undefined;
  const executor: CommandExecutor = ({ document, instanceId }) => {
    if (!clockRef) throw new Error("no clock");
    return behaviour(clockRef)(document.endsWith("-drain") ? "drain" : "provision", instanceId);
  };
  fleet = simulatedFleet({
    ...options,
    env: { ...provisionedEnv, ...options.env },
    commandExecutor: executor,
  });
  clockRef = fleet.aws.clock;
  return fleet;
}

const succeedAfter = (ms: number) => (clock: SimulatedClock) => async () => {
  await clock.sleep(ms);
  return { exitCode: 0, stdout: "ok\n", stderr: "" };
};

const lines = (f: Fleet, msg: string, instanceId?: string) =>
  f.log.lines.filter((l) => l.msg === msg && (!instanceId || l.instanceId === instanceId));
const inService = (f: Fleet, n: number) => () =>
  Object.values(states(f.aws)).filter((s) => s === "InService").length === n;

describe("provisioning a new instance", () => {
  it("runs provision, and only after it succeeds publishes the record and continues", async () => {
    const f = start(succeedAfter(90_000));
    f.aws.autoscaling.setDesired(2);
    let recordsWhileProvisioning = -1;
    await f.run(
      until(f.aws.clock, () => {
        if (lines(f, "provision.started").length === 2 && recordsWhileProvisioning < 0) {
          recordsWhileProvisioning = recordInstanceIds(f.aws).length;
        }
        return inService(f, 2)();
      }),
    );
    expect(recordsWhileProvisioning).toBe(0);
    expect(recordInstanceIds(f.aws)).toEqual([...f.aws.autoscaling.members.keys()].sort());
    // One SendCommand for both instances: a batch is one command.
    expect(f.aws.ssm.calls.get("SendCommand")).toBe(1);
    const [id] = [...f.aws.autoscaling.members.keys()];
    const trail = f.log.lines.filter((l) => l.instanceId === id).map((l) => l.msg);
    expect(trail).toEqual(
      expect.arrayContaining([
        "provision.started",
        "provision.succeeded",
        "dns.joined",
        "lifecycle.completed",
      ]),
    );
    expect(trail.indexOf("provision.started")).toBeLessThan(trail.indexOf("provision.succeeded"));
    expect(trail.indexOf("provision.succeeded")).toBeLessThan(trail.indexOf("dns.joined"));
    expect(trail.indexOf("dns.joined")).toBeLessThan(trail.indexOf("lifecycle.completed"));
    // Pending and InProgress status events are not results: nothing had to be checked and ignored.
    expect(lines(f, "provision.status-ignored")).toEqual([]);
  });

  it("waits for a late SSM agent with heartbeats instead of sleeping", async () => {
    const f = start(succeedAfter(30_000), { ssm: { agentDelayMs: 100_000 } });
    f.aws.autoscaling.setDesired(1);
    await f.run(until(f.aws.clock, inService(f, 1)));
    expect(lines(f, "provision.awaiting-agent").length).toBeGreaterThanOrEqual(5);
    expect(f.aws.autoscaling.calls.get("RecordLifecycleActionHeartbeat")).toBeGreaterThanOrEqual(5);
    expect(recordInstanceIds(f.aws)).toHaveLength(1);
  });

  it("abandons an instance whose agent never comes online, and never lists it", async () => {
    const f = start(succeedAfter(30_000), { ssm: { agentDelayMs: 24 * 3600_000 } });
    f.aws.autoscaling.setDesired(1);
    const [first] = [...f.aws.autoscaling.members.keys()];
    await f.run(until(f.aws.clock, () => lines(f, "provision.agent-offline", first).length > 0));
    expect(f.aws.clock.now() - Date.parse("2026-01-01T00:00:00Z")).toBeGreaterThanOrEqual(300_000);
    await f.advance(1_000);
    expect(states(f.aws)[first ?? ""]).not.toBe("InService");
    expect(recordInstanceIds(f.aws)).toEqual([]);
    expect(lines(f, "lifecycle.completed", first)).toEqual([
      expect.objectContaining({
        result: "ABANDON",
        reason: "SSM agent never came online",
        transition: "launch",
      }),
    ]);
  });

  it("abandons an instance whose provision fails, logging the first lines of stderr and where the output is", async () => {
    const f = start((clock) => async () => {
      await clock.sleep(20_000);
      return { exitCode: 1, stdout: "", stderr: "s3fs: bucket ftpfleet-files not found\nmount failed\n" };
    });
    f.aws.autoscaling.setDesired(1);
    const [id] = [...f.aws.autoscaling.members.keys()];
    await f.run(until(f.aws.clock, () => lines(f, "lifecycle.completed", id).length > 0));
    const failure = lines(f, "provision.failed", id)[0];
    expect(failure).toMatchObject({
      status: "Failed",
      stderr: expect.stringContaining("bucket ftpfleet-files not found"),
    });
    expect(String(failure?.output)).toMatch(/^https:\/\/s3\..*ftpfleet-ssm-output\//);
    expect(lines(f, "lifecycle.completed", id)[0]).toMatchObject({
      result: "ABANDON",
      reason: "provision Failed",
      transition: "launch",
      commandId: expect.any(String),
    });
    expect(recordInstanceIds(f.aws)).not.toContain(id);
    // Never marked ready, so never in DNS, not even for a moment.
    expect(f.log.lines.filter((l) => l.msg === "dns.applied" && l.instanceId === id)).toEqual([]);
    expect(f.aws.ec2.instances.get(id ?? "")?.tags.has(READY_TAG)).toBe(false);
  });

  it("retries a provision success whose DNS sync failed, and the instance still gets in", async () => {
    const f = start(succeedAfter(30_000));
    f.aws.autoscaling.setDesired(1);
    const [id = ""] = [...f.aws.autoscaling.members.keys()];
    await f.run(until(f.aws.clock, () => lines(f, "provision.started", id).length > 0));
    f.aws.route53.faults.inject(
      "ChangeResourceRecordSets",
      () => new InvalidInput({ $metadata: {}, message: "refused for the test" }),
      1,
    );
    await f.run(until(f.aws.clock, inService(f, 1), { limitMs: 600_000 }));
    expect(lines(f, "dns.sync-failed")).toHaveLength(1);
    expect(recordInstanceIds(f.aws)).toEqual([id]);
    expect(lines(f, "lifecycle.completed", id)).toEqual([expect.objectContaining({ result: "CONTINUE" })]);
  });

  it("abandons an instance whose provision times out", async () => {
    const f = start((clock) => async () => {
      await clock.sleep(10 * 3600_000);
      return { exitCode: 0, stdout: "", stderr: "" };
    });
    f.aws.autoscaling.setDesired(1);
    const [id] = [...f.aws.autoscaling.members.keys()];
    await f.run(
      until(f.aws.clock, () => lines(f, "provision.failed", id).length > 0, {
        stepMs: 10_000,
        limitMs: 3 * 3600_000,
      }),
    );
    expect(lines(f, "provision.failed", id)[0]).toMatchObject({ status: "TimedOut" });
    expect(recordInstanceIds(f.aws)).toEqual([]);
  });

  it("handles every lifecycle and command event twice with the same result", async () => {
    const f = start(succeedAfter(30_000), { duplicateEvents: true });
    f.aws.autoscaling.setDesired(3);
    await f.run(until(f.aws.clock, inService(f, 3)));
    await f.advance(60_000);
    expect(recordInstanceIds(f.aws)).toHaveLength(3);
    expect(f.aws.lifecycleQueue.deadLetters).toEqual([]);
    expect(lines(f, "lifecycle.complete-failed")).toEqual([]);
    // Provisioned once each, and each launch answered once.
    for (const id of f.aws.autoscaling.members.keys()) {
      const runs = [...f.aws.ssm.invocations.values()].filter(
        (i) => i.instanceId === id && i.document.endsWith("-provision"),
      );
      expect(runs).toHaveLength(1);
      expect(lines(f, "lifecycle.completed", id).filter((l) => l.transition === "launch")).toHaveLength(1);
    }
    expect(lines(f, "lifecycle.already-closed")).toEqual([]);
  });
});

describe("terminating a provisioned instance", () => {
  it("leaves DNS, waits one TTL, runs drain, and continues when drain ends", async () => {
    const drainMs = 45_000;
    const f = start((clock) => async (doc) => {
      await clock.sleep(doc === "drain" ? drainMs : 30_000);
      return { exitCode: 0, stdout: "drained\n", stderr: "" };
    });
    f.aws.autoscaling.setDesired(2);
    await f.run(until(f.aws.clock, inService(f, 2)));
    f.aws.autoscaling.setDesired(1);
    const leaving = Object.entries(states(f.aws)).find(([, s]) => s === "Terminating:Wait")?.[0] ?? "";
    await f.run(until(f.aws.clock, () => !f.aws.autoscaling.members.has(leaving)));
    const [left] = lines(f, "dns.left", leaving);
    const [drain] = lines(f, "drain.started", leaving);
    const [completed] = lines(f, "lifecycle.completed", leaving).filter((l) => l.transition === "terminate");
    const at = (l: Record<string, unknown> | undefined) => Date.parse(String(l?.time));
    expect(at(drain) - at(left)).toBeGreaterThanOrEqual(60_000);
    expect(at(completed) - at(drain)).toBeGreaterThanOrEqual(drainMs);
    expect(completed).toMatchObject({ drained: true, drainStatus: "Success", commandId: drain?.commandId });
    expect(left).toMatchObject({ transition: "terminate" });
    expect(drain).toMatchObject({ transition: "terminate" });
    // Drain gets what is left of drainSeconds once the TTL has passed: 90 - 60.
    expect(f.aws.ssm.commands.get(String(drain?.commandId))?.parameters).toMatchObject({
      TimeoutSeconds: ["30"],
    });
    expect(recordInstanceIds(f.aws)).toEqual([...f.aws.autoscaling.members.keys()]);
    expect(lines(f, "lifecycle.already-closed")).toEqual([]);
    expect(f.aws.lifecycleQueue.deadLetters).toEqual([]);
  });

  it("continues at once when the instance's agent is gone (crash), and the replacement is provisioned", async () => {
    const f = start(succeedAfter(30_000));
    f.aws.autoscaling.setDesired(1);
    await f.run(until(f.aws.clock, inService(f, 1)));
    const [victim] = [...f.aws.autoscaling.members.keys()];
    f.aws.autoscaling.crash(victim ?? "");
    await f.run(until(f.aws.clock, () => !f.aws.autoscaling.members.has(victim ?? "") && inService(f, 1)()));
    expect(
      lines(f, "lifecycle.completed", victim).find((l) => l.reason === "SSM agent unreachable"),
    ).toMatchObject({ drained: false, transition: "terminate", result: "CONTINUE" });
    expect(recordInstanceIds(f.aws)).toEqual([...f.aws.autoscaling.members.keys()]);
  });
});

describe("SimulatedSsm", () => {
  it("refuses parameters outside the document's allowedPattern, as SSM does", async () => {
    const f = start(succeedAfter(1_000));
    f.aws.autoscaling.setDesired(1);
    await f.advance(30_000);
    const [id] = [...f.aws.autoscaling.members.keys()];
    const send = (BucketName: string) =>
      f.run(
        f.aws.ssm.client().send(
          new SendCommandCommand({
            DocumentName: "test-provision",
            InstanceIds: [id ?? ""],
            Parameters: { BucketName: [BucketName], BucketRegion: ["eu-west-1"] },
          }),
        ),
      );
    await expect(send("files; rm -rf /")).rejects.toMatchObject({ name: "InvalidParameters" });
    await expect(send("$(curl evil)")).rejects.toMatchObject({ name: "InvalidParameters" });
    await expect(send("ftpfleet-files")).resolves.toMatchObject({ Command: { Status: "Pending" } });
  });

  it("keeps only 24,000 characters of stdout inline, and knows an invocation only a moment after SendCommand", async () => {
    const f = start((clock) => async () => {
      await clock.sleep(1_000);
      return { exitCode: 0, stdout: "x".repeat(30_000), stderr: "" };
    });
    f.aws.autoscaling.setDesired(1);
    await f.advance(30_000);
    const [id] = [...f.aws.autoscaling.members.keys()];
    const client = f.aws.ssm.client();
    const sent = await f.run(
      client.send(
        new SendCommandCommand({
          DocumentName: "test-apply-users",
          InstanceIds: [id ?? ""],
          Parameters: {},
        }),
      ),
    );
    const ask = () =>
      client.send(new GetCommandInvocationCommand({ CommandId: sent.Command?.CommandId, InstanceId: id }));
    await expect(f.run(ask())).rejects.toMatchObject({ name: "InvocationDoesNotExist" });
    await f.advance(5_000);
    const out = await f.run(ask());
    expect(out.Status).toBe("Success");
    expect(out.StandardOutputContent).toHaveLength(INLINE_STDOUT_LIMIT);
  });
});
