import { z } from "zod";
import { parseOrThrow } from "./errors";

/**
 * What only `sst deploy` reads: whether the stack creates the fleet (group, launch template,
 * security group, instance role) and the data bucket, and how. The functions never see these; what
 * they read is `loadFleetConfig`'s. Same conventions: FTPFLEET_* variables, validated at once, every
 * problem named by its variable.
 */

/** Graviton families carry a "g" among the letters after their generation digit (t4g, m7gd, c7gn,
 * im4gn); a1 is the first Graviton. Everything else EC2 offers for Linux is x86_64. */
export function instanceArchitecture(instanceType: string): "arm64" | "x86_64" {
  const family = instanceType.split(".")[0] ?? "";
  return family === "a1" || /^[a-z]+[0-9]+[a-z]*g[a-z]*$/.test(family) ? "arm64" : "x86_64";
}

const flag = z.enum(["true", "false"], { error: "true or false" }).transform((value) => value === "true");

/** A comma-separated list (spaces allowed), each item checked by `item`; duplicates refused. */
const list = (item: z.ZodString) =>
  z
    .string()
    .transform((value) =>
      value
        .split(",")
        .map((part) => part.trim())
        .filter((part) => part !== ""),
    )
    .pipe(z.array(item))
    .refine((items) => new Set(items).size === items.length, "no item twice");

const count = (max: number) => z.coerce.number().int().min(0).max(max);

/** An IAM principal as aws:PrincipalArn names it: a role (with its path), a user, or the account's
 * root; `*` allowed (the bucket policy compares with ArnNotLike), e.g. for SSO roles. */
const principalArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:iam::[0-9]{12}:(root|(role|user)\/[\w+=,.@/*-]{1,512})$/,
    "an IAM role, user or root ARN such as arn:aws:iam::123456789012:role/ftp-operators",
  );

const settingsSchema = z.object({
  /** The stack creates the Auto Scaling group and what it needs. Default: yes, unless
   * FTPFLEET_ASG_NAME names a group of the operator's own. */
  createFleet: flag.optional(),
  /** The stack creates the data bucket. Default: yes when it creates the fleet and
   * FTPFLEET_BUCKET names no bucket of the operator's own. */
  createBucket: flag.optional(),
  vpcId: z
    .string()
    .regex(/^vpc-[0-9a-f]{8,17}$/, "a VPC id such as vpc-0123456789abcdef0")
    .optional(),
  /** Subnets the group spreads over; public ones (instances get a public IPv4 address), in
   * several Availability Zones so that one zone's outage leaves the others serving. */
  subnetIds: list(
    z.string().regex(/^subnet-[0-9a-f]{8,17}$/, "subnet ids such as subnet-0123456789abcdef0"),
  ).default([]),
  /** t4g.small: Graviton, 2 vCPUs and 2 GiB, room for the first instance's builds of both daemons. */
  instanceType: z
    .string()
    .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "an EC2 instance type such as t4g.small")
    .default("t4g.small"),
  /** Follows the instance type; stating it only checks that the two agree. */
  instanceArch: z.enum(["arm64", "x86_64"], { error: "arm64 or x86_64" }).optional(),
  /** Pins the image; unset, each deploy takes Debian's newest Debian 12 image. */
  amiId: z
    .string()
    .regex(/^ami-[0-9a-f]{8,17}$/, "an AMI id such as ami-0123456789abcdef0")
    .optional(),
  /** s3fs stages every upload in a temporary file: the largest uploads at once must fit. */
  rootVolumeGb: z.coerce.number().int().min(8).max(16_384).default(20),
  minSize: count(100).default(2),
  /** Route53 holds at most 100 weighted records per name: more instances could never all serve. */
  maxSize: count(100).default(10),
  /** The size at creation; afterwards the scaling policy moves it between min and max. */
  desiredCapacity: count(100).optional(),
  /** Starts once the launch hook is answered (the instance is provisioned and in DNS). */
  healthCheckGraceSeconds: z.coerce.number().int().min(0).max(7200).default(300),
  /** Average traffic sent per instance (Mbit/s) the scaling policy keeps the group at. */
  scalingTargetMbps: z.coerce.number().positive().max(100_000).default(50),
  /** Who besides the stack's own roles may write under .ftpfleet/ of a created bucket: the
   * operators running `ftpfleet users`, and a bring-your-own group's instance role. */
  operatorPrincipalArns: list(principalArn).default([]),
  /** Days a created bucket keeps overwritten and deleted versions of objects. */
  noncurrentVersionDays: z.coerce.number().int().min(1).max(3650).default(30),
  // Read, not owned: they decide the defaults above (loadFleetConfig validates them).
  asgName: z.string().optional(),
  bucket: z.string().optional(),
});

/** Defaults that depend on other settings. */
function withDefaults({ asgName, bucket, ...settings }: z.output<typeof settingsSchema>) {
  const createFleet = settings.createFleet ?? !asgName;
  return {
    ...settings,
    createFleet,
    createBucket: settings.createBucket ?? (createFleet && !bucket),
    instanceArch: settings.instanceArch ?? instanceArchitecture(settings.instanceType),
    desiredCapacity: settings.desiredCapacity ?? settings.minSize,
  };
}

export const deploymentConfigSchema = settingsSchema
  .superRefine((input, ctx) => {
    const config = withDefaults(input);
    const problem = (key: keyof typeof input, message: string) =>
      ctx.addIssue({ code: "custom", path: [key], message });
    if (config.createFleet) {
      if (!config.vpcId)
        problem("vpcId", "the VPC of the fleet's subnets, required when the stack creates the fleet");
      if (config.subnetIds.length === 0)
        problem(
          "subnetIds",
          "one subnet or more (one per Availability Zone), required when the stack creates the fleet",
        );
      if (!config.createBucket && !input.bucket)
        problem(
          "createBucket",
          "a fleet the stack creates needs a bucket: name one with FTPFLEET_BUCKET or let the stack create it",
        );
    } else if (config.vpcId || config.subnetIds.length > 0) {
      problem(
        "createFleet",
        "a VPC and subnets are used only when the stack creates the fleet: set it to true",
      );
    }
    if (input.instanceArch && input.instanceArch !== instanceArchitecture(config.instanceType))
      problem(
        "instanceArch",
        `${config.instanceType} is ${instanceArchitecture(config.instanceType)} (Graviton types, arm64, have a 'g' after the generation digit: t4g, m7g)`,
      );
    if (config.minSize > config.maxSize) problem("maxSize", "must be at least minSize");
    else if (config.desiredCapacity < config.minSize || config.desiredCapacity > config.maxSize)
      problem("desiredCapacity", "must be between minSize and maxSize");
  })
  .transform(withDefaults);

export type DeploymentConfig = z.output<typeof deploymentConfigSchema>;

export const deploymentEnvNames = {
  createFleet: "FTPFLEET_CREATE_FLEET",
  createBucket: "FTPFLEET_CREATE_BUCKET",
  vpcId: "FTPFLEET_VPC_ID",
  subnetIds: "FTPFLEET_SUBNET_IDS",
  instanceType: "FTPFLEET_INSTANCE_TYPE",
  instanceArch: "FTPFLEET_INSTANCE_ARCH",
  amiId: "FTPFLEET_AMI_ID",
  rootVolumeGb: "FTPFLEET_ROOT_VOLUME_GB",
  minSize: "FTPFLEET_MIN_SIZE",
  maxSize: "FTPFLEET_MAX_SIZE",
  desiredCapacity: "FTPFLEET_DESIRED_CAPACITY",
  healthCheckGraceSeconds: "FTPFLEET_HEALTH_CHECK_GRACE_SECONDS",
  scalingTargetMbps: "FTPFLEET_SCALING_TARGET_MBPS",
  operatorPrincipalArns: "FTPFLEET_OPERATOR_PRINCIPAL_ARNS",
  noncurrentVersionDays: "FTPFLEET_NONCURRENT_VERSION_DAYS",
  asgName: "FTPFLEET_ASG_NAME",
  bucket: "FTPFLEET_BUCKET",
} as const satisfies Record<keyof z.input<typeof deploymentConfigSchema>, string>;

/** The deployment's settings from FTPFLEET_* variables; an error names every offending variable. */
export function loadDeploymentConfig(
  env: Record<string, string | undefined> = process.env,
): DeploymentConfig {
  const raw = Object.fromEntries(
    Object.entries(deploymentEnvNames)
      .map(([key, name]) => [key, env[name] === "" ? undefined : env[name]] as const)
      .filter(([, value]) => value !== undefined),
  );
  return parseOrThrow(deploymentConfigSchema, raw, "invalid ftpfleet deployment configuration", (path) => {
    const key = path[0] as keyof typeof deploymentEnvNames | undefined;
    return key ? deploymentEnvNames[key] : "config";
  });
}
