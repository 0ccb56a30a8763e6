import type { ControlPlane } from "@ftpfleet/core";
import { parseReconcileRequest, reconcileFleet } from "@ftpfleet/core";
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
export function createReconcileHandler(cp: () => ControlPlane) {
  return middy<unknown, ReconcileResult, Error, Context>()
    .use(invocationLogging(() => cp().log))
    .handler(async (event) => {
      const { dryRun } = parseReconcileRequest(event);
      const plane = cp();
      const { report, replaced } = await reconcileFleet(plane, { dryRun });
      return { dryRun, serving: report.membership.serving.length, plan: report.plan, replaced };
    });
}

export const handler = createReconcileHandler(awsControlPlane);
