import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { type LocalS3Server, localS3Client, startLocalS3 } from "@ftpfleet/local";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// No root needed: the server listens on loopback here.
const client = (endpoint: string) => localS3Client(endpoint);

async function seed(s3: S3Client) {
  await s3.send(new PutObjectCommand({ Bucket: "b", Key: "projects/alpha/readme.txt", Body: "deep" }));
  await s3.send(new PutObjectCommand({ Bucket: "b", Key: "top.txt", Body: "top" }));
  await s3.send(new PutObjectCommand({ Bucket: "b", Key: "docs/a.txt", Body: "a" }));
}

async function prefixes(s3: S3Client, prefix?: string): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: "b", Delimiter: "/", Prefix: prefix }));
  return (out.CommonPrefixes ?? []).map((entry) => entry.Prefix ?? "");
}

describe("local S3 server (s3rver 3.7.1 with the harness's repairs)", () => {
  let dir: string;
  let server: LocalS3Server;
  let s3: S3Client;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ftpfleet-s3-"));
    server = await startLocalS3({ address: "127.0.0.1", directory: join(dir, "repaired"), buckets: ["b"] });
    s3 = client(server.endpoint);
    await seed(s3);
  });

  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("plain s3rver 3.7.1 omits a prefix whose objects are two levels deep (the bug being repaired)", async () => {
    const plain = new S3rver({
      address: "127.0.0.1",
      port: 0,
      directory: join(dir, "plain"),
      silent: true,
      vhostBuckets: false,
      configureBuckets: [{ name: "b" }],
    });
    const bound = await plain.run();
    try {
      const raw = client(`http://127.0.0.1:${bound.port}`);
      await seed(raw);
      expect(await prefixes(raw)).toEqual(["docs/"]);
    } finally {
      await plain.close();
    }
  });

  it("lists every common prefix, however deep its objects are", async () => {
    expect(await prefixes(s3)).toEqual(["docs/", "projects/"]);
    expect(await prefixes(s3, "projects/")).toEqual(["projects/alpha/"]);
    expect(await prefixes(s3, "proj")).toEqual(["projects/"]);
    expect(await prefixes(s3, "projects/alpha/")).toEqual([]);
  });

  it("copies a part from an existing object (UploadPartCopy, used by s3fs to rename large files)", async () => {
    const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: "b", Key: "copy.txt" }));
    const part = await s3.send(
      new UploadPartCopyCommand({
        Bucket: "b",
        Key: "copy.txt",
        UploadId: upload.UploadId,
        PartNumber: 1,
        CopySource: "b/projects/alpha/readme.txt",
        CopySourceRange: "bytes=1-3",
      }),
    );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: "b",
        Key: "copy.txt",
        UploadId: upload.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.CopyPartResult?.ETag }] },
      }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket: "b", Key: "copy.txt" }));
    expect(await got.Body?.transformToString()).toBe("eep");
  });
});
