import type { DeferredCompletion } from "../events/deferred";
import type { LifecycleAction } from "../events/lifecycle";
import type { ControlPlane } from "./control-plane";
import type { SyncReport } from "./dns-sync";
import { answerAction, type Outcome } from "./outcome";

/** After the DNS sync: the leaving instances' records are gone. Let resolvers forget them (drain
 * time ≥ TTL) before the instance may stop: the answer is deferred, not awaited. */
export async function finishTerminations(
  actions: readonly LifecycleAction[],
  report: SyncReport,
  cp: ControlPlane,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const action of actions) {
    const log = cp.log.child({
      instanceId: action.instanceId,
      transition: "terminate",
      hook: action.hookName,
    });
    if (report.membership.serving.some((s) => s.instanceId === action.instanceId)) {
      // The group does not show it leaving yet (eventual consistency): try again rather than drain early.
      log.warn("terminate.still-serving");
      outcomes.push({ action, ok: false, error: new Error("group still lists the instance as serving") });
      continue;
    }
    log.info("dns.left", { record: cp.config.recordName, drainSeconds: cp.config.drainSeconds });
    if (cp.config.drainSeconds === 0) {
      outcomes.push(await answerAction(action, "CONTINUE", cp, log));
      continue;
    }
    try {
      await cp.completions.completeAfter(action, cp.clock.now() + cp.config.drainSeconds * 1000);
      log.info("drain.started");
      outcomes.push({ action, ok: true });
    } catch (error) {
      outcomes.push({ action, ok: false, error });
    }
  }
  return outcomes;
}

/** A drain has (maybe) run its course: continue the termination, or keep the action alive with a
 * heartbeat and wait again. */
export async function finishDrains(
  messages: readonly DeferredCompletion[],
  cp: ControlPlane,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const { action, notBefore } of messages) {
    const log = cp.log.child({
      instanceId: action.instanceId,
      transition: "terminate",
      hook: action.hookName,
    });
    if (cp.clock.now() >= notBefore) {
      outcomes.push(await answerAction(action, "CONTINUE", cp, log, { drained: true }));
      continue;
    }
    try {
      if ((await cp.group.heartbeat(action)) === "closed") {
        log.info("lifecycle.already-closed", { during: "drain" });
      } else {
        await cp.completions.completeAfter(action, notBefore);
        log.debug("drain.waiting", { remainingMs: notBefore - cp.clock.now() });
      }
      outcomes.push({ action, ok: true });
    } catch (error) {
      outcomes.push({ action, ok: false, error });
    }
  }
  return outcomes;
}
