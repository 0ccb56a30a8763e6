import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";

type Context = S3rver.Context;
type Middleware = S3rver.Middleware;

/** s3rver's fixed keys; any S3 client or s3fs talking to the local server uses them. */
export const localS3Credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

/** An SDK client for a local S3 server (path-style, its fixed keys). */
export function localS3Client(endpoint: string, region = "us-east-1"): S3Client {
  return new S3Client({ endpoint, region, forcePathStyle: true, credentials: localS3Credentials });
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
  // Koa composes its middleware when it starts listening: these run before s3rver's router.
  server.middleware.unshift(uploadPartCopy(server.store));
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
