import {
  entersService,
  InvalidInputError,
  lifecycleEventPattern,
  matchesPattern,
  parseDeferred,
  parseLifecycleEvent,
} from "@ftpfleet/core";
import { describe, expect, it } from "vitest";
import { fixture } from "./support";

const asg = "ftpfleet-test";

describe("parseLifecycleEvent", () => {
  it("reads a launch action as AWS documents it", () => {
    const outcome = parseLifecycleEvent(fixture("launch"), asg);
    expect(outcome).toEqual({
      kind: "action",
      action: {
        transition: "launch",
        instanceId: "i-1234567890abcdef0",
        asgName: asg,
        hookName: "ftpfleet-launch",
        token: "87654321-4321-4321-4321-210987654321",
        origin: "EC2",
        destination: "AutoScalingGroup",
        metadata: '{"fleet":"test"}',
        eventId: "468fb6e9-2d2a-4bd3-9e4c-6b2a5e1f0c11",
      },
    });
  });

  it("reads a terminate action", () => {
    const outcome = parseLifecycleEvent(fixture("terminate"), asg);
    expect(outcome.kind === "action" && outcome.action.transition).toBe("terminate");
    expect(outcome.kind === "action" && outcome.action.origin).toBe("AutoScalingGroup");
  });

  it.each([
    ["launch", true],
    ["launch-into-warm-pool", false],
    ["launch-from-warm-pool", true],
    ["terminate", false],
    ["terminate-from-warm-pool", false],
  ])("tells whether %s enters service (%s)", (name, expected) => {
    const outcome = parseLifecycleEvent(fixture(name), asg);
    if (outcome.kind !== "action") throw new Error("expected an action");
    expect(entersService(outcome.action)).toBe(expected);
  });

  it("ignores the test notification sent when a hook is created", () => {
    expect(parseLifecycleEvent(fixture("test-notification"), asg)).toMatchObject({
      kind: "ignored",
      reason: "test notification",
    });
  });

  it("ignores events of other Auto Scaling groups", () => {
    expect(parseLifecycleEvent(fixture("launch-other-group"), asg)).toMatchObject({
      kind: "ignored",
      reason: expect.stringContaining("someone-elses-group"),
    });
  });

  // biome-ignore lint/suspicious/noExplicitAny: each case reaches into the fixture to break one field.
  const broken: [string, (e: Record<string, any>) => void][] = [
    ["no token", (e) => delete e.detail.LifecycleActionToken],
    ["a token that is not a UUID", (e) => (e.detail.LifecycleActionToken = "x; rm -rf /")],
    ["an instance id that is not one", (e) => (e.detail.EC2InstanceId = "i-$(reboot)")],
    ["another source", (e) => (e.source = "aws.ec2")],
    ["an unknown transition", (e) => (e.detail.LifecycleTransition = "autoscaling:EC2_INSTANCE_REBOOTING")],
    ["an unknown destination", (e) => (e.detail.Destination = "Moon")],
    [
      "a detail-type that contradicts the transition",
      (e) => (e["detail-type"] = "EC2 Instance-terminate Lifecycle Action"),
    ],
    ["no detail", (e) => delete e.detail],
    ["a bad time", (e) => (e.time = "yesterday")],
  ];
  it.each(broken)("rejects an event with %s, naming the problem", (_what, breakIt) => {
    const event = fixture("launch");
    breakIt(event);
    expect(() => parseLifecycleEvent(event, asg)).toThrow(InvalidInputError);
  });

  it("rejects things that are not events at all", () => {
    for (const input of [null, 42, "launch", [], {}]) {
      expect(() => parseLifecycleEvent(input, asg)).toThrow(/malformed Auto Scaling lifecycle event/);
    }
  });
});

describe("parseDeferred", () => {
  it("refuses to defer a launch action", () => {
    const launch = parseLifecycleEvent(fixture("launch"), asg);
    if (launch.kind !== "action") throw new Error("expected an action");
    expect(() =>
      parseDeferred({ kind: "ftpfleet.complete-after-drain", action: launch.action, notBefore: 1 }),
    ).toThrow(/only terminate actions/);
  });
});

describe("lifecycleEventPattern", () => {
  it("routes this group's launch and terminate events and nothing else", () => {
    const pattern = lifecycleEventPattern(asg);
    expect(matchesPattern(fixture("launch"), pattern)).toBe(true);
    expect(matchesPattern(fixture("terminate"), pattern)).toBe(true);
    expect(matchesPattern(fixture("launch-other-group"), pattern)).toBe(false);
    expect(matchesPattern({ ...fixture("launch"), source: "aws.ec2" }, pattern)).toBe(false);
  });
});
