import {
  autoScalingGroup,
  awsClients,
  ec2Instances,
  isClosedAction,
  isThrottle,
  isTransientAwsError,
  LAUNCH_TAG,
  launchOfCommand,
  launchRef,
  provisionSentFor,
  READY_TAG,
} from "@ftpfleet/core";
import { SimulatedAutoScaling, SimulatedClock, SimulatedEc2 } from "@ftpfleet/simulated-aws";
import { describe, expect, it } from "vitest";

const named = (name: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} happened`), { name }, extra);

describe("AWS error classification", () => {
  it("retries rate limits, a prior change in progress, server faults and what the SDK marks retryable", () => {
    expect(isTransientAwsError(named("Throttling"))).toBe(true);
    expect(isTransientAwsError(named("PriorRequestNotComplete"))).toBe(true);
    expect(isTransientAwsError(named("SomethingBroke", { $fault: "server" }))).toBe(true);
    expect(isTransientAwsError(named("SomethingBroke", { $fault: "client", $retryable: {} }))).toBe(true);
  });

  it("does not retry client errors, or anything that is not an Error", () => {
    expect(isTransientAwsError(named("ValidationError", { $fault: "client" }))).toBe(false);
    expect(isTransientAwsError({ name: "Throttling" })).toBe(false);
    expect(isTransientAwsError("Throttling")).toBe(false);
  });

  it("counts rate limits as throttling, but not a prior change in progress or client errors", () => {
    expect(isThrottle(named("Throttling"))).toBe(true);
    expect(isThrottle(named("RequestLimitExceeded"))).toBe(true);
    expect(isThrottle(named("PriorRequestNotComplete"))).toBe(false);
    expect(isThrottle(named("ValidationError"))).toBe(false);
    expect(isThrottle(named("InternalError"))).toBe(false);
    expect(isThrottle({ name: "Throttling" })).toBe(false);
  });

  it("recognises Auto Scaling's answer for an action that is no longer waiting, and only that", () => {
    expect(
      isClosedAction(named("ValidationError", { message: "No active Lifecycle Action found with token x" })),
    ).toBe(true);
    expect(isClosedAction(named("ValidationError", { message: "Group other not found" }))).toBe(false);
    expect(isClosedAction(named("Throttling", { message: "No active Lifecycle Action found" }))).toBe(false);
    expect(isClosedAction({ name: "ValidationError", message: "No active Lifecycle Action found" })).toBe(
      false,
    );
  });
});

describe("launch references", () => {
  it("name a launch by a short digest of its token, then by its provision command", () => {
    const ref = launchRef("token-a");
    expect(ref).toMatch(/^[0-9a-f]{16}$/);
    expect(launchRef("token-b")).not.toBe(ref);
    expect(launchRef("token-a", "cmd-1")).toBe(`${ref}/cmd-1`);
  });

  it("tell whether provision was already sent for this launch", () => {
    expect(provisionSentFor(launchRef("token-a", "cmd-1"), "token-a")).toBe(true);
    expect(provisionSentFor(launchRef("token-a"), "token-a")).toBe(false);
    expect(provisionSentFor(launchRef("token-b", "cmd-1"), "token-a")).toBe(false);
    expect(provisionSentFor(undefined, "token-a")).toBe(false);
  });

  it("tell whether a command is the one of this launch", () => {
    expect(launchOfCommand(launchRef("token-a", "cmd-1"), "cmd-1")).toBe(true);
    expect(launchOfCommand(launchRef("token-a", "cmd-1"), "cmd-2")).toBe(false);
    expect(launchOfCommand(launchRef("token-a"), "cmd-1")).toBe(false);
    expect(launchOfCommand(undefined, "cmd-1")).toBe(false);
  });
});

function group() {
  const clock = new SimulatedClock();
  const ec2 = new SimulatedEc2(clock);
  const hook = { name: "ftpfleet-launch", heartbeatTimeoutSeconds: 600, defaultResult: "ABANDON" as const };
  const fake = new SimulatedAutoScaling(clock, ec2, { name: "ftpfleet-test", launchHook: hook }, () => {});
  return { clock, ec2, fake };
}

describe("autoScalingGroup", () => {
  it("lists the members of its own group only", async () => {
    const { clock, fake } = group();
    fake.setDesired(2);
    const mine = await clock.run(autoScalingGroup(fake.client(), "ftpfleet-test", clock).instances());
    expect(mine.map((m) => [m.lifecycleState, m.healthStatus])).toEqual([
      ["Pending:Wait", "Healthy"],
      ["Pending:Wait", "Healthy"],
    ]);
    expect(await clock.run(autoScalingGroup(fake.client(), "another-group", clock).instances())).toEqual([]);
  });

  it("answers an action that is no longer waiting as closed, and lets any other refusal through", async () => {
    const { clock, fake } = group();
    const port = autoScalingGroup(fake.client(), "ftpfleet-test", clock);
    fake.setDesired(1);
    const [instanceId = ""] = [...fake.members.keys()];
    const action = { asgName: "ftpfleet-test", hookName: "ftpfleet-launch", instanceId };
    expect(await clock.run(port.complete(action, "CONTINUE"))).toBe("active");
    expect(await clock.run(port.complete(action, "CONTINUE"))).toBe("closed");
    await expect(clock.run(port.heartbeat({ ...action, asgName: "another-group" }))).rejects.toMatchObject({
      name: "ValidationError",
      message: expect.stringMatching(/not found/),
    });
  });
});

describe("ec2Instances", () => {
  it("lists the group's pending and running instances with their addresses and launch tags, nothing else", async () => {
    const clock = new SimulatedClock();
    const ec2 = new SimulatedEc2(clock, (n) => ({
      privateIp: `10.0.0.${n}`,
      ...(n === 1 ? { publicIp: "203.0.113.1" } : {}),
    }));
    const tag = { "aws:autoscaling:groupName": "ftpfleet-test" };
    const running = ec2.launch({ ...tag, [LAUNCH_TAG]: "a1/cmd-1", [READY_TAG]: "a1/cmd-1" });
    const pending = ec2.launch(tag);
    ec2.setState(pending.instanceId, "pending");
    const stopped = ec2.launch(tag);
    ec2.setState(stopped.instanceId, "stopped");
    ec2.launch({ "aws:autoscaling:groupName": "another-group" });
    const views = await clock.run(ec2Instances(ec2.client(), "ftpfleet-test", clock).groupInstances());
    expect(views).toStrictEqual([
      {
        instanceId: running.instanceId,
        state: "running",
        publicIp: "203.0.113.1",
        privateIp: "10.0.0.1",
        launch: "a1/cmd-1",
        readyFor: "a1/cmd-1",
      },
      { instanceId: pending.instanceId, state: "pending", privateIp: "10.0.0.2" },
    ]);
  });

  it("starts a launch not ready, clearing readiness left from an earlier one", async () => {
    const clock = new SimulatedClock();
    const ec2 = new SimulatedEc2(clock);
    const port = ec2Instances(ec2.client(), "ftpfleet-test", clock);
    const back = ec2.launch({ [LAUNCH_TAG]: "old/cmd-0", [READY_TAG]: "old/cmd-0" });
    const fresh = ec2.launch({});
    await clock.run(
      port.beginLaunch(
        new Map([
          [back.instanceId, "new/cmd-1"],
          [fresh.instanceId, "new/cmd-1"],
        ]),
      ),
    );
    expect(Object.fromEntries(back.tags)).toEqual({ [LAUNCH_TAG]: "new/cmd-1" });
    expect(Object.fromEntries(fresh.tags)).toEqual({ [LAUNCH_TAG]: "new/cmd-1" });
    await clock.run(port.markReady(new Map([[back.instanceId, "new/cmd-1"]])));
    expect(back.tags.get(READY_TAG)).toBe("new/cmd-1");
    await clock.run(port.beginLaunch(new Map([[fresh.instanceId, "boot"]]), { ready: true }));
    expect(Object.fromEntries(fresh.tags)).toEqual({ [LAUNCH_TAG]: "boot", [READY_TAG]: "boot" });
    await clock.run(port.forgetLaunch([back.instanceId, fresh.instanceId]));
    expect(back.tags.size + fresh.tags.size).toBe(0);
  });
});

describe("awsClients", () => {
  it("builds every real client with one SDK attempt per call: the adapters' retry is the only one", async () => {
    const clients = awsClients();
    const attempts = await Promise.all(Object.values(clients).map((client) => client.config.maxAttempts()));
    expect(attempts).toEqual([1, 1, 1, 1, 1]);
  });
});
