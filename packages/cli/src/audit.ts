import { type AuditReport, controlPlane, runAudit } from "@ftpfleet/core";
import type { Io } from "./io";
import type { Target } from "./target";

export interface AuditCommandOptions {
  repair: boolean;
  sliceKeys?: number;
}

/** One audit run now: the same workflow as the scheduled function. Exit 0: every in-service
 * instance reached and clean (or repaired), nothing to report in the bucket; 1 otherwise. */
export async function auditCommand(
  open: () => Target,
  options: AuditCommandOptions,
  io: Io,
): Promise<number> {
  const target = open();
  try {
    io.progress(`auditing ${target.config.recordName} (${options.repair ? "repair" : "report only"})…`);
    const report = await runAudit(
      { ...controlPlane(target.ports), bucket: target.bucket },
      { repair: options.repair, ...(options.sliceKeys ? { sliceKeys: options.sliceKeys } : {}) },
    );
    io.result(report, render(report));
    return report.ok ? 0 : 1;
  } finally {
    target.close();
  }
}

function render(report: AuditReport): string {
  const { slice, metrics } = report;
  const lines = [
    `audit ${report.runId} (${report.mode}): ${report.ok ? "ok" : "NOT OK"}`,
    `slice: ${slice.objects} object(s) after ${JSON.stringify(slice.after)}${slice.wrapped ? ", to the end of the bucket" : ` through ${JSON.stringify(slice.through)}`}`,
  ];
  for (const instance of report.instances) {
    const lag = instance.lagMs === undefined ? "" : `, lag ${instance.lagMs} ms`;
    const action =
      instance.action === "none"
        ? ""
        : `, ${instance.action}${instance.actionDetail ? ` (${instance.actionDetail})` : ""}`;
    lines.push(`${instance.instanceId}: ${instance.verdict}, ${instance.entries} entries${lag}${action}`);
    for (const finding of instance.findings.slice(0, 20)) {
      lines.push(
        `  ${finding.kind}${finding.key ? ` ${JSON.stringify(finding.key)}` : ""}: ${finding.detail}`,
      );
    }
    if (instance.findings.length > 20) lines.push(`  … ${instance.findings.length - 20} more in the report`);
  }
  for (const instanceId of report.unreached) lines.push(`${instanceId}: not reached (SSM agent offline?)`);
  for (const finding of report.bucket.slice(0, 20)) {
    lines.push(`bucket ${finding.kind} ${JSON.stringify(finding.key)}: ${finding.detail}`);
  }
  if (report.bucket.length > 20)
    lines.push(`… ${report.bucket.length - 20} more bucket findings in the report`);
  lines.push(
    `instances audited ${metrics.instancesAudited}, with findings ${metrics.instancesWithFindings}, out of rotation ${metrics.instancesOutOfRotation}; stale objects ${metrics.staleObjects}; max lag ${metrics.maxLagMs} ms; symlink objects ${metrics.symlinkObjects}`,
    `report: ${report.reportKey}`,
  );
  return lines.join("\n");
}
