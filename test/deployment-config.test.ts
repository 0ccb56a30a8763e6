import { type InvalidInputError, instanceArchitecture, loadDeploymentConfig } from "@ftpfleet/core";
import { describe, expect, it } from "vitest";

/** A fleet the stack creates: the least an operator sets. */
const createEnv = {
  FTPFLEET_VPC_ID: "vpc-0123456789abcdef0",
  FTPFLEET_SUBNET_IDS: "subnet-0aaaaaaaaaaaaaaa1, subnet-0bbbbbbbbbbbbbbb2",
};

function problems(env: Record<string, string>): string[] {
  try {
    loadDeploymentConfig(env);
    return [];
  } catch (error) {
    return [...(error as InvalidInputError).issues];
  }
}

describe("loadDeploymentConfig", () => {
  it("creates the fleet and its bucket unless told otherwise, with the documented defaults", () => {
    expect(loadDeploymentConfig(createEnv)).toEqual({
      createFleet: true,
      createBucket: true,
      vpcId: "vpc-0123456789abcdef0",
      subnetIds: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"],
      instanceType: "t4g.small",
      instanceArch: "arm64",
      rootVolumeGb: 20,
      minSize: 2,
      maxSize: 10,
      desiredCapacity: 2,
      healthCheckGraceSeconds: 300,
      scalingTargetMbps: 50,
      operatorPrincipalArns: [],
      noncurrentVersionDays: 30,
    });
  });

  it("creates nothing fleet-related for a group of the operator's own, as before", () => {
    expect(
      loadDeploymentConfig({ FTPFLEET_ASG_NAME: "ftp-fleet", FTPFLEET_BUCKET: "their-bucket" }),
    ).toMatchObject({ createFleet: false, createBucket: false });
    expect(loadDeploymentConfig({ FTPFLEET_ASG_NAME: "ftp-fleet" })).toMatchObject({
      createFleet: false,
      createBucket: false,
    });
    // The operator's group with a bucket the stack creates, and the reverse.
    expect(
      loadDeploymentConfig({ FTPFLEET_ASG_NAME: "ftp-fleet", FTPFLEET_CREATE_BUCKET: "true" }),
    ).toMatchObject({ createFleet: false, createBucket: true });
    expect(loadDeploymentConfig({ ...createEnv, FTPFLEET_BUCKET: "their-bucket" })).toMatchObject({
      createFleet: true,
      createBucket: false,
    });
  });

  it("reads sizes, lists and the operators allowed to write the reserved prefix", () => {
    expect(
      loadDeploymentConfig({
        ...createEnv,
        FTPFLEET_INSTANCE_TYPE: "c7i.large",
        FTPFLEET_MIN_SIZE: "1",
        FTPFLEET_MAX_SIZE: "20",
        FTPFLEET_DESIRED_CAPACITY: "3",
        FTPFLEET_SCALING_TARGET_MBPS: "200",
        FTPFLEET_OPERATOR_PRINCIPAL_ARNS:
          "arn:aws:iam::123456789012:role/ftp-operators,arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*AdministratorAccess*",
        FTPFLEET_NONCURRENT_VERSION_DAYS: "90",
      }),
    ).toMatchObject({
      instanceType: "c7i.large",
      instanceArch: "x86_64",
      minSize: 1,
      maxSize: 20,
      desiredCapacity: 3,
      scalingTargetMbps: 200,
      operatorPrincipalArns: [
        "arn:aws:iam::123456789012:role/ftp-operators",
        "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*AdministratorAccess*",
      ],
      noncurrentVersionDays: 90,
    });
  });

  it.each([
    ["t4g.small", "arm64"],
    ["m7gd.large", "arm64"],
    ["c7gn.xlarge", "arm64"],
    ["im4gn.large", "arm64"],
    ["a1.medium", "arm64"],
    ["t3.small", "x86_64"],
    ["m6a.large", "x86_64"],
    ["g4dn.xlarge", "x86_64"],
    ["m7i-flex.large", "x86_64"],
  ])("knows %s is %s", (type, arch) => {
    expect(instanceArchitecture(type)).toBe(arch);
  });

  it.each([
    ["FTPFLEET_CREATE_FLEET", "yes"],
    ["FTPFLEET_CREATE_BUCKET", "1"],
    ["FTPFLEET_VPC_ID", "vpc-XYZ"],
    ["FTPFLEET_SUBNET_IDS", "subnet-0aaaaaaaaaaaaaaa1,sg-0123456789abcdef0"],
    ["FTPFLEET_SUBNET_IDS", "subnet-0aaaaaaaaaaaaaaa1,subnet-0aaaaaaaaaaaaaaa1"],
    ["FTPFLEET_INSTANCE_TYPE", "t4g small"],
    ["FTPFLEET_INSTANCE_ARCH", "aarch64"],
    ["FTPFLEET_INSTANCE_ARCH", "x86_64"], // t4g.small is arm64
    ["FTPFLEET_AMI_ID", "debian-12"],
    ["FTPFLEET_ROOT_VOLUME_GB", "4"],
    ["FTPFLEET_MIN_SIZE", "-1"],
    ["FTPFLEET_MAX_SIZE", "101"], // Route53: at most 100 weighted records per name
    ["FTPFLEET_DESIRED_CAPACITY", "11"],
    ["FTPFLEET_HEALTH_CHECK_GRACE_SECONDS", "soon"],
    ["FTPFLEET_SCALING_TARGET_MBPS", "0"],
    ["FTPFLEET_OPERATOR_PRINCIPAL_ARNS", "alice"],
    ["FTPFLEET_OPERATOR_PRINCIPAL_ARNS", "arn:aws:iam::123456789012:group/operators"],
    ["FTPFLEET_NONCURRENT_VERSION_DAYS", "0"],
  ])("rejects %s=%s, naming the variable", (name, value) => {
    const found = problems({ ...createEnv, [name]: value });
    expect(found.length, found.join("; ")).toBeGreaterThan(0);
    expect(
      found.every((problem) => problem.startsWith(`${name}: `)),
      found.join("; "),
    ).toBe(true);
  });

  it("checks settings against each other, saying what to do", () => {
    expect(problems({})).toEqual([
      "FTPFLEET_VPC_ID: the VPC of the fleet's subnets, required when the stack creates the fleet",
      "FTPFLEET_SUBNET_IDS: one subnet or more (one per Availability Zone), required when the stack creates the fleet",
    ]);
    expect(problems({ ...createEnv, FTPFLEET_CREATE_BUCKET: "false" })).toEqual([
      "FTPFLEET_CREATE_BUCKET: a fleet the stack creates needs a bucket: name one with FTPFLEET_BUCKET or let the stack create it",
    ]);
    expect(problems({ ...createEnv, FTPFLEET_ASG_NAME: "ftp-fleet" })).toEqual([
      "FTPFLEET_CREATE_FLEET: a VPC and subnets are used only when the stack creates the fleet: set it to true",
    ]);
    expect(problems({ ...createEnv, FTPFLEET_MIN_SIZE: "5", FTPFLEET_MAX_SIZE: "3" })).toEqual([
      "FTPFLEET_MAX_SIZE: must be at least minSize",
    ]);
    expect(problems({ ...createEnv, FTPFLEET_MIN_SIZE: "3", FTPFLEET_DESIRED_CAPACITY: "2" })).toEqual([
      "FTPFLEET_DESIRED_CAPACITY: must be between minSize and maxSize",
    ]);
    expect(problems({ ...createEnv, FTPFLEET_INSTANCE_ARCH: "x86_64" })).toEqual([
      "FTPFLEET_INSTANCE_ARCH: t4g.small is arm64 (Graviton types, arm64, have a 'g' after the generation digit: t4g, m7g)",
    ]);
    // An explicit group with FTPFLEET_CREATE_FLEET=true: the stack creates the group under that name.
    expect(problems({ ...createEnv, FTPFLEET_ASG_NAME: "ftp-fleet", FTPFLEET_CREATE_FLEET: "true" })).toEqual(
      [],
    );
  });

  it("treats an empty variable as unset", () => {
    expect(
      loadDeploymentConfig({ ...createEnv, FTPFLEET_INSTANCE_TYPE: "", FTPFLEET_ASG_NAME: "" }),
    ).toMatchObject({ instanceType: "t4g.small", createFleet: true });
  });
});
