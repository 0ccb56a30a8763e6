import { entersService, type LifecycleAction } from "../events/lifecycle";
import { ENTERING_STATES } from "../fleet";
import { redactToken } from "../log";
import type { ControlPlane } from "./control-plane";
import type { SyncReport } from "./dns-sync";
import { answerAction, type Outcome } from "./outcome";

/** Before the DNS sync: mark instances that are still entering service as ready to serve.
 * (The provisioning issue moves this to the end of a successful provision.) Instances that already
 * left the group, e.g. terminated before this event arrived, are not touched. */
export async function prepareLaunches(actions: readonly LifecycleAction[], cp: ControlPlane): Promise<void> {
  const entering = actions.filter(entersService);
  if (entering.length === 0) return;
  const group = await cp.group.instances();
  const stillEntering = new Set(
    group.filter((i) => ENTERING_STATES.has(i.lifecycleState)).map((i) => i.instanceId),
  );
  const ready = entering.map((a) => a.instanceId).filter((id) => stillEntering.has(id));
  for (const action of entering) {
    cp.log.info(stillEntering.has(action.instanceId) ? "launch.ready" : "launch.no-longer-entering", {
      instanceId: action.instanceId,
      token: redactToken(action.token),
    });
  }
  if (ready.length > 0) await cp.instances.markReady([...new Set(ready)]);
}

/** After the DNS sync: answer each launch action. An instance whose record exists continues; one
 * that can never be addressed is abandoned (Auto Scaling replaces it); one still on its way to
 * serving is retried later. Warm-pool launches do not serve, so they only continue. */
export async function finishLaunches(
  actions: readonly LifecycleAction[],
  report: SyncReport | undefined,
  cp: ControlPlane,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const action of actions) {
    const log = cp.log.child({ instanceId: action.instanceId, transition: "launch", hook: action.hookName });
    if (!entersService(action) || !report) {
      outcomes.push(await answerAction(action, "CONTINUE", cp, log, { warmPool: true }));
      continue;
    }
    const serving = report.membership.serving.find((s) => s.instanceId === action.instanceId);
    const excluded = report.membership.excluded.find((e) => e.instanceId === action.instanceId);
    if (serving) {
      log.info("dns.joined", { address: serving.address, record: cp.config.recordName });
      outcomes.push(await answerAction(action, "CONTINUE", cp, log));
    } else if (excluded?.reason.startsWith("no ")) {
      log.error("launch.unaddressable", { reason: excluded.reason });
      outcomes.push(await answerAction(action, "ABANDON", cp, log, { reason: excluded.reason }));
    } else if (excluded?.reason.startsWith("lifecycle state ") || !excluded) {
      // Left the group or on its way out: the action is closed or about to be; answering is harmless.
      outcomes.push(
        await answerAction(action, "CONTINUE", cp, log, { state: excluded?.reason ?? "not in group" }),
      );
    } else {
      log.warn("launch.not-serving-yet", { reason: excluded.reason });
      outcomes.push({ action, ok: false, error: new Error(`instance not serving yet: ${excluded.reason}`) });
    }
  }
  return outcomes;
}
