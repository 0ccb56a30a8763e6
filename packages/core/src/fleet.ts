import type { GroupInstance } from "./adapters/autoscaling";
import type { InstanceView } from "./adapters/ec2";
import type { ServingInstance } from "./dns/records";

/** States in which an instance is entering service; it serves once marked ready. */
export const ENTERING_STATES: ReadonlySet<string> = new Set(["Pending:Wait", "Pending:Proceed"]);

export interface Membership {
  serving: ServingInstance[];
  excluded: { instanceId: string; reason: string }[];
}

/** Pure: which of the group's instances should be in DNS right now, and why the others are not. */
export function selectServing(
  group: readonly GroupInstance[],
  instances: readonly InstanceView[],
  address: "public" | "private",
): Membership {
  const byId = new Map(instances.map((i) => [i.instanceId, i]));
  const membership: Membership = { serving: [], excluded: [] };
  for (const member of group) {
    const view = byId.get(member.instanceId);
    const ip = address === "public" ? view?.publicIp : view?.privateIp;
    const reason =
      member.lifecycleState !== "InService" && !ENTERING_STATES.has(member.lifecycleState)
        ? `lifecycle state ${member.lifecycleState}`
        : member.healthStatus !== "Healthy"
          ? `health ${member.healthStatus}`
          : view?.state !== "running"
            ? `EC2 state ${view?.state ?? "unknown"}`
            : member.lifecycleState !== "InService" && !view.ready
              ? "not ready yet"
              : !ip
                ? `no ${address} IPv4 address`
                : undefined;
    if (reason || !ip)
      membership.excluded.push({ instanceId: member.instanceId, reason: reason ?? "no address" });
    else membership.serving.push({ instanceId: member.instanceId, address: ip });
  }
  return membership;
}
