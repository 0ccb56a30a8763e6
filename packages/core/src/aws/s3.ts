import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { z } from "zod";
import type { S3ListedObject } from "../audit/diff";
import { forEachConcurrently } from "../batching";
import { InvalidInputError, ManifestChangedError, parseJsonOrProblem } from "../errors";
import type { AppliedReport, AuditBucket, Clock, UsersStore } from "../ports";
import { retry } from "../retry";
import { APPLIED_PREFIX, parseUsersManifest, USERS_MANIFEST_KEY } from "../users/manifest";
import { isTransientAwsError } from "./errors";

const appliedReportSchema = z.object({
  instanceId: z.string(),
  revision: z.number().int().min(0),
  manifestKey: z.string(),
  appliedAt: z.string(),
  users: z.array(z.string()),
  refused: z.array(z.object({ user: z.string(), path: z.string(), reason: z.string() })),
});

/** The users manifest in the bucket, written only with S3's conditional writes: If-Match on the
 * ETag that was read, If-None-Match: * for the first write, so concurrent edits never overwrite
 * each other unseen. */
export function s3UsersStore(client: S3Client, bucket: string, clock: Clock): UsersStore {
  const call = <T>(operation: () => Promise<T>) =>
    retry(operation, { clock, isRetryable: isTransientAwsError, maxAttempts: 6 });

  async function text(key: string): Promise<{ body: string; etag: string } | undefined> {
    try {
      const out = await call(() => client.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
      return { body: (await out.Body?.transformToString("utf-8")) ?? "", etag: out.ETag ?? "" };
    } catch (error) {
      if (error instanceof Error && error.name === "NoSuchKey") return undefined;
      throw error;
    }
  }

  return {
    async read() {
      const found = await text(USERS_MANIFEST_KEY);
      if (!found) return undefined;
      let json: unknown;
      try {
        json = JSON.parse(found.body);
      } catch {
        throw new InvalidInputError(`s3://${bucket}/${USERS_MANIFEST_KEY} is not JSON`);
      }
      return { manifest: parseUsersManifest(json), etag: found.etag };
    },

    async write(manifest, expected) {
      try {
        const out = await call(() =>
          client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: USERS_MANIFEST_KEY,
              Body: `${JSON.stringify(manifest, null, 2)}\n`,
              ContentType: "application/json",
              ...(expected === undefined ? { IfNoneMatch: "*" } : { IfMatch: expected }),
            }),
          ),
        );
        return out.ETag ?? "";
      } catch (error) {
        // 412: the ETag moved on (or an object appeared); 409: a concurrent conditional write won;
        // NoSuchKey: the manifest was deleted since it was read.
        if (error instanceof Error && lostRace.has(error.name)) {
          throw new ManifestChangedError("the users manifest changed since it was read", { cause: error });
        }
        throw error;
      }
    },

    async applied(instanceIds) {
      const reports = new Map<string, AppliedReport | { problem: string }>();
      await forEachConcurrently(instanceIds, 10, async (instanceId) => {
        const found = await text(`${APPLIED_PREFIX}${instanceId}.json`);
        // s3fs may create an object empty before it uploads the content: not reported yet.
        if (!found || found.body === "") return;
        reports.set(instanceId, appliedReport(found.body, instanceId));
      });
      return reports;
    },
  };
}

const lostRace = new Set(["PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey"]);

/** The bucket is input too: a report that is not what apply-users.sh writes is named, not trusted. */
function appliedReport(body: string, instanceId: string): AppliedReport | { problem: string } {
  const report = parseJsonOrProblem(appliedReportSchema, body, "report");
  if ("problem" in report) return report;
  if (report.instanceId !== instanceId) return { problem: `instanceId: is ${report.instanceId}` };
  return report;
}

/** The bucket as the cache-consistency audit reads and writes it. Listings page with StartAfter
 * (each page starts after the last key of the one before): a sweep resumes from a stored key the
 * same way, and no continuation token has to outlive a run. */
export function s3AuditBucket(client: S3Client, bucket: string, clock: Clock): AuditBucket {
  const call = <T>(operation: () => Promise<T>) =>
    retry(operation, { clock, isRetryable: isTransientAwsError, maxAttempts: 6 });
  const missing = (error: unknown) =>
    error instanceof Error && (error.name === "NoSuchKey" || error.name === "NotFound");
  return {
    name: bucket,
    async list({ after, max, prefix }) {
      const objects: S3ListedObject[] = [];
      let startAfter = after;
      for (;;) {
        const out = await call(() =>
          client.send(
            new ListObjectsV2Command({
              Bucket: bucket,
              MaxKeys: Math.min(1000, max - objects.length),
              ...(startAfter ? { StartAfter: startAfter } : {}),
              ...(prefix ? { Prefix: prefix } : {}),
            }),
          ),
        );
        for (const item of out.Contents ?? []) {
          objects.push({
            key: item.Key ?? "",
            size: item.Size ?? 0,
            lastModified: item.LastModified?.getTime() ?? 0,
            etag: item.ETag ?? "",
          });
        }
        const last = objects.at(-1)?.key;
        if (!out.IsTruncated || last === undefined || last === startAfter) return { objects, more: false };
        if (objects.length >= max) return { objects, more: true };
        startAfter = last;
      }
    },
    async head(key) {
      try {
        const out = await call(() => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
        const lastModified = out.LastModified?.getTime() ?? 0;
        const metadata = Object.fromEntries(
          Object.entries(out.Metadata ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
        );
        return {
          key,
          size: out.ContentLength ?? 0,
          lastModified,
          etag: out.ETag ?? "",
          mtime: s3fsMtime(metadata.mtime) ?? lastModified,
          metadata,
          ...(out.ContentType ? { contentType: out.ContentType } : {}),
          ...(out.ServerSideEncryption ? { serverSideEncryption: out.ServerSideEncryption } : {}),
        };
      } catch (error) {
        if (missing(error)) return undefined;
        throw error;
      }
    },
    async putText(key, body, contentType = "application/json") {
      await call(() =>
        client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType })),
      );
    },
    async getText(key) {
      try {
        const out = await call(() => client.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
        return (await out.Body?.transformToString("utf-8")) ?? "";
      } catch (error) {
        if (missing(error)) return undefined;
        throw error;
      }
    },
    async incompleteUploads(before) {
      const found: { key: string; initiated: number }[] = [];
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      for (;;) {
        const out = await call(() =>
          client.send(
            new ListMultipartUploadsCommand({
              Bucket: bucket,
              ...(keyMarker ? { KeyMarker: keyMarker } : {}),
              ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
            }),
          ),
        );
        for (const upload of out.Uploads ?? []) {
          const initiated = upload.Initiated?.getTime() ?? 0;
          if (initiated < before) found.push({ key: upload.Key ?? "", initiated });
        }
        if (!out.IsTruncated) return found;
        keyMarker = out.NextKeyMarker;
        uploadIdMarker = out.NextUploadIdMarker;
      }
    },
  };
}

/** s3fs keeps a file's mtime in x-amz-meta-mtime as whole (or fractional) seconds since the epoch. */
function s3fsMtime(value: string | undefined): number | undefined {
  if (value === undefined || !/^[0-9]{1,12}(\.[0-9]{1,9})?$/.test(value)) return undefined;
  return Math.floor(Number(value)) * 1000;
}
