import { z } from "zod";
import { parseOrThrow } from "../config";
import { lifecycleActionSchema } from "./lifecycle";

/** Our own message: answer a lifecycle action once `notBefore` (epoch ms) has passed. It lets a
 * terminating instance drain for minutes without any Lambda waiting for it. */
export const deferredCompletionSchema = z.object({
  kind: z.literal("ftpfleet.complete-after-drain"),
  action: lifecycleActionSchema.refine(
    (a) => a.transition === "terminate",
    "only terminate actions are deferred",
  ),
  notBefore: z.number().int().nonnegative(),
});

export type DeferredCompletion = z.infer<typeof deferredCompletionSchema>;

export function isDeferredCompletion(input: unknown): boolean {
  return (
    typeof input === "object" &&
    input !== null &&
    (input as { kind?: unknown }).kind === deferredCompletionSchema.shape.kind.value
  );
}

export function parseDeferredCompletion(input: unknown): DeferredCompletion {
  return parseOrThrow(deferredCompletionSchema, input, "malformed deferred completion message");
}
