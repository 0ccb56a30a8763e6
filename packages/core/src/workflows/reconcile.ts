import { z } from "zod";
import { parseOrThrow } from "../errors";
import { describeExclusion } from "../membership";
import type { ControlPlane } from "./control-plane";
import type { SyncReport } from "./dns-sync";

/** The scheduled reconcile's input: a schedule event, or `{ "dryRun": true }` from an operator. */
export const reconcileRequestSchema = z.looseObject({ dryRun: z.boolean().optional() });

export function parseReconcileRequest(input: unknown): { dryRun: boolean } {
  const request = parseOrThrow(reconcileRequestSchema, input ?? {}, "malformed reconcile request");
  return { dryRun: request.dryRun ?? false };
}

/** Repairs whatever lost, late or failed events left behind: desired records from the group's
 * serving instances against the records the fleet owns. A dry run only reports the plan. */
export async function reconcileFleet(cp: ControlPlane, options: { dryRun: boolean }): Promise<SyncReport> {
  const report = options.dryRun ? await cp.dns.plan() : await cp.dns.sync();
  cp.log.info("reconcile.done", {
    dryRun: options.dryRun,
    serving: report.membership.serving.length,
    excluded: report.membership.excluded.map((e) => ({ ...e, reason: describeExclusion(e.reason) })),
    applied: report.applied,
  });
  return report;
}
