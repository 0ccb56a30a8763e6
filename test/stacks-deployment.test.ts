import {
  APPLIED_PREFIX,
  AUDIT_RUNS_PREFIX,
  fleetEnvironment,
  type InvalidInputError,
  loadDeploymentConfig,
  loadFleetConfig,
  METRIC_EVENTS,
  METRICS_SERVICES,
  RESERVED_PREFIX,
  USERS_MANIFEST_KEY,
} from "@ftpfleet/core";
import { describe, expect, it } from "vitest";
import { stackConfiguration } from "../stacks/configuration";
import {
  type AlarmSpec,
  auditAlarms,
  controlPlaneAlarms,
  controlPlaneMetricAlarms,
  controlPlanePermissions,
  dashboardBody,
  dataBucketLifecycleRules,
  dataBucketPolicy,
  debianAmiQuery,
  fleetAlarms,
  fleetIngressRules,
  fleetMetricAlarms,
  healthCheckPermissions,
  instancePermissions,
  type Permission,
  scalingPolicy,
  ssmAgentUserData,
} from "../stacks/definitions";
import { testConfig, testEnv } from "./support";

const context = { app: "ftpfleet", stage: "prod", account: "123456789012", region: "us-east-1" };
const scope = { partition: "aws", region: "us-east-1", account: "123456789012" };
const created = {
  FTPFLEET_HOSTED_ZONE_ID: "Z0TESTZONE",
  FTPFLEET_RECORD_NAME: "ftp.example.com",
  FTPFLEET_VPC_ID: "vpc-0123456789abcdef0",
  FTPFLEET_SUBNET_IDS: "subnet-0aaaaaaaaaaaaaaa1,subnet-0bbbbbbbbbbbbbbb2",
  FTPFLEET_TLS_CERTIFICATE_PARAMETER: "/ftpfleet/prod/tls",
};

/** IAM's matching of one request against Allow statements: `*` and `?` in actions and resources,
 * conditions left to the caller (every statement here that has some is checked apart). */
function allows(statements: Permission[], action: string, resource: string): boolean {
  const like = (pattern: string, value: string) =>
    new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, ".")}$`,
    ).test(value);
  return statements.some(
    (s) => s.actions.some((a) => like(a, action)) && s.resources.some((r) => like(r, resource)),
  );
}

describe("the stack's configuration", () => {
  it("follows an existing group exactly as before: same variables for the functions, nothing created", () => {
    const env = { ...testEnv, FTPFLEET_BUCKET: "their-files", FTPFLEET_BUCKET_REGION: "eu-west-1" };
    const configuration = stackConfiguration(env, context);
    expect(configuration.deployment).toMatchObject({ createFleet: false, createBucket: false });
    expect(configuration.names).toEqual({ groupName: "ftpfleet-test" });
    expect(configuration.fleet).toEqual(loadFleetConfig(env));
    expect(configuration.environment).toEqual(fleetEnvironment(loadFleetConfig(env)));
  });

  it("names the owner after the app and stage unless told", () => {
    const { FTPFLEET_OWNER_ID: _owner, ...withoutOwner } = testEnv;
    expect(stackConfiguration(withoutOwner, { ...context, stage: "Dev_1" }).fleet.ownerId).toBe(
      "ftpfleet-dev-1",
    );
  });

  it("fills in what it creates: group, bucket in its own region, artifact key (no health secret)", () => {
    const configuration = stackConfiguration(created, context);
    expect(configuration.names).toEqual({
      groupName: "ftpfleet-prod-fleet",
      createdBucket: "ftpfleet-prod-123456789012-us-east-1",
      generatedArtifactKey: "/ftpfleet/ftpfleet-prod/artifact-key",
    });
    expect(configuration.fleet).toMatchObject({
      ownerId: "ftpfleet-prod",
      asgName: "ftpfleet-prod-fleet",
      bucket: "ftpfleet-prod-123456789012-us-east-1",
      bucketRegion: "us-east-1",
      artifactKeyParameter: "/ftpfleet/ftpfleet-prod/artifact-key",
      healthChecks: "deep",
    });
    expect(configuration.environment).toMatchObject({
      FTPFLEET_ASG_NAME: "ftpfleet-prod-fleet",
      FTPFLEET_BUCKET: "ftpfleet-prod-123456789012-us-east-1",
      FTPFLEET_ARTIFACT_KEY_PARAMETER: "/ftpfleet/ftpfleet-prod/artifact-key",
    });
    // Each instance generates its health password itself: nothing to create, pass or read.
    expect(configuration.environment).toEqual(fleetEnvironment(configuration.fleet));
    expect(JSON.stringify(configuration)).not.toMatch(/health-password|HEALTH_SECRET/);
  });

  it("creates no parameter the operator named, and creates the group under a given name", () => {
    const configuration = stackConfiguration(
      {
        ...created,
        FTPFLEET_ASG_NAME: "ftp-fleet",
        FTPFLEET_CREATE_FLEET: "true",
        FTPFLEET_ARTIFACT_KEY_PARAMETER: "/ops/artifact-key",
      },
      context,
    );
    expect(configuration.names).toEqual({
      groupName: "ftp-fleet",
      createdBucket: "ftpfleet-prod-123456789012-us-east-1",
    });
    expect(configuration.environment).toMatchObject({
      FTPFLEET_ARTIFACT_KEY_PARAMETER: "/ops/artifact-key",
    });
  });

  it("refuses, naming each variable, what would deploy a fleet that cannot serve", () => {
    const problems = (env: Record<string, string>) => {
      try {
        stackConfiguration(env, context);
        return [];
      } catch (error) {
        return (error as InvalidInputError).issues.map((issue) => issue.split(":")[0]);
      }
    };
    const { FTPFLEET_TLS_CERTIFICATE_PARAMETER: _tls, ...withoutCertificate } = created;
    expect(problems(withoutCertificate)).toEqual(["FTPFLEET_TLS_CERTIFICATE_PARAMETER"]);
    expect(problems({ ...withoutCertificate, FTPFLEET_TLS_MODE: "off" })).toEqual([]);
    expect(problems({ ...created, FTPFLEET_BUCKET_REGION: "eu-west-1" })).toEqual(["FTPFLEET_BUCKET_REGION"]);
    expect(
      problems({ ...created, FTPFLEET_RECORD_TTL: "9999", FTPFLEET_BUCKET_REGION: "eu-west-1" }),
    ).toEqual(["FTPFLEET_BUCKET_REGION", "FTPFLEET_RECORD_TTL"]);
    expect(() => stackConfiguration({ ...created, FTPFLEET_MIN_SIZE: "x" }, context)).toThrow(
      /FTPFLEET_MIN_SIZE/,
    );
  });
});

describe("instance permissions", () => {
  const config = stackConfiguration(created, context).fleet;
  const statements = instancePermissions(config, scope, { outputBucket: "ftpfleet-output" });
  const bucket = "arn:aws:s3:::ftpfleet-prod-123456789012-us-east-1";

  it("read and write the bucket's files through s3fs, in parts too, and list it", () => {
    for (const action of [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]) {
      expect(allows(statements, action, `${bucket}/inbox/alice/report.pdf`), action).toBe(true);
    }
    expect(allows(statements, "s3:ListBucket", bucket)).toBe(true);
  });

  it("write their own objects under .ftpfleet/ and read the manifest, sources and sealed builds", () => {
    for (const key of [
      `${APPLIED_PREFIX}i-0123456789abcdef0.json`,
      `${AUDIT_RUNS_PREFIX}run-1/canary/i-0123456789abcdef0.json`,
      ".ftpfleet/artifacts/s3fs-1.95-debian12-arm64-abc.tar.gz.sealed",
    ]) {
      expect(allows(statements, "s3:PutObject", `${bucket}/${key}`), key).toBe(true);
    }
    for (const key of [
      USERS_MANIFEST_KEY,
      ".ftpfleet/sources/pure-ftpd-1.0.54.tar.gz",
      ".ftpfleet/artifacts/x",
    ]) {
      expect(allows(statements, "s3:GetObject", `${bucket}/${key}`), key).toBe(true);
    }
  });

  it("read exactly the fleet's own parameters (certificate, artifact key), decrypted through SSM only", () => {
    const parameters = [
      "arn:aws:ssm:us-east-1:123456789012:parameter/ftpfleet/prod/tls",
      "arn:aws:ssm:us-east-1:123456789012:parameter/ftpfleet/ftpfleet-prod/artifact-key",
    ];
    const ssm = statements.filter((s) => s.actions.some((a) => a.startsWith("ssm:")));
    expect(ssm).toEqual([{ actions: ["ssm:GetParameter"], resources: parameters }]);
    const kms = statements.filter((s) => s.actions.some((a) => a.startsWith("kms:")));
    expect(kms).toEqual([
      {
        actions: ["kms:Decrypt"],
        resources: ["arn:aws:kms:us-east-1:123456789012:key/*"],
        conditions: [
          { test: "StringEquals", variable: "kms:ViaService", values: ["ssm.us-east-1.amazonaws.com"] },
          { test: "StringEquals", variable: "kms:EncryptionContext:PARAMETER_ARN", values: parameters },
        ],
      },
    ]);
  });

  it("hand the agent's outputs to the command-output bucket and the fleet's own log groups", () => {
    expect(allows(statements, "s3:PutObject", "arn:aws:s3:::ftpfleet-output/ssm/provision/cmd/i-1/out")).toBe(
      true,
    );
    expect(allows(statements, "s3:GetObject", "arn:aws:s3:::ftpfleet-output/ssm/provision/x")).toBe(false);
    const logs = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/ssm/ftpfleet-prod-provision";
    expect(allows(statements, "logs:PutLogEvents", `${logs}:log-stream:i-1/step`)).toBe(true);
    expect(
      allows(statements, "logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/x"),
    ).toBe(false);
  });

  it("nothing else: no other bucket, service or wildcard action, never resource '*'", () => {
    expect(allows(statements, "s3:GetObject", "arn:aws:s3:::someone-else/secret")).toBe(false);
    expect(allows(statements, "s3:DeleteBucket", bucket)).toBe(false);
    expect(allows(statements, "s3:PutBucketPolicy", bucket)).toBe(false);
    const services = new Set(statements.flatMap((s) => s.actions.map((a) => a.split(":")[0])));
    expect([...services].sort()).toEqual(["kms", "logs", "s3", "ssm"]);
    for (const s of statements) {
      expect(s.actions.every((a) => !a.includes("*"))).toBe(true);
      expect(s.resources).not.toContain("*");
    }
    expect(instancePermissions(testConfig(), scope, { outputBucket: "x" })).toEqual([]);
  });
});

describe("the control plane's health-check rights", () => {
  it("reach the lifecycle function of a created fleet (deep health by default), and none without", () => {
    const config = stackConfiguration(created, context).fleet;
    const s = { ...scope, queueArn: "arn:aws:sqs:us-east-1:123456789012:q" };
    const rights = healthCheckPermissions(config, s);
    expect(rights.flatMap((p) => p.actions).sort()).toEqual([
      "route53:CreateHealthCheck",
      "route53:DeleteHealthCheck",
      "route53:GetHealthCheckStatus",
      "route53:ListHealthChecks",
    ]);
    expect(allows(rights, "route53:DeleteHealthCheck", "arn:aws:route53:::healthcheck/abc-123")).toBe(true);
    expect(allows(rights, "route53:DeleteHealthCheck", "arn:aws:route53:::hostedzone/Z0TESTZONE")).toBe(
      false,
    );
    expect(controlPlanePermissions(config, s)).toEqual(expect.arrayContaining(rights));
    expect(healthCheckPermissions(testConfig(), s)).toEqual([]);
  });
});

describe("the data bucket", () => {
  const policy = dataBucketPolicy({ partition: "aws", bucket: "files" }, [
    "arn:aws:iam::123456789012:role/instance",
    "arn:aws:iam::123456789012:role/audit",
  ]);

  it("refuses every request without TLS, on the bucket and its objects", () => {
    expect(policy.Statement[0]).toEqual({
      Sid: "DenyWithoutTls",
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Resource: ["arn:aws:s3:::files", "arn:aws:s3:::files/*"],
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
  });

  it("lets only the fleet's roles and the operators write under .ftpfleet/, the users manifest included", () => {
    expect(policy.Statement[1]).toEqual({
      Sid: "ReservedPrefixFleetOnly",
      Effect: "Deny",
      Principal: "*",
      Action: ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
      Resource: ["arn:aws:s3:::files/.ftpfleet/*"],
      Condition: {
        ArnNotLike: {
          "aws:PrincipalArn": [
            "arn:aws:iam::123456789012:role/instance",
            "arn:aws:iam::123456789012:role/audit",
          ],
        },
      },
    });
    expect(USERS_MANIFEST_KEY.startsWith(`${RESERVED_PREFIX}/`)).toBe(true);
    expect(policy.Statement).toHaveLength(2);
  });

  it("expires audit runs and unfinished uploads after a week, old versions after the configured days", () => {
    const rules = dataBucketLifecycleRules({ noncurrentVersionDays: 45 });
    expect(rules.find((r) => r.filter.prefix === ".ftpfleet/audit/runs/")).toMatchObject({
      status: "Enabled",
      expiration: { days: 7 },
    });
    expect(rules.find((r) => r.abortIncompleteMultipartUpload)).toMatchObject({
      filter: {},
      abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
    });
    expect(rules.find((r) => r.id === "noncurrent-versions")).toMatchObject({
      filter: {},
      noncurrentVersionExpiration: { noncurrentDays: 45 },
    });
    expect(new Set(rules.map((r) => r.id)).size).toBe(rules.length);
  });
});

describe("the fleet's instances", () => {
  it("open FTP and the passive ports to anyone, the health endpoint to Route53's checkers only", () => {
    const rules = fleetIngressRules(
      loadFleetConfig({
        ...testEnv,
        ...created,
        FTPFLEET_BUCKET: "ftp-files",
        FTPFLEET_BUCKET_REGION: "us-east-1",
        FTPFLEET_PASSIVE_PORTS: "40000:40199",
      }),
    );
    expect(rules.map((r) => [r.fromPort, r.toPort, r.from])).toEqual([
      [21, 21, { cidr: "0.0.0.0/0" }],
      [40000, 40199, { cidr: "0.0.0.0/0" }],
      [8021, 8021, { prefixList: "route53-healthchecks" }],
    ]);
    const off = loadFleetConfig({
      ...testEnv,
      FTPFLEET_BUCKET: "ftp-files",
      FTPFLEET_BUCKET_REGION: "us-east-1",
      FTPFLEET_HEALTH_CHECKS: "off",
    });
    expect(fleetIngressRules(off).map((r) => r.fromPort)).toEqual([21, 30000]);
  });

  it("run Debian 12 from Debian's own account, of the instance type's architecture", () => {
    expect(debianAmiQuery("arm64")).toEqual({
      owners: ["136693071363"],
      mostRecent: true,
      filters: [
        { name: "name", values: ["debian-12-arm64-*"] },
        { name: "architecture", values: ["arm64"] },
        { name: "virtualization-type", values: ["hvm"] },
        { name: "root-device-type", values: ["ebs"] },
      ],
    });
    expect(debianAmiQuery("x86_64").filters[0]).toEqual({ name: "name", values: ["debian-12-amd64-*"] });
  });

  it("install only the SSM agent at boot, from AWS's bucket in their region, over https", () => {
    const script = ssmAgentUserData("eu-central-1", "arm64");
    expect(script.startsWith("#!/bin/bash\n")).toBe(true);
    expect(script).toContain(
      "https://s3.eu-central-1.amazonaws.com/amazon-ssm-eu-central-1/latest/debian_arm64/amazon-ssm-agent.deb",
    );
    expect(script).toContain("dpkg -i");
    expect(script).toContain("systemctl enable --now amazon-ssm-agent");
    expect(ssmAgentUserData("us-east-1", "x86_64")).toContain("/latest/debian_amd64/amazon-ssm-agent.deb");
    expect(script).not.toMatch(/http:\/\//);
  });

  it("scale on the traffic each instance sends, in bytes per 5-minute data point", () => {
    expect(scalingPolicy({ scalingTargetMbps: 50 })).toMatchObject({
      policyType: "TargetTrackingScaling",
      predefinedMetricType: "ASGAverageNetworkOut",
      targetValue: (50_000_000 / 8) * 300,
    });
  });
});

describe("alarms and dashboard", () => {
  it("alarm when a lifecycle message lands in the dead-letter queue", () => {
    expect(controlPlaneAlarms({ deadLetterQueue: "dlq" })).toEqual([
      expect.objectContaining({
        comparison: "GreaterThanThreshold",
        threshold: 0,
        evaluationPeriods: 1,
        metric: expect.objectContaining({
          namespace: "AWS/SQS",
          name: "ApproximateNumberOfMessagesVisible",
          dimensions: { QueueName: "dlq" },
        }),
      }),
    ]);
  });

  it("alarm when the group stays below its desired size for 20 minutes (launches failing, churn)", () => {
    const [alarm] = fleetAlarms({ group: "ftp-fleet" });
    expect(alarm?.evaluationPeriods).toBe(4);
    expect(alarm?.expression?.expression).toBe("desired - inService");
    expect(alarm?.expression?.metrics).toEqual({
      desired: expect.objectContaining({
        namespace: "AWS/AutoScaling",
        name: "GroupDesiredCapacity",
        dimensions: { AutoScalingGroupName: "ftp-fleet" },
        periodSeconds: 300,
      }),
      inService: expect.objectContaining({
        name: "GroupInServiceInstances",
        dimensions: { AutoScalingGroupName: "ftp-fleet" },
      }),
    });
    const ids = [
      ...auditAlarms(),
      ...controlPlaneMetricAlarms({ provisioning: true, deepHealth: true }),
      ...controlPlaneAlarms({ deadLetterQueue: "q" }),
      ...fleetAlarms({ group: "g" }),
    ].map((a) => a.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  const everything = { ownerId: "ftpfleet-prod", provisioning: true, deepHealth: true };
  const allAlarms = (): AlarmSpec[] => [
    ...controlPlaneAlarms({ deadLetterQueue: "dlq" }),
    ...fleetAlarms({ group: "ftp-fleet" }),
    ...fleetMetricAlarms({ ...everything, auditSchedule: "rate(15 minutes)" }),
  ];
  const metricsOfAlarm = (alarm: AlarmSpec) => [
    ...(alarm.metric ? [alarm.metric] : []),
    ...Object.values(alarm.expression?.metrics ?? {}),
  ];

  it("name both dimensions the functions publish with, service and Fleet, on every ftpfleet metric", () => {
    const published = allAlarms()
      .flatMap(metricsOfAlarm)
      .filter((m) => m.namespace === "ftpfleet");
    expect(published.length).toBeGreaterThan(0);
    const services = Object.values(METRICS_SERVICES) as string[];
    for (const metric of published) {
      // CloudWatch matches the exact dimension set: {Fleet} alone would never see a data point.
      expect(Object.keys(metric.dimensions), metric.name).toEqual(["service", "Fleet"]);
      expect(services, metric.name).toContain(metric.dimensions.service);
      expect(metric.dimensions.Fleet).toBe("ftpfleet-prod");
    }
    expect(
      Object.fromEntries(
        fleetMetricAlarms({ ...everything, auditSchedule: "rate(15 minutes)" }).map((a) => [
          a.id,
          a.metric?.dimensions.service,
        ]),
      ),
    ).toEqual({
      ProvisionFailed: "lifecycle",
      InstancesReplaced: "reconcile",
      FleetFailingHealth: "reconcile",
      ...Object.fromEntries(auditAlarms().map((a) => [a.id, "audit"])),
    });
  });

  it("alarm on failed provisioning, replaced instances and a fleet failing its deep checks, over 5 minutes", () => {
    const alarms = fleetMetricAlarms(everything);
    expect(alarms.map((a) => a.id)).toEqual(["ProvisionFailed", "InstancesReplaced", "FleetFailingHealth"]);
    const counted = new Set(Object.values(METRIC_EVENTS).flatMap((rules) => rules.map((r) => r.metric)));
    for (const alarm of alarms) {
      expect(alarm, alarm.id).toMatchObject({
        comparison: "GreaterThanThreshold",
        threshold: 0,
        evaluationPeriods: 1,
        treatMissingData: "notBreaching",
        metric: { namespace: "ftpfleet", statistic: "Sum", periodSeconds: 300 },
      });
      // A metric the control plane really counts (METRIC_EVENTS), under the same name.
      expect(counted.has(alarm.metric?.name ?? ""), alarm.id).toBe(true);
    }
    // Without provisioning (no bucket) or deep health, the alarms on what cannot happen are left out.
    expect(fleetMetricAlarms({ ...everything, provisioning: false, deepHealth: false })).toEqual([]);
    expect(
      fleetMetricAlarms({ ...everything, deepHealth: false, auditSchedule: "rate(1 hour)" }).map((a) => [
        a.id,
        a.metric?.periodSeconds,
      ]),
    ).toEqual([["ProvisionFailed", 300], ...auditAlarms().map((a) => [a.id, 3600])]);
  });

  const input = {
    region: "us-east-1",
    ownerId: "ftpfleet-prod",
    groupName: "ftp-fleet",
    deadLetterQueue: "dlq",
    functions: [
      { label: "lifecycle", name: "fn-lifecycle" },
      { label: "reconcile", name: "fn-reconcile" },
    ],
    audit: true,
    provisioning: true,
    deepHealth: true,
  };
  const metricsOf = (body: ReturnType<typeof dashboardBody>) =>
    body.widgets.flatMap((w) => w.properties.metrics as unknown[][]);
  const fleetDimensions = (service: string) => ["service", service, "Fleet", "ftpfleet-prod"];

  it("show instances, network, dead letters, function errors and throttles, and the control plane's and audit's metrics", () => {
    const metrics = metricsOf(dashboardBody(input));
    const has = (...prefix: string[]) =>
      metrics.some((m) => prefix.every((part, i) => m[i] === part))
        ? prefix.join(" ")
        : `missing ${prefix.join(" ")}`;
    for (const expected of [
      ["AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", "ftp-fleet"],
      ["AWS/EC2", "NetworkIn", "AutoScalingGroupName", "ftp-fleet"],
      ["AWS/EC2", "NetworkOut", "AutoScalingGroupName", "ftp-fleet"],
      ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "dlq"],
      ["AWS/Lambda", "Errors", "FunctionName", "fn-lifecycle"],
      ["AWS/Lambda", "Throttles", "FunctionName", "fn-reconcile"],
      ["ftpfleet", "LaunchesContinued", ...fleetDimensions("lifecycle")],
      ["ftpfleet", "LaunchesAbandoned", ...fleetDimensions("lifecycle")],
      ["ftpfleet", "ProvisionDuration", ...fleetDimensions("lifecycle")],
      ["ftpfleet", "DnsChanges", ...fleetDimensions("lifecycle")],
      ["ftpfleet", "DnsChanges", ...fleetDimensions("reconcile")],
      ["ftpfleet", "ThrottlesRetried", ...fleetDimensions("lifecycle")],
      ["ftpfleet", "ThrottlesRetried", ...fleetDimensions("reconcile")],
      ["ftpfleet", "InstancesFailingHealth", ...fleetDimensions("reconcile")],
      ["ftpfleet", "InstancesReplaced", ...fleetDimensions("reconcile")],
      ["ftpfleet", "InstancesWithFindings", ...fleetDimensions("audit")],
      ["ftpfleet", "MaxLag", ...fleetDimensions("audit")],
    ]) {
      expect(has(...expected)).toBe(expected.join(" "));
    }
    const duration = metrics.filter((m) => m[1] === "ProvisionDuration").map((m) => m.at(-1));
    expect(duration).toEqual([
      expect.objectContaining({ stat: "p50" }),
      expect.objectContaining({ stat: "Maximum" }),
    ]);
    // Every alarm's metric is on the dashboard, with the alarm's own dimensions.
    for (const alarm of allAlarms().filter((a) => a.metric?.namespace === "ftpfleet")) {
      const metric = alarm.metric;
      if (!metric) continue;
      expect(has("ftpfleet", metric.name, ...Object.entries(metric.dimensions).flat()), alarm.id).not.toMatch(
        /^missing/,
      );
    }
  });

  it("graph every ftpfleet metric with exactly the service and Fleet dimensions", () => {
    const published = metricsOf(dashboardBody(input)).filter((m) => m[0] === "ftpfleet");
    const services = Object.values(METRICS_SERVICES) as string[];
    expect(published.length).toBeGreaterThan(0);
    for (const m of published) {
      // namespace, name, then dimension pairs, then the options object.
      const pairs = m.slice(2, -1);
      expect(pairs, String(m[1])).toHaveLength(4);
      expect([pairs[0], pairs[2], pairs[3]], String(m[1])).toEqual(["service", "Fleet", "ftpfleet-prod"]);
      expect(services).toContain(pairs[1]);
    }
  });

  it("leave out the audit without a bucket, provisioning without one, deep health when off; lay widgets out without overlap", () => {
    const body = dashboardBody({ ...input, audit: false, provisioning: false, deepHealth: false });
    const names = metricsOf(body)
      .filter((m) => m[0] === "ftpfleet")
      .map((m) => m[1]);
    expect(names.some((n) => auditAlarms().some((a) => a.metric === n))).toBe(false);
    expect(names).not.toContain("ProvisionDuration");
    expect(names).not.toContain("InstancesReplaced");
    expect(names).toContain("LaunchesContinued");
    for (const b of [body, dashboardBody(input)]) {
      const cells = new Set<string>();
      for (const w of b.widgets) {
        expect(w.x + w.width).toBeLessThanOrEqual(24);
        for (let x = w.x; x < w.x + w.width; x++)
          for (let y = w.y; y < w.y + w.height; y++) {
            expect(cells.has(`${x},${y}`)).toBe(false);
            cells.add(`${x},${y}`);
          }
      }
    }
    expect(JSON.parse(JSON.stringify(body))).toEqual(body);
  });
});

describe("the deployment loader and the stack agree", () => {
  it("read the same variables", () => {
    expect(stackConfiguration(created, context).deployment).toEqual(loadDeploymentConfig(created));
  });
});
