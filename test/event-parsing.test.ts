import {
  delaySeconds,
  entersService,
  isDeferred,
  isSsmEvent,
  lifecycleEventPattern,
  MAX_DELAY_SECONDS,
  matchesPattern,
  parseDeferred,
  parseLifecycleEvent,
  parseSsmInvocationEvent,
} from "@ftpfleet/core";
import { describe, expect, it } from "vitest";
import { collect } from "../packages/core/src/aws/pages";
import { fixture } from "./support";

const action = (event: Record<string, unknown>) => {
  const parsed = parseLifecycleEvent(event, "ftpfleet-test");
  if (parsed.kind !== "action") throw new Error("not an action");
  return parsed.action;
};

describe("lifecycle events, at the edges", () => {
  it("names a detail-type that disagrees with the transition", () => {
    const event = { ...fixture("launch"), "detail-type": "EC2 Instance-terminate Lifecycle Action" };
    expect(() => parseLifecycleEvent(event, "ftpfleet-test")).toThrow(
      'malformed Auto Scaling lifecycle event: detail-type "EC2 Instance-terminate Lifecycle Action" disagrees with LifecycleTransition autoscaling:EC2_INSTANCE_LAUNCHING',
    );
  });

  it("says which event is malformed when the envelope is wrong", () => {
    expect(() => parseLifecycleEvent({ ...fixture("launch"), source: "aws.ec2" }, "ftpfleet-test")).toThrow(
      /^malformed Auto Scaling lifecycle event: /,
    );
  });

  it("enters service only on a launch into the group", () => {
    const launch = action(fixture("launch"));
    expect(entersService(launch)).toBe(true);
    expect(entersService({ ...launch, destination: undefined })).toBe(true);
    expect(entersService(action(fixture("launch-into-warm-pool")))).toBe(false);
    expect(entersService({ ...action(fixture("terminate")), destination: undefined })).toBe(false);
  });
});

describe("deferred messages", () => {
  it("are our own kinds only", () => {
    expect(isDeferred({ kind: "ftpfleet.start-drain" })).toBe(true);
    expect(isDeferred({ kind: "other.start-drain" })).toBe(false);
    expect(isDeferred({ kind: 7 })).toBe(false);
    expect(isDeferred(null)).toBe(false);
    expect(isDeferred("ftpfleet.start-drain")).toBe(false);
  });

  it("wait for an agent only on behalf of a launch", () => {
    const terminate = action(fixture("terminate"));
    expect(() =>
      parseDeferred({ kind: "ftpfleet.await-agent", action: terminate, notBefore: 0, deadline: 0 }),
    ).toThrow(/a launch action/);
    const launch = action(fixture("launch"));
    expect(
      parseDeferred({ kind: "ftpfleet.await-agent", action: launch, notBefore: 0, deadline: 0 }),
    ).toMatchObject({
      kind: "ftpfleet.await-agent",
    });
  });

  it("are delayed by SQS for what is left, within 0 to 15 minutes", () => {
    expect(delaySeconds(10_500, 0)).toBe(11);
    expect(delaySeconds(0, 10_000)).toBe(0);
    expect(delaySeconds(3_600_000, 0)).toBe(MAX_DELAY_SECONDS);
  });
});

describe("SSM events and patterns", () => {
  it("recognise SSM events by their source only", () => {
    expect(isSsmEvent(fixture("ssm-invocation-success"))).toBe(true);
    expect(isSsmEvent(fixture("launch"))).toBe(false);
    expect(isSsmEvent(null)).toBe(false);
    expect(isSsmEvent("aws.ssm")).toBe(false);
  });

  it("name a malformed SSM status event", () => {
    expect(() => parseSsmInvocationEvent({ ...fixture("ssm-invocation-success"), detail: {} })).toThrow(
      /^malformed SSM command status event/,
    );
  });

  it("match nothing that is not an object", () => {
    const pattern = lifecycleEventPattern("ftpfleet-test");
    expect(matchesPattern(fixture("launch"), pattern)).toBe(true);
    expect(matchesPattern(null, pattern)).toBe(false);
    expect(matchesPattern({ ...fixture("launch"), detail: null }, pattern)).toBe(false);
    expect(matchesPattern("aws.autoscaling", pattern)).toBe(false);
  });
});

describe("collect", () => {
  it("gathers every item of every page, in order", async () => {
    async function* pages() {
      yield { items: [1, 2] };
      yield { items: [] };
      yield { items: [3] };
    }
    expect(await collect(pages(), (page) => page.items)).toEqual([1, 2, 3]);
  });
});
