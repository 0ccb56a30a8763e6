import type { ActionRef } from "../adapters/autoscaling";
import type { Deferred } from "../events/deferred";
import type { LogFields, Logger } from "../log";
import type { ControlPlane } from "./control-plane";

/** What happened to one item of a batch; failed ones are delivered again. */
export interface Outcome {
  ok: boolean;
  /** The action had already ended when we answered (completed, expired, instance gone). */
  closed?: boolean;
  error?: unknown;
}

export const done: Outcome = { ok: true };

export function failed(error: unknown): Outcome {
  return { ok: false, error };
}

export async function answerAction(
  action: ActionRef,
  result: "CONTINUE" | "ABANDON",
  cp: ControlPlane,
  log: Logger,
  fields: LogFields = {},
): Promise<Outcome> {
  try {
    const answer = await cp.group.complete(action, result);
    log.info(answer === "active" ? "lifecycle.completed" : "lifecycle.already-closed", { result, ...fields });
    return { ok: true, closed: answer === "closed" };
  } catch (error) {
    log.error("lifecycle.complete-failed", { result, error });
    return failed(error);
  }
}

/** Not time yet: keep the lifecycle action alive and come back later. An action that has already
 * ended needs nothing more. */
export async function waitLonger(message: Deferred, cp: ControlPlane, log: Logger): Promise<Outcome> {
  try {
    if ((await cp.group.heartbeat(message.action)) === "closed") {
      log.info("lifecycle.already-closed", { while: message.kind });
      return done;
    }
    await cp.deferred.defer(message);
    log.debug("deferred.again", { kind: message.kind, remainingMs: message.notBefore - cp.clock.now() });
    return done;
  } catch (error) {
    return failed(error);
  }
}
