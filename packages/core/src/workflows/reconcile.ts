import { z } from "zod";
import { parseOrThrow } from "../errors";
import { describeExclusion } from "../membership";
import type { Ports } from "../ports";
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
export async function reconcileFleet(
  cp: ControlPlane,
  options: { dryRun: boolean },
): Promise<{ report: SyncReport; replaced: string[] }> {
  const report = options.dryRun ? await cp.dns.plan() : await cp.dns.sync();
  const replaced = options.dryRun ? [] : await replaceFailingInstances(cp, report);
  cp.log.info("reconcile.done", {
    dryRun: options.dryRun,
    serving: report.membership.serving.length,
    excluded: report.membership.excluded.map((e) => ({ ...e, reason: describeExclusion(e.reason) })),
    applied: report.applied,
    ...(replaced.length > 0 ? { replaced } : {}),
  });
  return { report, replaced };
}

/**
 * Route53 already stops answering an instance whose deep check fails. One that keeps failing for
 * `healthReplaceSeconds` is broken, not busy: the group is told it is unhealthy and replaces it.
 * When it was first seen failing is kept on the instance (a tag), so every run, in any process,
 * judges the same stretch; one passing look clears it. Returns the instances marked unhealthy.
 */
export async function replaceFailingInstances(ports: Ports, report: SyncReport): Promise<string[]> {
  const { config, log, clock } = ports;
  const checked = report.serving.filter((instance) => instance.healthCheckId !== undefined);
  if (config.healthChecks !== "deep" || checked.length === 0) return [];
  const views = new Map(report.instances.map((view) => [view.instanceId, view]));
  const verdicts = await Promise.all(
    checked.map((instance) => ports.healthChecks.verdict(instance.healthCheckId as string)),
  );
  // Every instance failing at once points at the check or a shared dependency (the bucket, the
  // region), not at the instances: new ones would fail the same way, so none is replaced.
  const fleetFailing = verdicts.every((verdict) => verdict === "failing");
  if (fleetFailing) log.error("health.fleet-failing", { instances: checked.map((i) => i.instanceId) });
  const replaced: string[] = [];
  for (const [index, instance] of checked.entries()) {
    const verdict = verdicts[index];
    const since = views.get(instance.instanceId)?.failingSince;
    if (verdict !== "failing") {
      if (since !== undefined && verdict === "healthy") {
        await ports.instances.mark(instance.instanceId, { failingSince: null });
        log.info("health.recovered", { instanceId: instance.instanceId, failingSince: since });
      }
      continue;
    }
    const started = since === undefined ? Number.NaN : Date.parse(since);
    if (Number.isNaN(started)) {
      // First seen failing (or a tag someone garbled): the stretch starts now.
      await ports.instances.mark(instance.instanceId, { failingSince: new Date(clock.now()).toISOString() });
      log.warn("health.failing", { instanceId: instance.instanceId, healthCheckId: instance.healthCheckId });
      continue;
    }
    const failingForMs = clock.now() - started;
    if (fleetFailing || failingForMs < config.healthReplaceSeconds * 1000) continue;
    await ports.group.markUnhealthy(instance.instanceId);
    replaced.push(instance.instanceId);
    log.warn("health.replaced", { instanceId: instance.instanceId, failingSince: since, failingForMs });
  }
  return replaced;
}
