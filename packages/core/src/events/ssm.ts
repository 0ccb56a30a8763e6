import { z } from "zod";
import { parseOrThrow } from "../errors";
import { instanceIdSchema } from "./lifecycle";

/** EventBridge "EC2 Command Invocation Status-change Notification" (source aws.ssm): one per
 * instance and status change of a Run Command invocation. */
export const SSM_INVOCATION_DETAIL_TYPE = "EC2 Command Invocation Status-change Notification";

/** Statuses after which nothing more happens to an invocation. */
export const TERMINAL_STATUSES = [
  "Success",
  "Failed",
  "TimedOut",
  "Cancelled",
  "DeliveryTimedOut",
  "ExecutionTimedOut",
  "Undeliverable",
  "Terminated",
  "InvalidPlatform",
  "AccessDenied",
] as const;

const invocationEvent = z.object({
  id: z.string().min(1),
  "detail-type": z.literal(SSM_INVOCATION_DETAIL_TYPE),
  source: z.literal("aws.ssm"),
  time: z.string().datetime(),
  detail: z.object({
    "command-id": z.guid(),
    "document-name": z.string().regex(/^[A-Za-z0-9_.:/-]{3,128}$/),
    "instance-id": instanceIdSchema,
    status: z.string().regex(/^[A-Za-z]{1,32}$/),
    "requested-date-time": z.string().optional(),
  }),
});

export interface InvocationStatus {
  commandId: string;
  document: string;
  instanceId: string;
  status: string;
  eventId: string;
}

export function isSsmInvocationEvent(input: unknown): boolean {
  return typeof input === "object" && input !== null && (input as { source?: unknown }).source === "aws.ssm";
}

export function parseSsmInvocationEvent(input: unknown): InvocationStatus {
  const event = parseOrThrow(invocationEvent, input, "malformed SSM command status event");
  return {
    commandId: event.detail["command-id"],
    document: event.detail["document-name"],
    instanceId: event.detail["instance-id"],
    status: event.detail.status,
    eventId: event.id,
  };
}

export function isTerminal(status: string): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}
