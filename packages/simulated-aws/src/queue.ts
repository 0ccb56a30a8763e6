import { randomUUID } from "node:crypto";
import {
  type DeleteMessageBatchCommandInput,
  type ReceiveMessageCommandInput,
  type SendMessageCommandInput,
  SQSClient,
  SQSServiceException,
} from "@aws-sdk/client-sqs";
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

export interface QueueSettings {
  visibilityTimeoutMs: number;
  /** Receives after which a message that comes back goes to the dead-letter list instead. */
  maxReceiveCount: number;
  /** Opt-in at-least-once delivery: some messages the consumer handled successfully come back after
   * their visibility timeout, as if the delete had been lost. Either each success with this
   * probability (drawn from a generator seeded with `seed`, so a run repeats exactly), or every
   * `every`-th success. */
  redeliverSucceeded?: { probability: number; seed: number } | { every: number };
}

const DEFAULT_QUEUE_SETTINGS: QueueSettings = { visibilityTimeoutMs: 60_000, maxReceiveCount: 5 };

/** An SQS queue with delays, visibility timeouts, redelivery of failed messages (and, opt-in, of
 * handled ones: SQS delivers at least once) and a dead-letter list, consumed the way a Lambda event
 * source mapping consumes it. */
export class SimulatedQueue {
  readonly calls = new CallLog();
  /** Simulated time each API call takes. */
  latencyMs = 0;
  readonly deadLetters: Stored[] = [];
  /** Batches handed to the consumer, for benchmarks. */
  batches = 0;
  /** Handled messages delivered again (`redeliverSucceeded`). */
  redelivered = 0;
  readonly settings: QueueSettings;
  #succeeded = 0;
  readonly #random: () => number;
  #messages: Stored[] = [];
  #waiters: (() => void)[] = [];
  #stopped = false;
  #pollers: Promise<void>[] = [];

  constructor(
    readonly clock: Clock,
    settings: Partial<QueueSettings> = {},
  ) {
    this.settings = { ...DEFAULT_QUEUE_SETTINGS, ...settings };
    const redeliver = this.settings.redeliverSucceeded;
    this.#random = seededRandom(redeliver && "seed" in redeliver ? redeliver.seed : 1);
  }

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
    return sqsClient({ "": this }, this);
  }

  /** ReceiveMessage, as a poller other than Lambda calls it: at most 10 visible messages, each
   * invisible for the visibility timeout and carrying a receipt handle for this receive only. */
  receive(input: ReceiveMessageCommandInput) {
    this.calls.count("ReceiveMessage");
    const max = input.MaxNumberOfMessages ?? 1;
    if (!Number.isInteger(max) || max < 1 || max > 10) {
      throw invalid("Value for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10.");
    }
    const timeout = input.VisibilityTimeout ?? this.settings.visibilityTimeoutMs / 1000;
    if (!Number.isInteger(timeout) || timeout < 0 || timeout > 43_200) {
      throw invalid("Value for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.");
    }
    const now = this.clock.now();
    const batch = this.#visible().slice(0, max);
    for (const message of batch) {
      message.receiveCount++;
      message.visibleAt = now + timeout * 1000;
    }
    return {
      Messages: batch.map((m) => ({
        MessageId: m.messageId,
        ReceiptHandle: `${m.messageId}/${m.receiveCount}`,
        Body: m.body,
      })),
    };
  }

  /** DeleteMessageBatch: 1-10 entries with distinct ids; a receipt handle of an earlier receive (or
   * of no message) fails its entry, the others are deleted. */
  deleteBatch(input: DeleteMessageBatchCommandInput) {
    this.calls.count("DeleteMessageBatch");
    const entries = input.Entries ?? [];
    if (entries.length === 0)
      throw failure(
        "AWS.SimpleQueueService.EmptyBatchRequest",
        "There should be at least one DeleteMessageBatchRequestEntry in the request.",
      );
    if (entries.length > 10)
      throw failure(
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        "Maximum number of entries per request are 10.",
      );
    if (new Set(entries.map((e) => e.Id)).size !== entries.length) {
      throw failure(
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        "Two or more batch entries in the request have the same Id.",
      );
    }
    const Successful: { Id: string }[] = [];
    const Failed: { Id: string; Code: string; SenderFault: boolean; Message: string }[] = [];
    for (const entry of entries) {
      const message = this.#messages.find((m) => `${m.messageId}/${m.receiveCount}` === entry.ReceiptHandle);
      if (message) {
        this.#delete(message);
        Successful.push({ Id: entry.Id ?? "" });
      } else {
        Failed.push({
          Id: entry.Id ?? "",
          Code: "ReceiptHandleIsInvalid",
          SenderFault: true,
          Message: "The receipt handle is not valid.",
        });
      }
    }
    return { Successful, Failed };
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
        const handled = !failed.has(message.messageId);
        if (handled && !this.#redeliver()) this.#delete(message);
        else if (message.receiveCount >= this.settings.maxReceiveCount) {
          // Its next receive would exceed maxReceiveCount: SQS moves it to the dead-letter queue.
          this.#delete(message);
          this.deadLetters.push(message);
        }
      }
    }
  }

  /** Whether the delete of a handled message is lost, so that it comes back after its visibility
   * timeout (`redeliverSucceeded`). */
  #redeliver(): boolean {
    const rule = this.settings.redeliverSucceeded;
    if (!rule) return false;
    this.#succeeded++;
    const again = "every" in rule ? this.#succeeded % rule.every === 0 : this.#random() < rule.probability;
    if (again) this.redelivered++;
    return again;
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

/** One SQS client for several queues, each answering the requests naming its URL (a single
 * queue answers them all under the key ""). */
export function sqsClient(
  queues: Record<string, SimulatedQueue>,
  fake: { clock: Clock; latencyMs: number },
): SQSClient {
  const queue = (url: string | undefined): SimulatedQueue => {
    const found = queues[url ?? ""] ?? queues[""];
    if (!found) {
      throw failure(
        "AWS.SimpleQueueService.NonExistentQueue",
        "The specified queue does not exist for this wsdl version.",
      );
    }
    return found;
  };
  return answerFrom(
    new SQSClient(offlineClientConfig),
    "SQS",
    {
      SendMessage: (input: SendMessageCommandInput) => {
        const target = queue(input.QueueUrl);
        target.calls.count("SendMessage");
        return { MessageId: target.send(input.MessageBody ?? "", input.DelaySeconds ?? 0) };
      },
      ReceiveMessage: (input: ReceiveMessageCommandInput) => queue(input.QueueUrl).receive(input),
      DeleteMessageBatch: (input: DeleteMessageBatchCommandInput) => queue(input.QueueUrl).deleteBatch(input),
    },
    fake,
  );
}

function invalid(message: string): Error {
  return failure("InvalidParameterValue", message);
}

function failure(name: string, message: string): Error {
  return new SQSServiceException({ name, $fault: "client", $metadata: {}, message });
}

/** xorshift32: a small deterministic generator, so that "random" redelivery repeats run to run. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 0x9e3779b9;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}
