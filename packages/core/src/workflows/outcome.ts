import type { LifecycleAction } from "../events/lifecycle";
import type { LogFields, Logger } from "../log";
import type { ControlPlane } from "./control-plane";

/** What happened to one action of a batch; failed ones are delivered again. */
export interface Outcome {
  action: LifecycleAction;
  ok: boolean;
  /** The action had already ended when we answered (completed, expired, instance gone). */
  closed?: boolean;
  error?: unknown;
}

export async function answerAction(
  action: LifecycleAction,
  result: "CONTINUE" | "ABANDON",
  cp: ControlPlane,
  log: Logger,
  fields: LogFields = {},
): Promise<Outcome> {
  try {
    const answer = await cp.group.complete(action, result);
    log.info(answer === "active" ? "lifecycle.completed" : "lifecycle.already-closed", { result, ...fields });
    return { action, ok: true, closed: answer === "closed" };
  } catch (error) {
    log.error("lifecycle.complete-failed", { result, error });
    return { action, ok: false, error };
  }
}
