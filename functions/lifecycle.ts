import type { ControlPlane } from "@ftpfleet/core";
import { processLifecycleMessages } from "@ftpfleet/core";
import middy from "@middy/core";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { invocationLogging } from "./middleware";
import { awsControlPlane } from "./runtime";

/** Lifecycle queue → launch and terminate workflows. The queue receives the group's lifecycle events
 * from EventBridge and our own deferred drain completions; a batch costs one DNS sync. */
export function createLifecycleHandler(cp: () => ControlPlane) {
  return middy<SQSEvent, SQSBatchResponse, Error, Context>()
    .use(invocationLogging(() => cp().log))
    .handler(async (event) => {
      const messages = (event.Records ?? []).map(({ messageId, body }) => ({ messageId, body }));
      const { failedMessageIds } = await processLifecycleMessages(messages, cp());
      return { batchItemFailures: failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) };
    });
}

export const handler = createLifecycleHandler(awsControlPlane);
