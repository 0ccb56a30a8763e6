import { z } from "zod";
import { parseOrThrow } from "../errors";
import { lifecycleActionSchema } from "./lifecycle";

/** Our own messages on the lifecycle queue: something to do for a lifecycle action once
 * `notBefore` (epoch ms) has passed. They let an instance wait for minutes (its SSM agent to come
 * online, resolvers to forget its record, sessions to drain) without any Lambda waiting. */
const launchAction = lifecycleActionSchema.refine((a) => a.transition === "launch", "a launch action");
const terminateAction = lifecycleActionSchema.refine(
  (a) => a.transition === "terminate",
  "only terminate actions are deferred here",
);

export const deferredSchema = z.discriminatedUnion("kind", [
  /** Terminate: answer CONTINUE (no drain document to run). */
  z.object({
    kind: z.literal("ftpfleet.complete-after-drain"),
    action: terminateAction,
    notBefore: z.number().int().nonnegative(),
  }),
  /** Terminate: the TTL has passed since the record left; run the drain document. */
  z.object({
    kind: z.literal("ftpfleet.start-drain"),
    action: terminateAction,
    notBefore: z.number().int().nonnegative(),
  }),
  /** Launch: look again whether the instance's SSM agent is online; give up after `deadline`. */
  z.object({
    kind: z.literal("ftpfleet.await-agent"),
    action: launchAction,
    notBefore: z.number().int().nonnegative(),
    deadline: z.number().int().nonnegative(),
  }),
]);

export type Deferred = z.infer<typeof deferredSchema>;
export type DeferredKind = Deferred["kind"];

export function isDeferred(input: unknown): boolean {
  const kind = typeof input === "object" && input !== null ? (input as { kind?: unknown }).kind : undefined;
  return typeof kind === "string" && kind.startsWith("ftpfleet.");
}

export function parseDeferred(input: unknown): Deferred {
  return parseOrThrow(deferredSchema, input, "malformed deferred message");
}
