import { join } from "node:path";
import {
  documentName,
  type FleetConfig,
  fleetEnvironment,
  lifecycleHooks,
  loadFleetConfig,
} from "@ftpfleet/core";
import { bundleDocument, DOCUMENT_NAMES } from "@ftpfleet/core/documents";
import {
  AUDIT_FUNCTION_TIMEOUT_SECONDS,
  auditAlarms,
  auditPermissions,
  commandStatusSubscriptionPattern,
  controlPlanePermissions,
  iamPolicyDocument,
  LAMBDA_RUNTIME,
  LIFECYCLE_FUNCTION_TIMEOUT_SECONDS,
  lifecycleQueueSettings,
  lifecycleSubscriptionPattern,
  METRICS_NAMESPACE,
  operatorPermissions,
  RECONCILE_SCHEDULE,
  recentChangesSubscriptionPattern,
  reconcilePermissions,
  schedulePeriodSeconds,
} from "./definitions";

/** The control plane: lifecycle and command-status events → queue → lifecycle function → Route53,
 * Auto Scaling and SSM, plus a scheduled reconcile. The fleet's group, zone, name and bucket come
 * from FTPFLEET_* variables at deploy time and are validated exactly as the functions validate them. */
export function controlPlaneStack() {
  const config = loadFleetConfig({
    FTPFLEET_OWNER_ID: `${$app.name}-${$app.stage}`
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, "-")
      .slice(0, 48),
    ...process.env,
  });
  const partition = aws.getPartitionOutput().partition;
  const region = aws.getRegionOutput().region;
  const account = aws.getCallerIdentityOutput().accountId;
  const busArn = $interpolate`arn:${partition}:events:${region}:${account}:event-bus/default`;

  const deadLetters = new sst.aws.Queue("LifecycleDeadLetters", {
    transform: { queue: { messageRetentionSeconds: 14 * 24 * 3600, sqsManagedSseEnabled: true } },
  });
  const queue = new sst.aws.Queue("LifecycleQueue", {
    visibilityTimeout: `${lifecycleQueueSettings.visibilityTimeoutSeconds} seconds`,
    dlq: { queue: deadLetters.arn, retry: lifecycleQueueSettings.maxReceiveCount },
    transform: { queue: { sqsManagedSseEnabled: true } },
  });
  sst.aws.Bus.subscribeQueue("LifecycleEvents", busArn, queue, {
    pattern: lifecycleSubscriptionPattern(config.asgName),
  });
  // With a bucket, new instances are provisioned by SSM documents before they serve.
  const provisioning = config.bucket ? provisioningStack(config, queue, busArn) : undefined;

  const environment = {
    ...fleetEnvironment(config),
    ...(provisioning ? { FTPFLEET_OUTPUT_BUCKET: provisioning.outputBucket } : {}),
    FTPFLEET_LIFECYCLE_QUEUE_URL: queue.url,
    LOG_LEVEL: "info",
  };
  const scope = $resolve([partition, region, account, queue.arn]).apply(
    ([partition, region, account, queueArn]) => ({
      partition,
      region,
      account,
      queueArn,
    }),
  );

  queue.subscribe(
    {
      handler: "functions/lifecycle.handler",
      runtime: LAMBDA_RUNTIME,
      architecture: "arm64",
      timeout: `${LIFECYCLE_FUNCTION_TIMEOUT_SECONDS} seconds`,
      memory: "256 MB",
      environment,
      permissions: scope.apply((s) => controlPlanePermissions(config, s)),
    },
    {
      batch: {
        size: lifecycleQueueSettings.batchSize,
        window: `${lifecycleQueueSettings.batchWindowSeconds} seconds`,
        partialResponses: true,
      },
      transform: {
        eventSourceMapping: {
          scalingConfig: { maximumConcurrency: lifecycleQueueSettings.maximumConcurrency },
        },
      },
    },
  );

  new sst.aws.CronV2("Reconcile", {
    schedule: RECONCILE_SCHEDULE,
    function: {
      handler: "functions/reconcile.handler",
      runtime: LAMBDA_RUNTIME,
      architecture: "arm64",
      timeout: "120 seconds",
      memory: "256 MB",
      environment,
      permissions: scope.apply((s) => reconcilePermissions(config, s)),
    },
  });

  const alerts = new sst.aws.SnsTopic("Alerts");
  if (provisioning) {
    // The bucket's object events (EventBridge notifications must be on for the bucket): the keys
    // the audit looks at first, whatever slice its sweep is in.
    const recentChanges = new sst.aws.Queue("RecentChanges", {
      visibilityTimeout: `${AUDIT_FUNCTION_TIMEOUT_SECONDS} seconds`,
      transform: { queue: { messageRetentionSeconds: 24 * 3600, sqsManagedSseEnabled: true } },
    });
    sst.aws.Bus.subscribeQueue("BucketObjectEvents", busArn, recentChanges, {
      pattern: recentChangesSubscriptionPattern(config),
    });
    const auditScope = $util
      .all([scope, recentChanges.arn])
      .apply(([s, recentQueueArn]) => ({ ...s, recentQueueArn }));
    const period = schedulePeriodSeconds(config.auditSchedule);
    for (const alarm of auditAlarms()) {
      new aws.cloudwatch.MetricAlarm(alarm.id, {
        alarmDescription: alarm.description,
        namespace: METRICS_NAMESPACE,
        metricName: alarm.metric,
        dimensions: { Fleet: config.ownerId },
        statistic: alarm.statistic,
        period,
        evaluationPeriods: alarm.evaluationPeriods,
        threshold: alarm.threshold,
        comparisonOperator: alarm.comparison,
        treatMissingData: alarm.treatMissingData,
        alarmActions: [alerts.arn],
        okActions: [alerts.arn],
      });
    }
    new sst.aws.CronV2("Audit", {
      schedule: config.auditSchedule as `rate(${string})` | `cron(${string})`,
      function: {
        handler: "functions/audit.handler",
        runtime: LAMBDA_RUNTIME,
        architecture: "arm64",
        timeout: `${AUDIT_FUNCTION_TIMEOUT_SECONDS} seconds`,
        memory: "512 MB",
        environment: { ...environment, FTPFLEET_RECENT_CHANGES_QUEUE_URL: recentChanges.url },
        permissions: auditScope.apply((s) => auditPermissions(config, s)),
      },
    });
  }

  const hooks = lifecycleHooks(config);
  for (const [id, hook] of [
    ["LaunchHook", hooks.launch],
    ["TerminateHook", hooks.terminate],
  ] as const) {
    new aws.autoscaling.LifecycleHook(id, {
      name: hook.name,
      autoscalingGroupName: config.asgName,
      lifecycleTransition: hook.transition,
      heartbeatTimeout: hook.heartbeatTimeoutSeconds,
      defaultResult: hook.defaultResult,
    });
  }

  // The operator's side: a policy to attach to whoever runs `ftpfleet users …` / `status`, and the
  // variables that name this fleet to the CLI (SST writes outputs to .sst/outputs.json).
  const operatorPolicy = provisioning
    ? new aws.iam.Policy("OperatorPolicy", {
        description: `ftpfleet CLI for ${config.recordName}: users manifest, apply-users, status`,
        policy: $util
          .all([scope, provisioning.outputBucket])
          .apply(([s, outputBucket]) => iamPolicyDocument(operatorPermissions(config, s, outputBucket))),
      })
    : undefined;

  return {
    lifecycleQueue: queue.url,
    deadLetters: deadLetters.url,
    alerts: alerts.arn,
    recordName: config.recordName,
    ...(provisioning ? { commandOutput: provisioning.outputBucket } : {}),
    ...(operatorPolicy ? { operatorPolicy: operatorPolicy.arn } : {}),
    cliEnvironment: $resolve([environment.FTPFLEET_OUTPUT_BUCKET ?? ""]).apply(([outputBucket]) => ({
      ...fleetEnvironment(config),
      ...(outputBucket ? { FTPFLEET_OUTPUT_BUCKET: outputBucket } : {}),
    })),
  };
}

/** The SSM documents (scripts bundled in), the bucket their full outputs go to (SSM keeps only
 * 24,000 characters inline), and the route of their status-change events to the lifecycle queue. */
function provisioningStack(config: FleetConfig, queue: sst.aws.Queue, busArn: $util.Output<string>) {
  const output = new sst.aws.Bucket("CommandOutput");
  new aws.s3.BucketLifecycleConfigurationV2("CommandOutputExpiry", {
    bucket: output.name,
    rules: [{ id: "expire", status: "Enabled", filter: {}, expiration: { days: 30 } }],
  });
  for (const name of DOCUMENT_NAMES) {
    new aws.ssm.Document(`Document-${name}`, {
      name: documentName(config, name),
      documentType: "Command",
      documentFormat: "JSON",
      content: JSON.stringify(bundleDocument(name, join(process.cwd(), "documents"))),
    });
  }
  sst.aws.Bus.subscribeQueue("CommandStatus", busArn, queue, {
    pattern: commandStatusSubscriptionPattern(config),
  });
  return { outputBucket: output.name };
}
