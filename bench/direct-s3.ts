// The bench's side of the direct-S3 baseline: a child process (direct-s3-worker.ts, run by the
// same Node through tsx) that performs each operation and reports the time it measured.
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { DirectOp, DirectReply, DirectRequest, DirectResult } from "./direct-s3-worker";

export class DirectS3 {
  #next = 1;
  readonly #pending = new Map<
    number,
    { what: string; resolve: (r: DirectResult) => void; reject: (e: Error) => void }
  >();

  private constructor(
    private readonly child: ChildProcess,
    readonly bucket: string,
  ) {
    child.on("message", (reply: DirectReply) => {
      const waiting = this.#pending.get(reply.id);
      if (waiting === undefined) return;
      this.#pending.delete(reply.id);
      if (reply.ok) waiting.resolve(reply.result);
      else waiting.reject(new Error(`direct S3 ${waiting.what}: ${reply.error}`));
    });
    child.on("exit", (code, signal) => {
      for (const waiting of this.#pending.values())
        waiting.reject(new Error(`direct S3 worker exited (${code ?? signal})`));
      this.#pending.clear();
    });
  }

  /** Forks the worker; resolves once it runs (a first list answers). */
  static async start(endpoint: string, region: string, bucket: string): Promise<DirectS3> {
    const worker = fileURLToPath(new URL("./direct-s3-worker.ts", import.meta.url));
    const child = fork(worker, [endpoint, region], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const direct = new DirectS3(child, bucket);
    try {
      // Warms the client (credentials, connection) before anything is timed.
      await direct.run({ op: "list", prefix: "warm-up/" });
      return direct;
    } catch (error) {
      await direct.close();
      throw error;
    }
  }

  run(op: DirectOp): Promise<DirectResult> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const what = `${op.op} ${"key" in op ? op.key : "prefix" in op ? op.prefix : `${op.items.length} objects`}`;
      this.#pending.set(id, { what, resolve, reject });
      this.child.send({ id, bucket: this.bucket, ...op } satisfies DirectRequest);
    });
  }

  /** Its wall time of one operation, in ms. */
  async ms(op: DirectOp): Promise<number> {
    return (await this.run(op)).ms;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
