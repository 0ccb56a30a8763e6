import { describeExclusion, type GroupInstance, type InstanceView, selectServing } from "@ftpfleet/core";
import { describe, expect, it } from "vitest";

const member = (instanceId: string, lifecycleState: string, healthStatus = "Healthy"): GroupInstance => ({
  instanceId,
  lifecycleState,
  healthStatus,
});
const running = (instanceId: string, tags: Partial<InstanceView> = {}): InstanceView => ({
  instanceId,
  state: "running",
  privateIp: `10.0.0.${instanceId.slice(-1)}`,
  publicIp: `203.0.113.${instanceId.slice(-1)}`,
  ...tags,
});
const ready = { launch: "a1/cmd-1", readyFor: "a1/cmd-1" };

describe("selectServing", () => {
  it("serves in-service instances, and entering ones only when ready for their current launch", () => {
    const membership = selectServing(
      [
        member("i-1", "InService"),
        member("i-2", "Pending:Wait"),
        member("i-3", "Pending:Proceed"),
        member("i-4", "Pending:Wait"),
        member("i-5", "Pending:Wait"),
      ],
      [
        running("i-1"),
        running("i-2", ready),
        running("i-3", ready),
        // Ready for an earlier launch: provisioned once, back from a warm pool, not provisioned again.
        running("i-4", { launch: "b2/cmd-9", readyFor: "a1/cmd-1" }),
        running("i-5", { launch: "a1/cmd-1" }),
      ],
      "public",
    );
    expect(membership.serving).toEqual([
      { instanceId: "i-1", address: "203.0.113.1" },
      { instanceId: "i-2", address: "203.0.113.2" },
      { instanceId: "i-3", address: "203.0.113.3" },
    ]);
    expect(membership.excluded).toEqual([
      { instanceId: "i-4", reason: { kind: "not-ready" } },
      { instanceId: "i-5", reason: { kind: "not-ready" } },
    ]);
  });

  it("says why each other member is out, as a typed reason", () => {
    const membership = selectServing(
      [
        member("i-1", "Terminating:Wait"),
        member("i-2", "InService", "Unhealthy"),
        member("i-3", "InService"),
        member("i-4", "InService"),
        member("i-5", "Standby"),
      ],
      [
        running("i-1"),
        running("i-2"),
        { instanceId: "i-3", state: "stopping" },
        { instanceId: "i-4", state: "running" },
      ],
      "private",
    );
    expect(membership.serving).toEqual([]);
    expect(membership.excluded.map((e) => [e.instanceId, describeExclusion(e.reason)])).toEqual([
      ["i-1", "lifecycle state Terminating:Wait"],
      ["i-2", "health Unhealthy"],
      ["i-3", "EC2 state stopping"],
      ["i-4", "no private IPv4 address"],
      ["i-5", "lifecycle state Standby"],
    ]);
  });

  it("lists instances whose launch tags are no longer needed: in service, leaving, or in a warm pool", () => {
    const membership = selectServing(
      [member("i-1", "InService"), member("i-2", "Pending:Wait"), member("i-3", "Terminating:Wait")],
      [
        running("i-1", ready),
        running("i-2", ready),
        running("i-3", ready),
        running("i-4", ready),
        running("i-5"),
      ],
      "public",
    );
    // i-4 runs without being a member of the group: a warm pool instance.
    expect(membership.finishedLaunches).toEqual(["i-1", "i-3", "i-4"]);
  });
});
