import { isThrottleName } from "./aws/errors";
import type { LogFields, Logger } from "./ports";

export type MetricUnitName = "Count" | "Milliseconds";

/** Every function publishes in this namespace with the dimensions `service` (the function, which
 * Powertools always adds) and `Fleet` (the owner id); alarms must name both. */
export const METRICS_NAMESPACE = "ftpfleet";
export const METRICS_SERVICES = { lifecycle: "lifecycle", reconcile: "reconcile", audit: "audit" } as const;

/** Where a metric goes (in Lambda: Powertools Metrics, published as EMF when the invocation ends). */
export type MetricSink = (name: string, unit: MetricUnitName, value: number) => void;

interface MetricRule {
  metric: string;
  /** Counts the event, or records a field's value (a duration). */
  unit?: MetricUnitName;
  value?: (fields: LogFields) => number | undefined;
  /** Only events whose fields pass. */
  when?: (fields: LogFields) => boolean;
}

const count = (metric: string, when?: MetricRule["when"]): MetricRule => ({
  metric,
  ...(when ? { when } : {}),
});

/**
 * The control plane's metrics are the events it already logs, counted: one table, so a metric
 * can never disagree with the log line that explains it. Alarms (stacks/) watch these names in the
 * `ftpfleet` namespace, dimensions `service` and `Fleet`.
 */
export const METRIC_EVENTS: Readonly<Record<string, readonly MetricRule[]>> = {
  "lifecycle.completed": [
    count("LaunchesContinued", (f) => f.result === "CONTINUE"),
    count("LaunchesAbandoned", (f) => f.result === "ABANDON"),
  ],
  "lifecycle.complete-failed": [count("LifecycleAnswersFailed")],
  "provision.succeeded": [
    count("ProvisionSucceeded"),
    { metric: "ProvisionDuration", unit: "Milliseconds", value: (f) => numeric(f.durationMs) },
  ],
  "provision.failed": [count("ProvisionFailed")],
  "provision.start-failed": [count("ProvisionFailed")],
  "provision.agent-offline": [count("ProvisionFailed")],
  "dns.applied": [count("DnsChanges")],
  "dns.not-placed": [{ metric: "DnsRecordsNotPlaced", value: (f) => numeric(f.records) }],
  "dns.sync-failed": [count("DnsSyncFailed")],
  "event.rejected": [count("EventsRejected")],
  "batch.step-failed": [count("BatchStepsFailed")],
  "health.check-created": [count("HealthChecksCreated")],
  "health.check-deleted": [count("HealthChecksDeleted", (f) => f.outcome === "deleted")],
  "health.failing": [count("InstancesFailingHealth")],
  "health.replaced": [count("InstancesReplaced")],
  "health.fleet-failing": [count("FleetFailingHealth")],
  retry: [count("ThrottlesRetried", (f) => isThrottleName(String(f.error)))],
};

function numeric(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** The same logger, also turning the events in `rules` into metrics (children too). */
export function withMetrics(log: Logger, sink: MetricSink, rules = METRIC_EVENTS): Logger {
  const measure = (msg: string, fields: LogFields = {}) => {
    for (const rule of rules[msg] ?? []) {
      if (rule.when && !rule.when(fields)) continue;
      const value = rule.value ? rule.value(fields) : 1;
      if (value !== undefined) sink(rule.metric, rule.unit ?? "Count", value);
    }
  };
  return {
    debug: (msg, fields) => {
      measure(msg, fields);
      log.debug(msg, fields);
    },
    info: (msg, fields) => {
      measure(msg, fields);
      log.info(msg, fields);
    },
    warn: (msg, fields) => {
      measure(msg, fields);
      log.warn(msg, fields);
    },
    error: (msg, fields) => {
      measure(msg, fields);
      log.error(msg, fields);
    },
    child: (fields) => withMetrics(log.child(fields), sink, rules),
  };
}
