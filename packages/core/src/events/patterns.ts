import { documentName, type FleetConfig } from "../config";
import { SSM_INVOCATION_DETAIL_TYPE, TERMINAL_STATUSES } from "./ssm";

/** EventBridge event patterns, as plain data: the stacks deploy them, the simulation routes by them,
 * and tests check them. Every stage shares the default bus, so each rule names this fleet's own
 * group or documents. */
export type EventPattern = { [key: string]: EventPattern | readonly (string | number | boolean)[] };

export function lifecycleEventPattern(asgName: string): EventPattern {
  return {
    source: ["aws.autoscaling"],
    "detail-type": ["EC2 Instance-launch Lifecycle Action", "EC2 Instance-terminate Lifecycle Action"],
    detail: { AutoScalingGroupName: [asgName] },
  };
}

/** The end of a provision or drain run on one of the fleet's instances. */
export function commandStatusPattern(config: Pick<FleetConfig, "ownerId">): EventPattern {
  return {
    source: ["aws.ssm"],
    "detail-type": [SSM_INVOCATION_DETAIL_TYPE],
    detail: {
      "document-name": [documentName(config, "provision"), documentName(config, "drain")],
      status: TERMINAL_STATUSES,
    },
  };
}

/** Exact-value matching, the subset of EventBridge patterns the fleet uses. */
export function matchesPattern(event: unknown, pattern: EventPattern): boolean {
  if (typeof event !== "object" || event === null) return false;
  return Object.entries(pattern).every(([key, expected]) => {
    const value = (event as Record<string, unknown>)[key];
    if (Array.isArray(expected)) return expected.includes(value as string);
    return matchesPattern(value, expected as EventPattern);
  });
}
