import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import {
  type AuditPorts,
  type AuditReport,
  METRICS_NAMESPACE,
  METRICS_SERVICES,
  runAudit,
} from "@ftpfleet/core";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { invocationLogging } from "./middleware";
import { awsAuditPorts } from "./runtime";

export interface AuditResult {
  runId: string;
  ok: boolean;
  reportKey: string;
  metrics: AuditReport["metrics"];
  /** Each instance in a line: verdict, findings, what the run did. */
  instances: { instanceId: string; verdict: string; findings: number; action: string; first?: string }[];
  bucketFindings: number;
}

/** Scheduled: one cache-consistency audit run (report only, or repair, as configured), its figures
 * as CloudWatch metrics in embedded metric format (alarms watch them). */
export function createAuditHandler(ports: () => AuditPorts, metrics: () => Metrics) {
  return middy<unknown, AuditResult, Error, Context>()
    .use(invocationLogging(() => ports().log))
    .handler(async () => {
      const plane = ports();
      const { config } = plane;
      const report = await runAudit(plane, {
        repair: config.auditMode === "repair",
        sliceKeys: config.auditSliceKeys,
      });
      const m = metrics();
      m.addDimension("Fleet", config.ownerId);
      m.addMetric("InstancesAudited", MetricUnit.Count, report.metrics.instancesAudited);
      m.addMetric("InstancesWithFindings", MetricUnit.Count, report.metrics.instancesWithFindings);
      m.addMetric("InstancesUnreached", MetricUnit.Count, report.unreached.length);
      m.addMetric("InstancesOutOfRotation", MetricUnit.Count, report.metrics.instancesOutOfRotation);
      m.addMetric("StaleObjects", MetricUnit.Count, report.metrics.staleObjects);
      m.addMetric("MaxLag", MetricUnit.Milliseconds, report.metrics.maxLagMs);
      m.addMetric("SymlinkObjects", MetricUnit.Count, report.metrics.symlinkObjects);
      m.addMetric("BucketFindings", MetricUnit.Count, report.metrics.bucketFindings);
      m.publishStoredMetrics();
      return {
        runId: report.runId,
        ok: report.ok,
        reportKey: report.reportKey,
        metrics: report.metrics,
        instances: report.instances.map((i) => ({
          instanceId: i.instanceId,
          verdict: i.verdict,
          findings: i.findings.length,
          action: i.action,
          ...(i.findings[0] ? { first: `${i.findings[0].kind}: ${i.findings[0].detail}` } : {}),
        })),
        bucketFindings: report.bucket.length,
      };
    });
}

export const handler = createAuditHandler(
  awsAuditPorts,
  () => new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICES.audit }),
);
