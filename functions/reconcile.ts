import { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import type { ControlPlane } from "@ftpfleet/core";
import { METRICS_NAMESPACE, METRICS_SERVICES, parseReconcileRequest, reconcileFleet } from "@ftpfleet/core";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { invocationLogging } from "./middleware";
import { awsControlPlane } from "./runtime";

export interface ReconcileResult {
  dryRun: boolean;
  serving: number;
  plan: string[];
  /** Instances whose deep health check kept failing: the group was told to replace them. */
  replaced: string[];
}

/** Scheduled (and operator-invoked, `{"dryRun": true}`): make DNS match the group. */
export function createReconcileHandler(cp: () => ControlPlane, metrics?: Metrics) {
  const handler = middy<unknown, ReconcileResult, Error, Context>().use(invocationLogging(() => cp().log));
  if (metrics) handler.use(logMetrics(metrics));
  return handler.handler(async (event) => {
    const { dryRun } = parseReconcileRequest(event);
    const plane = cp();
    const { report, replaced } = await reconcileFleet(plane, { dryRun });
    return { dryRun, serving: report.membership.serving.length, plan: report.plan, replaced };
  });
}

const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICES.reconcile });
export const handler = createReconcileHandler(() => awsControlPlane(process.env, metrics), metrics);
