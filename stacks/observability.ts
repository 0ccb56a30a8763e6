// Plain Pulumi resources, imported explicitly (not SST's globals): test/stacks-resources.test.ts
// builds them under Pulumi's mocks.
import type * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import {
  type AlarmSpec,
  controlPlaneAlarms,
  dashboardBody,
  fleetAlarms,
  fleetMetricAlarms,
  type MetricSpec,
} from "./definitions";
import { sdk } from "./pulumi";

export interface ObservabilityArgs {
  ownerId: string;
  region: string;
  /** Every alarm notifies this SNS topic (the stack's Alerts), on alarm and on recovery. */
  alertsTopicArn: pulumi.Input<string>;
  deadLetterQueueName: pulumi.Input<string>;
  /** The group the control plane follows (its metrics feed the dashboard). */
  groupName: pulumi.Input<string>;
  /** Group alarms need the group's metrics, which the stack enables on the group it creates only. */
  groupCreated: boolean;
  /** The audit's schedule when the audit runs (a bucket), else undefined. */
  auditSchedule?: string | undefined;
  /** Whether SSM provisions new instances (a bucket). */
  provisioning: boolean;
  /** Whether instances carry deep health checks (FTPFLEET_HEALTH_CHECKS=deep). */
  deepHealth: boolean;
  functions: { label: string; name: pulumi.Input<string> }[];
}

/** The alarms (control plane, fleet, the functions' own metrics) and one dashboard of the fleet. */
export function observabilityResources(args: ObservabilityArgs, options: pulumi.CustomResourceOptions = {}) {
  const notify = [args.alertsTopicArn];
  const specs: AlarmSpec<pulumi.Input<string>>[] = [
    ...controlPlaneAlarms<pulumi.Input<string>>({ deadLetterQueue: args.deadLetterQueueName }),
    ...(args.groupCreated ? fleetAlarms<pulumi.Input<string>>({ group: args.groupName }) : []),
    ...fleetMetricAlarms({
      ownerId: args.ownerId,
      provisioning: args.provisioning,
      deepHealth: args.deepHealth,
      auditSchedule: args.auditSchedule,
    }),
  ];
  const alarms = specs.map(
    (spec) =>
      new sdk.aws.cloudwatch.MetricAlarm(
        spec.id,
        { ...alarmArgs(spec), alarmActions: notify, okActions: notify },
        options,
      ),
  );

  const dashboard = new sdk.aws.cloudwatch.Dashboard(
    "Dashboard",
    {
      dashboardName: args.ownerId,
      dashboardBody: sdk.pulumi
        .all([args.groupName, args.deadLetterQueueName, ...args.functions.map((f) => f.name)])
        .apply(([groupName, deadLetterQueue, ...functionNames]) =>
          JSON.stringify(
            dashboardBody({
              region: args.region,
              ownerId: args.ownerId,
              groupName: groupName as string,
              deadLetterQueue: deadLetterQueue as string,
              functions: args.functions.map((f, i) => ({ label: f.label, name: functionNames[i] as string })),
              audit: Boolean(args.auditSchedule),
              provisioning: args.provisioning,
              deepHealth: args.deepHealth,
            }),
          ),
        ),
    },
    options,
  );
  return { alarms, dashboard };
}

/** An alarm spec as MetricAlarm's arguments: one metric, or an expression over several. */
function alarmArgs(spec: AlarmSpec<pulumi.Input<string>>): aws.cloudwatch.MetricAlarmArgs {
  const common = {
    alarmDescription: spec.description,
    comparisonOperator: spec.comparison,
    threshold: spec.threshold,
    evaluationPeriods: spec.evaluationPeriods,
    treatMissingData: spec.treatMissingData,
  };
  if (spec.metric) {
    return {
      ...common,
      namespace: spec.metric.namespace,
      metricName: spec.metric.name,
      dimensions: spec.metric.dimensions,
      statistic: spec.metric.statistic,
      period: spec.metric.periodSeconds,
    };
  }
  if (!spec.expression) throw new Error(`alarm ${spec.id} has neither a metric nor an expression`);
  const query = (id: string, metric: MetricSpec<pulumi.Input<string>>) => ({
    id,
    returnData: false,
    metric: {
      namespace: metric.namespace,
      metricName: metric.name,
      dimensions: metric.dimensions,
      stat: metric.statistic,
      period: metric.periodSeconds,
    },
  });
  return {
    ...common,
    metricQueries: [
      {
        id: "result",
        expression: spec.expression.expression,
        label: spec.expression.label,
        returnData: true,
      },
      ...Object.entries(spec.expression.metrics).map(([id, metric]) => query(id, metric)),
    ],
  };
}
