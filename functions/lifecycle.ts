import { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import type { ControlPlane } from "@ftpfleet/core";
import { METRICS_NAMESPACE, METRICS_SERVICES, processLifecycleMessages } from "@ftpfleet/core";
import middy from "@middy/core";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { invocationLogging } from "./middleware";
import { awsControlPlane } from "./runtime";

/** Lifecycle queue → launch and terminate workflows. The queue receives the group's lifecycle events
 * from EventBridge and our own deferred drain completions; a batch costs one DNS sync. */
export function createLifecycleHandler(cp: () => ControlPlane, metrics?: Metrics) {
  const handler = middy<SQSEvent, SQSBatchResponse, Error, Context>().use(invocationLogging(() => cp().log));
  if (metrics) handler.use(logMetrics(metrics));
  return handler.handler(async (event) => {
    const messages = (event.Records ?? []).map(({ messageId, body }) => ({ messageId, body }));
    const { failedMessageIds } = await processLifecycleMessages(messages, cp());
    return { batchItemFailures: failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) };
  });
}

const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICES.lifecycle });
export const handler = createLifecycleHandler(() => awsControlPlane(process.env, metrics), metrics);
