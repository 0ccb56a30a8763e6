import { z } from "zod";
import { InvalidInputError, parseOrThrow } from "../errors";

/** EventBridge events from Auto Scaling lifecycle hooks, as AWS documents them
 * ("Amazon EC2 Auto Scaling event reference"). Delivery is at-least-once and unordered. */

export const instanceIdSchema = z
  .string()
  .regex(/^i-[0-9a-f]{8,17}$/, "an EC2 instance id such as i-0123456789abcdef0");
const location = z.enum(["EC2", "AutoScalingGroup", "WarmPool"]);
const transitions = {
  "autoscaling:EC2_INSTANCE_LAUNCHING": "launch",
  "autoscaling:EC2_INSTANCE_TERMINATING": "terminate",
} as const;
const detailTypes = {
  "EC2 Instance-launch Lifecycle Action": "launch",
  "EC2 Instance-terminate Lifecycle Action": "terminate",
} as const;

const actionDetail = z.object({
  LifecycleActionToken: z.guid(),
  AutoScalingGroupName: z.string().min(1).max(255),
  LifecycleHookName: z.string().regex(/^[A-Za-z0-9\-_/]{1,255}$/),
  EC2InstanceId: instanceIdSchema,
  LifecycleTransition: z.enum(["autoscaling:EC2_INSTANCE_LAUNCHING", "autoscaling:EC2_INSTANCE_TERMINATING"]),
  NotificationMetadata: z.string().max(1023).optional(),
  Origin: location.optional(),
  Destination: location.optional(),
});

/** Sent once when a hook is created: it names no instance and needs no answer. */
const testNotificationDetail = z.object({
  Event: z.literal("autoscaling:TEST_NOTIFICATION"),
  AutoScalingGroupName: z.string().min(1).max(255),
});

const envelope = z.object({
  version: z.string(),
  id: z.string().min(1),
  "detail-type": z.enum(["EC2 Instance-launch Lifecycle Action", "EC2 Instance-terminate Lifecycle Action"]),
  source: z.literal("aws.autoscaling"),
  account: z.string().regex(/^\d{12}$/),
  time: z.string().datetime(),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/),
  resources: z.array(z.string()),
  detail: z.record(z.string(), z.unknown()),
});

export type Location = z.infer<typeof location>;

/** One pending lifecycle action: what must be answered, for which instance, with which token. */
export const lifecycleActionSchema = z.object({
  transition: z.enum(["launch", "terminate"]),
  instanceId: instanceIdSchema,
  asgName: z.string().min(1).max(255),
  hookName: z.string().regex(/^[A-Za-z0-9\-_/]{1,255}$/),
  token: z.guid(),
  origin: location.optional(),
  destination: location.optional(),
  metadata: z.string().max(1023).optional(),
  eventId: z.string().min(1),
});

export type LifecycleAction = z.infer<typeof lifecycleActionSchema>;

export type LifecycleEventOutcome =
  | { kind: "action"; action: LifecycleAction }
  | { kind: "ignored"; reason: string; eventId: string };

/** Validates an EventBridge lifecycle event. Throws InvalidInputError for anything malformed;
 * returns "ignored" for events that are well-formed but not ours to act on. */
export function parseLifecycleEvent(input: unknown, asgName: string): LifecycleEventOutcome {
  const event = parseOrThrow(envelope, input, "malformed Auto Scaling lifecycle event");
  // A test notification says "Event"; anything else must be a whole lifecycle action, and a missing
  // or wrong field is named, not reported as "detail: Invalid input".
  const detail = parseOrThrow(
    "Event" in event.detail ? testNotificationDetail : actionDetail,
    event.detail,
    "malformed Auto Scaling lifecycle event",
    (path) => ["detail", ...path.map(String)].join("."),
  );
  if (detail.AutoScalingGroupName !== asgName) {
    return {
      kind: "ignored",
      reason: `event for another group (${detail.AutoScalingGroupName})`,
      eventId: event.id,
    };
  }
  if ("Event" in detail) return { kind: "ignored", reason: "test notification", eventId: event.id };
  const transition = transitions[detail.LifecycleTransition];
  if (detailTypes[event["detail-type"]] !== transition) {
    throw new InvalidInputError("malformed Auto Scaling lifecycle event", [
      `detail-type "${event["detail-type"]}" disagrees with LifecycleTransition ${detail.LifecycleTransition}`,
    ]);
  }
  return {
    kind: "action",
    action: {
      transition,
      instanceId: detail.EC2InstanceId,
      asgName: detail.AutoScalingGroupName,
      hookName: detail.LifecycleHookName,
      token: detail.LifecycleActionToken,
      origin: detail.Origin,
      destination: detail.Destination,
      metadata: detail.NotificationMetadata,
      eventId: event.id,
    },
  };
}

/** Whether an action moves the instance into serving (not into a warm pool). */
export function entersService(action: LifecycleAction): boolean {
  return action.transition === "launch" && (action.destination ?? "AutoScalingGroup") === "AutoScalingGroup";
}
