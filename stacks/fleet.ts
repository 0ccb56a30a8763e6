// Plain Pulumi resources, imported explicitly (not SST's globals): test/stacks-resources.test.ts
// builds them under Pulumi's mocks.
import { type DeploymentConfig, type FleetConfig, lifecycleHooks } from "@ftpfleet/core";
import type * as pulumi from "@pulumi/pulumi";
import {
  debianAmiQuery,
  fleetIngressRules,
  GROUP_METRICS,
  iamPolicyDocument,
  instancePermissions,
  route53HealthCheckersPrefixList,
  SSM_MANAGED_INSTANCE_POLICY,
  scalingPolicy,
  ssmAgentUserData,
} from "./definitions";
import { sdk } from "./pulumi";

export interface FleetArgs {
  fleet: FleetConfig;
  deployment: DeploymentConfig;
  groupName: string;
  partition: string;
  region: string;
  account: string;
  /** The command-output bucket, where the SSM agent puts full outputs. */
  outputBucket: pulumi.Input<string>;
  /** The artifact key's parameter to create with a generated value, unless the operator named one
   * (stackConfiguration decides). No health secret: each instance generates its own. */
  generatedArtifactKey?: string | undefined;
}

export interface Fleet {
  groupName: pulumi.Output<string>;
  instanceRoleArn: pulumi.Output<string>;
  securityGroupId: pulumi.Output<string>;
  launchTemplateId: pulumi.Output<string>;
}

/**
 * The fleet the stack creates: Debian 12 instances (arm64 for Graviton types) in an Auto Scaling
 * group across the configured subnets, each entering service only once provisioned (the launch
 * hook is on the group from its creation), scaled on the traffic they send, reachable on FTP and
 * passive ports, with the deep health endpoint open to Route53's checkers only. No SSH key, IMDSv2
 * only, encrypted root volume. `options.dependsOn` should hold the control plane: the first
 * instances' launch events must find its rule and function.
 */
export function fleetResources(args: FleetArgs, options: pulumi.CustomResourceOptions = {}): Fleet {
  const { fleet, deployment, groupName, partition, region, account } = args;
  const tags = { "ftpfleet:owner": fleet.ownerId };

  // What an instance reads while it is provisioned: in place before the group launches any.
  const provisioningNeeds: pulumi.Resource[] = [];
  // The artifact key: generated here, stored as a SecureString parameter, never an output of the stack.
  if (args.generatedArtifactKey) {
    // 64 hex digits, the key that seals the build artifacts cached in the bucket.
    const key = new sdk.random.RandomBytes("ArtifactKey", { length: 32 }, options);
    const parameter = new sdk.aws.ssm.Parameter(
      "ArtifactKeyParameter",
      {
        name: args.generatedArtifactKey,
        type: "SecureString",
        value: key.hex,
        description: `ftpfleet ${fleet.ownerId}: seals cached builds of pure-ftpd and s3fs`,
        tags,
      },
      options,
    );
    provisioningNeeds.push(parameter);
  }

  const role = new sdk.aws.iam.Role(
    "InstanceRole",
    {
      description: `ftpfleet ${fleet.ownerId}: the fleet's instances`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" },
        ],
      }),
      tags,
    },
    options,
  );
  const ssmManaged = new sdk.aws.iam.RolePolicyAttachment(
    "InstanceRoleSsm",
    { role: role.name, policyArn: `arn:${partition}:iam::aws:policy/${SSM_MANAGED_INSTANCE_POLICY}` },
    options,
  );
  const rolePolicy = new sdk.aws.iam.RolePolicy(
    "InstanceRolePolicy",
    {
      role: role.name,
      policy: sdk.pulumi
        .output(args.outputBucket)
        .apply((outputBucket) =>
          iamPolicyDocument(instancePermissions(fleet, { partition, region, account }, { outputBucket })),
        ),
    },
    options,
  );
  const profile = new sdk.aws.iam.InstanceProfile("InstanceProfile", { role: role.name, tags }, options);
  provisioningNeeds.push(ssmManaged, rolePolicy);

  const healthCheckers = sdk.aws.ec2.getManagedPrefixListOutput({
    name: route53HealthCheckersPrefixList(region),
  });
  const securityGroup = new sdk.aws.ec2.SecurityGroup(
    "FleetSecurityGroup",
    {
      description: `ftpfleet ${fleet.ownerId}: FTP, passive ports, health endpoint for Route53`,
      vpcId: deployment.vpcId,
      ingress: fleetIngressRules(fleet).map((rule) => ({
        description: rule.description,
        protocol: "tcp",
        fromPort: rule.fromPort,
        toPort: rule.toPort,
        ...("cidr" in rule.from ? { cidrBlocks: [rule.from.cidr] } : { prefixListIds: [healthCheckers.id] }),
      })),
      // Out: S3, SSM, Debian's and the sources' mirrors, and clients' active-mode data ports.
      egress: [
        { protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] },
      ],
      revokeRulesOnDelete: true,
      tags: { ...tags, Name: `${fleet.ownerId}-fleet` },
    },
    options,
  );

  // Debian's newest Debian 12 image, or the pinned one; its root device is where the volume goes.
  const image = sdk.aws.ec2.getAmiOutput(
    deployment.amiId
      ? { filters: [{ name: "image-id", values: [deployment.amiId] }] }
      : debianAmiQuery(deployment.instanceArch),
  );
  const launchTemplate = new sdk.aws.ec2.LaunchTemplate(
    "FleetLaunchTemplate",
    {
      description: `ftpfleet ${fleet.ownerId}: Debian 12 ${deployment.instanceArch}`,
      imageId: image.id,
      instanceType: deployment.instanceType,
      iamInstanceProfile: { arn: profile.arn },
      // IMDSv2 only; one hop: only processes on the host (s3fs, the scripts, the agent) ask it.
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
      blockDeviceMappings: [
        {
          deviceName: image.rootDeviceName,
          ebs: {
            volumeType: "gp3",
            volumeSize: deployment.rootVolumeGb,
            encrypted: "true",
            deleteOnTermination: "true",
          },
        },
      ],
      networkInterfaces: [
        {
          deviceIndex: 0,
          associatePublicIpAddress: String(fleet.address === "public"),
          securityGroups: [securityGroup.id],
          deleteOnTermination: "true",
        },
      ],
      userData: Buffer.from(ssmAgentUserData(region, deployment.instanceArch)).toString("base64"),
      updateDefaultVersion: true,
      tagSpecifications: ["instance", "volume"].map((resourceType) => ({ resourceType, tags })),
      tags,
    },
    options,
  );

  const hooks = lifecycleHooks(fleet);
  const group = new sdk.aws.autoscaling.Group(
    "FleetGroup",
    {
      name: groupName,
      vpcZoneIdentifiers: deployment.subnetIds,
      minSize: deployment.minSize,
      maxSize: deployment.maxSize,
      desiredCapacity: deployment.desiredCapacity,
      launchTemplate: { id: launchTemplate.id, version: launchTemplate.latestVersion.apply(String) },
      healthCheckType: "EC2",
      healthCheckGracePeriod: deployment.healthCheckGraceSeconds,
      defaultInstanceWarmup: scalingPolicy(deployment).estimatedInstanceWarmupSeconds,
      // The very first instances wait in Pending:Wait for provisioning, like every later one.
      initialLifecycleHooks: [hooks.launch, hooks.terminate].map((hook) => ({
        name: hook.name,
        lifecycleTransition: hook.transition,
        heartbeatTimeout: hook.heartbeatTimeoutSeconds,
        defaultResult: hook.defaultResult,
      })),
      enabledMetrics: [...GROUP_METRICS],
      metricsGranularity: "1Minute",
      // Provisioning runs after the deploy, with its own timeouts; the deploy does not wait for it.
      waitForCapacityTimeout: "0",
      tags: [
        { key: "Name", value: `${fleet.ownerId}-ftp`, propagateAtLaunch: true },
        { key: "ftpfleet:owner", value: fleet.ownerId, propagateAtLaunch: true },
      ],
    },
    sdk.pulumi.mergeOptions(options, {
      dependsOn: provisioningNeeds,
      // desiredCapacity belongs to the scaling policy once the group exists. Changing
      // initialLifecycleHooks would replace the group (every instance): the hook resources below
      // keep the hooks current instead.
      ignoreChanges: ["desiredCapacity", "initialLifecycleHooks"],
    }),
  );
  // The same hooks as resources: PutLifecycleHook updates the group's hooks in place when the
  // drain changes (initialLifecycleHooks only act at creation). Kept on removal: the group, deleted
  // first, drains through its terminate hook and the control plane like any scale-in, so no record
  // is left behind.
  for (const [id, hook] of [
    ["FleetLaunchHook", hooks.launch],
    ["FleetTerminateHook", hooks.terminate],
  ] as const) {
    new sdk.aws.autoscaling.LifecycleHook(
      id,
      {
        name: hook.name,
        autoscalingGroupName: group.name,
        lifecycleTransition: hook.transition,
        heartbeatTimeout: hook.heartbeatTimeoutSeconds,
        defaultResult: hook.defaultResult,
      },
      sdk.pulumi.mergeOptions(options, { retainOnDelete: true }),
    );
  }

  const scaling = scalingPolicy(deployment);
  new sdk.aws.autoscaling.Policy(
    "FleetScaling",
    {
      autoscalingGroupName: group.name,
      policyType: scaling.policyType,
      estimatedInstanceWarmup: scaling.estimatedInstanceWarmupSeconds,
      targetTrackingConfiguration: {
        predefinedMetricSpecification: { predefinedMetricType: scaling.predefinedMetricType },
        targetValue: scaling.targetValue,
      },
    },
    options,
  );

  return {
    groupName: group.name,
    instanceRoleArn: role.arn,
    securityGroupId: securityGroup.id,
    launchTemplateId: launchTemplate.id,
  };
}
