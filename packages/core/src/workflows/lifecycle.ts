import { errorMessage, InvalidInputError } from "../errors";
import { type DeferredCompletion, isDeferredCompletion, parseDeferredCompletion } from "../events/deferred";
import { type LifecycleAction, parseLifecycleEvent } from "../events/lifecycle";
import type { ControlPlane } from "./control-plane";
import type { SyncReport } from "./dns-sync";
import { finishLaunches, prepareLaunches } from "./launch";
import type { Outcome } from "./outcome";
import { finishDrains, finishTerminations } from "./terminate";

/** One message from the lifecycle queue: an EventBridge lifecycle event, or our deferred completion. */
export interface QueueMessage {
  messageId: string;
  body: string;
}

export interface BatchResult {
  /** Messages to deliver again; malformed ones are never retried (they cannot get better). */
  failedMessageIds: string[];
}

/** A whole batch of lifecycle messages costs one DNS sync, whatever its size: this is what keeps a
 * scale-out of hundreds of instances from becoming hundreds of Route53 calls. */
export async function processLifecycleMessages(
  messages: readonly QueueMessage[],
  cp: ControlPlane,
): Promise<BatchResult> {
  const launches = new Map<string, { action: LifecycleAction; messageIds: string[] }>();
  const terminations = new Map<string, { action: LifecycleAction; messageIds: string[] }>();
  const drains: { message: DeferredCompletion; messageId: string }[] = [];

  for (const { messageId, body } of messages) {
    try {
      const input = parseJson(body);
      if (isDeferredCompletion(input)) {
        drains.push({ message: parseDeferredCompletion(input), messageId });
        continue;
      }
      const event = parseLifecycleEvent(input, cp.config.asgName);
      if (event.kind === "ignored") {
        cp.log.info("event.ignored", { messageId, eventId: event.eventId, reason: event.reason });
        continue;
      }
      // At-least-once delivery: the same action twice in one batch is handled once.
      const byToken = event.action.transition === "launch" ? launches : terminations;
      const seen = byToken.get(event.action.token);
      if (seen) seen.messageIds.push(messageId);
      else byToken.set(event.action.token, { action: event.action, messageIds: [messageId] });
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      cp.log.error("event.rejected", { messageId, error: error.message });
    }
  }

  const failed: string[] = [];
  const collect = (outcomes: Outcome[], messageIdsOf: (i: number) => string[]) => {
    outcomes.forEach((outcome, i) => {
      if (!outcome.ok) failed.push(...messageIdsOf(i));
    });
  };

  const launchItems = [...launches.values()];
  const terminateItems = [...terminations.values()];
  if (launchItems.length + terminateItems.length > 0) {
    const launchActions = launchItems.map((item) => item.action);
    let report: SyncReport | undefined;
    try {
      await prepareLaunches(launchActions, cp);
      report = await cp.dns.sync();
    } catch (error) {
      cp.log.error("dns.sync-failed", { error, retry: launchItems.length + terminateItems.length });
      for (const item of [...launchItems, ...terminateItems]) failed.push(...item.messageIds);
    }
    if (report) {
      collect(await finishLaunches(launchActions, report, cp), (i) => launchItems[i]?.messageIds ?? []);
      const terminateActions = terminateItems.map((item) => item.action);
      collect(
        await finishTerminations(terminateActions, report, cp),
        (i) => terminateItems[i]?.messageIds ?? [],
      );
    }
  }
  if (drains.length > 0) {
    const outcomes = await finishDrains(
      drains.map((d) => d.message),
      cp,
    );
    collect(outcomes, (i) => [drains[i]?.messageId ?? ""]);
  }
  return { failedMessageIds: failed };
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (error) {
    throw new InvalidInputError("message body is not JSON", [errorMessage(error)]);
  }
}
