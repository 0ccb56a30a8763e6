// The direct-S3 baseline of the data-plane bench, in a process of its own (forked by
// direct-s3.ts). The local S3 server runs inside the bench's process: a baseline measured there
// shares one event loop with the server (its GETs ran 30–45 % slower), while FTP's client (lftp)
// and s3fs are processes of their own. So the SDK client runs here, reads and writes files on disk
// as lftp does, and times each operation itself (no process start-up, no IPC in any figure).
// Like s3fs with `enable_unsigned_payload`, it sends UNSIGNED-PAYLOAD and no checksums
// (requestChecksumCalculation WHEN_REQUIRED): neither side hashes what it sends.
import { createReadStream, createWriteStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";

export type DirectOp =
  /** One PutObject, the body streamed from the file. */
  | { op: "put"; key: string; file: string }
  /** CreateMultipartUpload, parts of these sizes read from the file in order, `parallel` at a time
   * (a pool, as s3fs's multipart upload), CompleteMultipartUpload. */
  | { op: "putParts"; key: string; file: string; parts: number[]; parallel: number }
  /** One GetObject, streamed into the file. */
  | { op: "get"; key: string; file: string }
  /** Ranged GetObjects of `partSize`, in batches of `perBatch` at once, each batch awaited before
   * the next (s3fs without a data cache: each read miss prefetches parts × parallel_count). */
  | { op: "getRanges"; key: string; file: string; size: number; partSize: number; perBatch: number }
  | { op: "delete"; key: string }
  /** `count` PutObjects of `bytes` each under `prefix`, `concurrency` at a time. */
  | { op: "putMany"; prefix: string; count: number; bytes: number; concurrency: number }
  /** ListObjects (v1) with delimiter "/", every page: what s3fs 1.95 sends to list a folder. (The
   * local S3 server answers a truncated ListObjectsV2 with InternalError: s3rver signs its
   * continuation tokens with DES, which Node's OpenSSL 3 refuses.) */
  | { op: "list"; prefix: string }
  /** All at once: one PutObject per file. */
  | { op: "putAll"; items: { key: string; file: string }[] }
  /** All at once: one GetObject per file. */
  | { op: "getAll"; items: { key: string; file: string }[] };

export interface DirectResult {
  /** Wall time of the whole operation, measured in this process. */
  ms: number;
  /** list: the entries (objects and common prefixes) it returned; list pages. */
  entries?: number;
  pages?: number;
}

export type DirectRequest = { id: number; bucket: string } & DirectOp;
export type DirectReply =
  | { id: number; ok: true; result: DirectResult }
  | { id: number; ok: false; error: string };

function client(endpoint: string, region: string): S3Client {
  return new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

async function put(s3: S3Client, Bucket: string, Key: string, file: string): Promise<void> {
  const { size } = await stat(file);
  await s3.send(new PutObjectCommand({ Bucket, Key, Body: createReadStream(file), ContentLength: size }));
}

async function get(s3: S3Client, Bucket: string, Key: string, file: string): Promise<void> {
  const out = await s3.send(new GetObjectCommand({ Bucket, Key }));
  await pipeline(out.Body as Readable, createWriteStream(file));
}

async function pool<T>(items: T[], width: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await run(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

function ranges(size: number, partSize: number): { start: number; length: number }[] {
  const out: { start: number; length: number }[] = [];
  for (let start = 0; start < size; start += partSize)
    out.push({ start, length: Math.min(partSize, size - start) });
  return out;
}

async function run(s3: S3Client, request: DirectRequest): Promise<DirectResult> {
  const Bucket = request.bucket;
  const started = performance.now();
  const done = (extra: Omit<DirectResult, "ms"> = {}) => ({ ms: performance.now() - started, ...extra });
  switch (request.op) {
    case "put":
      await put(s3, Bucket, request.key, request.file);
      return done();
    case "putParts": {
      const { key: Key, file, parallel } = request;
      const { size } = await stat(file);
      let offset = 0;
      const parts = request.parts.map((length, index) => {
        const part = { start: offset, length, number: index + 1, etag: "" };
        offset += length;
        return part;
      });
      if (offset !== size) throw new Error(`parts of ${offset} bytes for a file of ${size}`);
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
      await pool(parts, parallel, async (part) => {
        const body = createReadStream(file, { start: part.start, end: part.start + part.length - 1 });
        const out = await s3.send(
          new UploadPartCommand({
            Bucket,
            Key,
            UploadId,
            PartNumber: part.number,
            Body: body,
            ContentLength: part.length,
          }),
        );
        part.etag = out.ETag ?? "";
      });
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.number, ETag: p.etag })) },
        }),
      );
      return done();
    }
    case "get":
      await get(s3, Bucket, request.key, request.file);
      return done();
    case "getRanges": {
      const { key: Key, file, size, partSize, perBatch } = request;
      const handle = await open(file, "w");
      try {
        const all = ranges(size, partSize);
        for (let i = 0; i < all.length; i += perBatch) {
          await Promise.all(
            all.slice(i, i + perBatch).map(async ({ start, length }) => {
              const out = await s3.send(
                new GetObjectCommand({ Bucket, Key, Range: `bytes=${start}-${start + length - 1}` }),
              );
              let position = start;
              for await (const chunk of out.Body as Readable) {
                const buffer = chunk as Buffer;
                await handle.write(buffer, 0, buffer.length, position);
                position += buffer.length;
              }
              if (position !== start + length)
                throw new Error(`range at ${start}: got ${position - start} bytes`);
            }),
          );
        }
      } finally {
        await handle.close();
      }
      return done();
    }
    case "delete":
      await s3.send(new DeleteObjectCommand({ Bucket, Key: request.key }));
      return done();
    case "putMany": {
      const { prefix, count, bytes, concurrency } = request;
      const body = Buffer.alloc(bytes, 0x61);
      const keys = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(5, "0")}.bin`);
      // Started after the body and keys exist: only the requests are timed.
      const putStarted = performance.now();
      await pool(keys, concurrency, async (Key) => {
        await s3.send(new PutObjectCommand({ Bucket, Key, Body: body }));
      });
      return { ms: performance.now() - putStarted };
    }
    case "list": {
      let entries = 0;
      let pages = 0;
      let Marker: string | undefined;
      do {
        const out = await s3.send(
          new ListObjectsCommand({ Bucket, Prefix: request.prefix, Delimiter: "/", Marker }),
        );
        pages += 1;
        entries += (out.Contents?.length ?? 0) + (out.CommonPrefixes?.length ?? 0);
        Marker = out.IsTruncated ? (out.NextMarker ?? out.Contents?.at(-1)?.Key) : undefined;
      } while (Marker !== undefined);
      return done({ entries, pages });
    }
    case "putAll":
      await Promise.all(request.items.map((item) => put(s3, Bucket, item.key, item.file)));
      return done();
    case "getAll":
      await Promise.all(request.items.map((item) => get(s3, Bucket, item.key, item.file)));
      return done();
  }
}

// Run as a child process (fork): argv holds the endpoint and the region.
if (process.send !== undefined) {
  const [endpoint, region] = process.argv.slice(2);
  if (endpoint === undefined || region === undefined)
    throw new Error("usage: direct-s3-worker ENDPOINT REGION");
  const s3 = client(endpoint, region);
  process.on("message", (request: DirectRequest) => {
    run(s3, request).then(
      (result) => process.send?.({ id: request.id, ok: true, result } satisfies DirectReply),
      (error: unknown) =>
        process.send?.({ id: request.id, ok: false, error: String(error) } satisfies DirectReply),
    );
  });
  process.on("disconnect", () => {
    s3.destroy();
    process.exit(0);
  });
}
