import { join } from "node:path";
import { documentName, type FleetConfig } from "@ftpfleet/core";
import { bundleDocument, DOCUMENT_NAMES } from "@ftpfleet/core/documents";
import { commandStatusSubscriptionPattern } from "./definitions";

/** The SSM documents (scripts bundled in), the bucket their full outputs go to (SSM keeps only
 * 24,000 characters inline), and the route of their status-change events to the lifecycle queue.
 * Deployed when the fleet has a bucket: new instances are then provisioned before they serve. */
export function documentsStack(config: FleetConfig, queue: sst.aws.Queue, busArn: string) {
  const output = new sst.aws.Bucket("CommandOutput");
  new aws.s3.BucketLifecycleConfigurationV2("CommandOutputExpiry", {
    bucket: output.name,
    rules: [{ id: "expire", status: "Enabled", filter: {}, expiration: { days: 30 } }],
  });
  const documents = DOCUMENT_NAMES.map(
    (name) =>
      new aws.ssm.Document(`Document-${name}`, {
        name: documentName(config, name),
        documentType: "Command",
        documentFormat: "JSON",
        content: JSON.stringify(bundleDocument(name, join(process.cwd(), "documents"))),
      }),
  );
  const commandStatus = sst.aws.Bus.subscribeQueue("CommandStatus", busArn, queue, {
    pattern: commandStatusSubscriptionPattern(config),
  });
  return { outputBucket: output.name, resources: [...documents, commandStatus] };
}
