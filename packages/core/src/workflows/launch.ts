import { createHash } from "node:crypto";
import { forEachConcurrently } from "../batching";
import type { LifecycleAction } from "../events/lifecycle";
import { redactToken } from "../log";
import { describeExclusion, isEntering } from "../membership";
import type { ActionRef, Logger } from "../ports";
import type { ControlPlane } from "./control-plane";
import type { SyncReport } from "./dns-sync";
import { actionLog, answerAction, done, failed, type Outcome } from "./outcome";

/** Names one launch in the instance's tags: the lifecycle action (a digest of its token, which
 * itself authorises answering the action) and, once sent, the provision command run for it. */
export function launchRef(token: string, commandId?: string): string {
  const action = createHash("sha256").update(token).digest("hex").slice(0, 16);
  return commandId ? `${action}/${commandId}` : action;
}

/** Whether `ref` is the launch of this action, with a provision command already sent for it. */
export function provisionSentFor(ref: string | undefined, token: string): boolean {
  return ref?.startsWith(`${launchRef(token)}/`) ?? false;
}

/** Whether `ref` names the launch that this provision command was sent for. */
export function launchOfCommand(ref: string | undefined, commandId: string): boolean {
  return ref?.endsWith(`/${commandId}`) ?? false;
}

/** Launch actions still waiting for an answer; the rest (answered, expired, or overtaken by a
 * later launch or a termination — a late or replayed event) are done and left alone. Auto Scaling
 * is the only source of that truth: a heartbeat for a closed action says so. */
export async function activeLaunches(
  actions: readonly LifecycleAction[],
  cp: ControlPlane,
): Promise<{ active: Set<LifecycleAction>; outcomes: Map<LifecycleAction, Outcome> }> {
  const outcomes = new Map<LifecycleAction, Outcome>();
  const active = new Set<LifecycleAction>();
  await forEachConcurrently(actions, HEARTBEAT_CONCURRENCY, async (action) => {
    try {
      if ((await cp.group.heartbeat(action)) === "active") active.add(action);
      else {
        actionLog(cp, action, "launch").info("launch.action-closed", { token: redactToken(action.token) });
        outcomes.set(action, done);
      }
    } catch (error) {
      outcomes.set(action, failed(error));
    }
  });
  return { active, outcomes };
}

/** Auto Scaling calls in flight at once for one batch. */
const HEARTBEAT_CONCURRENCY = 10;

/** Fleets without provisioning: an instance is ready for its launch as it boots. Instances that
 * already left `Pending:*` (a late event; a launch the terminate overtook) are not touched. All of a
 * batch's launches share one reference, so tagging them is one call however many there are. */
export async function markReadyAtLaunch(
  actions: readonly LifecycleAction[],
  cp: ControlPlane,
): Promise<void> {
  if (actions.length === 0) return;
  const group = await cp.group.instances();
  const entering = new Set(group.filter((i) => isEntering(i.lifecycleState)).map((i) => i.instanceId));
  const ref = launchRef(
    actions
      .map((a) => a.token)
      .sort()
      .join(" "),
  );
  const launches = new Map(actions.filter((a) => entering.has(a.instanceId)).map((a) => [a.instanceId, ref]));
  if (launches.size === 0) return;
  await cp.instances.beginLaunch(launches, { ready: true });
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
