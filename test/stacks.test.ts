import {
  commandStatusPattern,
  FAILING_SINCE_TAG,
  lifecycleHooks,
  MAX_DELAY_SECONDS,
  matchesPattern,
} from "@ftpfleet/core";
import { readDocument } from "@ftpfleet/core/documents";
import { describe, expect, it } from "vitest";
import {
  auditAlarms,
  auditPermissions,
  controlPlanePermissions,
  healthCheckPermissions,
  iamPolicyDocument,
  LIFECYCLE_FUNCTION_TIMEOUT_SECONDS,
  lifecycleQueueSettings,
  lifecycleSubscriptionPattern,
  operatorPermissions,
  type Permission,
  RECONCILE_SCHEDULE,
  recentChangesSubscriptionPattern,
  reconcilePermissions,
  schedulePeriodSeconds,
} from "../stacks/definitions";
import { testConfig } from "./support";

const scope = {
  partition: "aws",
  region: "eu-west-1",
  account: "123456789012",
  queueArn: "arn:aws:sqs:eu-west-1:123456789012:q",
};

/** The one call that changes something yet is authorized on resource "*" only: IAM knows no
 * resource-level permission for it. */
const UNSCOPED_WRITES = ["route53:CreateHealthCheck"];

/** No wildcard action; resource "*" only for reads (Describe, Get, List) and UNSCOPED_WRITES. */
function expectScoped(statements: Permission[]) {
  for (const s of statements) {
    expect(s.actions.every((a) => !a.includes("*"))).toBe(true);
    if (s.resources.includes("*"))
      expect(
        s.actions.every((a) => /:(Describe|Get|List)/.test(a) || UNSCOPED_WRITES.includes(a)),
        s.actions.join(),
      ).toBe(true);
  }
}

const groupArn =
  "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/ftpfleet-test";

describe("control plane permissions", () => {
  const config = testConfig();
  const provisioned = testConfig({ FTPFLEET_BUCKET: "ftpfleet-files", FTPFLEET_BUCKET_REGION: "eu-west-1" });
  const statements = controlPlanePermissions(config, scope);

  it("grant no wildcard actions, and resource '*' only to read-only calls and CreateHealthCheck", () => {
    expectScoped([...statements, ...controlPlanePermissions(provisioned, scope)]);
    expectScoped(reconcilePermissions(provisioned, scope));
  });

  it("run only the fleet's own provision and drain documents, only on the fleet's instances", () => {
    expect(statements.flatMap((s) => s.actions).some((a) => a.startsWith("ssm:"))).toBe(false);
    const send = controlPlanePermissions(provisioned, scope).filter((s) =>
      s.actions.includes("ssm:SendCommand"),
    );
    expect(send.flatMap((s) => s.resources)).toEqual([
      "arn:aws:ssm:eu-west-1:123456789012:document/test-provision",
      "arn:aws:ssm:eu-west-1:123456789012:document/test-drain",
      "arn:aws:ec2:eu-west-1:123456789012:instance/*",
    ]);
    expect(send[1]?.conditions).toEqual([
      {
        test: "StringEquals",
        variable: "ssm:resourceTag/aws:autoscaling:groupName",
        values: ["ftpfleet-test"],
      },
    ]);
  });

  it("limit record changes to the fleet's A records in its zone, created or deleted", () => {
    const change = statements.find((s) => s.actions.includes("route53:ChangeResourceRecordSets"));
    expect(change?.resources).toEqual(["arn:aws:route53:::hostedzone/Z0TESTZONE"]);
    expect(change?.conditions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          variable: "route53:ChangeResourceRecordSetsNormalizedRecordNames",
          values: ["ftp.example.com"],
        }),
        expect.objectContaining({ variable: "route53:ChangeResourceRecordSetsRecordTypes", values: ["A"] }),
        expect.objectContaining({
          variable: "route53:ChangeResourceRecordSetsActions",
          values: ["CREATE", "DELETE"],
        }),
      ]),
    );
  });

  it("answer lifecycle actions of the fleet's group only, and tag only its instances, with its own tags", () => {
    const lifecycle = statements.find((s) => s.actions.includes("autoscaling:CompleteLifecycleAction"));
    expect(lifecycle?.resources).toEqual([
      "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/ftpfleet-test",
    ]);
    for (const action of ["ec2:CreateTags", "ec2:DeleteTags"]) {
      const tags = statements.filter((s) => s.actions.includes(action));
      expect(tags).toHaveLength(1);
      expect(tags[0]?.conditions).toEqual([
        {
          test: "StringEquals",
          variable: "aws:ResourceTag/aws:autoscaling:groupName",
          values: ["ftpfleet-test"],
        },
        {
          test: "ForAllValues:StringEquals",
          variable: "aws:TagKeys",
          values: ["ftpfleet:launch", "ftpfleet:ready"],
        },
      ]);
    }
  });

  it("give the reconcile no lifecycle, queue or SSM rights: the clean-up of finished launches, and without deep health nothing more", () => {
    const actions = reconcilePermissions(config, scope).flatMap((s) => s.actions);
    expect(actions.sort()).toEqual([
      "autoscaling:DescribeAutoScalingGroups",
      "ec2:DeleteTags",
      "ec2:DescribeInstances",
      "route53:ChangeResourceRecordSets",
      "route53:ListResourceRecordSets",
    ]);
  });

  it("let the reconcile, with deep health, mark failing instances with failing-since only and replace only its group's", () => {
    const statements = reconcilePermissions(provisioned, scope);
    const actions = statements.flatMap((s) => s.actions);
    expect(actions).not.toContain("autoscaling:CompleteLifecycleAction");
    expect(actions).not.toContain("autoscaling:RecordLifecycleActionHeartbeat");
    expect(actions.some((a) => a.startsWith("sqs:") || a.startsWith("ssm:"))).toBe(false);
    // Creating a tag: failing-since, and nothing else (launch and ready stay the lifecycle's).
    const creates = statements.filter((s) => s.actions.includes("ec2:CreateTags"));
    expect(creates).toEqual([
      {
        actions: ["ec2:CreateTags"],
        resources: ["arn:aws:ec2:eu-west-1:123456789012:instance/*"],
        conditions: [
          {
            test: "StringEquals",
            variable: "aws:ResourceTag/aws:autoscaling:groupName",
            values: ["ftpfleet-test"],
          },
          { test: "ForAllValues:StringEquals", variable: "aws:TagKeys", values: [FAILING_SINCE_TAG] },
        ],
      },
    ]);
    // Deleting: failing-since once it passes, the launch marks of finished launches.
    const deletedKeys = statements
      .filter((s) => s.actions.includes("ec2:DeleteTags"))
      .map((s) => s.conditions?.find((c) => c.variable === "aws:TagKeys")?.values);
    expect(deletedKeys).toEqual([["ftpfleet:launch", "ftpfleet:ready"], [FAILING_SINCE_TAG]]);
    const health = statements.filter((s) => s.actions.includes("autoscaling:SetInstanceHealth"));
    expect(health).toEqual([{ actions: ["autoscaling:SetInstanceHealth"], resources: [groupArn] }]);
  });
});

describe("health-check permissions", () => {
  const deep = testConfig({ FTPFLEET_BUCKET: "ftpfleet-files", FTPFLEET_BUCKET_REGION: "eu-west-1" });
  const off = testConfig({
    FTPFLEET_BUCKET: "ftpfleet-files",
    FTPFLEET_BUCKET_REGION: "eu-west-1",
    FTPFLEET_HEALTH_CHECKS: "off",
  });

  it("create and list on '*' (no resource-level permission), delete and read status on health checks only", () => {
    expect(deep.healthChecks).toBe("deep");
    expect(healthCheckPermissions(deep, scope)).toEqual([
      { actions: ["route53:CreateHealthCheck", "route53:ListHealthChecks"], resources: ["*"] },
      {
        actions: ["route53:DeleteHealthCheck", "route53:GetHealthCheckStatus"],
        resources: ["arn:aws:route53:::healthcheck/*"],
      },
    ]);
    expect(healthCheckPermissions({ ...deep }, { ...scope, partition: "aws-cn" })[1]?.resources).toEqual([
      "arn:aws-cn:route53:::healthcheck/*",
    ]);
  });

  it("are given to the lifecycle function, the reconcile and the audit, which all sync DNS", () => {
    const rights = healthCheckPermissions(deep, scope);
    for (const statements of [
      controlPlanePermissions(deep, scope),
      reconcilePermissions(deep, scope),
      auditPermissions(deep, scope),
    ]) {
      expect(statements).toEqual(expect.arrayContaining(rights));
    }
  });

  it("are none without deep health checks, for any function", () => {
    expect(healthCheckPermissions(off, scope)).toEqual([]);
    expect(healthCheckPermissions(testConfig(), scope)).toEqual([]);
    for (const statements of [
      controlPlanePermissions(off, scope),
      reconcilePermissions(off, scope),
      auditPermissions(off, scope),
    ]) {
      const actions = statements.flatMap((s) => s.actions);
      expect(actions.filter((a) => a.includes("HealthCheck"))).toEqual([]);
    }
    const reconcile = reconcilePermissions(off, scope).flatMap((s) => s.actions);
    expect(reconcile).not.toContain("autoscaling:SetInstanceHealth");
    expect(reconcile).not.toContain("ec2:CreateTags");
  });
});

describe("lifecycle hooks", () => {
  it.each([0, 60, 90, 900, 3600, 7200])("keep a %i s drain alive between deferred wake-ups", (drain) => {
    const { launch, terminate } = lifecycleHooks({ drainSeconds: drain });
    for (const hook of [launch, terminate]) {
      expect(hook.heartbeatTimeoutSeconds).toBeGreaterThanOrEqual(30);
      expect(hook.heartbeatTimeoutSeconds).toBeLessThanOrEqual(7200);
    }
    expect(terminate.heartbeatTimeoutSeconds).toBeGreaterThan(Math.min(drain, MAX_DELAY_SECONDS));
    expect(Math.min(48 * 3600, 100 * terminate.heartbeatTimeoutSeconds)).toBeGreaterThan(drain);
    expect(launch.defaultResult).toBe("ABANDON");
    // Provisioning ends by its own step timeouts (and waiting for the agent by its own) before the launch hook expires.
    const provisionSeconds = readDocument("provision").mainSteps.reduce(
      (sum, step) => sum + step.inputs.timeoutSeconds,
      0,
    );
    expect(launch.heartbeatTimeoutSeconds).toBeGreaterThan(provisionSeconds + 600);
    expect(terminate.defaultResult).toBe("CONTINUE");
  });
});

describe("the reconcile's schedule", () => {
  it("runs every minute: a failing instance is replaced soon after FTPFLEET_HEALTH_REPLACE_SECONDS", () => {
    expect(RECONCILE_SCHEDULE).toBe("rate(1 minute)");
    const period = schedulePeriodSeconds(RECONCILE_SCHEDULE);
    expect(period).toBe(60);
    // At least two looks within the default stretch: first seen failing, then judged.
    expect(period * 2).toBeLessThanOrEqual(testConfig().healthReplaceSeconds);
  });
});

describe("lifecycle queue", () => {
  it("gives the function time to finish before a message reappears, and batches as SQS allows", () => {
    expect(lifecycleQueueSettings.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(
      6 * LIFECYCLE_FUNCTION_TIMEOUT_SECONDS,
    );
    expect(lifecycleQueueSettings.batchSize).toBeLessThanOrEqual(10_000);
    // Batches over 10 need a batching window of at least one second.
    expect(lifecycleQueueSettings.batchWindowSeconds).toBeGreaterThanOrEqual(1);
    expect(lifecycleQueueSettings.maximumConcurrency).toBeGreaterThanOrEqual(2);
  });

  it("subscribes to this group's lifecycle events only", () => {
    expect(lifecycleSubscriptionPattern("ftpfleet-test")).toEqual({
      source: ["aws.autoscaling"],
      detailType: ["EC2 Instance-launch Lifecycle Action", "EC2 Instance-terminate Lifecycle Action"],
      detail: { AutoScalingGroupName: ["ftpfleet-test"] },
    });
  });
});

describe("command status subscription", () => {
  it("routes only the end of this fleet's provision and drain runs", () => {
    const pattern = commandStatusPattern({ ownerId: "test" });
    const event = (document: string, status: string) => ({
      source: "aws.ssm",
      "detail-type": "EC2 Command Invocation Status-change Notification",
      detail: { "document-name": document, status },
    });
    expect(matchesPattern(event("test-provision", "Success"), pattern)).toBe(true);
    expect(matchesPattern(event("test-drain", "TimedOut"), pattern)).toBe(true);
    expect(matchesPattern(event("test-provision", "InProgress"), pattern)).toBe(false);
    expect(matchesPattern(event("prod-provision", "Success"), pattern)).toBe(false);
    expect(matchesPattern(event("AWS-RunShellScript", "Failed"), pattern)).toBe(false);
  });
});

describe("audit permissions", () => {
  const provisioned = testConfig({ FTPFLEET_BUCKET: "ftpfleet-files", FTPFLEET_BUCKET_REGION: "eu-west-1" });
  const statements = auditPermissions(provisioned, scope);

  it("tag the group's instances with the audit's two marks only, and mark only its group's instances unhealthy", () => {
    const tagging = statements.filter((s) => s.actions.includes("ec2:CreateTags"));
    expect(tagging).toHaveLength(1);
    expect(tagging[0]?.conditions).toEqual([
      {
        test: "StringEquals",
        variable: "aws:ResourceTag/aws:autoscaling:groupName",
        values: ["ftpfleet-test"],
      },
      {
        test: "ForAllValues:StringEquals",
        variable: "aws:TagKeys",
        values: ["ftpfleet:out-of-rotation", "ftpfleet:failed-repairs"],
      },
    ]);
    const health = statements.filter((s) => s.actions.includes("autoscaling:SetInstanceHealth"));
    expect(health.flatMap((s) => s.resources)).toEqual([groupArn]);
    // The reconcile's failing-since mark is not the audit's.
    expect(JSON.stringify(statements)).not.toContain(FAILING_SINCE_TAG);
  });

  it("write only under .ftpfleet/audit/, run only the probe and repair documents, change no lifecycle action", () => {
    const writes = statements.filter((s) => s.actions.includes("s3:PutObject"));
    expect(writes.flatMap((s) => s.resources)).toEqual(["arn:aws:s3:::ftpfleet-files/.ftpfleet/audit/*"]);
    const documents = statements
      .filter((s) => s.actions.includes("ssm:SendCommand"))
      .flatMap((s) => s.resources)
      .filter((r) => r.includes(":document/"));
    expect(documents).toEqual([
      "arn:aws:ssm:eu-west-1:123456789012:document/test-audit-probe",
      "arn:aws:ssm:eu-west-1:123456789012:document/test-audit-repair",
    ]);
    const actions = statements.flatMap((s) => s.actions);
    expect(actions).not.toContain("autoscaling:CompleteLifecycleAction");
    expect(actions).not.toContain("s3:DeleteObject");
    expectScoped(statements);
    expect(auditPermissions(testConfig(), scope)).toEqual([]);
  });

  it("receive and delete only from the recent-changes queue, which gets only this bucket's object events", () => {
    const queueArn = "arn:aws:sqs:eu-west-1:123456789012:recent";
    const sqs = auditPermissions(provisioned, { ...scope, recentQueueArn: queueArn }).filter((s) =>
      s.actions.some((a) => a.startsWith("sqs:")),
    );
    expect(sqs).toEqual([{ actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage"], resources: [queueArn] }]);
    const pattern = recentChangesSubscriptionPattern(provisioned);
    const event = (name: string, detailType = "Object Created") => ({
      source: "aws.s3",
      "detail-type": detailType,
      detail: { bucket: { name }, object: { key: "a" } },
    });
    const asEventBridge = {
      source: pattern.source,
      "detail-type": pattern.detailType,
      detail: pattern.detail,
    };
    expect(matchesPattern(event("ftpfleet-files"), asEventBridge)).toBe(true);
    expect(matchesPattern(event("ftpfleet-files", "Object Deleted"), asEventBridge)).toBe(true);
    expect(matchesPattern(event("someone-elses"), asEventBridge)).toBe(false);
    expect(matchesPattern(event("ftpfleet-files", "Object Restore Completed"), asEventBridge)).toBe(false);
  });
});

describe("audit alarms", () => {
  it("fire on every metric the audit publishes, and when it publishes nothing", () => {
    const alarms = auditAlarms();
    expect(alarms.map((a) => a.metric).sort()).toEqual(
      [
        "BucketFindings",
        "InstancesAudited",
        "InstancesOutOfRotation",
        "InstancesUnreached",
        "InstancesWithFindings",
        "SymlinkObjects",
      ].sort(),
    );
    for (const alarm of alarms.filter((a) => a.metric !== "InstancesAudited")) {
      expect(alarm).toMatchObject({
        comparison: "GreaterThanThreshold",
        threshold: 0,
        treatMissingData: "notBreaching",
      });
    }
    expect(alarms.find((a) => a.metric === "InstancesAudited")).toMatchObject({
      treatMissingData: "breaching",
      evaluationPeriods: 2,
    });
    expect(new Set(alarms.map((a) => a.id)).size).toBe(alarms.length);
    // Published by the audit function: its service, beside Fleet, on every metric.
    expect(new Set(alarms.map((a) => a.service))).toEqual(new Set(["audit"]));
  });

  it("judge each run: the period follows the audit's schedule", () => {
    expect(schedulePeriodSeconds("rate(15 minutes)")).toBe(900);
    expect(schedulePeriodSeconds("rate(1 hour)")).toBe(3600);
    expect(schedulePeriodSeconds("rate(2 days)")).toBe(86_400);
    expect(schedulePeriodSeconds("cron(0 * * * ? *)")).toBe(3600);
  });
});

describe("operator permissions (the ftpfleet CLI)", () => {
  const provisioned = testConfig({ FTPFLEET_BUCKET: "ftpfleet-files", FTPFLEET_BUCKET_REGION: "eu-west-1" });
  const statements = operatorPermissions(provisioned, scope, "ftpfleet-output");

  it("write the users manifest and the audit's prefix only; read the bucket, the reports and their own commands' outputs", () => {
    const s3 = statements.filter((s) => s.actions.some((a) => a.startsWith("s3:")));
    expect(s3).toEqual([
      {
        actions: ["s3:GetObject", "s3:PutObject"],
        resources: ["arn:aws:s3:::ftpfleet-files/.ftpfleet/users.json"],
      },
      { actions: ["s3:GetObject"], resources: ["arn:aws:s3:::ftpfleet-files/.ftpfleet/applied/*"] },
      { actions: ["s3:GetObject"], resources: ["arn:aws:s3:::ftpfleet-output/ssm/apply-users/*"] },
      {
        actions: ["s3:ListBucket", "s3:ListBucketMultipartUploads"],
        resources: ["arn:aws:s3:::ftpfleet-files"],
      },
      { actions: ["s3:GetObject"], resources: ["arn:aws:s3:::ftpfleet-files/*"] },
      { actions: ["s3:PutObject"], resources: ["arn:aws:s3:::ftpfleet-files/.ftpfleet/audit/*"] },
      { actions: ["s3:GetObject"], resources: ["arn:aws:s3:::ftpfleet-output/ssm/audit-*"] },
    ]);
  });

  it("run only apply-users and the audit's documents, only on the group's instances; '*' only for List, Get, Describe and CreateHealthCheck", () => {
    const send = statements.filter((s) => s.actions.includes("ssm:SendCommand"));
    expect(send.flatMap((s) => s.resources)).toEqual([
      "arn:aws:ssm:eu-west-1:123456789012:document/test-apply-users",
      "arn:aws:ec2:eu-west-1:123456789012:instance/*",
      "arn:aws:ssm:eu-west-1:123456789012:document/test-audit-probe",
      "arn:aws:ssm:eu-west-1:123456789012:document/test-audit-repair",
    ]);
    expect(send[1]?.conditions?.[0]).toMatchObject({
      variable: "ssm:resourceTag/aws:autoscaling:groupName",
      values: ["ftpfleet-test"],
    });
    expectScoped(statements);
    expect(operatorPermissions(testConfig(), scope, "x")).toEqual([]);
  });

  it("become an IAM policy document whose conditions of one test share a block", () => {
    const document = JSON.parse(iamPolicyDocument(controlPlanePermissions(provisioned, scope)));
    expect(document.Version).toBe("2012-10-17");
    const change = document.Statement.find((s: { Action: string[] }) =>
      s.Action.includes("route53:ChangeResourceRecordSets"),
    );
    expect(Object.keys(change.Condition)).toEqual(["ForAllValues:StringEquals"]);
    expect(Object.keys(change.Condition["ForAllValues:StringEquals"])).toEqual([
      "route53:ChangeResourceRecordSetsNormalizedRecordNames",
      "route53:ChangeResourceRecordSetsRecordTypes",
      "route53:ChangeResourceRecordSetsActions",
    ]);
  });
});
