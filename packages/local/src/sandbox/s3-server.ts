import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, readdirSync } from "node:fs";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import S3Error from "s3rver/lib/models/error.js";
import S3Object from "s3rver/lib/models/object.js";
import { atomicObjects, type CommitObject } from "./s3-atomic";

type Context = S3rver.Context;
type Middleware = S3rver.Middleware;

/** s3rver's fixed keys; any S3 client or s3fs talking to the local server uses them. */
export const localS3Credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

/** An SDK client for a local S3 server (path-style, its fixed keys). */
export function localS3Client(endpoint: string, region = "us-east-1"): S3Client {
  // A copy: the SDK marks the credentials object it is given ($source).
  return new S3Client({ endpoint, region, forcePathStyle: true, credentials: { ...localS3Credentials } });
}

export interface LocalS3Server {
  /** e.g. http://10.231.3.1:40213 */
  endpoint: string;
  address: string;
  port: number;
  close(): Promise<void>;
}

/** One request as the local S3 server saw it (for tests and local mode's console). */
export interface S3RequestRecord {
  method: string;
  /** Path-style: /bucket/key */
  path: string;
  query: string[];
  copySource?: string;
}

/** What a request the S3 server receives is, path-style (`/bucket/key?…`). */
export function requestKind(request: S3RequestRecord): string {
  const query = new Set(request.query);
  const slash = request.path.indexOf("/", 1);
  const hasKey = slash > 0 && slash < request.path.length - 1;
  switch (request.method) {
    case "HEAD":
      return hasKey ? "HeadObject" : "HeadBucket";
    case "GET":
      if (!hasKey) return query.has("list-type") ? "ListObjectsV2" : "ListObjects";
      return query.has("uploadId") ? "ListParts" : "GetObject";
    case "PUT":
      if (query.has("partNumber")) return request.copySource ? "UploadPartCopy" : "UploadPart";
      return request.copySource ? "CopyObject" : "PutObject";
    case "POST":
      if (query.has("uploads")) return "CreateMultipartUpload";
      if (query.has("uploadId")) return "CompleteMultipartUpload";
      return query.has("delete") ? "DeleteObjects" : "POST";
    case "DELETE":
      return query.has("uploadId") ? "AbortMultipartUpload" : "DeleteObject";
    default:
      return request.method;
  }
}

/** The object a request wrote or deleted, as S3 would report it to EventBridge (a failed request
 * reports nothing on S3; here it may: the audit looks at the key again anyway). DeleteObjects
 * names its keys in the body, which is not seen here. */
export function objectChange(
  request: S3RequestRecord,
  bucket: string,
): { key: string; change: "Object Created" | "Object Deleted" } | undefined {
  const prefix = `/${bucket}/`;
  if (!request.path.startsWith(prefix) || request.path.length === prefix.length) return undefined;
  const key = decode(request.path.slice(prefix.length));
  const kind = requestKind(request);
  if (kind === "PutObject" || kind === "CopyObject" || kind === "CompleteMultipartUpload") {
    return { key, change: "Object Created" };
  }
  return kind === "DeleteObject" ? { key, change: "Object Deleted" } : undefined;
}

export interface LocalS3Options {
  /** An address the instances reach: the host side of their network, never 0.0.0.0. */
  address: string;
  port?: number;
  /** Where objects are stored (one directory per bucket). */
  directory: string;
  buckets: string[];
  onRequest?: (request: S3RequestRecord) => void;
}

/** Starts s3rver with its delimiter listing repaired (see `repairDelimiterListing`). */
export async function startLocalS3(options: LocalS3Options): Promise<LocalS3Server> {
  const server = new S3rver({
    address: options.address,
    port: options.port ?? 0,
    directory: options.directory,
    silent: true,
    vhostBuckets: false,
    configureBuckets: options.buckets.map((name) => ({ name })),
  });
  repairDelimiterListing(server.store);
  const commit = atomicObjects(server.store);
  // Koa composes its middleware when it starts listening: these run before s3rver's router.
  server.middleware.unshift(uploadPartCopy(server.store));
  server.middleware.unshift(abortMultipartUpload(server.store));
  server.middleware.unshift(listMultipartUploads(server.store));
  server.middleware.unshift(listObjectsV2(server.store));
  server.middleware.unshift(completeMultipartUpload(server.store, commit));
  // First: completions and aborts run inside the key's lock, after its conditions.
  server.middleware.unshift(conditionalWrites(server.store));
  const observe = options.onRequest;
  if (observe !== undefined) {
    server.middleware.unshift(async (ctx, next) => {
      const copySource = header(ctx, "x-amz-copy-source");
      observe({
        method: ctx.method,
        path: ctx.path,
        query: Object.keys(ctx.query),
        ...(copySource === undefined ? {} : { copySource }),
      });
      await next();
    });
  }
  const bound = await server.run();
  return {
    endpoint: `http://${bound.address}:${bound.port}`,
    address: bound.address,
    port: bound.port,
    close: () => server.close(),
  };
}

// s3rver stores key "a/b/c" as the file a/b/c._S3rver_object.
const objectSuffix = "._S3rver_object";

/**
 * s3rver 3.7.1 stops walking at the first directory under a common prefix, so a listing with
 * delimiter "/" omits every prefix whose objects all sit two or more levels deeper: with only
 * `projects/alpha/readme.txt` stored, listing the root shows no `projects/`, and s3fs shows an
 * empty bucket. This adds the missing prefixes from the store's directories.
 */
export function repairDelimiterListing(store: S3rver["store"]): void {
  const original = store.listObjects.bind(store);
  store.listObjects = async (bucket, options) => {
    const result = await original(bucket, options);
    if (options.delimiter !== "/") return result;
    const prefix = options.prefix ?? "";
    const lastKey = result.objects.at(-1)?.key;
    const prefixes = new Set(result.commonPrefixes);
    for (const found of prefixesOnDisk(join(store.rootDirectory, bucket), prefix)) {
      if (options.startAfter !== undefined && found <= options.startAfter) continue;
      // A truncated page ends at its last key; later prefixes belong to the next page.
      if (result.isTruncated && lastKey !== undefined && found > lastKey) continue;
      prefixes.add(found);
    }
    return { ...result, commonPrefixes: [...prefixes].sort() };
  };
}

function prefixesOnDisk(bucketDir: string, prefix: string): string[] {
  const slash = prefix.lastIndexOf("/");
  const dirPart = prefix.slice(0, slash + 1);
  const rest = prefix.slice(slash + 1);
  const dir = join(bucketDir, dirPart);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name.startsWith(rest))
    .filter((entry) => holdsObject(join(dir, entry.name)))
    .map((entry) => `${dirPart}${entry.name}/`);
}

function holdsObject(dir: string): boolean {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith(objectSuffix)) return true;
    if (entry.isDirectory() && holdsObject(join(dir, entry.name))) return true;
  }
  return false;
}

function header(ctx: Context, name: string): string | undefined {
  const value = ctx.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function query(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * UploadPartCopy (a multipart upload part copied from an existing object), which s3rver 3.7.1
 * answers with 501. s3fs renames large files this way, and pure-ftpd renames before it deletes
 * when built with quotas (Debian's build), so without it large deletes and renames fail with EIO.
 */
function uploadPartCopy(store: S3rver["store"]): Middleware {
  return async (ctx, next) => {
    const copySource = header(ctx, "x-amz-copy-source");
    const uploadId = query(ctx, "uploadId");
    const partNumber = Number(query(ctx, "partNumber"));
    if (ctx.method !== "PUT" || copySource === undefined || uploadId === undefined || !partNumber) {
      return next();
    }
    const bucket = decodeURIComponent(ctx.path.split("/")[1] ?? "");
    const source = decodeURIComponent(copySource.split("?")[0] ?? "").replace(/^\//, "");
    const slash = source.indexOf("/");
    const range = /^bytes=(\d+)-(\d+)$/.exec(header(ctx, "x-amz-copy-source-range") ?? "");
    const object = await store.getObject(
      source.slice(0, slash),
      source.slice(slash + 1),
      range === null ? undefined : { start: Number(range[1]), end: Number(range[2]) },
    );
    ctx.type = "application/xml";
    if (slash < 1 || object === null) {
      ctx.status = 404;
      ctx.body = "<Error><Code>NoSuchKey</Code><Message>The copy source does not exist.</Message></Error>";
      return;
    }
    const { md5 } = await store.putPart(bucket, uploadId, partNumber, object.content);
    const lastModified = new Date().toISOString();
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<CopyPartResult><LastModified>${lastModified}</LastModified><ETag>"${md5}"</ETag></CopyPartResult>`;
  };
}

/**
 * CompleteMultipartUpload as S3 does it. s3rver 3.7.1 pipes the parts through an md5 of the whole
 * object (slow for s3fs's large files, and a plain md5 ETag S3 never gives a multipart object),
 * ignores the listed ETags and sorts the list. s3rver's controller still authenticates, parses the
 * part list and answers; only its store's assembly is replaced, per request, so it knows the key.
 */
function completeMultipartUpload(store: S3rver["store"], commit: CommitObject): Middleware {
  return async (ctx, next) => {
    const target = keyWrite(ctx);
    if (ctx.method !== "POST" || !("uploadId" in ctx.query) || target === undefined) return next();
    const own: S3rver["store"] = Object.create(store);
    own.putObjectMultipart = (bucket, uploadId, parts) =>
      assemble(store, commit, bucket, target.key, uploadId, parts);
    ctx.store = own;
    return next();
  };
}

const minPartSize = 5 * 1024 * 1024;

async function assemble(
  store: S3rver["store"],
  commit: CommitObject,
  bucket: string,
  key: string,
  uploadId: string,
  parts: { number: number; etag: string }[],
): Promise<{ size: number; md5: string }> {
  const dir = await uploadDirectory(store, bucket, key, uploadId);
  if (dir === undefined) throw noSuchUpload(uploadId);
  // Metadata as s3rver keeps it: the CreateMultipartUpload headers, picked through its model.
  const stored = JSON.parse(await readFile(join(dir, "metadata"), "utf8"));
  const { metadata } = new S3Object(bucket, key, null, stored);
  if (parts.some((part, index) => index > 0 && part.number <= (parts[index - 1]?.number ?? 0))) {
    const message =
      "The list of parts was not in ascending order. The parts list must be specified in order by part number.";
    throw new S3Error("InvalidPartOrder", message, { UploadId: uploadId });
  }
  // Every check comes before any write: a refused completion leaves the upload and the object as they were.
  const files = await Promise.all(
    parts.map(async ({ number, etag }) => {
      const path = join(dir, String(number));
      const [md5, size] = await Promise.all([
        readFile(`${path}.md5`, "utf8"),
        stat(path).then((s) => s.size),
      ]).catch(() => [undefined, 0] as const);
      if (md5 !== etag) {
        const message =
          "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.";
        throw new S3Error("InvalidPart", message, { UploadId: uploadId, PartNumber: number, ETag: etag });
      }
      return { path, md5, size, number };
    }),
  );
  const small = files.slice(0, -1).find((file) => file.size < minPartSize);
  if (small !== undefined) {
    const message = "Your proposed upload is smaller than the minimum allowed size";
    const detail = { ProposedSize: small.size, MinSizeAllowed: minPartSize, PartNumber: small.number };
    throw new S3Error("EntityTooSmall", message, { UploadId: uploadId, ...detail, ETag: small.md5 });
  }
  // Streamed, part after part, never whole in memory; beside the parts, so the rename is atomic.
  const assembled = join(dir, "assembling");
  await pipeline(async function* () {
    for (const file of files) yield* createReadStream(file.path);
  }, createWriteStream(assembled));
  // S3's multipart ETag: the md5 of the parts' binary md5s, then "-" and the number of parts.
  const digests = Buffer.concat(files.map((file) => Buffer.from(file.md5, "hex")));
  const etag = `${createHash("md5").update(digests).digest("hex")}-${files.length}`;
  await mkdir(dirname(store.getResourcePath(bucket, key, "object")), { recursive: true });
  await commit(bucket, key, assembled, metadata, etag);
  await rm(dir, { recursive: true, force: true });
  return { size: files.reduce((sum, file) => sum + file.size, 0), md5: etag };
}

/**
 * AbortMultipartUpload, which s3rver 3.7.1 answers with 405 (its router has no such route): the
 * upload's parts are removed. s3fs aborts the uploads it fails to complete.
 */
function abortMultipartUpload(store: S3rver["store"]): Middleware {
  return async (ctx, next) => {
    const uploadId = query(ctx, "uploadId");
    const target = keyWrite(ctx);
    if (ctx.method !== "DELETE" || uploadId === undefined || target === undefined) return next();
    const dir = await uploadDirectory(store, target.bucket, target.key, uploadId);
    if (dir === undefined) {
      const { code, message, status } = noSuchUpload(uploadId);
      return s3Error(ctx, status, code, message, { UploadId: uploadId });
    }
    await rm(dir, { recursive: true, force: true });
    ctx.status = 204;
  };
}

/**
 * ListObjectsV2 (GET /bucket?list-type=2), answered here because s3rver 3.7.1 makes its
 * continuation tokens with single DES, which Node 22's OpenSSL 3 refuses: every truncated page
 * failed with InternalError. The listing itself is s3rver's store (delimiter repaired); the token
 * is an opaque base64 of the last key, checked on the way back as S3 checks its own.
 */
function listObjectsV2(store: S3rver["store"]): Middleware {
  return async (ctx, next) => {
    const bucket = /^\/([^/]+)\/?$/.exec(ctx.path)?.[1];
    if (ctx.method !== "GET" || query(ctx, "list-type") !== "2" || bucket === undefined) return next();
    const name = decode(bucket);
    if (!(await store.getBucket(name))) return next(); // s3rver answers NoSuchBucket
    const token = query(ctx, "continuation-token");
    let startAfter = query(ctx, "start-after");
    if (token !== undefined) {
      const decoded = Buffer.from(token, "base64url").toString("utf8");
      if (!decoded.startsWith(`${name}/`)) {
        return s3Error(ctx, 400, "InvalidArgument", "The continuation token provided is incorrect", {
          ArgumentName: "continuation-token",
        });
      }
      startAfter = decoded.slice(name.length + 1);
    }
    const maxText = query(ctx, "max-keys") ?? "1000";
    if (!/^[0-9]{1,10}$/.test(maxText)) {
      return s3Error(
        ctx,
        400,
        "InvalidArgument",
        "Provided max-keys not an integer or within integer range",
        {
          ArgumentName: "max-keys",
          ArgumentValue: maxText,
        },
      );
    }
    const maxKeys = Math.min(1000, Number(maxText));
    const prefix = query(ctx, "prefix") ?? "";
    const delimiter = query(ctx, "delimiter") ?? "";
    const result =
      maxKeys === 0
        ? { objects: [], commonPrefixes: [], isTruncated: false }
        : await store.listObjects(name, {
            maxKeys,
            ...(prefix ? { prefix } : {}),
            ...(delimiter ? { delimiter } : {}),
            ...(startAfter ? { startAfter } : {}),
          });
    const url = query(ctx, "encoding-type") === "url";
    const show = (text: string) => escapeXml(url ? encodeURIComponent(text).replace(/%2F/g, "/") : text);
    const field = (tag: string, value: string) => `<${tag}>${value}</${tag}>`;
    const last = result.objects.at(-1)?.key ?? result.commonPrefixes.at(-1);
    ctx.type = "application/xml";
    ctx.body = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
      field("Name", escapeXml(name)),
      field("Prefix", show(prefix)),
      ...(startAfter && token === undefined ? [field("StartAfter", show(startAfter))] : []),
      ...(token !== undefined ? [field("ContinuationToken", escapeXml(token))] : []),
      ...(result.isTruncated && last !== undefined
        ? [field("NextContinuationToken", Buffer.from(`${name}/${last}`).toString("base64url"))]
        : []),
      field("KeyCount", String(result.objects.length + result.commonPrefixes.length)),
      field("MaxKeys", maxText),
      ...(delimiter ? [field("Delimiter", show(delimiter))] : []),
      ...(url ? [field("EncodingType", "url")] : []),
      field("IsTruncated", String(result.isTruncated)),
      ...result.objects.map(
        (o) =>
          `<Contents>${field("Key", show(o.key))}${field("LastModified", o.lastModifiedDate.toISOString())}${field("ETag", escapeXml(o.metadata.etag ?? ""))}${field("Size", String(o.size))}${field("StorageClass", "STANDARD")}</Contents>`,
      ),
      ...result.commonPrefixes.map((p) => `<CommonPrefixes>${field("Prefix", show(p))}</CommonPrefixes>`),
      "</ListBucketResult>",
    ].join("");
  };
}

/**
 * ListMultipartUploads (GET /bucket?uploads), which s3rver 3.7.1 answers with 501: uploads begun and
 * neither completed nor aborted, ordered by key then initiation, with prefix, key-marker and
 * max-uploads (at most 1000) as S3 pages them. The audit reports the old ones.
 */
function listMultipartUploads(store: S3rver["store"]): Middleware {
  return async (ctx, next) => {
    const bucket = /^\/([^/]+)\/?$/.exec(ctx.path)?.[1];
    if (ctx.method !== "GET" || !("uploads" in ctx.query) || bucket === undefined) return next();
    const prefix = query(ctx, "prefix") ?? "";
    const keyMarker = query(ctx, "key-marker") ?? "";
    const max = Math.min(1000, Math.max(1, Number(query(ctx, "max-uploads") ?? 1000) || 1000));
    const root = store.getResourcePath(decode(bucket), undefined, "uploads");
    const uploads: { key: string; id: string; initiated: Date }[] = [];
    for (const id of existsSync(root) ? readdirSync(root) : []) {
      const key = await readFile(join(root, id, "key"), "utf8").catch(() => undefined);
      if (key === undefined || !key.startsWith(prefix) || (keyMarker && key < keyMarker)) continue;
      uploads.push({ key, id, initiated: (await stat(join(root, id, "key"))).mtime });
    }
    uploads.sort((a, b) =>
      a.key < b.key ? -1 : a.key > b.key ? 1 : a.initiated.getTime() - b.initiated.getTime(),
    );
    // After the marker: with an upload-id-marker, the uploads of key-marker after that one too.
    const idMarker = query(ctx, "upload-id-marker");
    const marked = idMarker ? uploads.findIndex((u) => u.key === keyMarker && u.id === idMarker) : -1;
    const from = marked >= 0 ? marked + 1 : uploads.findIndex((u) => !keyMarker || u.key > keyMarker);
    const rest = from < 0 ? [] : uploads.slice(from);
    const page = rest.slice(0, max);
    const truncated = rest.length > max;
    const last = page.at(-1);
    const field = (name: string, value: string) => `<${name}>${escapeXml(value)}</${name}>`;
    ctx.type = "application/xml";
    ctx.body = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
      field("Bucket", decode(bucket)),
      field("KeyMarker", keyMarker),
      field("UploadIdMarker", idMarker ?? ""),
      ...(truncated && last ? [field("NextKeyMarker", last.key), field("NextUploadIdMarker", last.id)] : []),
      field("Prefix", prefix),
      field("MaxUploads", String(max)),
      field("IsTruncated", String(truncated)),
      ...page.map(
        (u) =>
          `<Upload>${field("Key", u.key)}${field("UploadId", u.id)}${field("Initiated", u.initiated.toISOString())}${field("StorageClass", "STANDARD")}</Upload>`,
      ),
      "</ListMultipartUploadsResult>",
    ].join("");
  };
}

/**
 * Where s3rver keeps an upload's parts, if the upload exists and is one of this key's: S3 knows no
 * upload ID under another key (and the key's lock is this one's). s3rver's IDs are 32 hex digits;
 * anything else must not reach a path.
 */
async function uploadDirectory(
  store: S3rver["store"],
  bucket: string,
  key: string,
  uploadId: string,
): Promise<string | undefined> {
  if (!/^[0-9a-f]{32}$/.test(uploadId)) return undefined;
  const dir = join(store.getResourcePath(bucket, undefined, "uploads"), uploadId);
  const uploadKey = await readFile(join(dir, "key"), "utf8").catch(() => undefined);
  return uploadKey === key ? dir : undefined;
}

function noSuchUpload(uploadId: string): S3Error {
  const message =
    "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.";
  return new S3Error("NoSuchUpload", message, { UploadId: uploadId });
}

/**
 * S3's conditional writes (`If-None-Match: *`, `If-Match: <etag>`) on PutObject, CopyObject and
 * CompleteMultipartUpload, which s3rver 3.7.1 ignores (it always writes). Every write to a key,
 * conditional or not, holds that key's lock from the check until s3rver has stored the object:
 * two conditional writes never both succeed, and no other write slips in between.
 */
function conditionalWrites(store: S3rver["store"]): Middleware {
  const lock = keyedLock();
  return async (ctx, next) => {
    const target = keyWrite(ctx);
    if (target === undefined) return next();
    const { bucket, key } = target;
    // Conditional deletes are not implemented: a DELETE only takes the lock.
    const ifMatch = ctx.method === "DELETE" ? undefined : header(ctx, "if-match");
    const ifNoneMatch = ctx.method === "DELETE" ? undefined : header(ctx, "if-none-match");
    if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== "*") {
      // On writes S3 implements only "*" (no object at all).
      const message = "A header you provided implies functionality that is not implemented";
      return s3Error(ctx, 501, "NotImplemented", message, { Header: "If-None-Match" });
    }
    // s3rver never finishes a write whose client hangs up mid-body (it pipes the request without
    // watching it for errors): such a request must neither keep the key's lock nor, if it was
    // still queued or checking, start its write once the lock has passed on.
    let hungUp = false;
    const abandoned = new Promise<void>((resolve) => {
      ctx.res.once("close", () => {
        hungUp = !ctx.req.complete;
        if (hungUp) resolve();
      });
    });
    const write = async () => (hungUp ? undefined : next());
    const checkThenWrite = async () => {
      if (ifMatch === undefined && ifNoneMatch === undefined) return write();
      const etag = await currentETag(store, bucket, key);
      if (ifMatch !== undefined && etag === undefined) {
        // Without the bucket, s3rver answers NoSuchBucket as S3 does.
        if ((await store.getBucket(bucket)) === null) return write();
        return s3Error(ctx, 404, "NoSuchKey", "The specified key does not exist.", { Key: key });
      }
      // S3 compares ETags with and without their surrounding quotes.
      if (ifMatch !== undefined && unquote(ifMatch) !== unquote(etag ?? "")) {
        return preconditionFailed(ctx, "If-Match");
      }
      if (ifNoneMatch !== undefined && etag !== undefined) return preconditionFailed(ctx, "If-None-Match");
      return write();
    };
    await lock(`${bucket}/${key}`, () => Promise.race([checkThenWrite(), abandoned]));
  };
}

/** The bucket and key a request writes or deletes (path-style), if it is such a request. */
function keyWrite(ctx: Context): { bucket: string; key: string } | undefined {
  const slash = ctx.path.indexOf("/", 1);
  if (slash < 0 || slash === ctx.path.length - 1) return undefined; // no key: a bucket request
  const has = (name: string) => name in ctx.query;
  const writes =
    // CompleteMultipartUpload, AbortMultipartUpload
    ((ctx.method === "POST" || ctx.method === "DELETE") && has("uploadId")) ||
    // PutObject, CopyObject, DeleteObject; not a part (?uploadId) or a subresource (?tagging...)
    ((ctx.method === "PUT" || ctx.method === "DELETE") &&
      !["uploadId", "tagging", "acl", "legal-hold", "retention"].some(has));
  if (!writes) return undefined;
  return { bucket: decode(ctx.path.slice(1, slash)), key: decode(ctx.path.slice(slash + 1)) };
}

/** Like s3rver's router: a malformed escape stays as it is. */
function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The stored object's ETag (quoted), from its metadata files: no content is read. */
async function currentETag(store: S3rver["store"], bucket: string, key: string): Promise<string | undefined> {
  try {
    return (await store.getMetadata(bucket, key)).etag;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function unquote(etag: string): string {
  return etag.trim().replace(/^"(.*)"$/, "$1");
}

function preconditionFailed(ctx: Context, condition: string): void {
  const message = "At least one of the pre-conditions you specified did not hold";
  s3Error(ctx, 412, "PreconditionFailed", message, { Condition: condition });
}

function s3Error(
  ctx: Context,
  status: number,
  code: string,
  message: string,
  detail: Record<string, string>,
): void {
  const fields = Object.entries(detail).map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`);
  ctx.status = status;
  ctx.type = "application/xml";
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>${fields.join("")}</Error>`;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/**
 * Runs tasks one at a time per name, in arrival order. Names with nothing queued are dropped,
 * so the map only holds keys being written.
 */
function keyedLock(): <T>(name: string, task: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return async (name, task) => {
    const previous = tails.get(name) ?? Promise.resolve();
    const run = previous.then(task);
    // The next task waits for this one to settle, whether it succeeded or not.
    const tail = run.catch(() => undefined);
    tails.set(name, tail);
    try {
      return await run;
    } finally {
      if (tails.get(name) === tail) tails.delete(name);
    }
  };
}
