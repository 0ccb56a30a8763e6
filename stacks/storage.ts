// Plain Pulumi resources, imported explicitly (not SST's globals): test/stacks-resources.test.ts
// builds them under Pulumi's mocks.
import type * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import { dataBucketLifecycleRules, dataBucketPolicy } from "./definitions";
import { sdk } from "./pulumi";

export interface DataBucketArgs {
  name: string;
  partition: string;
  noncurrentVersionDays: number;
  /** Production: `sst remove` keeps the bucket with its files, and with its protections too
   * (policy, public access block, versioning, encryption, lifecycle). Elsewhere removal empties and
   * deletes it. */
  retainOnRemoval: boolean;
}

export interface DataBucket {
  bucket: aws.s3.Bucket;
  name: string;
  arn: pulumi.Output<string>;
}

/**
 * The fleet's files when the operator brings no bucket: versioned (an overwrite or a delete over
 * FTP can be undone for `noncurrentVersionDays`), encrypted at rest, never public, its object
 * events sent to EventBridge (the audit's recent changes).
 *
 * SSE-S3 (AES-256, keys held by S3), not SSE-KMS: s3fs and the instances' signed requests need no
 * change and no kms:GenerateDataKey/Decrypt grants, and there is no KMS request charge on every
 * GET and PUT of a busy FTP fleet; the data is still encrypted at rest. A customer-managed key
 * would add key policies and audit trails per request, which this service does not need by default.
 */
export function dataBucket(args: DataBucketArgs, options: pulumi.CustomResourceOptions = {}): DataBucket {
  const kept = sdk.pulumi.mergeOptions(options, { retainOnDelete: args.retainOnRemoval });
  const bucket = new sdk.aws.s3.Bucket(
    "DataBucket",
    { bucket: args.name, forceDestroy: !args.retainOnRemoval },
    kept,
  );
  const onBucket = sdk.pulumi.mergeOptions(kept, { parent: bucket });
  new sdk.aws.s3.BucketPublicAccessBlock(
    "DataBucketPublicAccess",
    {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    },
    onBucket,
  );
  new sdk.aws.s3.BucketVersioning(
    "DataBucketVersioning",
    { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } },
    onBucket,
  );
  new sdk.aws.s3.BucketServerSideEncryptionConfiguration(
    "DataBucketEncryption",
    { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] },
    onBucket,
  );
  // Object Created / Object Deleted reach the default bus, where the RecentChanges rule picks them up.
  new sdk.aws.s3.BucketNotification("DataBucketEvents", { bucket: bucket.id, eventbridge: true }, onBucket);
  new sdk.aws.s3.BucketLifecycleConfiguration(
    "DataBucketLifecycle",
    { bucket: bucket.id, rules: dataBucketLifecycleRules(args) },
    onBucket,
  );
  return { bucket, name: args.name, arn: bucket.arn };
}

/** TLS only, and the reserved prefix written only by `writers` (the fleet's roles and the
 * configured operators). Created last: it names roles the other modules create. */
export function protectDataBucket(
  data: DataBucket,
  {
    partition,
    writers,
    retainOnRemoval,
  }: { partition: string; writers: pulumi.Input<string>[]; retainOnRemoval: boolean },
  options: pulumi.CustomResourceOptions = {},
): aws.s3.BucketPolicy {
  return new sdk.aws.s3.BucketPolicy(
    "DataBucketPolicy",
    {
      bucket: data.bucket.id,
      policy: sdk.pulumi
        .all(writers)
        .apply((arns) => JSON.stringify(dataBucketPolicy({ partition, bucket: data.name }, arns))),
    },
    sdk.pulumi.mergeOptions(options, { parent: data.bucket, retainOnDelete: retainOnRemoval }),
  );
}
