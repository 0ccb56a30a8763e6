import type { ControlPlane } from "@ftpfleet/core";
import { describeChanges, parseReconcileRequest, reconcileFleet } from "@ftpfleet/core";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { invocationLogging } from "./middleware";
import { awsControlPlane } from "./runtime";

export interface ReconcileResult {
  dryRun: boolean;
  serving: number;
  plan: string[];
}

/** Scheduled (and operator-invoked, `{"dryRun": true}`): make DNS match the group. */
export function createReconcileHandler(cp: () => ControlPlane) {
  return middy<unknown, ReconcileResult, Error, Context>()
    .use(invocationLogging(() => cp().log))
    .handler(async (event) => {
      const { dryRun } = parseReconcileRequest(event);
      const plane = cp();
      const report = await reconcileFleet(plane, { dryRun });
      const owner = { ownerId: plane.config.ownerId, recordName: plane.config.recordName };
      return {
        dryRun,
        serving: report.membership.serving.length,
        plan: describeChanges(report.changes, owner),
      };
    });
}

export const handler = createReconcileHandler(awsControlPlane);
