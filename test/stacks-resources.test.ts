// The raw AWS resources of stacks/fleet.ts, stacks/storage.ts and stacks/observability.ts, built
// under Pulumi's mocks with the Pulumi SDKs `sst deploy` uses (.sst/platform, see vitest.config.ts):
// what would be sent to AWS, checked without AWS.
import { lifecycleHooks, METRICS_SERVICES } from "@ftpfleet/core";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { stackConfiguration } from "../stacks/configuration";
import {
  auditAlarms,
  fleetMetricAlarms,
  iamPolicyDocument,
  instancePermissions,
  ssmAgentUserData,
} from "../stacks/definitions";

// biome-ignore lint/suspicious/noExplicitAny: the mocks hand over whatever each resource type takes.
type Inputs = Record<string, any>;

interface Created {
  type: string;
  name: string;
  inputs: Inputs;
}

const created: Created[] = [];
const calls: { token: string; inputs: Inputs }[] = [];
const resourceOptions = new Map<string, pulumi.ResourceOptions>();

const DEBIAN_AMI = "ami-0d3b1a9c0ffee1234";
const HEALTH_CHECKERS = "pl-0r53healthcheckers";
const ARTIFACT_KEY = "ab".repeat(32);
/** How Pulumi marks a secret value it hands to a provider (or to the mocks). */
const SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

pulumi.runtime.setMocks(
  {
    newResource(args) {
      created.push({ type: args.type, name: args.name, inputs: args.inputs });
      const state: Record<string, unknown> = {
        ...args.inputs,
        arn: `arn:aws:mock:::${args.name}`,
        name: args.inputs.name ?? `${args.name}-physical`,
      };
      if (args.type === "aws:ec2/launchTemplate:LaunchTemplate") state.latestVersion = 3;
      if (args.type === "random:index/randomBytes:RandomBytes") state.hex = ARTIFACT_KEY;
      return { id: `${args.name}-id`, state };
    },
    call(args) {
      calls.push({ token: args.token, inputs: args.inputs });
      if (args.token === "aws:ec2/getAmi:getAmi") return { id: DEBIAN_AMI, rootDeviceName: "/dev/xvda" };
      if (args.token === "aws:ec2/getManagedPrefixList:getManagedPrefixList") {
        return { id: HEALTH_CHECKERS, name: args.inputs.name };
      }
      return args.inputs;
    },
  },
  "ftpfleet",
  "test",
  false,
);

/** Records each resource's options (ignoreChanges, dependsOn …), which mocks do not see. */
const capture: pulumi.ResourceTransformation = ({ name, opts }) => {
  resourceOptions.set(name, opts);
  return undefined;
};

/** Resolves outputs, then lets every pending registration reach the mocks. */
async function settle(...outputs: pulumi.Input<unknown>[]) {
  await new Promise((resolve) => pulumi.all(outputs).apply(resolve));
  let seen = -1;
  for (let quiet = 0; quiet < 20; quiet++) {
    await new Promise((resolve) => setImmediate(resolve));
    if (created.length !== seen) {
      seen = created.length;
      quiet = 0;
    }
  }
}

const one = (type: string, name?: string) => {
  const found = created.filter((r) => r.type === type && (!name || r.name === name));
  expect(found, `${type} ${name ?? ""}`).toHaveLength(1);
  return found[0] as Created;
};

const context = { app: "ftpfleet", stage: "prod", account: "123456789012", region: "eu-west-1" };
const configuration = stackConfiguration(
  {
    FTPFLEET_HOSTED_ZONE_ID: "Z0TESTZONE",
    FTPFLEET_RECORD_NAME: "ftp.example.com",
    FTPFLEET_VPC_ID: "vpc-0123456789abcdef0",
    FTPFLEET_SUBNET_IDS: "subnet-0aaaaaaaaaaaaaaa1,subnet-0bbbbbbbbbbbbbbb2,subnet-0ccccccccccccccc3",
    FTPFLEET_TLS_CERTIFICATE_PARAMETER: "/ftpfleet/prod/tls",
    FTPFLEET_PASSIVE_PORTS: "30000:30199",
    FTPFLEET_MIN_SIZE: "2",
    FTPFLEET_MAX_SIZE: "6",
    FTPFLEET_DESIRED_CAPACITY: "3",
    FTPFLEET_OPERATOR_PRINCIPAL_ARNS: "arn:aws:iam::123456789012:role/ftp-operators",
  },
  context,
);
const { fleet: config, deployment, names } = configuration;

let fleetOutputs: { groupName: string; instanceRoleArn: string };

beforeAll(async () => {
  const { loadPulumiSdk } = await import("../stacks/pulumi");
  await loadPulumiSdk();
  const { fleetResources } = await import("../stacks/fleet");
  const { dataBucket, protectDataBucket } = await import("../stacks/storage");
  const { observabilityResources } = await import("../stacks/observability");
  const options = { transformations: [capture] };

  const storage = dataBucket(
    { name: names.createdBucket ?? "", partition: "aws", noncurrentVersionDays: 30, retainOnRemoval: true },
    options,
  );
  const fleet = fleetResources(
    {
      fleet: config,
      deployment,
      groupName: names.groupName,
      partition: "aws",
      region: context.region,
      account: context.account,
      outputBucket: pulumi.output("ftpfleet-output"),
      generatedArtifactKey: names.generatedArtifactKey,
    },
    options,
  );
  protectDataBucket(
    storage,
    {
      partition: "aws",
      retainOnRemoval: true,
      writers: [
        fleet.instanceRoleArn,
        "arn:aws:iam::123456789012:role/audit",
        ...deployment.operatorPrincipalArns,
      ],
    },
    options,
  );
  const observability = observabilityResources(
    {
      ownerId: config.ownerId,
      region: context.region,
      alertsTopicArn: "arn:aws:sns:eu-west-1:123456789012:alerts",
      deadLetterQueueName: pulumi.output("lifecycle-dead-letters"),
      groupName: fleet.groupName,
      groupCreated: true,
      auditSchedule: config.auditSchedule,
      provisioning: true,
      deepHealth: config.healthChecks === "deep",
      functions: [{ label: "lifecycle", name: pulumi.output("fn-lifecycle") }],
    },
    options,
  );
  const [groupName, instanceRoleArn] = await new Promise<string[]>((resolve) =>
    pulumi.all([fleet.groupName, fleet.instanceRoleArn]).apply(resolve),
  );
  fleetOutputs = { groupName: groupName ?? "", instanceRoleArn: instanceRoleArn ?? "" };
  await settle(observability.dashboard.dashboardBody, storage.arn);
});

describe("the launch template", () => {
  it("requires IMDSv2, one hop, and boots Debian's newest Debian 12 image for the instance type", () => {
    const template = one("aws:ec2/launchTemplate:LaunchTemplate").inputs;
    expect(template.metadataOptions).toEqual({
      httpEndpoint: "enabled",
      httpTokens: "required",
      httpPutResponseHopLimit: 1,
    });
    expect(template.imageId).toBe(DEBIAN_AMI);
    expect(template.instanceType).toBe("t4g.small");
    const lookup = calls.find((c) => c.token === "aws:ec2/getAmi:getAmi");
    expect(lookup?.inputs).toMatchObject({
      owners: ["136693071363"],
      mostRecent: true,
      filters: expect.arrayContaining([{ name: "name", values: ["debian-12-arm64-*"] }]),
    });
  });

  it("encrypts a gp3 root volume, has no SSH key, and only installs the SSM agent at boot", () => {
    const template = one("aws:ec2/launchTemplate:LaunchTemplate").inputs;
    expect(template.blockDeviceMappings).toEqual([
      {
        deviceName: "/dev/xvda",
        ebs: { volumeType: "gp3", volumeSize: 20, encrypted: "true", deleteOnTermination: "true" },
      },
    ]);
    expect(template.keyName).toBeUndefined();
    expect(Buffer.from(template.userData, "base64").toString()).toBe(ssmAgentUserData("eu-west-1", "arm64"));
    expect(template.networkInterfaces).toEqual([
      expect.objectContaining({
        associatePublicIpAddress: "true",
        securityGroups: ["FleetSecurityGroup-id"],
      }),
    ]);
    expect(template.iamInstanceProfile).toEqual({ arn: "arn:aws:mock:::InstanceProfile" });
  });
});

describe("the security group", () => {
  const ingress = () => one("aws:ec2/securityGroup:SecurityGroup").inputs.ingress as Inputs[];

  it("opens nothing to the internet but FTP (21) and the passive range", () => {
    const open = ingress().filter(
      (rule) => (rule.cidrBlocks ?? []).includes("0.0.0.0/0") || (rule.ipv6CidrBlocks ?? []).includes("::/0"),
    );
    expect(open.map((rule) => [rule.protocol, rule.fromPort, rule.toPort])).toEqual([
      ["tcp", 21, 21],
      ["tcp", 30000, 30199],
    ]);
    expect(ingress().every((rule) => !rule.securityGroups && !rule.self)).toBe(true);
  });

  it("lets only Route53's health checkers reach the deep health endpoint", () => {
    const health = ingress().filter((rule) => rule.fromPort <= 8021 && 8021 <= rule.toPort);
    expect(health).toEqual([
      {
        description: expect.any(String),
        protocol: "tcp",
        fromPort: 8021,
        toPort: 8021,
        prefixListIds: [HEALTH_CHECKERS],
      },
    ]);
    expect(
      calls.find((c) => c.token === "aws:ec2/getManagedPrefixList:getManagedPrefixList")?.inputs,
    ).toEqual({
      name: "com.amazonaws.eu-west-1.route53-healthchecks",
    });
    expect(ingress()).toHaveLength(3);
  });

  it("sends anything out (S3, SSM, mirrors, active-mode clients)", () => {
    expect(one("aws:ec2/securityGroup:SecurityGroup").inputs).toMatchObject({
      vpcId: "vpc-0123456789abcdef0",
      egress: [
        { protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] },
      ],
    });
  });
});

describe("the Auto Scaling group", () => {
  it("carries both lifecycle hooks from its creation, and keeps them current as resources", () => {
    const group = one("aws:autoscaling/group:Group").inputs;
    const { launch, terminate } = lifecycleHooks(config);
    const asInitialHook = (hook: typeof launch) => ({
      name: hook.name,
      lifecycleTransition: hook.transition,
      heartbeatTimeout: hook.heartbeatTimeoutSeconds,
      defaultResult: hook.defaultResult,
    });
    expect(group.initialLifecycleHooks).toEqual([asInitialHook(launch), asInitialHook(terminate)]);
    const hooks = created.filter((r) => r.type === "aws:autoscaling/lifecycleHook:LifecycleHook");
    expect(hooks.map((h) => h.inputs)).toEqual([
      { ...asInitialHook(launch), autoscalingGroupName: "ftpfleet-prod-fleet" },
      { ...asInitialHook(terminate), autoscalingGroupName: "ftpfleet-prod-fleet" },
    ]);
    // Removal deletes the group with its hooks: its last instances drain like any other.
    expect(resourceOptions.get("FleetTerminateHook")?.retainOnDelete).toBe(true);
    // A changed hook must not replace the group (and every instance with it).
    expect(resourceOptions.get("FleetGroup")?.ignoreChanges).toEqual(
      expect.arrayContaining(["initialLifecycleHooks", "desiredCapacity"]),
    );
  });

  it("spreads over the subnets with the configured sizes, feeding its name to the control plane", () => {
    const group = one("aws:autoscaling/group:Group").inputs;
    expect(group).toMatchObject({
      name: "ftpfleet-prod-fleet",
      vpcZoneIdentifiers: [
        "subnet-0aaaaaaaaaaaaaaa1",
        "subnet-0bbbbbbbbbbbbbbb2",
        "subnet-0ccccccccccccccc3",
      ],
      minSize: 2,
      maxSize: 6,
      desiredCapacity: 3,
      healthCheckType: "EC2",
      healthCheckGracePeriod: 300,
      launchTemplate: { id: "FleetLaunchTemplate-id", version: "3" },
    });
    expect(fleetOutputs.groupName).toBe(config.asgName);
    expect(group.tags).toEqual(
      expect.arrayContaining([{ key: "ftpfleet:owner", value: "ftpfleet-prod", propagateAtLaunch: true }]),
    );
    expect(group.enabledMetrics).toEqual(
      expect.arrayContaining(["GroupInServiceInstances", "GroupDesiredCapacity"]),
    );
  });

  it("launches only once the instance's rights and the artifact key exist", () => {
    const needs = (resourceOptions.get("FleetGroup")?.dependsOn ?? []) as pulumi.Resource[];
    const names = needs.map((r) => (r as unknown as { __name: string }).__name);
    expect(names.sort()).toEqual(["ArtifactKeyParameter", "InstanceRolePolicy", "InstanceRoleSsm"].sort());
  });

  it("scales on the traffic its instances send", () => {
    expect(one("aws:autoscaling/policy:Policy").inputs).toMatchObject({
      autoscalingGroupName: "ftpfleet-prod-fleet",
      policyType: "TargetTrackingScaling",
      targetTrackingConfiguration: {
        predefinedMetricSpecification: { predefinedMetricType: "ASGAverageNetworkOut" },
        targetValue: (50_000_000 / 8) * 300,
      },
    });
  });
});

describe("the instance role", () => {
  it("is assumed by EC2 only, managed by SSM, and allowed exactly the instance permissions", () => {
    const role = one("aws:iam/role:Role").inputs;
    expect(JSON.parse(role.assumeRolePolicy).Statement).toEqual([
      { Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" },
    ]);
    expect(
      created
        .filter((r) => r.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        .map((r) => r.inputs.policyArn),
    ).toEqual(["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]);
    const policy = one("aws:iam/rolePolicy:RolePolicy").inputs.policy;
    expect(JSON.parse(policy)).toEqual(
      JSON.parse(
        iamPolicyDocument(
          instancePermissions(
            config,
            { partition: "aws", region: "eu-west-1", account: "123456789012" },
            { outputBucket: "ftpfleet-output" },
          ),
        ),
      ),
    );
  });
});

describe("the fleet's secrets", () => {
  it("are the artifact key alone, generated into a SecureString parameter under the owner's path", () => {
    const parameters = created.filter((r) => r.type === "aws:ssm/parameter:Parameter");
    // No deploy-time health secret: each instance generates its own, and only it logs in with it.
    expect(parameters.map((r) => r.inputs.name)).toEqual(["/ftpfleet/ftpfleet-prod/artifact-key"]);
    expect(created.filter((r) => r.type === "random:index/randomPassword:RandomPassword")).toEqual([]);
    // The value travels as a Pulumi secret: encrypted in the state, masked in every diff.
    expect(parameters[0]?.inputs).toMatchObject({
      type: "SecureString",
      value: { [SECRET_SIGNATURE]: SECRET_VALUE, value: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    // Nothing the fleet module hands back carries it.
    expect(JSON.stringify(fleetOutputs)).not.toContain(ARTIFACT_KEY);
  });
});

describe("the data bucket", () => {
  it("is versioned, encrypted, never public, and sends its object events to EventBridge", () => {
    expect(one("aws:s3/bucket:Bucket").inputs).toMatchObject({
      bucket: "ftpfleet-prod-123456789012-eu-west-1",
      forceDestroy: false,
    });
    expect(one("aws:s3/bucketVersioning:BucketVersioning").inputs.versioningConfiguration).toEqual({
      status: "Enabled",
    });
    expect(
      one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs
        .rules,
    ).toEqual([{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }]);
    expect(one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs).toMatchObject({
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    expect(one("aws:s3/bucketNotification:BucketNotification").inputs.eventbridge).toBe(true);
    expect(
      one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs.rules.map(
        (r: { id: string }) => r.id,
      ),
    ).toEqual(["audit-runs", "incomplete-multipart-uploads", "noncurrent-versions"]);
    // Production keeps it, with its protections, on `sst remove`.
    expect(resourceOptions.get("DataBucket")?.retainOnDelete).toBe(true);
    expect(resourceOptions.get("DataBucketPolicy")?.retainOnDelete).toBe(true);
  });

  it("lets only the instance role, the functions' roles and the operators write under .ftpfleet/", () => {
    const policy = JSON.parse(one("aws:s3/bucketPolicy:BucketPolicy").inputs.policy);
    const reserved = policy.Statement.find((s: { Sid: string }) => s.Sid === "ReservedPrefixFleetOnly");
    expect(reserved.Condition.ArnNotLike["aws:PrincipalArn"]).toEqual([
      fleetOutputs.instanceRoleArn,
      "arn:aws:iam::123456789012:role/audit",
      "arn:aws:iam::123456789012:role/ftp-operators",
    ]);
    expect(reserved.Resource).toEqual(["arn:aws:s3:::ftpfleet-prod-123456789012-eu-west-1/.ftpfleet/*"]);
  });
});

describe("alarms and the dashboard", () => {
  const alarms = () => created.filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm");

  it("notify the Alerts topic, on alarm and on recovery, for the control plane, the group and the audit", () => {
    expect(
      alarms()
        .map((a) => a.name)
        .sort(),
    ).toEqual(
      [
        "LifecycleDeadLettersAlarm",
        "FleetBelowDesired",
        "ProvisionFailed",
        "InstancesReplaced",
        "FleetFailingHealth",
        ...auditAlarms().map((a) => a.id),
      ].sort(),
    );
    for (const alarm of alarms()) {
      expect(alarm.inputs.alarmActions, alarm.name).toEqual(["arn:aws:sns:eu-west-1:123456789012:alerts"]);
      expect(alarm.inputs.okActions, alarm.name).toEqual(["arn:aws:sns:eu-west-1:123456789012:alerts"]);
    }
    expect(alarms().find((a) => a.name === "LifecycleDeadLettersAlarm")?.inputs).toMatchObject({
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: "lifecycle-dead-letters" },
      comparisonOperator: "GreaterThanThreshold",
      threshold: 0,
    });
    const churn = alarms().find((a) => a.name === "FleetBelowDesired")?.inputs;
    expect(churn?.metricQueries).toEqual([
      expect.objectContaining({ id: "result", expression: "desired - inService", returnData: true }),
      expect.objectContaining({
        id: "desired",
        metric: expect.objectContaining({ dimensions: { AutoScalingGroupName: "ftpfleet-prod-fleet" } }),
      }),
      expect.objectContaining({ id: "inService" }),
    ]);
    expect(alarms().find((a) => a.name === "AuditStale")?.inputs).toMatchObject({
      namespace: "ftpfleet",
      dimensions: { service: "audit", Fleet: "ftpfleet-prod" },
      period: 900,
    });
  });

  it("watch the functions' metrics with exactly the dimensions they are published with", () => {
    const published = alarms().filter((a) => a.inputs.namespace === "ftpfleet");
    expect(published.map((a) => a.name).sort()).toEqual(
      fleetMetricAlarms({
        ownerId: "ftpfleet-prod",
        provisioning: true,
        deepHealth: true,
        auditSchedule: config.auditSchedule,
      })
        .map((a) => a.id)
        .sort(),
    );
    const services = Object.values(METRICS_SERVICES) as string[];
    for (const alarm of published) {
      // Powertools publishes every metric under {service, Fleet}; an alarm on {Fleet} sees nothing.
      // (Pulumi hands the inputs over with sorted keys.)
      expect(Object.keys(alarm.inputs.dimensions).sort(), alarm.name).toEqual(["service", "Fleet"].sort());
      expect(services, alarm.name).toContain(alarm.inputs.dimensions.service);
      expect(alarm.inputs.dimensions.Fleet).toBe("ftpfleet-prod");
    }
    expect(alarms().find((a) => a.name === "InstancesReplaced")?.inputs).toMatchObject({
      metricName: "InstancesReplaced",
      dimensions: { service: "reconcile", Fleet: "ftpfleet-prod" },
      statistic: "Sum",
      period: 300,
      comparisonOperator: "GreaterThanThreshold",
      threshold: 0,
      treatMissingData: "notBreaching",
    });
    expect(alarms().find((a) => a.name === "ProvisionFailed")?.inputs.dimensions).toEqual({
      service: "lifecycle",
      Fleet: "ftpfleet-prod",
    });
  });

  it("draw one dashboard of the fleet, named after its owner, from the names known at deploy", () => {
    const dashboard = one("aws:cloudwatch/dashboard:Dashboard").inputs;
    expect(dashboard.dashboardName).toBe("ftpfleet-prod");
    const body = JSON.parse(dashboard.dashboardBody);
    const metrics = body.widgets.flatMap(
      (w: { properties: { metrics: unknown[][] } }) => w.properties.metrics,
    );
    expect(metrics).toEqual(
      expect.arrayContaining([
        expect.arrayContaining([
          "AWS/AutoScaling",
          "GroupInServiceInstances",
          "AutoScalingGroupName",
          "ftpfleet-prod-fleet",
        ]),
        expect.arrayContaining([
          "AWS/SQS",
          "ApproximateNumberOfMessagesVisible",
          "QueueName",
          "lifecycle-dead-letters",
        ]),
        expect.arrayContaining(["AWS/Lambda", "Errors", "FunctionName", "fn-lifecycle"]),
        expect.arrayContaining([
          "ftpfleet",
          "InstancesReplaced",
          "service",
          "reconcile",
          "Fleet",
          "ftpfleet-prod",
        ]),
      ]),
    );
  });
});
