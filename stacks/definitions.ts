import {
  APPLIED_PREFIX,
  commandStatusPattern,
  documentName,
  type EventPattern,
  type FleetConfig,
  LAUNCH_TAG,
  lifecycleEventPattern,
  READY_TAG,
  USERS_MANIFEST_KEY,
} from "@ftpfleet/core";

/** The control plane's infrastructure as plain data: what the stack deploys, and what tests check
 * (SST components themselves cannot be instantiated offline). */

export const LAMBDA_RUNTIME = "nodejs22.x";
export const LIFECYCLE_FUNCTION_TIMEOUT_SECONDS = 120;
export const RECONCILE_SCHEDULE = "rate(5 minutes)";

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
    ...(["ec2:CreateTags", "ec2:DeleteTags"] as const).map((action) => ({
      actions: [action],
      resources: [`arn:${partition}:ec2:${region}:${account}:instance/*`],
      conditions: [
        {
          test: "StringEquals",
          variable: "aws:ResourceTag/aws:autoscaling:groupName",
          values: [config.asgName],
        },
        { test: "ForAllValues:StringEquals", variable: "aws:TagKeys", values: [LAUNCH_TAG, READY_TAG] },
      ],
    })),
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

/** What an operator's role needs to run the ftpfleet CLI against this fleet (`users …`, `status`):
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
  return [
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
