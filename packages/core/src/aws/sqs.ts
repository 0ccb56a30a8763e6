import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Clock, DeferredQueue } from "../ports";
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
