import {
  APPLIED_PREFIX,
  AUDIT_PREFIX,
  commandStatusPattern,
  documentName,
  type EventPattern,
  FAILED_REPAIRS_TAG,
  type FleetConfig,
  LAUNCH_TAG,
  lifecycleEventPattern,
  READY_TAG,
  ROTATION_TAG,
  USERS_MANIFEST_KEY,
} from "@ftpfleet/core";

/** The control plane's infrastructure as plain data: what the stack deploys, and what tests check
 * (SST components themselves cannot be instantiated offline). */

export const LAMBDA_RUNTIME = "nodejs22.x";
export const LIFECYCLE_FUNCTION_TIMEOUT_SECONDS = 120;
export const RECONCILE_SCHEDULE = "rate(5 minutes)";
/** A run probes every instance up to five times (canary twice, confirm, repairs) and waits on SSM. */
export const AUDIT_FUNCTION_TIMEOUT_SECONDS = 900;

/** One batch costs one DNS sync: big batches, a short window to let a burst gather, and at most
 * two pollers (the SQS minimum) so that a scale-out of hundreds stays within Route53's rate. */
export const lifecycleQueueSettings = {
  // AWS advises a visibility timeout of six times the function timeout for SQS event sources.
  visibilityTimeoutSeconds: 6 * LIFECYCLE_FUNCTION_TIMEOUT_SECONDS,
  maxReceiveCount: 5,
  batchSize: 100,
  batchWindowSeconds: 5,
  maximumConcurrency: 2,
} as const;

export function commandStatusSubscriptionPattern(config: FleetConfig) {
  return asSubscription(commandStatusPattern(config));
}

/** S3's object events for the fleet's bucket (EventBridge notifications), the audit's recent changes. */
export function recentChangesSubscriptionPattern(config: FleetConfig) {
  return {
    source: ["aws.s3"],
    detailType: ["Object Created", "Object Deleted"],
    detail: { bucket: { name: [config.bucket ?? ""] } },
  };
}

export function lifecycleSubscriptionPattern(asgName: string) {
  return asSubscription(lifecycleEventPattern(asgName));
}

/** SST spells EventBridge's "detail-type" as detailType. */
function asSubscription(pattern: EventPattern) {
  return {
    source: pattern.source as string[],
    detailType: pattern["detail-type"] as string[],
    detail: pattern.detail as Record<string, unknown>,
  };
}

export interface Permission {
  actions: string[];
  resources: string[];
  conditions?: { test: string; variable: string; values: string[] }[];
}

export interface PermissionScope {
  partition: string;
  region: string;
  account: string;
  queueArn: string;
}

/** Least privilege: the fleet's own records in one zone (A records, CREATE/DELETE only), its own
 * group's lifecycle actions, the launch and ready tags on its own instances, and its own queue. The Describe*
 * calls support no resource-level permissions. */
export function controlPlanePermissions(config: FleetConfig, scope: PermissionScope): Permission[] {
  const { partition, region, account } = scope;
  const zone = `arn:${partition}:route53:::hostedzone/${config.hostedZoneId}`;
  const group = `arn:${partition}:autoscaling:${region}:${account}:autoScalingGroup:*:autoScalingGroupName/${config.asgName}`;
  return [
    { actions: ["route53:ListResourceRecordSets"], resources: [zone] },
    {
      actions: ["route53:ChangeResourceRecordSets"],
      resources: [zone],
      conditions: [
        {
          test: "ForAllValues:StringEquals",
          variable: "route53:ChangeResourceRecordSetsNormalizedRecordNames",
          values: [config.recordName.replace(/\.$/, "")],
        },
        {
          test: "ForAllValues:StringEquals",
          variable: "route53:ChangeResourceRecordSetsRecordTypes",
          values: ["A"],
        },
        {
          test: "ForAllValues:StringEquals",
          variable: "route53:ChangeResourceRecordSetsActions",
          values: ["CREATE", "DELETE"],
        },
      ],
    },
    { actions: ["autoscaling:DescribeAutoScalingGroups", "ec2:DescribeInstances"], resources: ["*"] },
    {
      actions: ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"],
      resources: [group],
    },
    // Launch and readiness tags, on the group's instances only: set by the lifecycle function,
    // removed by every sync (the reconcile's too) once an instance no longer needs them.
    ...tagGroupInstances(config, scope, [LAUNCH_TAG, READY_TAG]),
    { actions: ["sqs:SendMessage"], resources: [scope.queueArn] },
    ...(config.bucket ? commandPermissions(config, scope) : []),
  ];
}

/** Run the fleet's own provision and drain documents, on the fleet's own instances only. */
function commandPermissions(
  config: FleetConfig,
  { partition, region, account }: PermissionScope,
): Permission[] {
  const documents = (["provision", "drain"] as const).map(
    (name) => `arn:${partition}:ssm:${region}:${account}:document/${documentName(config, name)}`,
  );
  return [
    { actions: ["ssm:SendCommand"], resources: documents },
    sendToGroupInstances(config, { partition, region, account }),
    {
      actions: ["ssm:DescribeInstanceInformation", "ssm:GetCommandInvocation", "ssm:ListCommandInvocations"],
      resources: ["*"],
    },
  ];
}

/** The reconcile needs the same reads, record changes and tag clean-up, and nothing of the lifecycle. */
export function reconcilePermissions(config: FleetConfig, scope: PermissionScope): Permission[] {
  return controlPlanePermissions(config, scope).filter((p) =>
    p.actions.every(
      (a) =>
        a.startsWith("route53:") ||
        a.startsWith("autoscaling:Describe") ||
        a.startsWith("ec2:Describe") ||
        a === "ec2:DeleteTags",
    ),
  );
}

/** The audit (scheduled, and `ftpfleet audit` for an operator): the reconcile's reads and record
 * changes (taking an instance out of rotation syncs DNS); its own two marks on the group's
 * instances; SetInstanceHealth on its group (after failed repairs); the probe and repair documents,
 * on the group's instances only; the bucket: listed, any object's metadata read (HeadObject is
 * s3:GetObject, and a link object's target is read), written only under the audit's prefix; the
 * recent-changes queue, received from and deleted from (the function only: the CLI leaves it). */
export function auditPermissions(
  config: FleetConfig,
  scope: Omit<PermissionScope, "queueArn"> & { recentQueueArn?: string },
): Permission[] {
  if (!config.bucket) return [];
  const { partition, region, account } = scope;
  const bucket = `arn:${partition}:s3:::${config.bucket}`;
  const group = `arn:${partition}:autoscaling:${region}:${account}:autoScalingGroup:*:autoScalingGroupName/${config.asgName}`;
  return [
    ...reconcilePermissions(config, { ...scope, queueArn: "" }),
    ...tagGroupInstances(config, scope, [ROTATION_TAG, FAILED_REPAIRS_TAG]),
    { actions: ["autoscaling:SetInstanceHealth"], resources: [group] },
    {
      actions: ["ssm:SendCommand"],
      resources: (["audit-probe", "audit-repair"] as const).map(
        (name) => `arn:${partition}:ssm:${region}:${account}:document/${documentName(config, name)}`,
      ),
    },
    sendToGroupInstances(config, scope),
    {
      actions: ["ssm:DescribeInstanceInformation", "ssm:GetCommandInvocation", "ssm:ListCommandInvocations"],
      resources: ["*"],
    },
    { actions: ["s3:ListBucket", "s3:ListBucketMultipartUploads"], resources: [bucket] },
    { actions: ["s3:GetObject"], resources: [`${bucket}/*`] },
    { actions: ["s3:PutObject"], resources: [`${bucket}/${AUDIT_PREFIX}*`] },
    ...(scope.recentQueueArn
      ? [{ actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage"], resources: [scope.recentQueueArn] }]
      : []),
  ];
}

/** One CloudWatch alarm on a metric the audit function publishes (namespace ftpfleet, dimension
 * Fleet), as data: the stack creates them, tests check them. */
export interface AuditAlarm {
  id: string;
  metric: string;
  statistic: "Maximum" | "Minimum" | "Sum";
  comparison: "GreaterThanThreshold" | "LessThanThreshold";
  threshold: number;
  /** Runs in a row. */
  evaluationPeriods: number;
  treatMissingData: "breaching" | "notBreaching";
  description: string;
}

export const METRICS_NAMESPACE = "ftpfleet";

/** Seconds between two runs of a schedule: rate(N unit) exactly; a cron expression is taken as hourly
 * (the alarms then judge each hour). */
export function schedulePeriodSeconds(schedule: string): number {
  const rate = /^rate\(([0-9]+) (minute|minutes|hour|hours|day|days)\)$/.exec(schedule);
  if (!rate) return 3600;
  const unit = { minute: 60, minutes: 60, hour: 3600, hours: 3600, day: 86400, days: 86400 }[
    rate[2] as "minute"
  ];
  // CloudWatch periods of a minute or more are multiples of 60 s, at most a day for these alarms.
  return Math.min(86_400, Number(rate[1]) * unit);
}

/** What the operator is told (operations.md, "Audit findings", says what to do for each). */
export function auditAlarms(): AuditAlarm[] {
  const findings = (id: string, metric: string, description: string, evaluationPeriods = 1): AuditAlarm => ({
    id,
    metric,
    statistic: "Maximum",
    comparison: "GreaterThanThreshold",
    threshold: 0,
    evaluationPeriods,
    treatMissingData: "notBreaching",
    description,
  });
  return [
    findings(
      "AuditStale",
      "InstancesWithFindings",
      "An instance serves what S3 no longer holds (stale, missing, unexpected or unreadable files).",
    ),
    findings(
      "AuditOutOfRotation",
      "InstancesOutOfRotation",
      "The audit took an instance out of rotation and could not repair it.",
      2,
    ),
    findings(
      "AuditUnreached",
      "InstancesUnreached",
      "In-service instances the audit's probe could not reach (SSM agent offline) twice in a row.",
      2,
    ),
    findings(
      "AuditSymlinks",
      "SymlinkObjects",
      "Objects in the bucket that s3fs shows as symbolic links (someone wrote link metadata).",
    ),
    findings(
      "AuditBucket",
      "BucketFindings",
      "Bucket findings: links, leftover temporary files, unfinished multipart uploads, unreachable keys.",
    ),
    {
      id: "AuditNotRunning",
      metric: "InstancesAudited",
      statistic: "Sum",
      comparison: "LessThanThreshold",
      threshold: 0,
      evaluationPeriods: 2,
      // No data point at all: the audit did not run (or failed before publishing).
      treatMissingData: "breaching",
      description: "The scheduled audit published nothing for two periods: it is failing or not running.",
    },
  ];
}

/** What an operator's role needs to run the ftpfleet CLI against this fleet (`users …`, `status`,
 * `audit`, whose rights are the audit function's, see auditPermissions):
 * the users manifest (read, and written conditionally) and the instances' apply reports; apply-users
 * on the group's instances only, and its outputs; the reads behind `status`. List, Get and Describe
 * calls of SSM, Auto Scaling and EC2 support no resource-level permissions. */
export function operatorPermissions(
  config: FleetConfig,
  { partition, region, account }: PermissionScope,
  outputBucket: string,
): Permission[] {
  if (!config.bucket) return [];
  const objects = `arn:${partition}:s3:::${config.bucket}`;
  const users: Permission[] = [
    { actions: ["s3:GetObject", "s3:PutObject"], resources: [`${objects}/${USERS_MANIFEST_KEY}`] },
    { actions: ["s3:GetObject"], resources: [`${objects}/${APPLIED_PREFIX}*`] },
    { actions: ["s3:GetObject"], resources: [`arn:${partition}:s3:::${outputBucket}/ssm/apply-users/*`] },
    {
      actions: ["ssm:SendCommand"],
      resources: [
        `arn:${partition}:ssm:${region}:${account}:document/${documentName(config, "apply-users")}`,
      ],
    },
    sendToGroupInstances(config, { partition, region, account }),
    {
      actions: [
        "ssm:ListCommands",
        "ssm:ListCommandInvocations",
        "ssm:GetCommandInvocation",
        "autoscaling:DescribeAutoScalingGroups",
        "ec2:DescribeInstances",
      ],
      resources: ["*"],
    },
    {
      actions: ["route53:ListResourceRecordSets"],
      resources: [`arn:${partition}:route53:::hostedzone/${config.hostedZoneId}`],
    },
  ];
  // `ftpfleet audit [--repair]` runs the audit's workflow: the audit's rights, and its outputs.
  const audit = [
    ...auditPermissions(config, { partition, region, account }),
    { actions: ["s3:GetObject"], resources: [`arn:${partition}:s3:::${outputBucket}/ssm/audit-*`] },
  ];
  const seen = new Set(users.map((p) => JSON.stringify(p)));
  return [...users, ...audit.filter((p) => !seen.has(JSON.stringify(p)))];
}

/** An IAM policy document from the statements kept as data. */
export function iamPolicyDocument(permissions: Permission[]): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: permissions.map((p) => ({
      Effect: "Allow",
      Action: p.actions,
      Resource: p.resources,
      ...(p.conditions
        ? {
            Condition: conditionBlock(p.conditions),
          }
        : {}),
    })),
  });
}

/** IAM's Condition: one block per test, holding each of its variables. */
function conditionBlock(conditions: NonNullable<Permission["conditions"]>) {
  const block: Record<string, Record<string, string[]>> = {};
  for (const c of conditions) block[c.test] = { ...block[c.test], [c.variable]: c.values };
  return block;
}

/** Create and delete these tags (and no other), on the group's instances only. */
function tagGroupInstances(
  config: FleetConfig,
  { partition, region, account }: Pick<PermissionScope, "partition" | "region" | "account">,
  keys: string[],
): Permission[] {
  return (["ec2:CreateTags", "ec2:DeleteTags"] as const).map((action) => ({
    actions: [action],
    resources: [`arn:${partition}:ec2:${region}:${account}:instance/*`],
    conditions: [
      {
        test: "StringEquals",
        variable: "aws:ResourceTag/aws:autoscaling:groupName",
        values: [config.asgName],
      },
      { test: "ForAllValues:StringEquals", variable: "aws:TagKeys", values: keys },
    ],
  }));
}

/** SendCommand reaches an instance only if it carries the group's tag: the fleet's own instances. */
function sendToGroupInstances(
  config: FleetConfig,
  { partition, region, account }: Pick<PermissionScope, "partition" | "region" | "account">,
): Permission {
  return {
    actions: ["ssm:SendCommand"],
    resources: [`arn:${partition}:ec2:${region}:${account}:instance/*`],
    conditions: [
      {
        test: "StringEquals",
        variable: "ssm:resourceTag/aws:autoscaling:groupName",
        values: [config.asgName],
      },
    ],
  };
}
