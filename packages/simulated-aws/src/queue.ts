import { randomUUID } from "node:crypto";
import { type SendMessageCommandInput, SQSClient, SQSServiceException } from "@aws-sdk/client-sqs";
import type { BatchResult, Clock, QueueMessage } from "@ftpfleet/core";
import { CallLog } from "./faults";
import { answerFrom, offlineClientConfig } from "./sdk";

interface Stored {
  messageId: string;
  body: string;
  visibleAt: number;
  receiveCount: number;
}

/** How Lambda polls the queue (event source mapping). */
export interface ConsumerSettings {
  batchSize: number;
  /** MaximumBatchingWindowInSeconds, in ms: wait this long for a batch to fill. */
  batchWindowMs: number;
  /** Pollers working at once (MaximumConcurrency). */
  concurrency: number;
}

/** An SQS queue with delays, visibility timeouts, redelivery of failed messages and a dead-letter
 * list, consumed the way a Lambda event source mapping consumes it. */
export class SimulatedQueue {
  readonly calls = new CallLog();
  /** Simulated time each API call takes. */
  latencyMs = 0;
  readonly deadLetters: Stored[] = [];
  /** Batches handed to the consumer, for benchmarks. */
  batches = 0;
  #messages: Stored[] = [];
  #waiters: (() => void)[] = [];
  #stopped = false;
  #pollers: Promise<void>[] = [];

  constructor(
    readonly clock: Clock,
    readonly settings: { visibilityTimeoutMs: number; maxReceiveCount: number } = {
      visibilityTimeoutMs: 60_000,
      maxReceiveCount: 5,
    },
  ) {}

  send(body: string, delaySeconds = 0): string {
    if (delaySeconds < 0 || delaySeconds > 900) {
      throw new SQSServiceException({
        name: "InvalidParameterValue",
        $fault: "client",
        $metadata: {},
        message: "DelaySeconds must be 0 to 900",
      });
    }
    if (Buffer.byteLength(body) > 256 * 1024) {
      throw new SQSServiceException({
        name: "InvalidParameterValue",
        $fault: "client",
        $metadata: {},
        message: "message too long",
      });
    }
    const messageId = randomUUID();
    this.#messages.push({
      messageId,
      body,
      visibleAt: this.clock.now() + delaySeconds * 1000,
      receiveCount: 0,
    });
    this.#wake();
    return messageId;
  }

  /** Messages not yet deleted (waiting, delayed or in flight). */
  get depth(): number {
    return this.#messages.length;
  }

  client(): SQSClient {
    return answerFrom(
      new SQSClient(offlineClientConfig),
      "SQS",
      {
        SendMessage: (input: SendMessageCommandInput) => {
          this.calls.count("SendMessage");
          return { MessageId: this.send(input.MessageBody ?? "", input.DelaySeconds ?? 0) };
        },
      },
      this,
    );
  }

  consume(handler: (messages: QueueMessage[]) => Promise<BatchResult>, settings: ConsumerSettings): void {
    for (let i = 0; i < settings.concurrency; i++) this.#pollers.push(this.#poll(handler, settings));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake();
    await Promise.all(this.#pollers);
  }

  async #poll(
    handler: (messages: QueueMessage[]) => Promise<BatchResult>,
    settings: ConsumerSettings,
  ): Promise<void> {
    while (!this.#stopped) {
      if (this.#visible().length === 0) {
        await this.#waitForMessages();
        continue;
      }
      if (settings.batchWindowMs > 0 && this.#visible().length < settings.batchSize) {
        await this.clock.sleep(settings.batchWindowMs);
      }
      const batch = this.#visible().slice(0, settings.batchSize);
      if (batch.length === 0) continue;
      const now = this.clock.now();
      for (const message of batch) {
        message.receiveCount++;
        message.visibleAt = now + this.settings.visibilityTimeoutMs;
      }
      this.batches++;
      let failed: Set<string>;
      try {
        const result = await handler(batch.map(({ messageId, body }) => ({ messageId, body })));
        failed = new Set(result.failedMessageIds);
      } catch {
        failed = new Set(batch.map((m) => m.messageId));
      }
      for (const message of batch) {
        if (!failed.has(message.messageId)) this.#delete(message);
        else if (message.receiveCount >= this.settings.maxReceiveCount) {
          this.#delete(message);
          this.deadLetters.push(message);
        }
      }
    }
  }

  #visible(): Stored[] {
    const now = this.clock.now();
    return this.#messages.filter((m) => m.visibleAt <= now);
  }

  #delete(message: Stored): void {
    this.#messages = this.#messages.filter((m) => m !== message);
  }

  /** Sleeps until a message is sent or the next delayed or in-flight one becomes visible. */
  async #waitForMessages(): Promise<void> {
    const next = Math.min(...this.#messages.map((m) => m.visibleAt));
    const woken = new Promise<void>((resolve) => this.#waiters.push(resolve));
    await (Number.isFinite(next) ? Promise.race([woken, this.clock.sleep(next - this.clock.now())]) : woken);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
