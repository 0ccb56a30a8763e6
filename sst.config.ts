/// <reference path="./.sst/platform/config.d.ts" />

const PRODUCTION_STAGES = ["prod", "production"];

export default $config({
  app(input) {
    const production = PRODUCTION_STAGES.includes(input?.stage ?? "");
    return {
      name: "ftpfleet",
      home: "aws",
      // Production keeps its S3 buckets (the fleet's files) on `sst remove`, and refuses removal
      // until `protect` is lifted.
      removal: production ? "retain" : "remove",
      protect: production,
    };
  },
  // One typed configuration (stacks/configuration.ts), then the modules of stacks/, each creating
  // only what the configuration asks for. docs/deployment.md says what each creates.
  async run() {
    const { loadPulumiSdk } = await import("./stacks/pulumi");
    await loadPulumiSdk();
    const { stackConfiguration } = await import("./stacks/configuration");
    const { dataBucket, protectDataBucket } = await import("./stacks/storage");
    const { controlPlaneStack } = await import("./stacks/control-plane");
    const { fleetResources } = await import("./stacks/fleet");
    const { observabilityResources } = await import("./stacks/observability");

    const [identity, currentRegion, currentPartition] = await Promise.all([
      aws.getCallerIdentity({}),
      aws.getRegion({}),
      aws.getPartition({}),
    ]);
    const where = {
      account: identity.accountId,
      region: currentRegion.region,
      partition: currentPartition.partition,
    };
    const configuration = stackConfiguration(process.env, { app: $app.name, stage: $app.stage, ...where });
    const { fleet: config, deployment, names } = configuration;
    const retainOnRemoval = $app.removal !== "remove";

    const storage = names.createdBucket
      ? dataBucket({
          name: names.createdBucket,
          partition: where.partition,
          noncurrentVersionDays: deployment.noncurrentVersionDays,
          retainOnRemoval,
        })
      : undefined;

    const controlPlane = controlPlaneStack(configuration, where);

    const fleet = deployment.createFleet
      ? fleetResources(
          {
            fleet: config,
            deployment,
            groupName: names.groupName,
            ...where,
            outputBucket: controlPlane.outputBucket ?? "",
            generatedArtifactKey: names.generatedArtifactKey,
          },
          // The first instances' launch events must find the control plane in place, and their
          // provisioning the bucket; on removal the group goes first and drains through both.
          { dependsOn: [...controlPlane.readiness, ...(storage ? [storage.bucket] : [])] },
        )
      : undefined;

    if (storage) {
      protectDataBucket(storage, {
        partition: where.partition,
        retainOnRemoval,
        writers: [
          ...(fleet ? [fleet.instanceRoleArn] : []),
          ...controlPlane.functions.map((f) => f.roleArn),
          ...deployment.operatorPrincipalArns,
        ],
      });
    }

    observabilityResources({
      ownerId: config.ownerId,
      region: where.region,
      alertsTopicArn: controlPlane.alerts.arn,
      deadLetterQueueName: controlPlane.deadLetters.nodes.queue.name,
      groupName: fleet?.groupName ?? config.asgName,
      groupCreated: Boolean(fleet),
      auditSchedule: config.bucket ? config.auditSchedule : undefined,
      provisioning: Boolean(config.bucket),
      deepHealth: config.healthChecks === "deep",
      functions: controlPlane.functions,
    });

    return {
      ...controlPlane.outputs,
      groupName: fleet?.groupName ?? config.asgName,
      ...(storage ? { dataBucket: storage.name } : {}),
      ...(fleet ? { securityGroup: fleet.securityGroupId } : {}),
    };
  },
});
