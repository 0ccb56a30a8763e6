import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Clock } from "../clock";
import type { DeferredCompletion } from "../events/deferred";
import type { LifecycleAction } from "../events/lifecycle";
import { retry } from "../retry";
import { isTransientAwsError } from "./aws-errors";

/** SQS delays a message by at most 15 minutes; longer drains are re-deferred on receipt. */
export const MAX_DELAY_SECONDS = 900;

export interface CompletionQueue {
  completeAfter(action: LifecycleAction, notBefore: number): Promise<void>;
}

export function deferredDelaySeconds(notBefore: number, now: number): number {
  return Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil((notBefore - now) / 1000)));
}

export function sqsCompletionQueue(client: SQSClient, queueUrl: string, clock: Clock): CompletionQueue {
  return {
    async completeAfter(action, notBefore) {
      const message: DeferredCompletion = { kind: "ftpfleet.complete-after-drain", action, notBefore };
      await retry(
        () =>
          client.send(
            new SendMessageCommand({
              QueueUrl: queueUrl,
              MessageBody: JSON.stringify(message),
              DelaySeconds: deferredDelaySeconds(notBefore, clock.now()),
            }),
          ),
        { clock, isRetryable: isTransientAwsError, maxAttempts: 8 },
      );
    },
  };
}
