import type { LifecycleAction } from "../events/lifecycle";
import { describeExclusion, ENTERING_STATES } from "../membership";
import type { ActionRef, Logger } from "../ports";
import type { ControlPlane } from "./control-plane";
import type { SyncReport } from "./dns-sync";
import { actionLog, answerAction, failed, type Outcome } from "./outcome";

/** Marks instances that are still entering service as ready to serve (the fact a DNS sync reads).
 * Instances that already left the group, e.g. terminated before this arrived, are not touched. */
export async function markReadyIfEntering(
  instanceIds: readonly string[],
  cp: ControlPlane,
): Promise<Set<string>> {
  if (instanceIds.length === 0) return new Set();
  const group = await cp.group.instances();
  const entering = new Set(
    group.filter((i) => ENTERING_STATES.has(i.lifecycleState)).map((i) => i.instanceId),
  );
  const ready = [...new Set(instanceIds)].filter((id) => entering.has(id));
  if (ready.length > 0) await cp.instances.markReady(ready);
  return new Set(ready);
}

/** After the DNS sync: answer a launch whose instance should now serve. In DNS: CONTINUE. Never
 * addressable: ABANDON (the group replaces it). Already leaving: the action is closed or about to
 * be, answering is harmless. Not serving yet for a passing reason: try again later. */
export async function answerEntering(
  action: ActionRef,
  report: SyncReport,
  cp: ControlPlane,
  log: Logger,
): Promise<Outcome> {
  const serving = report.membership.serving.find((s) => s.instanceId === action.instanceId);
  if (serving) {
    log.info("dns.joined", { address: serving.address, record: cp.config.recordName });
    return answerAction(action, "CONTINUE", cp, log);
  }
  const reason = report.membership.excluded.find((e) => e.instanceId === action.instanceId)?.reason;
  if (reason === undefined || reason.kind === "lifecycle") {
    log.info("launch.no-longer-entering", { state: reason ? describeExclusion(reason) : "not in group" });
    return answerAction(action, "CONTINUE", cp, log);
  }
  if (reason.kind === "no-address") {
    log.error("launch.unaddressable", { reason: describeExclusion(reason) });
    return answerAction(action, "ABANDON", cp, log, { reason: describeExclusion(reason) });
  }
  log.warn("launch.not-serving-yet", { reason: describeExclusion(reason) });
  return failed(new Error(`instance not serving yet: ${describeExclusion(reason)}`));
}

/** Launches of instances that serve as they boot (no provisioning): ready once in DNS. */
export async function finishReadyLaunches(
  actions: readonly LifecycleAction[],
  report: SyncReport,
  cp: ControlPlane,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const action of actions) {
    outcomes.push(await answerEntering(action, report, cp, actionLog(cp, action, "launch")));
  }
  return outcomes;
}
