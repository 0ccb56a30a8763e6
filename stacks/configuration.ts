import {
  type DeploymentConfig,
  type FleetConfig,
  fleetEnvironment,
  InvalidInputError,
  loadDeploymentConfig,
  loadFleetConfig,
} from "@ftpfleet/core";

/** Where the stack is deployed: SST's app and stage, and the account and region of its credentials. */
export interface DeploymentContext {
  app: string;
  stage: string;
  account: string;
  region: string;
}

/** What the stack creates in the fleet's name, each only when the configuration asks for it. */
export interface FleetNames {
  /** The group the control plane follows: the operator's own, or the one the stack creates. */
  groupName: string;
  /** The data bucket to create (FTPFLEET_CREATE_BUCKET), else undefined. */
  createdBucket?: string;
  /** The artifact key the stack creates, a generated SecureString parameter, for a fleet it
   * creates, unless the operator names one. (No health secret: each instance generates its own.) */
  generatedArtifactKey?: string;
}

export interface StackConfiguration {
  /** What the functions read, validated exactly as they validate it. */
  fleet: FleetConfig;
  deployment: DeploymentConfig;
  names: FleetNames;
  /** The FTPFLEET_* variables the functions (and the CLI) get. */
  environment: Record<string, string>;
}

/** `<app>-<stage>`, lowercased, in the owner id's alphabet: stages sharing a zone never meet. */
export function defaultOwnerId(app: string, stage: string): string {
  return `${app}-${stage}`
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .slice(0, 48);
}

/** A bucket name unique to the owner, account and region (names are global to all of S3). */
export function defaultBucketName(ownerId: string, { account, region }: DeploymentContext): string {
  return `${ownerId}-${account}-${region}`;
}

/** The artifact key of a created fleet, under the owner's own path. */
export function fleetParameterName(ownerId: string, name: "artifact-key"): string {
  return `/ftpfleet/${ownerId}/${name}`;
}

/**
 * The one configuration the stack deploys: the deployment's settings (loadDeploymentConfig), then
 * the fleet's (loadFleetConfig, as the functions read it) with what the stack itself decides filled
 * in — the group's name when it creates the group, the bucket's when it creates the bucket, the
 * artifact key it generates. Every problem of either is named by its variable, in one error.
 */
export function stackConfiguration(
  env: Record<string, string | undefined>,
  context: DeploymentContext,
): StackConfiguration {
  const given = (name: string) => (env[name] === "" ? undefined : env[name]);
  const ownerId = given("FTPFLEET_OWNER_ID") ?? defaultOwnerId(context.app, context.stage);
  const deployment = loadDeploymentConfig(env);
  const issues: string[] = [];

  const names: FleetNames = { groupName: given("FTPFLEET_ASG_NAME") ?? `${ownerId}-fleet` };
  const decided: Record<string, string> = { FTPFLEET_OWNER_ID: ownerId, FTPFLEET_ASG_NAME: names.groupName };
  if (deployment.createBucket) {
    names.createdBucket = given("FTPFLEET_BUCKET") ?? defaultBucketName(ownerId, context);
    decided.FTPFLEET_BUCKET = names.createdBucket;
    decided.FTPFLEET_BUCKET_REGION = context.region;
    const region = given("FTPFLEET_BUCKET_REGION");
    if (region && region !== context.region) {
      issues.push(`FTPFLEET_BUCKET_REGION: the stack creates the bucket in ${context.region}, not ${region}`);
    }
  }
  if (deployment.createFleet && !given("FTPFLEET_ARTIFACT_KEY_PARAMETER")) {
    names.generatedArtifactKey = fleetParameterName(ownerId, "artifact-key");
    decided.FTPFLEET_ARTIFACT_KEY_PARAMETER = names.generatedArtifactKey;
  }

  let fleet: FleetConfig | undefined;
  try {
    fleet = loadFleetConfig({ ...env, ...decided });
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    issues.push(...error.issues);
  }
  // A stock Debian image holds no certificate: without one every provision would fail, and the
  // group would replace its instances forever.
  if (fleet && deployment.createFleet && fleet.tlsMode !== "off" && !fleet.tlsCertificateParameter) {
    issues.push(
      `FTPFLEET_TLS_CERTIFICATE_PARAMETER: required when the stack creates the fleet with FTPFLEET_TLS_MODE=${fleet.tlsMode} (a SecureString parameter holding the PEM key and certificate)`,
    );
  }
  if (!fleet || issues.length > 0) throw new InvalidInputError("invalid ftpfleet configuration", issues);
  return { fleet, deployment, names, environment: fleetEnvironment(fleet) };
}
