import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type S3rver from "s3rver";
import S3Error from "s3rver/lib/models/error.js";

type Store = S3rver["store"];

/** Puts a staged file in place as an object, with its metadata and (unquoted) ETag. */
export type CommitObject = (
  bucket: string,
  key: string,
  staged: string,
  metadata: Record<string, unknown>,
  etag: string,
) => Promise<void>;

/**
 * S3 replaces an object atomically: a GET or HEAD racing a PUT, copy or delete gets the old object
 * or the new one, whole. s3rver 3.7.1 rewrites the object's file in place and its metadata after,
 * so a reader racing a write was promised the old length and sent the new, shorter file, and its
 * connection was cut ("aborted"). Here a write is staged beside the object and committed by rename
 * together with its metadata, while readers of that key wait; a reader holds the key only until
 * its file is open (an open file keeps the content it opened).
 *
 * Returns the commit, for the writes assembled outside the store (CompleteMultipartUpload).
 */
export function atomicObjects(store: Store): CommitObject {
  const lock = readWriteLock();
  const name = (bucket: string, key: string) => `${bucket}/${key}`;
  const { getObject, getMetadata, deleteObject } = store;

  store.getObject = (bucket, key, range) =>
    lock.shared(name(bucket, key), () => getObject.call(store, bucket, key, range));
  store.getMetadata = (bucket, key) =>
    lock.shared(name(bucket, key), () => getMetadata.call(store, bucket, key));
  store.deleteObject = (bucket, key) =>
    lock.exclusive(name(bucket, key), () => deleteObject.call(store, bucket, key));

  const commit: CommitObject = async (bucket, key, staged, metadata, etag) => {
    const objectPath = store.getResourcePath(bucket, key, "object");
    try {
      await lock.exclusive(name(bucket, key), async () => {
        await store.putMetadata(bucket, key, metadata, etag);
        await rename(staged, objectPath);
      });
    } finally {
      await rm(staged, { force: true });
    }
  };

  /** Writes content beside the object, counting and hashing it on the way; then commits it. */
  const stageAndCommit = async (
    bucket: string,
    key: string,
    content: NodeJS.ReadableStream | Buffer,
    metadata: Record<string, unknown>,
    etag?: string,
  ) => {
    const objectPath = store.getResourcePath(bucket, key, "object");
    await mkdir(dirname(objectPath), { recursive: true });
    // Not an object file (those end in "._S3rver_object"): listings never show it.
    const staged = `${objectPath}.staged-${randomUUID()}`;
    const md5 = createHash("md5");
    let size = 0;
    const count = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        md5.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    const source = Buffer.isBuffer(content) ? Readable.from([content]) : content;
    try {
      await pipeline(source, count, createWriteStream(staged));
    } catch (error) {
      await rm(staged, { force: true });
      throw error;
    }
    const written = etag ?? md5.digest("hex");
    await commit(bucket, key, staged, metadata, written);
    return { size, md5: written };
  };

  store.putObject = (object) => stageAndCommit(object.bucket, object.key, object.content, object.metadata);

  store.copyObject = async (srcBucket, srcKey, destBucket, destKey, replacementMetadata) => {
    if (name(srcBucket, srcKey) === name(destBucket, destKey)) {
      // A copy onto itself only replaces the metadata (s3rver's controller requires REPLACE).
      if (replacementMetadata) {
        await lock.exclusive(name(destBucket, destKey), () =>
          store.putMetadata(destBucket, destKey, replacementMetadata),
        );
      }
    } else {
      // Metadata and an open file taken together: the copy is of one version of the source.
      const source = await store.getObject(srcBucket, srcKey);
      if (source === null) {
        throw new S3Error("NoSuchKey", "The specified key does not exist.", { Key: srcKey });
      }
      const etag = JSON.parse(source.metadata.etag as string) as string;
      const metadata = replacementMetadata ?? source.metadata;
      await stageAndCommit(destBucket, destKey, source.content, metadata, etag);
    }
    return store.getMetadata(destBucket, destKey);
  };

  return commit;
}

/**
 * Per-name locks: any number of shared holders, or one exclusive. Shared holders never wait for a
 * queued exclusive one, so a reader may nest another read of the same name (s3rver's getObject
 * reads its metadata) without deadlock; the exclusive sections here are a rename and two small
 * files, so writers are not starved for long.
 */
function readWriteLock() {
  const held = new Map<string, { readers: number; writing: boolean; waiting: (() => void)[] }>();
  const state = (name: string) => {
    let entry = held.get(name);
    if (entry === undefined) {
      entry = { readers: 0, writing: false, waiting: [] };
      held.set(name, entry);
    }
    return entry;
  };
  const release = (name: string) => {
    const entry = state(name);
    const woken = entry.waiting.splice(0);
    if (!entry.writing && entry.readers === 0) held.delete(name);
    // Each woken waiter looks again (through `state`, as its entry may have been dropped).
    for (const wake of woken) wake();
  };
  const run = async <T>(name: string, exclusive: boolean, task: () => Promise<T>): Promise<T> => {
    for (;;) {
      const entry = state(name);
      if (!entry.writing && (!exclusive || entry.readers === 0)) {
        if (exclusive) entry.writing = true;
        else entry.readers += 1;
        break;
      }
      await new Promise<void>((resolve) => entry.waiting.push(resolve));
    }
    try {
      return await task();
    } finally {
      const entry = state(name);
      if (exclusive) entry.writing = false;
      else entry.readers -= 1;
      release(name);
    }
  };
  return {
    shared: <T>(name: string, task: () => Promise<T>) => run(name, false, task),
    exclusive: <T>(name: string, task: () => Promise<T>) => run(name, true, task),
  };
}
