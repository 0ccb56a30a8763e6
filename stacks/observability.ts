// Plain Pulumi resources, imported explicitly (not SST's globals): test/stacks-resources.test.ts
// builds them under Pulumi's mocks.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  type AlarmSpec,
  auditAlarms,
  controlPlaneAlarms,
  dashboardBody,
  fleetAlarms,
  METRICS_NAMESPACE,
  type MetricSpec,
  schedulePeriodSeconds,
} from "./definitions";

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
  functions: { label: string; name: pulumi.Input<string> }[];
}

/** The alarms (control plane, fleet, audit) and one dashboard of the fleet. */
export function observabilityResources(args: ObservabilityArgs, options: pulumi.CustomResourceOptions = {}) {
  const notify = [args.alertsTopicArn];
  const alarms = [
    ...controlPlaneAlarms<pulumi.Input<string>>({ deadLetterQueue: args.deadLetterQueueName }),
    ...(args.groupCreated ? fleetAlarms<pulumi.Input<string>>({ group: args.groupName }) : []),
  ].map(
    (spec) =>
      new aws.cloudwatch.MetricAlarm(
        spec.id,
        { ...alarmArgs(spec), alarmActions: notify, okActions: notify },
        options,
      ),
  );

  if (args.auditSchedule) {
    // The audit's alarms judge each run: their period is the schedule's.
    const period = schedulePeriodSeconds(args.auditSchedule);
    for (const alarm of auditAlarms()) {
      alarms.push(
        new aws.cloudwatch.MetricAlarm(
          alarm.id,
          {
            alarmDescription: alarm.description,
            namespace: METRICS_NAMESPACE,
            metricName: alarm.metric,
            dimensions: { Fleet: args.ownerId },
            statistic: alarm.statistic,
            period,
            evaluationPeriods: alarm.evaluationPeriods,
            threshold: alarm.threshold,
            comparisonOperator: alarm.comparison,
            treatMissingData: alarm.treatMissingData,
            alarmActions: notify,
            okActions: notify,
          },
          options,
        ),
      );
    }
  }

  const dashboard = new aws.cloudwatch.Dashboard(
    "Dashboard",
    {
      dashboardName: args.ownerId,
      dashboardBody: pulumi
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
