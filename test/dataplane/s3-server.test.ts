import { createHash, type Hash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { type LocalS3Server, localS3Client, startLocalS3 } from "@ftpfleet/local";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

// No root needed: the server listens on loopback here.
const client = (endpoint: string) => localS3Client(endpoint);

/** s3rver 3.7.1 as it comes, without the harness's repairs: the control in comparisons. */
async function plainS3rver(directory: string, bucket: string) {
  const plain = new S3rver({
    address: "127.0.0.1",
    port: 0,
    directory,
    silent: true,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket }],
  });
  return { plain, bound: await plain.run() };
}

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
    const { plain, bound } = await plainS3rver(join(dir, "plain"), "b");
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

describe("conditional writes on the local S3 server (If-None-Match: *, If-Match: <etag>)", () => {
  let dir: string;
  let server: LocalS3Server;
  let s3: S3Client;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ftpfleet-s3-conditional-"));
    server = await startLocalS3({ address: "127.0.0.1", directory: dir, buckets: ["c"] });
    s3 = client(server.endpoint);
  });

  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const put = (Key: string, Body: string, conditions: { IfMatch?: string; IfNoneMatch?: string } = {}) =>
    s3.send(new PutObjectCommand({ Bucket: "c", Key, Body, ...conditions }));
  const content = async (Key: string) =>
    (await s3.send(new GetObjectCommand({ Bucket: "c", Key }))).Body?.transformToString();
  const refused = (status: number, name: string, extra: Record<string, unknown> = {}) => ({
    name,
    $metadata: expect.objectContaining({ httpStatusCode: status }),
    ...extra,
  });

  /** A multipart upload of one part, ready to complete. */
  async function upload(Key: string, Body: string) {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: "c", Key }));
    const { ETag } = await s3.send(
      new UploadPartCommand({ Bucket: "c", Key, UploadId, PartNumber: 1, Body }),
    );
    return (conditions: { IfMatch?: string; IfNoneMatch?: string } = {}) =>
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: "c",
          Key,
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] },
          ...conditions,
        }),
      );
  }

  it("If-None-Match: * creates an object once, then refuses to overwrite it (412, content kept)", async () => {
    await put("create.txt", "first", { IfNoneMatch: "*" });
    await expect(put("create.txt", "second", { IfNoneMatch: "*" })).rejects.toMatchObject(
      refused(412, "PreconditionFailed", { Condition: "If-None-Match" }),
    );
    expect(await content("create.txt")).toBe("first");
  });

  it("If-Match with the current ETag replaces the object and returns its new ETag; a stale one gets 412", async () => {
    const first = await put("swap.txt", "v1");
    const second = await put("swap.txt", "v2", { IfMatch: first.ETag });
    expect(second.ETag).not.toBe(first.ETag);
    expect((await s3.send(new HeadObjectCommand({ Bucket: "c", Key: "swap.txt" }))).ETag).toBe(second.ETag);
    await expect(put("swap.txt", "v3", { IfMatch: first.ETag })).rejects.toMatchObject(
      refused(412, "PreconditionFailed", { Condition: "If-Match" }),
    );
    expect(await content("swap.txt")).toBe("v2");
  });

  it("If-Match on a key with no object answers 404 NoSuchKey and writes nothing", async () => {
    const { ETag } = await put("elsewhere.txt", "x");
    await expect(put("missing.txt", "y", { IfMatch: ETag })).rejects.toMatchObject(refused(404, "NoSuchKey"));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: "c", Prefix: "missing" }));
    expect(listed.KeyCount).toBe(0);
  });

  it("If-Match takes the ETag with or without its surrounding quotes", async () => {
    const quoted = (await put("quotes.txt", "a")).ETag ?? "";
    expect(quoted).toMatch(/^"[0-9a-f]{32}"$/);
    const next = await put("quotes.txt", "b", { IfMatch: quoted.replaceAll('"', "") });
    // Now stale, and refused however it is written.
    for (const stale of [quoted, quoted.replaceAll('"', "")]) {
      await expect(put("quotes.txt", "x", { IfMatch: stale })).rejects.toMatchObject(
        refused(412, "PreconditionFailed"),
      );
    }
    await put("quotes.txt", "c", { IfMatch: next.ETag });
    expect(await content("quotes.txt")).toBe("c");
  });

  it("If-None-Match with anything but * on a write answers 501 NotImplemented", async () => {
    const { ETag } = await put("etag-none-match.txt", "kept");
    await expect(put("etag-none-match.txt", "new", { IfNoneMatch: ETag })).rejects.toMatchObject(
      refused(501, "NotImplemented"),
    );
    expect(await content("etag-none-match.txt")).toBe("kept");
  });

  it("writes without conditions still overwrite as before", async () => {
    await put("plain.txt", "one");
    await put("plain.txt", "two");
    expect(await content("plain.txt")).toBe("two");
  });

  it("CompleteMultipartUpload honours If-None-Match: * and If-Match", async () => {
    await (await upload("multi-new.txt", "created"))({ IfNoneMatch: "*" });
    expect(await content("multi-new.txt")).toBe("created");

    const existing = await put("multi.txt", "existing");
    const complete = await upload("multi.txt", "replacement");
    await expect(complete({ IfNoneMatch: "*" })).rejects.toMatchObject(
      refused(412, "PreconditionFailed", { Condition: "If-None-Match" }),
    );
    expect(await content("multi.txt")).toBe("existing");
    // The refused completion left the upload in place: it can complete once the condition holds.
    await complete({ IfMatch: existing.ETag });
    expect(await content("multi.txt")).toBe("replacement");
  });

  it("of 20 concurrent If-Match writes with the same ETag exactly one succeeds, and its content stays", async () => {
    const { ETag } = await put("race.txt", "start");
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, writer) => put("race.txt", `writer ${writer}`, { IfMatch: ETag })),
    );
    const winners = results.flatMap((result, writer) => (result.status === "fulfilled" ? [writer] : []));
    expect(winners).toHaveLength(1);
    for (const result of results) {
      if (result.status === "fulfilled") continue;
      const status = (result.reason as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      expect([412, 409]).toContain(status);
    }
    expect(await content("race.txt")).toBe(`writer ${winners[0]}`);
  });

  it("of 20 concurrent If-None-Match: * creates exactly one succeeds", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, writer) =>
        put("race-create.txt", `writer ${writer}`, { IfNoneMatch: "*" }),
      ),
    );
    const winners = results.flatMap((result, writer) => (result.status === "fulfilled" ? [writer] : []));
    expect(winners).toHaveLength(1);
    expect(await content("race-create.txt")).toBe(`writer ${winners[0]}`);
  });

  it("uploads their clients abandon mid-body, running or queued, do not keep the key locked", async () => {
    // s3rver never finishes such a write; the key's lock must not wait for it.
    const partialPut = (body: string) =>
      new Promise<Socket>((resolve, reject) => {
        const socket = connect(server.port, "127.0.0.1", () => {
          socket.write(
            `PUT /c/abandoned.txt HTTP/1.1\r\nHost: local\r\nContent-Length: 100000\r\n\r\n${body}`,
          );
          setTimeout(() => resolve(socket), 200);
        });
        socket.on("error", reject);
      });
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const running = await partialPut("running");
    const queued = await partialPut("queued");
    queued.destroy();
    await sleep(100);
    running.destroy();
    await sleep(100);
    // As on S3, neither stored anything: the running upload's partial body never became the object.
    await expect(content("abandoned.txt")).rejects.toMatchObject(refused(404, "NoSuchKey"));
    let timer: NodeJS.Timeout | undefined;
    const locked = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error("the key stayed locked")), 5000);
    });
    await Promise.race([put("abandoned.txt", "complete"), locked]).finally(() => clearTimeout(timer));
    expect(await content("abandoned.txt")).toBe("complete");
  });
});

describe("objects replaced atomically on the local S3 server (readers see the old or the new one, whole)", () => {
  let dir: string;
  let server: LocalS3Server;
  let s3: S3Client;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ftpfleet-s3-atomic-"));
    server = await startLocalS3({ address: "127.0.0.1", directory: dir, buckets: ["a"] });
    s3 = client(server.endpoint);
  });

  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const md5 = (text: string) => `"${createHash("md5").update(text).digest("hex")}"`;
  const put = (Key: string, Body: string) => s3.send(new PutObjectCommand({ Bucket: "a", Key, Body }));
  const get = async (Key: string) => {
    const got = await s3.send(new GetObjectCommand({ Bucket: "a", Key }));
    return { body: (await got.Body?.transformToString()) ?? "", etag: got.ETag };
  };

  it("while a PUT's body is still arriving, GET, HEAD and LIST show the old object whole", async () => {
    const old = "old content, longer than what is written so far";
    await put("growing.txt", old);
    const replacement = `${"n".repeat(50_000)}end`;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const opened = connect(server.port, "127.0.0.1", () => resolve(opened));
      opened.on("error", reject);
    });
    const answered = new Promise<string>((resolve) => {
      let text = "";
      socket.on("data", (chunk) => {
        text += chunk.toString();
        if (text.includes("\r\n\r\n")) resolve(text);
      });
    });
    socket.write(
      `PUT /a/growing.txt HTTP/1.1\r\nHost: local\r\nContent-Length: ${replacement.length}\r\n\r\n${replacement.slice(0, 10)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await get("growing.txt")).toEqual({ body: old, etag: md5(old) });
    const head = await s3.send(new HeadObjectCommand({ Bucket: "a", Key: "growing.txt" }));
    expect([head.ContentLength, head.ETag]).toEqual([old.length, md5(old)]);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: "a", Prefix: "growing" }));
    expect(listed.Contents?.map((o) => [o.Key, o.Size])).toEqual([["growing.txt", old.length]]);
    socket.write(replacement.slice(10));
    expect(await answered).toMatch(/^HTTP\/1\.1 200/);
    socket.destroy();
    expect(await get("growing.txt")).toEqual({ body: replacement, etag: md5(replacement) });
  });

  it("readers racing PUTs, copies and deletes of one key get a whole version with its own ETag or NoSuchKey", async () => {
    const versions = ["short", "x".repeat(300_000), "y".repeat(20_000)];
    await put("source-long.txt", versions[1] ?? "");
    let writing = true;
    const writer = (async () => {
      for (let round = 0; round < 15; round += 1) {
        await put("raced.txt", versions[round % 3] ?? "");
        await s3.send(
          new CopyObjectCommand({ Bucket: "a", Key: "raced.txt", CopySource: "a/source-long.txt" }),
        );
        if (round % 5 === 4) await s3.send(new DeleteObjectCommand({ Bucket: "a", Key: "raced.txt" }));
      }
    })().finally(() => {
      writing = false;
    });
    const seen: string[] = [];
    const reader = async () => {
      while (writing) {
        const read = await get("raced.txt").catch((error: { name?: string }) => {
          if (error.name === "NoSuchKey") return undefined;
          throw error;
        });
        if (read === undefined) continue;
        expect(versions).toContain(read.body);
        expect(read.etag).toBe(md5(read.body));
        seen.push(read.body);
      }
    };
    await Promise.all([writer, reader(), reader(), reader()]);
    // The race was run: readers saw more than one version.
    expect(new Set(seen).size).toBeGreaterThan(1);
    // No staged file is left beside the objects.
    const files = await readdir(join(dir, "a"));
    expect(files.filter((file) => file.includes("staged"))).toEqual([]);
  });
});

describe("CompleteMultipartUpload on the local S3 server, as S3 does it", () => {
  const MiB = 1024 * 1024;
  // Generated once: 5 MiB, 5 MiB and 1 MiB, S3's smallest non-last parts and a short last one.
  const bodies = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(MiB)];
  const whole = Buffer.concat(bodies);
  const md5 = (data: Buffer) => createHash("md5").update(data).digest();
  const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
  // S3's multipart ETag: the md5 of the parts' binary md5s, "-", the number of parts.
  const multipartETag = (parts: Buffer[]) =>
    `"${md5(Buffer.concat(parts.map(md5))).toString("hex")}-${parts.length}"`;

  let dir: string;
  let server: LocalS3Server;
  let s3: S3Client;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ftpfleet-s3-multipart-"));
    server = await startLocalS3({ address: "127.0.0.1", directory: join(dir, "harness"), buckets: ["m"] });
    s3 = client(server.endpoint);
  });

  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  type Part = { PartNumber: number; ETag?: string };

  /** Creates an upload and uploads the bodies as parts 1, 2, ...; returns its ID and parts. */
  async function upload(client: S3Client, Key: string, parts: Buffer[], Metadata?: Record<string, string>) {
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket: "m", Key, ContentType: "application/x-test", Metadata }),
    );
    const listed: Part[] = [];
    for (const [index, Body] of parts.entries()) {
      const PartNumber = index + 1;
      const { ETag } = await client.send(
        new UploadPartCommand({ Bucket: "m", Key, UploadId, PartNumber, Body }),
      );
      listed.push({ PartNumber, ETag });
    }
    return { UploadId, parts: listed };
  }

  const complete = (client: S3Client, Key: string, UploadId: string | undefined, Parts: Part[]) =>
    client.send(
      new CompleteMultipartUploadCommand({ Bucket: "m", Key, UploadId, MultipartUpload: { Parts } }),
    );

  const bytes = async (Key: string, Range?: string) =>
    Buffer.from(
      (await (
        await s3.send(new GetObjectCommand({ Bucket: "m", Key, Range }))
      ).Body?.transformToByteArray()) ?? [],
    );

  /** Bytes fed to md5/sha hashes in this process (server included) while `action` runs. */
  async function bytesHashedDuring(action: () => Promise<unknown>): Promise<number> {
    const hashPrototype: Hash = Object.getPrototypeOf(createHash("md5"));
    const update = vi.spyOn(hashPrototype, "update");
    try {
      await action();
      return update.mock.calls.reduce((sum, [data]) => sum + Buffer.byteLength(data as string | Buffer), 0);
    } finally {
      update.mockRestore();
    }
  }

  it("assembles the parts in order with S3's multipart ETag, served by GET (ranged), HEAD and LIST with its metadata", async () => {
    const { UploadId, parts } = await upload(s3, "big/file.bin", bodies, { mode: "33188", uid: "1000" });
    const done = await complete(s3, "big/file.bin", UploadId, parts);
    const etag = multipartETag(bodies);
    expect(etag).toMatch(/^"[0-9a-f]{32}-3"$/);
    expect(done.ETag).toBe(etag);

    const got = await s3.send(new GetObjectCommand({ Bucket: "m", Key: "big/file.bin" }));
    expect(got.ETag).toBe(etag);
    expect(sha256((await got.Body?.transformToByteArray()) ?? new Uint8Array())).toBe(sha256(whole));
    // Across the boundary of parts 1 and 2.
    const boundary = 5 * MiB;
    const range = await bytes("big/file.bin", `bytes=${boundary - 10}-${boundary + 9}`);
    expect(range).toEqual(whole.subarray(boundary - 10, boundary + 10));

    const head = await s3.send(new HeadObjectCommand({ Bucket: "m", Key: "big/file.bin" }));
    expect(head).toMatchObject({
      ETag: etag,
      ContentLength: whole.length,
      ContentType: "application/x-test",
      Metadata: { mode: "33188", uid: "1000" },
    });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: "m", Prefix: "big/" }));
    expect(listed.Contents).toEqual([
      expect.objectContaining({ Key: "big/file.bin", ETag: etag, Size: whole.length }),
    ]);
    // The upload is gone, parts and all, as after s3rver's own completion.
    expect(await readdir(join(dir, "harness", "m", "._S3rver_uploads"))).toEqual([]);
    await expect(complete(s3, "big/file.bin", UploadId, parts)).rejects.toMatchObject({
      name: "NoSuchUpload",
      $metadata: expect.objectContaining({ httpStatusCode: 404 }),
    });
  });

  it("does not hash the object again: plain s3rver 3.7.1 does (the cost being removed)", async () => {
    const { plain, bound } = await plainS3rver(join(dir, "plain"), "m");
    try {
      const raw = client(`http://127.0.0.1:${bound.port}`);
      const before = await upload(raw, "hashed.bin", bodies);
      let plainETag: string | undefined;
      const plainHashed = await bytesHashedDuring(async () => {
        plainETag = (await complete(raw, "hashed.bin", before.UploadId, before.parts)).ETag;
      });
      expect(plainHashed).toBeGreaterThanOrEqual(whole.length);
      expect(plainETag).toBe(`"${md5(whole).toString("hex")}"`);
    } finally {
      await plain.close();
    }

    const { UploadId, parts } = await upload(s3, "unhashed.bin", bodies);
    // What is left is the request's signature and the parts' digests: a few hundred bytes.
    const hashed = await bytesHashedDuring(() => complete(s3, "unhashed.bin", UploadId, parts));
    expect(hashed).toBeLessThan(64 * 1024);
    expect(sha256(await bytes("unhashed.bin"))).toBe(sha256(whole));
  });

  describe("refuses a part list S3 refuses, writing nothing; the upload can still complete", () => {
    const existing = "kept";
    const refused = (status: number, name: string) => ({
      name,
      $metadata: expect.objectContaining({ httpStatusCode: status }),
    });

    async function expectRefused(Key: string, body: Buffer[], list: (parts: Part[]) => Part[], name: string) {
      const old = await s3.send(new PutObjectCommand({ Bucket: "m", Key, Body: existing }));
      const { UploadId, parts } = await upload(s3, Key, body);
      await expect(complete(s3, Key, UploadId, list(parts))).rejects.toMatchObject(refused(400, name));
      expect((await bytes(Key)).toString()).toBe(existing);
      const head = await s3.send(new HeadObjectCommand({ Bucket: "m", Key }));
      expect(head).toMatchObject({ ETag: old.ETag, ContentLength: existing.length });
      return { UploadId, parts };
    }

    it("a part whose ETag is not the stored part's, or a part never uploaded: 400 InvalidPart", async () => {
      const { UploadId, parts } = await expectRefused(
        "wrong-etag.bin",
        bodies,
        (parts) =>
          parts.map((part, index) => (index === 1 ? { ...part, ETag: `"${"0".repeat(32)}"` } : part)),
        "InvalidPart",
      );
      await expect(
        complete(s3, "wrong-etag.bin", UploadId, [...parts, { PartNumber: 7, ETag: parts[0]?.ETag }]),
      ).rejects.toMatchObject(refused(400, "InvalidPart"));
      expect((await complete(s3, "wrong-etag.bin", UploadId, parts)).ETag).toBe(multipartETag(bodies));
      expect(sha256(await bytes("wrong-etag.bin"))).toBe(sha256(whole));
    });

    it("parts out of order: 400 InvalidPartOrder", async () => {
      const [first, second] = bodies as [Buffer, Buffer];
      await expectRefused("order.bin", [first, second], (parts) => [...parts].reverse(), "InvalidPartOrder");
      await expectRefused(
        "twice.bin",
        [first, second],
        (parts) => [parts[0] as Part, parts[0] as Part],
        "InvalidPartOrder",
      );
    });

    it("a part but the last smaller than 5 MiB: 400 EntityTooSmall", async () => {
      const small = randomBytes(MiB);
      const { UploadId, parts } = await expectRefused(
        "small.bin",
        [small, small],
        (parts) => parts,
        "EntityTooSmall",
      );
      // Alone, the small part is the last one: S3 takes it.
      expect((await complete(s3, "small.bin", UploadId, parts.slice(0, 1))).ETag).toBe(
        multipartETag([small]),
      );
      expect(await bytes("small.bin")).toEqual(small);
    });
  });

  it("AbortMultipartUpload removes the upload (s3rver 3.7.1 answers 405); completing it then is NoSuchUpload", async () => {
    const { UploadId, parts } = await upload(s3, "aborted.bin", [randomBytes(1024)]);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: "m", Key: "aborted.bin", UploadId }));
    await expect(complete(s3, "aborted.bin", UploadId, parts)).rejects.toMatchObject({
      name: "NoSuchUpload",
    });
    await expect(
      s3.send(new AbortMultipartUploadCommand({ Bucket: "m", Key: "aborted.bin", UploadId })),
    ).rejects.toMatchObject({
      name: "NoSuchUpload",
      $metadata: expect.objectContaining({ httpStatusCode: 404 }),
    });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: "m", Prefix: "aborted" }));
    expect(listed.KeyCount).toBe(0);
  });

  it("completes inside the key's lock: of 5 concurrent If-None-Match: * completions exactly one succeeds", async () => {
    const bodies = Array.from({ length: 5 }, () => randomBytes(1024));
    const uploads = await Promise.all(bodies.map((body) => upload(s3, "race.bin", [body])));
    const results = await Promise.allSettled(
      uploads.map(({ UploadId, parts }) =>
        s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: "m",
            Key: "race.bin",
            UploadId,
            MultipartUpload: { Parts: parts },
            IfNoneMatch: "*",
          }),
        ),
      ),
    );
    const winners = results.flatMap((result, index) => (result.status === "fulfilled" ? [index] : []));
    expect(winners).toHaveLength(1);
    expect(await bytes("race.bin")).toEqual(bodies[winners[0] ?? -1]);
  });

  it("an upload ID names one key: completing it under another is NoSuchUpload", async () => {
    const { UploadId, parts } = await upload(s3, "mine.bin", [randomBytes(1024)]);
    await expect(complete(s3, "theirs.bin", UploadId, parts)).rejects.toMatchObject({ name: "NoSuchUpload" });
    await complete(s3, "mine.bin", UploadId, parts);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: "m" }));
    expect((listed.Contents ?? []).map((object) => object.Key)).not.toContain("theirs.bin");
  });
});
