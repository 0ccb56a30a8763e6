// What the local S3 server receives, by kind: the bench counts the requests of one FTP operation
// (between two of lftp's marks) to show what each costs in S3 requests.
import type { S3RequestRecord } from "@ftpfleet/local";

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

/** Counts the S3 server's requests by kind while switched on (`observe` is the sandbox's
 * onS3Request). */
export class RequestCounter {
  #counts: Map<string, number> | undefined;
  readonly observe = (request: S3RequestRecord): void => {
    if (this.#counts === undefined) return;
    const kind = requestKind(request);
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + 1);
  };
  start(): void {
    this.#counts = new Map();
  }
  stop(): Record<string, number> {
    const counts = Object.fromEntries([...(this.#counts ?? new Map<string, number>())].sort());
    this.#counts = undefined;
    return counts;
  }
}

/** "HeadObject 9, ListObjects 4, …", the most frequent first. */
export function describeRequests(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([kind, n]) => `${kind} ${n}`)
    .join(", ");
}
