import {
  APPLIED_PREFIX,
  AUDIT_PREFIX,
  AUDIT_RUNS_PREFIX,
  commandStatusPattern,
  type DeploymentConfig,
  documentName,
  type EventPattern,
  FAILED_REPAIRS_TAG,
  FAILING_SINCE_TAG,
  type FleetConfig,
  LAUNCH_TAG,
  lifecycleEventPattern,
  METRICS_NAMESPACE,
  METRICS_SERVICES,
  READY_TAG,
  RESERVED_PREFIX,
  ROTATION_TAG,
  USERS_MANIFEST_KEY,
} from "@ftpfleet/core";

/** The control plane's infrastructure as plain data: what the stack deploys, and what tests check
 * (SST components themselves cannot be instantiated offline). */

export const LAMBDA_RUNTIME = "nodejs22.x";
export const LIFECYCLE_FUNCTION_TIMEOUT_SECONDS = 120;
/** Every minute: the reconcile judges sustained deep-health failures, and an instance failing for
 * FTPFLEET_HEALTH_REPLACE_SECONDS (120 s by default) is replaced by the first run after that. */
export const RECONCILE_SCHEDULE = "rate(1 minute)";
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
 * group's lifecycle actions, the launch and ready tags on its own instances, its own queue, and
 * with deep health checks the Route53 health checks of its records. The Describe* calls support no
 * resource-level permissions. */
export function controlPlanePermissions(config: FleetConfig, scope: PermissionScope): Permission[] {
  const { partition } = scope;
  const zone = `arn:${partition}:route53:::hostedzone/${config.hostedZoneId}`;
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
      resources: [groupArn(config, scope)],
    },
    // Launch and readiness tags, on the group's instances only: set by the lifecycle function,
    // removed by every sync (the reconcile's too) once an instance no longer needs them.
    ...tagGroupInstances(config, scope, [LAUNCH_TAG, READY_TAG]),
    { actions: ["sqs:SendMessage"], resources: [scope.queueArn] },
    ...(config.bucket ? commandPermissions(config, scope) : []),
    ...healthCheckPermissions(config, scope),
  ];
}

/** Route53 health checks, with deep health checks: every DNS sync (the lifecycle function's, the
 * reconcile's, the audit's) creates one per serving instance, attaches it to the instance's record
 * and deletes it once no record uses it; the reconcile reads their status. */
export function healthCheckPermissions(
  config: FleetConfig,
  { partition }: Pick<PermissionScope, "partition">,
): Permission[] {
  if (config.healthChecks !== "deep") return [];
  return [
    // CreateHealthCheck and ListHealthChecks support no resource-level permission.
    { actions: ["route53:CreateHealthCheck", "route53:ListHealthChecks"], resources: ["*"] },
    {
      // Health checks carry no tag or name a policy could condition on: any check of the account.
      // The fleet deletes only checks whose CallerReference is its own.
      actions: ["route53:DeleteHealthCheck", "route53:GetHealthCheckStatus"],
      resources: [`arn:${partition}:route53:::healthcheck/*`],
    },
  ];
}

/** The group's ARN, whatever its id. */
function groupArn(
  config: FleetConfig,
  { partition, region, account }: Pick<PermissionScope, "partition" | "region" | "account">,
): string {
  return `arn:${partition}:autoscaling:${region}:${account}:autoScalingGroup:*:autoScalingGroupName/${config.asgName}`;
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

/** What any DNS sync needs besides the lifecycle function's own: the reads, the record changes,
 * the launch-tag clean-up and the health checks; nothing of the lifecycle, no queue, no SSM. */
function dnsSyncPermissions(config: FleetConfig, scope: PermissionScope): Permission[] {
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

/** The reconcile: a DNS sync, and with deep health checks the replacement of instances that keep
 * failing theirs — the failing-since mark (and only it) on the group's instances, SetInstanceHealth
 * on its group. */
export function reconcilePermissions(config: FleetConfig, scope: PermissionScope): Permission[] {
  return [
    ...dnsSyncPermissions(config, scope),
    ...(config.healthChecks === "deep"
      ? [
          ...tagGroupInstances(config, scope, [FAILING_SINCE_TAG]),
          { actions: ["autoscaling:SetInstanceHealth"], resources: [groupArn(config, scope)] },
        ]
      : []),
  ];
}

/** The audit (scheduled, and `ftpfleet audit` for an operator): a DNS sync's reads, record changes
 * and health checks (taking an instance out of rotation syncs DNS); its own two marks on the group's
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
  return [
    ...dnsSyncPermissions(config, { ...scope, queueArn: "" }),
    ...tagGroupInstances(config, scope, [ROTATION_TAG, FAILED_REPAIRS_TAG]),
    { actions: ["autoscaling:SetInstanceHealth"], resources: [groupArn(config, scope)] },
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

/** The function that publishes a metric: Powertools adds it to every metric as the dimension
 * `service` (METRICS_SERVICES), beside `Fleet`. */
export type MetricsService = (typeof METRICS_SERVICES)[keyof typeof METRICS_SERVICES];

/** One CloudWatch alarm on a metric a function publishes (namespace ftpfleet), as data: the stack
 * creates them, tests check them. */
export interface FleetMetricAlarm {
  id: string;
  /** The publishing function: CloudWatch alarms match a metric's exact dimension set. */
  service: MetricsService;
  metric: string;
  statistic: "Maximum" | "Minimum" | "Sum";
  comparison: "GreaterThanThreshold" | "LessThanThreshold";
  threshold: number;
  /** Periods in a row. */
  evaluationPeriods: number;
  treatMissingData: "breaching" | "notBreaching";
  description: string;
}

export { METRICS_NAMESPACE };

/** The dimensions of every metric the functions publish, exactly: an alarm or a graph naming
 * fewer (or more) sees no data. */
export function fleetMetricDimensions<V>(service: MetricsService, ownerId: V): { service: string; Fleet: V } {
  return { service, Fleet: ownerId };
}

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
export function auditAlarms(): FleetMetricAlarm[] {
  const findings = (
    id: string,
    metric: string,
    description: string,
    evaluationPeriods = 1,
  ): FleetMetricAlarm => ({
    id,
    service: METRICS_SERVICES.audit,
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
      service: METRICS_SERVICES.audit,
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

/** What the control plane's own counts alarm on, each over 5 minutes: provisioning that failed
 * (the launch is abandoned and the group tries again), with deep health checks an instance that
 * failed its check long enough to be replaced, and every instance failing at once (the check or a
 * shared dependency, not the instances: none is replaced). */
export function controlPlaneMetricAlarms(fleet: {
  provisioning: boolean;
  deepHealth: boolean;
}): FleetMetricAlarm[] {
  const counted = (
    id: string,
    service: MetricsService,
    metric: string,
    description: string,
  ): FleetMetricAlarm => ({
    id,
    service,
    metric,
    statistic: "Sum",
    comparison: "GreaterThanThreshold",
    threshold: 0,
    evaluationPeriods: 1,
    // No data point: nothing happened (the functions publish a count only when it is not zero).
    treatMissingData: "notBreaching",
    description,
  });
  return [
    ...(fleet.provisioning
      ? [
          counted(
            "ProvisionFailed",
            METRICS_SERVICES.lifecycle,
            "ProvisionFailed",
            "Provisioning failed or could not start (provision.failed, provision.start-failed, provision.agent-offline): a failed launch is abandoned and the group launches another.",
          ),
        ]
      : []),
    ...(fleet.deepHealth
      ? [
          counted(
            "InstancesReplaced",
            METRICS_SERVICES.reconcile,
            "InstancesReplaced",
            "An instance failed its deep health check for FTPFLEET_HEALTH_REPLACE_SECONDS and was marked Unhealthy to be replaced (health.replaced).",
          ),
          counted(
            "FleetFailingHealth",
            METRICS_SERVICES.reconcile,
            "FleetFailingHealth",
            "Every instance fails its deep health check at once (health.fleet-failing): the bucket, the region or the check itself; none is replaced.",
          ),
        ]
      : []),
  ];
}

/** Seconds each control-plane count alarm judges. */
export const CONTROL_PLANE_ALARM_PERIOD_SECONDS = 300;

/** Every alarm on a metric the functions publish, as alarm specs with both dimensions: the control
 * plane's counts over 5 minutes, and the audit's (with a schedule) over one run each. */
export function fleetMetricAlarms(input: {
  ownerId: string;
  provisioning: boolean;
  deepHealth: boolean;
  auditSchedule?: string | undefined;
}): AlarmSpec[] {
  const spec = (alarm: FleetMetricAlarm, periodSeconds: number): AlarmSpec => ({
    id: alarm.id,
    description: alarm.description,
    comparison: alarm.comparison,
    threshold: alarm.threshold,
    evaluationPeriods: alarm.evaluationPeriods,
    treatMissingData: alarm.treatMissingData,
    metric: {
      namespace: METRICS_NAMESPACE,
      name: alarm.metric,
      dimensions: fleetMetricDimensions(alarm.service, input.ownerId),
      statistic: alarm.statistic,
      periodSeconds,
    },
  });
  const audit = input.auditSchedule;
  return [
    ...controlPlaneMetricAlarms(input).map((alarm) => spec(alarm, CONTROL_PLANE_ALARM_PERIOD_SECONDS)),
    // The audit's alarms judge each run: their period is the schedule's.
    ...(audit ? auditAlarms().map((alarm) => spec(alarm, schedulePeriodSeconds(audit))) : []),
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

// ---------------------------------------------------------------------------------------------
// The fleet the stack creates (FTPFLEET_CREATE_FLEET): the instances' rights, network, image,
// scaling; and the data bucket it creates (FTPFLEET_CREATE_BUCKET).

/** What an instance of the fleet may do besides being managed by SSM (the AWS managed policy
 * AmazonSSMManagedInstanceCore): as docs/provisioning.md and docs/operations.md say, the bucket
 * through s3fs — every object read and written by FTP users, the users manifest read, and, under
 * .ftpfleet/, its own apply report (applied/), the audit probe's answers (audit/runs/) and sealed
 * builds (artifacts/, read with sources/); the SSM agent's full command outputs (the command-output
 * bucket, and CloudWatch Logs: the control plane asks for both); the fleet's own SecureString
 * parameters (certificate, artifact key), decrypted through SSM only; no health secret, which each
 * instance generates itself (configure-health.sh). Root on an instance holds these credentials:
 * the threat model (docs/provisioning.md) trusts it, so user-data writes are not carved out of
 * .ftpfleet/. */
export function instancePermissions(
  config: FleetConfig,
  { partition, region, account }: Omit<PermissionScope, "queueArn">,
  { outputBucket }: { outputBucket: string },
): Permission[] {
  if (!config.bucket) return [];
  const bucket = `arn:${partition}:s3:::${config.bucket}`;
  const parameters = [config.tlsCertificateParameter, config.artifactKeyParameter]
    .filter((name): name is string => Boolean(name))
    .map((name) => parameterArn({ partition, region, account }, name));
  const logGroups = `arn:${partition}:logs:${region}:${account}:log-group:/aws/ssm/${documentName(config, "")}*`;
  return [
    // s3fs lists folders; with ListBucket a missing key answers 404 (an artifact cache miss), not 403.
    { actions: ["s3:ListBucket"], resources: [bucket] },
    { actions: ["s3:GetObject"], resources: [`${bucket}/*`] },
    // FTP uploads (in parts above 20 MB), renames (copy + delete) and deletes, and the instance's
    // own objects under .ftpfleet/ (applied/, audit/runs/, artifacts/).
    {
      actions: ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      resources: [`${bucket}/*`],
    },
    ...(parameters.length > 0
      ? [
          { actions: ["ssm:GetParameter"], resources: parameters },
          {
            // Any key the parameters are encrypted with, but only for SSM decrypting these parameters.
            actions: ["kms:Decrypt"],
            resources: [`arn:${partition}:kms:${region}:${account}:key/*`],
            conditions: [
              { test: "StringEquals", variable: "kms:ViaService", values: [`ssm.${region}.amazonaws.com`] },
              { test: "StringEquals", variable: "kms:EncryptionContext:PARAMETER_ARN", values: parameters },
            ],
          },
        ]
      : []),
    // The agent uploads full outputs (SSM keeps 24,000 characters inline) with the bucket-owner ACL,
    // after reading the bucket's encryption settings.
    {
      actions: ["s3:PutObject", "s3:PutObjectAcl"],
      resources: [`arn:${partition}:s3:::${outputBucket}/ssm/*`],
    },
    { actions: ["s3:GetEncryptionConfiguration"], resources: [`arn:${partition}:s3:::${outputBucket}`] },
    // CloudWatch output of the fleet's own documents (log groups /aws/ssm/<document>).
    {
      actions: [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogStreams",
      ],
      resources: [logGroups, `${logGroups}:log-stream:*`],
    },
    // DescribeLogGroups is authorized on the account's log groups as a whole, never on one group.
    {
      actions: ["logs:DescribeLogGroups"],
      resources: [`arn:${partition}:logs:${region}:${account}:log-group:*`],
    },
  ];
}

/** A parameter's ARN: names start with "/" (the config insists), the ARN does not repeat it. */
function parameterArn(
  { partition, region, account }: Omit<PermissionScope, "queueArn">,
  name: string,
): string {
  return `arn:${partition}:ssm:${region}:${account}:parameter/${name.replace(/^\//, "")}`;
}

/** The managed policy that lets SSM manage an instance (agent registration, Run Command). */
export const SSM_MANAGED_INSTANCE_POLICY = "AmazonSSMManagedInstanceCore";

/** Debian's own account, which publishes the official Debian AMIs. */
export const DEBIAN_AMI_OWNER = "136693071363";

/**
 * Debian 12 (bookworm): the data plane's scripts, the pure-ftpd 1.0.54 and s3fs 1.95 builds and
 * every data-plane test run on it. The newest official image of the instance type's architecture
 * (Debian names them amd64/arm64; EC2 says x86_64/arm64): t4g.small, the default, is Graviton, so
 * arm64 — ≈ 20 % cheaper than a comparable x86 size, and the daemons are compiled on the instance.
 */
export function debianAmiQuery(arch: DeploymentConfig["instanceArch"]) {
  return {
    owners: [DEBIAN_AMI_OWNER],
    mostRecent: true,
    filters: [
      { name: "name", values: [`debian-12-${debianArch(arch)}-*`] },
      { name: "architecture", values: [arch] },
      { name: "virtualization-type", values: ["hvm"] },
      { name: "root-device-type", values: ["ebs"] },
    ],
  };
}

function debianArch(arch: DeploymentConfig["instanceArch"]): "amd64" | "arm64" {
  return arch === "arm64" ? "arm64" : "amd64";
}

/**
 * User data: Debian's AMIs ship no SSM agent, and everything else — packages, daemons, bucket,
 * certificate, users — is the provision document's job, run through SSM once the agent is online.
 * So: the agent's Debian package from AWS's own bucket in this region (https), installed and
 * started; nothing more. Should it fail, the agent never comes online, the control plane abandons
 * the launch after FTPFLEET_AGENT_TIMEOUT_SECONDS and the group replaces the instance.
 */
export function ssmAgentUserData(region: string, arch: DeploymentConfig["instanceArch"]): string {
  const url = `https://s3.${region}.amazonaws.com/amazon-ssm-${region}/latest/debian_${debianArch(arch)}/amazon-ssm-agent.deb`;
  return [
    "#!/bin/bash",
    "# ftpfleet: install the SSM agent (not in Debian's AMIs); SSM provisions the rest.",
    "set -euo pipefail",
    "command -v curl >/dev/null || { apt-get update -q && apt-get install -y -q curl; }",
    "deb=$(mktemp --suffix=.deb)",
    `curl -fsSL --retry 5 --retry-connrefused --proto '=https' -o "$deb" ${url}`,
    'dpkg -i "$deb"',
    'rm -f "$deb"',
    "systemctl enable --now amazon-ssm-agent",
    "",
  ].join("\n");
}

/** One ingress rule of the fleet's security group; `from` is a CIDR block or the Route53 health
 * checkers' AWS-managed prefix list. */
export interface IngressRule {
  description: string;
  fromPort: number;
  toPort: number;
  from: { cidr: string } | { prefixList: "route53-healthchecks" };
}

/** FTP's control port and the passive data ports from anywhere; the deep health endpoint only
 * from Route53's health checkers (and only with deep health checks). Nothing else comes in: no
 * SSH (SSM runs commands through the agent's outbound connection). */
export function fleetIngressRules(config: FleetConfig): IngressRule[] {
  const [first, last] = config.passivePorts.split(":").map(Number) as [number, number];
  const anywhere = { cidr: "0.0.0.0/0" };
  return [
    { description: "FTP control (FTPS: AUTH TLS)", fromPort: 21, toPort: 21, from: anywhere },
    { description: "FTP passive data", fromPort: first, toPort: last, from: anywhere },
    ...(config.healthChecks === "deep"
      ? [
          {
            description: "deep health endpoint, Route53 health checkers only",
            fromPort: config.healthPort,
            toPort: config.healthPort,
            from: { prefixList: "route53-healthchecks" as const },
          },
        ]
      : []),
  ];
}

/** The Route53 health checkers' addresses, kept current by AWS, as a managed prefix list. */
export function route53HealthCheckersPrefixList(region: string): string {
  return `com.amazonaws.${region}.route53-healthchecks`;
}

/** EC2's basic monitoring: one NetworkOut data point per instance every 5 minutes, holding the
 * bytes sent in those 5 minutes (detailed monitoring, 1 minute, costs extra per instance). */
export const NETWORK_METRIC_PERIOD_SECONDS = 300;

/**
 * Target tracking on ASGAverageNetworkOut: the bytes each instance sends, which for an FTP server
 * on s3fs is its whole transfer load — a download goes out to the client, an upload goes out to S3
 * (s3fs sends every uploaded byte on). NetworkIn counts both too, but also s3fs's read-ahead (50 MB
 * fetched per read miss, whether the client reads it or not), so Out follows real work more
 * closely. CPU says little: FTP sessions mostly wait on the network.
 */
export function scalingPolicy(deployment: Pick<DeploymentConfig, "scalingTargetMbps">) {
  const bytesPerSecond = (deployment.scalingTargetMbps * 1_000_000) / 8;
  return {
    policyType: "TargetTrackingScaling",
    predefinedMetricType: "ASGAverageNetworkOut",
    /** In the metric's unit: bytes per instance per data point (5 minutes). */
    targetValue: Math.round(bytesPerSecond * NETWORK_METRIC_PERIOD_SECONDS),
    /** Boot, agent, provisioning (a cold build ≈ 30 s) and the DNS TTL before a new instance's
     * traffic counts. */
    estimatedInstanceWarmupSeconds: 300,
  } as const;
}

/** The data bucket's lifecycle: audit requests and answers are kept a week (operations.md), failed
 * multipart uploads are aborted after a week (the audit reports them after a day), overwritten or
 * deleted versions go after `noncurrentVersionDays`, and so do delete markers left alone. */
export function dataBucketLifecycleRules(deployment: Pick<DeploymentConfig, "noncurrentVersionDays">) {
  return [
    {
      id: "audit-runs",
      status: "Enabled",
      filter: { prefix: AUDIT_RUNS_PREFIX },
      expiration: { days: 7 },
      noncurrentVersionExpiration: { noncurrentDays: 1 },
    },
    {
      id: "incomplete-multipart-uploads",
      status: "Enabled",
      filter: {},
      abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
    },
    {
      id: "noncurrent-versions",
      status: "Enabled",
      filter: {},
      noncurrentVersionExpiration: { noncurrentDays: deployment.noncurrentVersionDays },
      expiration: { expiredObjectDeleteMarker: true },
    },
  ];
}

/** The writes under the reserved prefix: objects and their versions. */
export const RESERVED_PREFIX_WRITES = ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"];

/** The data bucket's policy: TLS only, for everyone; and .ftpfleet/ — the users manifest, the
 * instances' reports, the audit's state, sealed builds — written only by `writers` (the fleet's
 * roles and the configured operators): whoever writes it decides who logs in. */
export function dataBucketPolicy(
  { partition, bucket }: { partition: string; bucket: string },
  writers: string[],
) {
  const bucketArn = `arn:${partition}:s3:::${bucket}`;
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "DenyWithoutTls",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [bucketArn, `${bucketArn}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
      {
        Sid: "ReservedPrefixFleetOnly",
        Effect: "Deny",
        Principal: "*",
        Action: RESERVED_PREFIX_WRITES,
        Resource: [`${bucketArn}/${RESERVED_PREFIX}/*`],
        Condition: { ArnNotLike: { "aws:PrincipalArn": writers } },
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Alarms and the dashboard.

/** One metric of an alarm or a dashboard; `V` is how a dimension's value is given (a string in
 * tests, a Pulumi input in the stack, where queue and function names are known only at deploy). */
export interface MetricSpec<V = string> {
  namespace: string;
  name: string;
  dimensions: Record<string, V>;
  statistic: "Maximum" | "Minimum" | "Sum" | "Average";
  periodSeconds: number;
}

/** A CloudWatch alarm as data: on one metric, or on an expression over several. */
export interface AlarmSpec<V = string> {
  id: string;
  description: string;
  comparison: "GreaterThanThreshold" | "LessThanThreshold";
  threshold: number;
  evaluationPeriods: number;
  treatMissingData: "breaching" | "notBreaching";
  metric?: MetricSpec<V>;
  expression?: { expression: string; label: string; metrics: Record<string, MetricSpec<V>> };
}

/** Messages that failed five times: a lifecycle event nobody could handle (its instance waits for
 * its hook's default result; the reconcile repairs DNS). */
export function controlPlaneAlarms<V>(names: { deadLetterQueue: V }): AlarmSpec<V>[] {
  return [
    {
      id: "LifecycleDeadLettersAlarm",
      description:
        "Lifecycle messages failed five times and wait in the dead-letter queue: read dns.sync-failed / lifecycle.complete-failed, fix, redrive.",
      comparison: "GreaterThanThreshold",
      threshold: 0,
      evaluationPeriods: 1,
      treatMissingData: "notBreaching",
      metric: {
        namespace: "AWS/SQS",
        name: "ApproximateNumberOfMessagesVisible",
        dimensions: { QueueName: names.deadLetterQueue },
        statistic: "Maximum",
        periodSeconds: 300,
      },
    },
  ];
}

/** The group's own metrics (enabled on the group the stack creates, free at one-minute grain):
 * fewer instances in service than desired for 20 minutes means launches keep failing (provisioning
 * abandoned, instances replaced again and again) — longer than a cold launch takes, much shorter
 * than the launch hook's 2 hours. */
export function fleetAlarms<V>(names: { group: V }): AlarmSpec<V>[] {
  const groupMetric = (name: string, statistic: MetricSpec["statistic"]): MetricSpec<V> => ({
    namespace: "AWS/AutoScaling",
    name,
    dimensions: { AutoScalingGroupName: names.group },
    statistic,
    periodSeconds: 300,
  });
  return [
    {
      id: "FleetBelowDesired",
      description:
        "Fewer instances in service than desired for 20 minutes: launches keep failing or instances keep being replaced (see provision.failed, launch.unaddressable and the group's activity history).",
      comparison: "GreaterThanThreshold",
      threshold: 0,
      evaluationPeriods: 4,
      treatMissingData: "notBreaching",
      expression: {
        expression: "desired - inService",
        label: "instances missing",
        metrics: {
          desired: groupMetric("GroupDesiredCapacity", "Minimum"),
          inService: groupMetric("GroupInServiceInstances", "Maximum"),
        },
      },
    },
  ];
}

/** The group metrics the stack turns on for the group it creates. */
export const GROUP_METRICS = [
  "GroupDesiredCapacity",
  "GroupInServiceInstances",
  "GroupPendingInstances",
  "GroupTerminatingInstances",
  "GroupMinSize",
  "GroupMaxSize",
] as const;

export interface DashboardInput {
  region: string;
  ownerId: string;
  groupName: string;
  deadLetterQueue: string;
  /** The control plane's functions: a label and the function's name. */
  functions: { label: string; name: string }[];
  /** Whether the audit runs (a bucket): its metrics get their widgets. */
  audit: boolean;
  /** Whether SSM provisions new instances (a bucket): the provisioning widgets. */
  provisioning: boolean;
  /** Whether instances carry deep health checks: the deep-health widget. */
  deepHealth: boolean;
}

/** The functions whose DNS syncs and AWS calls are counted (DnsChanges, ThrottlesRetried): those
 * whose logger carries the metrics (functions/runtime.ts). */
const SYNC_SERVICES: readonly MetricsService[] = [METRICS_SERVICES.lifecycle, METRICS_SERVICES.reconcile];

/** The CloudWatch dashboard's body (pure; the stack serializes it once names are known). */
export function dashboardBody(input: DashboardInput) {
  const group = ["AutoScalingGroupName", input.groupName];
  /** A metric a function publishes, with exactly the dimensions it is published with. */
  const published = (service: MetricsService, metric: string, options: Record<string, unknown>) => [
    METRICS_NAMESPACE,
    metric,
    ...Object.entries(fleetMetricDimensions(service, input.ownerId)).flat(),
    options,
  ];
  const widget = (title: string, metrics: unknown[][], extra: Record<string, unknown> = {}) => ({
    title,
    metrics,
    view: "timeSeries",
    region: input.region,
    period: 300,
    ...extra,
  });
  const { lifecycle, reconcile, audit } = METRICS_SERVICES;
  const widgets = [
    widget("Instances", [
      ["AWS/AutoScaling", "GroupInServiceInstances", ...group, { stat: "Maximum", label: "in service" }],
      ["AWS/AutoScaling", "GroupDesiredCapacity", ...group, { stat: "Maximum", label: "desired" }],
      ["AWS/AutoScaling", "GroupPendingInstances", ...group, { stat: "Maximum", label: "pending" }],
      ["AWS/AutoScaling", "GroupTerminatingInstances", ...group, { stat: "Maximum", label: "terminating" }],
    ]),
    widget(
      "Network per instance (bytes per 5 minutes)",
      [
        ["AWS/EC2", "NetworkOut", ...group, { stat: "Average", label: "out (downloads, uploads to S3)" }],
        ["AWS/EC2", "NetworkIn", ...group, { stat: "Average", label: "in" }],
      ],
      { yAxis: { left: { min: 0 } } },
    ),
    widget("Lifecycle dead-letter queue", [
      [
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        input.deadLetterQueue,
        { stat: "Maximum" },
      ],
    ]),
    widget(
      "Functions: errors and throttles",
      input.functions.flatMap(({ label, name }) => [
        ["AWS/Lambda", "Errors", "FunctionName", name, { stat: "Sum", label: `${label} errors` }],
        ["AWS/Lambda", "Throttles", "FunctionName", name, { stat: "Sum", label: `${label} throttles` }],
      ]),
    ),
    widget("Launches", [
      published(lifecycle, "LaunchesContinued", { stat: "Sum", label: "continued" }),
      published(lifecycle, "LaunchesAbandoned", { stat: "Sum", label: "abandoned" }),
      ...(input.provisioning
        ? [published(lifecycle, "ProvisionFailed", { stat: "Sum", label: "provisioning failed" })]
        : []),
    ]),
    ...(input.provisioning
      ? [
          widget("Provisioning duration (ms)", [
            published(lifecycle, "ProvisionDuration", { stat: "p50", label: "p50" }),
            published(lifecycle, "ProvisionDuration", { stat: "Maximum", label: "max" }),
          ]),
        ]
      : []),
    widget(
      "DNS changes",
      SYNC_SERVICES.map((service) => published(service, "DnsChanges", { stat: "Sum", label: service })),
    ),
    widget(
      "Throttled AWS calls retried",
      SYNC_SERVICES.map((service) => published(service, "ThrottlesRetried", { stat: "Sum", label: service })),
    ),
    ...(input.deepHealth
      ? [
          widget("Deep health", [
            published(reconcile, "InstancesFailingHealth", { stat: "Sum", label: "started failing" }),
            published(reconcile, "InstancesReplaced", { stat: "Sum", label: "replaced" }),
            published(reconcile, "FleetFailingHealth", { stat: "Sum", label: "whole fleet failing" }),
          ]),
        ]
      : []),
    ...(input.audit
      ? [
          widget(
            "Audit: instances",
            ["InstancesAudited", "InstancesWithFindings", "InstancesUnreached", "InstancesOutOfRotation"].map(
              (metric) => published(audit, metric, { stat: "Maximum" }),
            ),
          ),
          widget(
            "Audit: objects",
            ["StaleObjects", "SymlinkObjects", "BucketFindings"].map((metric) =>
              published(audit, metric, { stat: "Maximum" }),
            ),
          ),
          widget("Audit: canary lag (ms)", [published(audit, "MaxLag", { stat: "Maximum" })]),
        ]
      : []),
  ];
  // Two widgets a row, each half the dashboard's 24 columns.
  return {
    widgets: widgets.map((properties, index) => ({
      type: "metric",
      x: (index % 2) * 12,
      y: Math.floor(index / 2) * 6,
      width: 12,
      height: 6,
      properties,
    })),
  };
}
