import type { Deferred } from "../events/deferred";
import type { InvocationStatus } from "../events/ssm";
import { lifecycleHooks } from "../hooks";
import type { ActionRef, LogFields, Logger } from "../ports";
import type { ControlPlane } from "./control-plane";

/** What happened to one item of a batch; failed ones are delivered again. */
export interface Outcome {
  ok: boolean;
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
    return done;
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
  } catch (error) {
    return failed(error);
  }
  return deferAgain(message, cp, log);
}

/** Comes back later, for an action whose heartbeat was just recorded. */
export async function deferAgain(message: Deferred, cp: ControlPlane, log: Logger): Promise<Outcome> {
  try {
    await cp.deferred.defer(message);
    log.debug("deferred.again", { kind: message.kind, remainingMs: message.notBefore - cp.clock.now() });
    return done;
  } catch (error) {
    return failed(error);
  }
}

/** A logger for one lifecycle action: every line names the instance and the transition. */
export function actionLog(cp: ControlPlane, action: ActionRef, transition: "launch" | "terminate"): Logger {
  return cp.log.child({ instanceId: action.instanceId, transition, hook: action.hookName });
}

/** The lifecycle action a provision or drain command was run for (found by instance id: the
 * command's status event carries no lifecycle token). */
export function commandAction(
  cp: ControlPlane,
  status: InvocationStatus,
  transition: "launch" | "terminate",
): ActionRef {
  return {
    instanceId: status.instanceId,
    asgName: cp.config.asgName,
    hookName: lifecycleHooks(cp.config)[transition].name,
  };
}
