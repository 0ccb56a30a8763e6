import type { Logger } from "@ftpfleet/core";
import { LocalFleet } from "@ftpfleet/local";
import type { Context } from "aws-lambda";
import { createLifecycleHandler } from "../functions/lifecycle";
import { createReconcileHandler } from "../functions/reconcile";
import { sqsEvent } from "./sqs-event";

const context = { awsRequestId: "local", functionName: "local" } as Context;

/** Local mode's composition root: the deployed handlers, fed by the simulated queue and schedule. */
export function startLocalFleet(options: {
  instances: number;
  dnsPort: number;
  log: Logger;
  reconcileEveryMs?: number;
  healthCheckMs?: number;
  announce?: string | false | undefined;
}): Promise<LocalFleet> {
  return LocalFleet.start({
    ...options,
    lifecycleHandler: (cp) => {
      const handler = createLifecycleHandler(() => cp);
      return async (messages) => {
        const response = await handler(sqsEvent(messages), context);
        return { failedMessageIds: response.batchItemFailures.map((f) => f.itemIdentifier) };
      };
    },
    reconcileHandler: (cp) => {
      const handler = createReconcileHandler(() => cp);
      return () => handler({}, context);
    },
  });
}
