import type { ServingInstance } from "./dns/records";
import type { GroupInstance, InstanceView } from "./ports";

/** States in which an instance is entering service; it serves once ready for its current launch. */
export function isEntering(lifecycleState: string): boolean {
  return lifecycleState === "Pending:Wait" || lifecycleState === "Pending:Proceed";
}

/** Why a member of the group is not in DNS right now. */
export type Exclusion =
  /** Neither in service nor entering it (leaving, standby, warm pool, …). */
  | { kind: "lifecycle"; lifecycleState: string }
  | { kind: "unhealthy"; healthStatus: string }
  | { kind: "not-running"; ec2State: string }
  /** Entering service, but provisioning has not finished. */
  | { kind: "not-ready" }
  /** Running without the address clients must reach: it can never serve. */
  | { kind: "no-address"; address: "public" | "private" };

export interface Membership {
  serving: ServingInstance[];
  excluded: { instanceId: string; reason: Exclusion }[];
  /** Instances still carrying a launch's tags while in service or out of it (warm pool, leaving):
   * the tags must go, or a later return to `Pending:Wait` would look ready for a launch it never
   * passed. */
  finishedLaunches: string[];
}

/** Pure: which of the group's instances should be in DNS right now, and why the others are not. */
export function selectServing(
  group: readonly GroupInstance[],
  instances: readonly InstanceView[],
  address: "public" | "private",
): Membership {
  const byId = new Map(instances.map((i) => [i.instanceId, i]));
  const membership: Membership = { serving: [], excluded: [], finishedLaunches: [] };
  const entering = new Set(group.filter((m) => isEntering(m.lifecycleState)).map((m) => m.instanceId));
  for (const view of instances) {
    if ((view.launch || view.readyFor) && !entering.has(view.instanceId)) {
      membership.finishedLaunches.push(view.instanceId);
    }
  }
  for (const member of group) {
    const verdict = judge(member, byId.get(member.instanceId), address);
    if (verdict.serves) {
      const outOfRotation = byId.get(member.instanceId)?.outOfRotation !== undefined;
      membership.serving.push({
        instanceId: member.instanceId,
        address: verdict.address,
        ...(outOfRotation ? { outOfRotation } : {}),
      });
    } else membership.excluded.push({ instanceId: member.instanceId, reason: verdict.reason });
  }
  return membership;
}

function judge(
  member: GroupInstance,
  view: InstanceView | undefined,
  address: "public" | "private",
): { serves: true; address: string } | { serves: false; reason: Exclusion } {
  const exclude = (reason: Exclusion) => ({ serves: false, reason }) as const;
  const entering = isEntering(member.lifecycleState);
  if (member.lifecycleState !== "InService" && !entering) {
    return exclude({ kind: "lifecycle", lifecycleState: member.lifecycleState });
  }
  if (member.healthStatus !== "Healthy")
    return exclude({ kind: "unhealthy", healthStatus: member.healthStatus });
  if (view?.state !== "running") return exclude({ kind: "not-running", ec2State: view?.state ?? "unknown" });
  if (entering && !(view.readyFor !== undefined && view.readyFor === view.launch)) {
    return exclude({ kind: "not-ready" });
  }
  const ip = address === "public" ? view.publicIp : view.privateIp;
  if (!ip) return exclude({ kind: "no-address", address });
  return { serves: true, address: ip };
}

/** For logs and dry runs. */
export function describeExclusion(reason: Exclusion): string {
  switch (reason.kind) {
    case "lifecycle":
      return `lifecycle state ${reason.lifecycleState}`;
    case "unhealthy":
      return `health ${reason.healthStatus}`;
    case "not-running":
      return `EC2 state ${reason.ec2State}`;
    case "not-ready":
      return "not ready yet";
    case "no-address":
      return `no ${reason.address} IPv4 address`;
  }
}
