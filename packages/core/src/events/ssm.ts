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

/** The command-level twin of an invocation event: one per command, naming no instance. */
export const SSM_COMMAND_DETAIL_TYPE = "EC2 Command Status-change Notification";

export function isSsmEvent(input: unknown): boolean {
  return typeof input === "object" && input !== null && (input as { source?: unknown }).source === "aws.ssm";
}

/** Command-level status events are a known shape the fleet does not act on: it follows each
 * instance's invocation instead. */
export function isSsmCommandEvent(input: unknown): boolean {
  return (
    isSsmEvent(input) && (input as { "detail-type"?: unknown })["detail-type"] === SSM_COMMAND_DETAIL_TYPE
  );
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
