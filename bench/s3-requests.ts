// What the local S3 server receives, by kind: the bench counts the requests of one FTP operation
// (between two of lftp's marks) to show what each costs in S3 requests.
import { requestKind, type S3RequestRecord } from "@ftpfleet/local";

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
