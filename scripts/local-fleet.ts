import { Metrics } from "@aws-lambda-powertools/metrics";
import type { Logger } from "@ftpfleet/core";
import { LocalFleet, type S3RequestRecord } from "@ftpfleet/local";
import type { Context } from "aws-lambda";
import { createAuditHandler } from "../functions/audit";
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
  auditEveryMs?: number;
  onS3Request?: (request: S3RequestRecord) => void;
  onAudit?: (result: unknown, error?: unknown) => void;
}): Promise<LocalFleet> {
  return LocalFleet.start({
    ...options,
    auditHandler: (ports) => {
      // The EMF lines CloudWatch would read: in local mode, the console prints a summary instead.
      const handler = createAuditHandler(
        () => ports,
        () => new Metrics({ namespace: "ftpfleet", serviceName: "audit" }),
      );
      return () => handler({}, context);
    },
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
