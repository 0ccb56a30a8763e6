import { documentName } from "../config";
import { errorMessage, InvalidInputError } from "../errors";
import { isDeferred, parseDeferred } from "../events/deferred";
import { entersService, type LifecycleAction, parseLifecycleEvent } from "../events/lifecycle";
import {
  type InvocationStatus,
  isSsmCommandEvent,
  isSsmEvent,
  isTerminal,
  parseSsmInvocationEvent,
} from "../events/ssm";
import type { ControlPlane } from "./control-plane";
import type { SyncReport } from "./dns-sync";
import { finishReadyLaunches, markReadyAtLaunch } from "./launch";
import { actionLog, answerAction, done, failed, type Outcome } from "./outcome";
import {
  checkProvisionStatuses,
  finishProvisioning,
  type ProvisionResult,
  provisions,
  startProvisioning,
} from "./provision";
import {
  continueTermination,
  finishDrainCommands,
  finishTerminations,
  type TerminationStep,
} from "./terminate";

/** One message from the lifecycle queue: an Auto Scaling lifecycle event, an SSM command status
 * event for the fleet's provision or drain documents, or one of our own deferred steps. */
export interface QueueMessage {
  messageId: string;
  body: string;
}

export interface BatchResult {
  /** Messages to deliver again; malformed ones are never retried (they cannot get better). */
  failedMessageIds: string[];
}

interface Item<T> {
  value: T;
  messageIds: string[];
}

/** Everything a batch asks for, sorted by what must happen to it. */
interface Work {
  launches: Item<LifecycleAction>[];
  terminations: Item<LifecycleAction>[];
  provisioned: Item<InvocationStatus>[];
  drained: Item<InvocationStatus>[];
  awaitingAgent: Item<{ action: LifecycleAction; deadline: number }>[];
  terminationSteps: Item<TerminationStep>[];
}

/** A whole batch costs at most one DNS sync, whatever its size: this is what keeps a scale-out of
 * hundreds of instances from becoming hundreds of Route53 calls. */
export async function processLifecycleMessages(
  messages: readonly QueueMessage[],
  cp: ControlPlane,
): Promise<BatchResult> {
  const work = sortMessages(messages, cp);
  const failedIds: string[] = [];
  /** Runs one step of the batch over its items' values; items whose outcome failed are retried,
   * and so are all of them if the step itself throws. */
  const settle = async <T>(items: Item<T>[], step: (values: T[]) => Promise<Outcome[]>) => {
    if (items.length === 0) return;
    let outcomes: Outcome[];
    try {
      outcomes = await step(items.map((i) => i.value));
    } catch (error) {
      cp.log.error("batch.step-failed", { error, retry: items.length });
      outcomes = items.map(() => failed(error));
    }
    outcomes.forEach((outcome, n) => {
      if (!outcome.ok) failedIds.push(...(items[n]?.messageIds ?? []));
    });
  };
  const provisioning = provisions(cp.config);
  const entering = work.launches.filter((i) => entersService(i.value));
  const warmPool = work.launches.filter((i) => !entersService(i.value));

  // Warm-pool launches never serve from there: nothing to publish.
  await settle(warmPool, (actions) =>
    Promise.all(
      actions.map((a) => answerAction(a, "CONTINUE", cp, actionLog(cp, a, "launch"), { warmPool: true })),
    ),
  );
  const readyAtLaunch: Item<LifecycleAction>[] = [];
  if (provisioning) {
    const deadline = cp.clock.now() + cp.config.agentTimeoutSeconds * 1000;
    await settle(entering, (actions) =>
      startProvisioning(
        actions.map((action) => ({ action, deadline })),
        cp,
      ),
    );
  } else {
    // Instances that serve as they boot: ready for this launch while it is entering service.
    readyAtLaunch.push(...entering);
  }
  // Provision results that belong to their instance's current launch, as SSM confirms them.
  const provisioned: Item<ProvisionResult>[] = [];
  await settle(work.provisioned, async (statuses) => {
    const { results, outcomes } = await checkProvisionStatuses(statuses, cp);
    for (const result of results) {
      const item = work.provisioned.find((i) => i.value === result.status);
      provisioned.push({ value: result, messageIds: item?.messageIds ?? [] });
    }
    return statuses.map((status) => outcomes.get(status) ?? done);
  });
  const succeeded = provisioned.filter((i) => i.value.invocation.status === "Success");

  const syncFor = [...readyAtLaunch, ...work.terminations, ...provisioned];
  if (syncFor.length > 0) {
    let report: SyncReport | undefined;
    try {
      await markReadyAtLaunch(
        readyAtLaunch.map((i) => i.value),
        cp,
      );
      if (succeeded.length > 0) {
        await cp.instances.markReady(
          new Map(succeeded.map((i) => [i.value.status.instanceId, i.value.launch])),
        );
      }
      report = await cp.dns.sync();
    } catch (error) {
      cp.log.error("dns.sync-failed", { error, retry: syncFor.length });
      for (const item of syncFor) failedIds.push(...item.messageIds);
    }
    if (report) {
      const synced = report;
      await settle(readyAtLaunch, (actions) => finishReadyLaunches(actions, synced, cp));
      await settle(provisioned, (results) => finishProvisioning(results, synced, cp));
      await settle(work.terminations, (actions) => finishTerminations(actions, synced, cp));
    }
  }

  await settle(work.drained, (statuses) => finishDrainCommands(statuses, cp));
  // Instances whose agent was not online yet: one more try, as one command for all of them.
  await settle(work.awaitingAgent, (items) => startProvisioning(items, cp));
  await settle(work.terminationSteps, async (steps) => {
    const outcomes: Outcome[] = [];
    for (const step of steps) outcomes.push(await continueTermination(step, cp));
    return outcomes;
  });
  return { failedMessageIds: failedIds };
}

function sortMessages(messages: readonly QueueMessage[], cp: ControlPlane): Work {
  const work: Work = {
    launches: [],
    terminations: [],
    provisioned: [],
    drained: [],
    awaitingAgent: [],
    terminationSteps: [],
  };
  // At-least-once delivery: the same action or status twice in one batch is handled once.
  const seen = new Map<string, Item<unknown>>();
  const add = <T>(list: Item<T>[], key: string, value: T, messageId: string) => {
    const item = seen.get(key);
    if (item) item.messageIds.push(messageId);
    else {
      const fresh = { value, messageIds: [messageId] };
      seen.set(key, fresh as Item<unknown>);
      list.push(fresh);
    }
  };
  const provisionDoc = documentName(cp.config, "provision");
  const drainDoc = documentName(cp.config, "drain");

  for (const { messageId, body } of messages) {
    try {
      const input = parseJson(body);
      if (isDeferred(input)) {
        const deferred = parseDeferred(input);
        if (deferred.kind === "ftpfleet.await-agent") {
          work.awaitingAgent.push({
            value: { action: deferred.action, deadline: deferred.deadline },
            messageIds: [messageId],
          });
        } else {
          work.terminationSteps.push({ value: deferred, messageIds: [messageId] });
        }
      } else if (isSsmCommandEvent(input)) {
        cp.log.info("event.ignored", {
          messageId,
          reason: "command-level SSM status (invocations are followed)",
        });
      } else if (isSsmEvent(input)) {
        const status = parseSsmInvocationEvent(input);
        const list =
          status.document === provisionDoc
            ? work.provisioned
            : status.document === drainDoc
              ? work.drained
              : undefined;
        if (!list || !isTerminal(status.status)) {
          cp.log.info("event.ignored", {
            messageId,
            eventId: status.eventId,
            reason: `${status.document} ${status.status}`,
          });
          continue;
        }
        add(list, `${status.commandId}/${status.instanceId}`, status, messageId);
      } else {
        const event = parseLifecycleEvent(input, cp.config.asgName);
        if (event.kind === "ignored") {
          cp.log.info("event.ignored", { messageId, eventId: event.eventId, reason: event.reason });
          continue;
        }
        add(
          event.action.transition === "launch" ? work.launches : work.terminations,
          event.action.token,
          event.action,
          messageId,
        );
      }
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      cp.log.error("event.rejected", { messageId, error: error.message });
    }
  }
  return work;
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (error) {
    throw new InvalidInputError("message body is not JSON", [errorMessage(error)]);
  }
}
