// The slice of s3rver 3.7.1 (CommonJS, untyped) that the local S3 server uses.
declare module "s3rver" {
  import type { IncomingMessage, ServerResponse } from "node:http";
  import type { AddressInfo } from "node:net";

  class S3rver {
    constructor(options: S3rver.Options);
    store: S3rver.FilesystemStore;
    /** Koa's middleware stack, composed when the server starts listening. */
    middleware: S3rver.Middleware[];
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }

  namespace S3rver {
    interface Options {
      address?: string;
      port?: number;
      directory: string;
      silent?: boolean;
      resetOnClose?: boolean;
      vhostBuckets?: boolean;
      configureBuckets?: { name: string }[];
    }

    interface ListOptions {
      delimiter?: string;
      startAfter?: string;
      prefix?: string;
      maxKeys?: number;
    }

    interface ListResult {
      objects: { key: string; size: number; lastModifiedDate: Date; metadata: { etag?: string } }[];
      commonPrefixes: string[];
      isTruncated: boolean;
    }

    interface FilesystemStore {
      rootDirectory: string;
      getBucket(bucket: string): Promise<{ name: string } | null>;
      /** Rejects with ENOENT when there is no such object; `etag` is quoted. */
      getMetadata(bucket: string, key: string): Promise<{ etag: string } & Record<string, unknown>>;
      listObjects(bucket: string, options: ListOptions): Promise<ListResult>;
      getObject(
        bucket: string,
        key: string,
        range?: { start: number; end: number },
      ): Promise<{ content: NodeJS.ReadableStream; metadata: Record<string, unknown> } | null>;
      putObject(object: {
        bucket: string;
        key: string;
        content: NodeJS.ReadableStream | Buffer;
        metadata: Record<string, unknown>;
      }): Promise<{ size: number; md5: string }>;
      /** Returns the destination's metadata; `replacementMetadata` null keeps the source's. */
      copyObject(
        srcBucket: string,
        srcKey: string,
        destBucket: string,
        destKey: string,
        replacementMetadata: Record<string, unknown> | null,
      ): Promise<Record<string, unknown>>;
      deleteObject(bucket: string, key: string): Promise<void>;
      /** The path of an object's file ("object", "object.md5", "metadata.json"), or with no key a bucket's ("uploads"). */
      getResourcePath(bucket: string, key: string | undefined, resource: string): string;
      /** Writes metadata.json (the allowed headers and x-amz-meta-*) and, if given, object.md5 (the unquoted ETag). */
      putMetadata(
        bucket: string,
        key: string,
        metadata: Record<string, unknown>,
        md5?: string,
      ): Promise<void>;
      /** CompleteMultipartUpload's assembly; `etag` is unquoted, `md5` becomes the quoted ETag. */
      putObjectMultipart(
        bucket: string,
        uploadId: string,
        parts: { number: number; etag: string }[],
      ): Promise<{ size: number; md5: string }>;
      putPart(
        bucket: string,
        uploadId: string,
        partNumber: number,
        content: NodeJS.ReadableStream,
      ): Promise<{ size: number; md5: string }>;
    }

    /** Koa's context, as far as the harness's middleware uses it. */
    interface Context {
      req: IncomingMessage;
      /** s3rver's store (from the app's context); the controllers call it as `ctx.store`. */
      store: FilesystemStore;
      res: ServerResponse;
      method: string;
      path: string;
      query: Record<string, string | string[] | undefined>;
      headers: Record<string, string | string[] | undefined>;
      status: number;
      type: string;
      body: unknown;
    }

    type Middleware = (ctx: Context, next: () => Promise<void>) => Promise<void>;
  }

  export = S3rver;
}

declare module "s3rver/lib/models/error.js" {
  /** An S3 error: s3rver answers it with its status (by code) and XML body. */
  class S3Error extends Error {
    constructor(code: string, message: string, detail?: Record<string, string | number>);
    code: string;
    status: number;
  }
  export = S3Error;
}

declare module "s3rver/lib/models/object.js" {
  class S3Object {
    constructor(bucket: string, key: string, content: null, metadata: Record<string, unknown>);
    /** The headers s3rver keeps for an object (content-type defaulted, x-amz-meta-*). */
    metadata: Record<string, unknown>;
  }
  export = S3Object;
}
