import { lifecycleHooks } from "@ftpfleet/core";
import type { StackConfiguration } from "./configuration";
import {
  AUDIT_FUNCTION_TIMEOUT_SECONDS,
  auditPermissions,
  controlPlanePermissions,
  iamPolicyDocument,
  LAMBDA_RUNTIME,
  LIFECYCLE_FUNCTION_TIMEOUT_SECONDS,
  lifecycleQueueSettings,
  lifecycleSubscriptionPattern,
  operatorPermissions,
  RECONCILE_SCHEDULE,
  recentChangesSubscriptionPattern,
  reconcilePermissions,
} from "./definitions";
import { documentsStack } from "./documents";

/** One function of the control plane, for the dashboard, the alarms and the bucket policy. */
export interface ControlPlaneFunction {
  label: string;
  name: $util.Output<string>;
  roleArn: $util.Output<string>;
}

/** The control plane: lifecycle and command-status events → queue → lifecycle function → Route53,
 * Auto Scaling and SSM, plus a scheduled reconcile, and with a bucket the SSM documents and the
 * scheduled audit. It follows the group named in the configuration, whoever created it. */
export function controlPlaneStack(
  { fleet: config, deployment, environment: fleetVariables }: StackConfiguration,
  { partition, region, account }: { partition: string; region: string; account: string },
) {
  const busArn = `arn:${partition}:events:${region}:${account}:event-bus/default`;

  const deadLetters = new sst.aws.Queue("LifecycleDeadLetters", {
    transform: { queue: { messageRetentionSeconds: 14 * 24 * 3600, sqsManagedSseEnabled: true } },
  });
  const queue = new sst.aws.Queue("LifecycleQueue", {
    visibilityTimeout: `${lifecycleQueueSettings.visibilityTimeoutSeconds} seconds`,
    dlq: { queue: deadLetters.arn, retry: lifecycleQueueSettings.maxReceiveCount },
    transform: { queue: { sqsManagedSseEnabled: true } },
  });
  const lifecycleEvents = sst.aws.Bus.subscribeQueue("LifecycleEvents", busArn, queue, {
    pattern: lifecycleSubscriptionPattern(config.asgName),
  });
  // With a bucket, new instances are provisioned by SSM documents before they serve.
  const documents = config.bucket ? documentsStack(config, queue, busArn) : undefined;

  const environment = {
    ...fleetVariables,
    ...(documents ? { FTPFLEET_OUTPUT_BUCKET: documents.outputBucket } : {}),
    FTPFLEET_LIFECYCLE_QUEUE_URL: queue.url,
    LOG_LEVEL: "info",
  };
  const scope = queue.arn.apply((queueArn) => ({ partition, region, account, queueArn }));

  const lifecycle = queue.subscribe(
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

  const reconcile = new sst.aws.CronV2("Reconcile", {
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

  const functions: ControlPlaneFunction[] = [
    describeFunction("lifecycle", lifecycle.nodes.function),
    describeFunction("reconcile", reconcile.nodes.function),
  ];

  const alerts = new sst.aws.SnsTopic("Alerts");
  if (documents) {
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
    const audit = new sst.aws.CronV2("Audit", {
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
    functions.push(describeFunction("audit", audit.nodes.function));
  }

  // A group the stack creates carries the hooks from its creation (stacks/fleet.ts); an existing
  // group gets them here.
  if (!deployment.createFleet) {
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
  }

  // The operator's side: a policy to attach to whoever runs `ftpfleet users …` / `status`, and the
  // variables that name this fleet to the CLI (SST writes outputs to .sst/outputs.json).
  const operatorPolicy = documents
    ? new aws.iam.Policy("OperatorPolicy", {
        description: `ftpfleet CLI for ${config.recordName}: users manifest, apply-users, status`,
        policy: $util
          .all([scope, documents.outputBucket])
          .apply(([s, outputBucket]) => iamPolicyDocument(operatorPermissions(config, s, outputBucket))),
      })
    : undefined;

  return {
    queue,
    deadLetters,
    alerts,
    functions,
    outputBucket: documents?.outputBucket,
    /** What the first instances of a group the stack creates need in place: their launch events'
     * route and consumer, and the documents that provision them. */
    readiness: [lifecycleEvents, lifecycle, ...(documents?.resources ?? [])],
    outputs: {
      lifecycleQueue: queue.url,
      deadLetters: deadLetters.url,
      alerts: alerts.arn,
      recordName: config.recordName,
      ...(documents ? { commandOutput: documents.outputBucket } : {}),
      ...(operatorPolicy ? { operatorPolicy: operatorPolicy.arn } : {}),
      cliEnvironment: $resolve([environment.FTPFLEET_OUTPUT_BUCKET ?? ""]).apply(([outputBucket]) => ({
        ...fleetVariables,
        ...(outputBucket ? { FTPFLEET_OUTPUT_BUCKET: outputBucket } : {}),
      })),
    },
  };
}

function describeFunction(label: string, fn: $util.Output<sst.aws.Function>): ControlPlaneFunction {
  return { label, name: fn.apply((f) => f.name), roleArn: fn.apply((f) => f.nodes.function.role) };
}
