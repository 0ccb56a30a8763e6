import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { z } from "zod";
import { chunks } from "../batching";
import { parseJsonOrProblem } from "../errors";
import type { Clock, DeferredQueue, Logger, RecentChanges } from "../ports";
import { retry } from "../retry";
import { isTransientAwsError } from "./errors";

/** SQS delays a message by at most 15 minutes; longer waits are deferred again on receipt. */
export const MAX_DELAY_SECONDS = 900;

export function delaySeconds(notBefore: number, now: number): number {
  return Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil((notBefore - now) / 1000)));
}

export function sqsDeferredQueue(client: SQSClient, queueUrl: string, clock: Clock): DeferredQueue {
  return {
    async defer(message) {
      await retry(
        () =>
          client.send(
            new SendMessageCommand({
              QueueUrl: queueUrl,
              MessageBody: JSON.stringify(message),
              DelaySeconds: delaySeconds(message.notBefore, clock.now()),
            }),
          ),
        { clock, isRetryable: isTransientAwsError, maxAttempts: 8 },
      );
    },
  };
}

/** What the recent-changes queue holds: S3's object events as EventBridge delivers them. Only the
 * key is used; the audit then asks S3 and the instances themselves. */
const objectEventSchema = z.object({
  source: z.literal("aws.s3"),
  "detail-type": z.enum(["Object Created", "Object Deleted"]),
  detail: z.object({ object: z.object({ key: z.string().min(1).max(1024) }) }),
});

/** The recent-changes queue (S3 object events → EventBridge rule → SQS). A message that is not an
 * object event is input too: logged, acknowledged, never retried. */
export function sqsRecentChanges(
  client: SQSClient,
  queueUrl: string,
  clock: Clock,
  log: Logger,
): RecentChanges {
  const call = <T>(operation: () => Promise<T>) =>
    retry(operation, { clock, isRetryable: isTransientAwsError, maxAttempts: 6 });
  return {
    async take(max) {
      const byKey = new Map<string, string[]>();
      const handles: string[] = [];
      // Each message is invisible for the visibility timeout (the audit's own, 15 minutes), so a
      // run that fails leaves its changes to the next.
      for (let received = 0; received < max * 2 && byKey.size < max; ) {
        const out = await call(() =>
          client.send(
            new ReceiveMessageCommand({
              QueueUrl: queueUrl,
              MaxNumberOfMessages: 10,
              WaitTimeSeconds: 0,
              VisibilityTimeout: 900,
            }),
          ),
        );
        const messages = out.Messages ?? [];
        if (messages.length === 0) break;
        received += messages.length;
        for (const message of messages) {
          const handle = message.ReceiptHandle ?? "";
          const parsed = parseJsonOrProblem(objectEventSchema, message.Body ?? "", "message");
          if ("problem" in parsed) {
            log.warn("audit.recent-change-invalid", {
              messageId: message.MessageId,
              problem: parsed.problem,
            });
            handles.push(handle);
            continue;
          }
          const key = parsed.detail.object.key;
          byKey.set(key, [...(byKey.get(key) ?? []), handle]);
        }
      }
      return {
        keys: [...byKey.keys()],
        async done(kept) {
          const acknowledged = [...handles, ...[...byKey].flatMap(([key, h]) => (kept?.has(key) ? [] : h))];
          for (const batch of chunks(acknowledged, 10)) {
            const Entries = batch.map((ReceiptHandle, n) => ({ Id: String(n), ReceiptHandle }));
            await call(() => client.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries })));
          }
        },
      };
    },
  };
}
