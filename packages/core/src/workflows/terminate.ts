import { documentName } from "../config";
import type { Deferred } from "../events/deferred";
import type { LifecycleAction } from "../events/lifecycle";
import type { InvocationStatus } from "../events/ssm";
import type { ControlPlane } from "./control-plane";
import type { SyncReport } from "./dns-sync";
import { actionLog, answerAction, commandAction, done, failed, type Outcome, waitLonger } from "./outcome";
import { provisions } from "./provision";

/** After the DNS sync: the leaving instances' records are gone. Resolvers may still hand out the
 * address for one TTL; then the drain document waits for sessions to end (or, for fleets without
 * provisioning, a fixed drain time). Nothing waits here: the next step is a delayed message. */
export async function finishTerminations(
  actions: readonly LifecycleAction[],
  report: SyncReport,
  cp: ControlPlane,
): Promise<Outcome[]> {
  const { config, clock } = cp;
  const outcomes: Outcome[] = [];
  for (const action of actions) {
    const log = actionLog(cp, action, "terminate");
    if (report.membership.serving.some((s) => s.instanceId === action.instanceId)) {
      // The group does not show it leaving yet (eventual consistency): try again rather than drain early.
      log.warn("terminate.still-serving");
      outcomes.push(failed(new Error("group still lists the instance as serving")));
      continue;
    }
    log.info("dns.left", { record: config.recordName, drainSeconds: config.drainSeconds });
    if (config.drainSeconds === 0) {
      outcomes.push(await answerAction(action, "CONTINUE", cp, log));
      continue;
    }
    const next: Deferred = provisions(config)
      ? { kind: "ftpfleet.start-drain", action, notBefore: clock.now() + config.recordTtl * 1000 }
      : {
          kind: "ftpfleet.complete-after-drain",
          action,
          notBefore: clock.now() + config.drainSeconds * 1000,
        };
    try {
      await cp.deferred.defer(next);
      outcomes.push(done);
    } catch (error) {
      outcomes.push(failed(error));
    }
  }
  return outcomes;
}

export type TerminationStep = Extract<
  Deferred,
  { kind: "ftpfleet.complete-after-drain" | "ftpfleet.start-drain" }
>;

/** A delayed step of a termination has come due (or SQS's 15-minute limit woke it early). */
export async function continueTermination(message: TerminationStep, cp: ControlPlane): Promise<Outcome> {
  const { action } = message;
  const log = actionLog(cp, action, "terminate");
  if (cp.clock.now() < message.notBefore) return waitLonger(message, cp, log);
  if (message.kind === "ftpfleet.complete-after-drain") {
    return answerAction(action, "CONTINUE", cp, log, { drained: true });
  }
  const timeout = Math.max(0, cp.config.drainSeconds - cp.config.recordTtl);
  try {
    const { sent } = await cp.commands.send(
      documentName(cp.config, "drain"),
      [action.instanceId],
      { TimeoutSeconds: String(timeout) },
      { outputBucket: cp.config.outputBucket, comment: "ftpfleet drain" },
    );
    const commandId = sent.get(action.instanceId);
    if (!commandId) {
      // No agent to run it (the instance crashed or stopped): nothing is left to drain.
      return answerAction(action, "CONTINUE", cp, log, { drained: false, reason: "SSM agent unreachable" });
    }
    log.info("drain.started", { commandId, timeoutSeconds: timeout });
    return done;
  } catch (error) {
    return failed(error);
  }
}

/** The drain document ended (sessions gone, or its timeout): the instance may stop. */
export async function finishDrainCommands(
  statuses: readonly InvocationStatus[],
  cp: ControlPlane,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const status of statuses) {
    const action = commandAction(cp, status, "terminate");
    const log = actionLog(cp, action, "terminate").child({ commandId: status.commandId });
    outcomes.push(
      await answerAction(action, "CONTINUE", cp, log, {
        drained: status.status === "Success",
        drainStatus: status.status,
      }),
    );
  }
  return outcomes;
}
